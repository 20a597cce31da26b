"""Token usage of one job, summed over all its calls."""

from collections.abc import Sequence

from services.llm.chunking import Tokenizer
from services.llm.provider import Completion, Message
from shared.schemas.llm import Usage

__all__ = ["UsageTally"]


class UsageTally:
    def __init__(self, tokenizer: Tokenizer) -> None:
        self._tokenizer = tokenizer
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.estimated = False
        self.model: str | None = None

    def add(self, messages: Sequence[Message], completion: Completion) -> None:
        self.model = completion.model
        if completion.usage_reported:
            self.prompt_tokens += completion.prompt_tokens
            self.completion_tokens += completion.completion_tokens
            return
        # Some servers send no usage (e.g. streaming without `include_usage`): count locally.
        self.estimated = True
        self.prompt_tokens += sum(len(self._tokenizer.encode(m["content"])) for m in messages)
        self.completion_tokens += len(self._tokenizer.encode(completion.text))

    def usage(self) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            estimated=self.estimated,
        )
