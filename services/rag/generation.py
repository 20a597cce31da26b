"""Answers from an OpenAI-compatible Chat Completions endpoint, streamed token by token.

The LLM worker's provider (services/llm/provider.py) returns whole completions; an answer
here must reach the tenant as it grows, so this adapter yields the text so far. Failures
become the platform's errors the same way: 429, 5xx, timeouts and resets are transient
(the job is retried later), anything else fails the job. Messages never quote the endpoint.
"""

import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import openai
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletionMessageParam

from shared.schemas.rag import Source
from shared.worker import JobFailure, TransientError

__all__ = ["Answer", "StreamingChat", "prompt"]

log = logging.getLogger(__name__)

SYSTEM = (
    "You answer questions using only the numbered passages given. Cite the passages you use "
    "as [1], [2], ... right after the statement they support. If the passages do not contain "
    "the answer, say so briefly."
)


def prompt(question: str, sources: Sequence[Source]) -> list[ChatCompletionMessageParam]:
    passages = "\n\n".join(f"[{i}] (page {s.page})\n{s.text}" for i, s in enumerate(sources, 1))
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": f"Passages:\n\n{passages}\n\nQuestion: {question}"},
    ]


@dataclass
class Answer:
    text: str = ""
    model: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    usage_reported: bool = False


class StreamingChat:
    def __init__(self, base_url: str, api_key: str, model: str, *, max_tokens: int, timeout: float) -> None:
        self.model = model
        self._client = AsyncOpenAI(base_url=base_url, api_key=api_key, timeout=timeout, max_retries=0)
        self.max_tokens = max_tokens

    async def close(self) -> None:
        await self._client.close()

    async def stream(self, messages: list[ChatCompletionMessageParam], answer: Answer) -> AsyncIterator[str]:
        """Yields the answer so far after every piece; `answer` holds the totals at the end."""
        answer.model = self.model
        try:
            stream = await self._client.chat.completions.create(
                model=self.model,
                messages=messages,
                max_tokens=self.max_tokens,
                temperature=0.0,
                stream=True,
                stream_options={"include_usage": True},
            )
            async with stream:
                async for chunk in stream:
                    answer.model = chunk.model or answer.model
                    if chunk.usage is not None:
                        answer.prompt_tokens = chunk.usage.prompt_tokens
                        answer.completion_tokens = chunk.usage.completion_tokens
                        answer.usage_reported = True
                    piece = "".join(c.delta.content or "" for c in chunk.choices)
                    if piece:
                        answer.text += piece
                        yield answer.text
        except openai.APIStatusError as exc:
            log.warning("provider answered HTTP %s: %s", exc.status_code, exc.message)
            detail = f"HTTP {exc.status_code} from the provider"
            if exc.status_code == 429 or exc.status_code >= 500 or exc.status_code in (408, 409):
                raise TransientError("provider_unavailable", detail) from exc
            raise JobFailure(
                "provider_rejected", detail + " (check RAG_LLM_BASE_URL, RAG_LLM_MODEL)"
            ) from exc
        except openai.APIError as exc:  # timeouts, resets, an error event inside the stream
            log.warning("provider error: %r", exc)
            raise TransientError("provider_unavailable", "the provider did not answer") from exc
