"""Token usage of one job, summed over all its calls, and held against its tenant's budget."""

import asyncio
from collections.abc import Sequence

from services.llm.budget import Reservation, TokenBudget
from services.llm.chunking import Tokenizer
from services.llm.provider import ChatProvider, Completion, Message
from shared.schemas.llm import Usage
from shared.telemetry.metrics import TENANT_LLM_TOKENS

__all__ = ["UsageTally"]


class UsageTally:
    def __init__(self, tokenizer: Tokenizer, tenant: str, budget: TokenBudget | None = None) -> None:
        self._tokenizer = tokenizer
        self._tenant = tenant
        self._budget = budget
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.estimated = False
        self.model: str | None = None

    def _count(self, messages: Sequence[Message]) -> int:
        return sum(len(self._tokenizer.encode(m["content"])) for m in messages)

    async def complete(
        self,
        provider: ChatProvider,
        messages: Sequence[Message],
        *,
        max_tokens: int,
        json_output: bool = False,
    ) -> Completion:
        """One call, counted; with a budget, reserved first (`quota_exceeded` before a call
        that could pass it) and settled to the reported usage after."""
        reservation = None
        if self._budget is not None:
            reservation = await self._budget.reserve(self._tenant, self._count(messages) + max_tokens)
        try:
            completion = await provider.complete(messages, max_tokens=max_tokens, json_output=json_output)
        except asyncio.CancelledError:
            raise  # keeps its reservation: a cancelled stream may have been generating
        except BaseException:
            await self._settle(reservation, 0)  # a failed call is not billed
            raise
        await self._settle(reservation, self.add(messages, completion))
        return completion

    async def _settle(self, reservation: Reservation | None, actual: int) -> None:
        if self._budget is not None and reservation is not None:
            await self._budget.settle(reservation, actual)

    def add(self, messages: Sequence[Message], completion: Completion) -> int:
        """Count one call's usage; returns its tokens."""
        self.model = completion.model
        if completion.usage_reported:
            prompt, answer = completion.prompt_tokens, completion.completion_tokens
        else:
            # Some servers send no usage (e.g. streaming without `include_usage`): count locally.
            self.estimated = True
            prompt, answer = self._count(messages), len(self._tokenizer.encode(completion.text))
        self.prompt_tokens += prompt
        self.completion_tokens += answer
        TENANT_LLM_TOKENS.labels(self._tenant).inc(prompt + answer)
        return prompt + answer

    def usage(self) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            estimated=self.estimated,
        )
