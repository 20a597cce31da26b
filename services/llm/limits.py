"""Sizes every LLM job obeys (its time limit is the runner's, see shared/worker.py)."""

import asyncio
from dataclasses import dataclass

from services.llm.chunking import Tokenizer, split_by_tokens
from services.llm.prompts import OVERHEAD_TOKENS
from shared.worker import JobFailure

__all__ = ["Limits", "split_input"]


@dataclass(frozen=True)
class Limits:
    context_tokens: int = 8192
    chunk_tokens: int = 3000
    max_output_tokens: int = 512
    max_input_tokens: int = 2_000_000
    max_repairs: int = 2

    def __post_init__(self) -> None:
        # A prompt is instructions + one chunk (or up to three summaries while combining, see
        # chunking.pack) + room for the answer; a repair adds one earlier answer.
        needed = (
            OVERHEAD_TOKENS + max(self.chunk_tokens, 3 * self.max_output_tokens) + 2 * self.max_output_tokens
        )
        if needed > self.context_tokens:
            raise ValueError(
                f"LLM_CHUNK_TOKENS={self.chunk_tokens} and LLM_MAX_OUTPUT_TOKENS={self.max_output_tokens} "
                f"need a context of {needed} tokens; LLM_CONTEXT_TOKENS is {self.context_tokens}"
            )

    @property
    def summary_words(self) -> int:
        """Words to ask for: comfortably inside `max_output_tokens` (~1.3 tokens a word)."""
        return max(20, int(self.max_output_tokens * 0.6))


def _split(text: str, limit: int, max_tokens: int, tokenizer: Tokenizer) -> list[str]:
    total = len(tokenizer.encode(text))
    if total > max_tokens:
        raise JobFailure(
            "input_too_large", f"the text has {total} tokens; this worker accepts at most {max_tokens}"
        )
    pieces = split_by_tokens(text, limit, tokenizer)
    if not pieces:
        raise JobFailure("empty_input", "the text is empty")
    return pieces


async def split_input(text: str, limit: int, limits: Limits, tokenizer: Tokenizer) -> list[str]:
    """Check the size and cut into pieces of at most `limit` tokens, off the event loop
    (a long text takes seconds to tokenize)."""
    return await asyncio.to_thread(_split, text, limit, limits.max_input_tokens, tokenizer)
