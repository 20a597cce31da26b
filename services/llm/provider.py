"""The model behind a `Protocol`, and its adapter for OpenAI-compatible Chat Completions servers.

One `complete` call is one HTTP request: no retries here (see `resilience.py`), so the
adapter's only job is to speak the protocol and translate every failure into a
`ProviderError` that says whether trying again can help. Its message reaches the tenant,
so it never quotes the endpoint or the provider's own text; those go to the log.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal, Protocol

import openai
from openai import AsyncOpenAI

__all__ = ["ChatProvider", "Completion", "Message", "OpenAIChatProvider", "ProviderError", "retry_after"]

log = logging.getLogger(__name__)

Message = dict[Literal["role", "content"], str]


@dataclass(frozen=True)
class Completion:
    text: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    usage_reported: bool
    """False when the server sent no usage (the counts are then zero)."""
    finish_reason: str | None


class ProviderError(Exception):
    def __init__(
        self,
        code: str,
        message: str,
        *,
        retryable: bool,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after


class ChatProvider(Protocol):
    @property
    def model(self) -> str: ...

    async def complete(
        self, messages: Sequence[Message], *, max_tokens: int, json_output: bool = False
    ) -> Completion: ...

    async def close(self) -> None: ...


def retry_after(headers: Any) -> float | None:
    """Seconds the server asked us to wait: `retry-after-ms`, `retry-after` seconds or HTTP date."""
    if headers is None:
        return None
    if (ms := headers.get("retry-after-ms")) is not None:
        try:
            return max(float(ms) / 1000, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        return max((parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds(), 0.0)
    except (TypeError, ValueError):
        return None


def _status_error(exc: openai.APIStatusError) -> ProviderError:
    status = exc.status_code
    log.warning("provider answered HTTP %s: %s", status, exc.message)
    detail = f"HTTP {status} from the provider"
    if status == 429:
        return ProviderError(
            "provider_rate_limited",
            detail,
            retryable=True,
            status=status,
            retry_after=retry_after(exc.response.headers),
        )
    if status >= 500 or status in (408, 409):
        return ProviderError(
            "provider_unavailable",
            detail,
            retryable=True,
            status=status,
            retry_after=retry_after(exc.response.headers),
        )
    if status in (401, 403):
        return ProviderError(
            "provider_auth_failed", detail + " (check LLM_API_KEY)", retryable=False, status=status
        )
    if status == 404:
        return ProviderError(
            "provider_rejected",
            detail + " (check LLM_BASE_URL and LLM_MODEL)",
            retryable=False,
            status=status,
        )
    return ProviderError("provider_rejected", detail, retryable=False, status=status)


class OpenAIChatProvider:
    """Any server that speaks the OpenAI Chat Completions API (OpenAI, vLLM, Ollama, llama.cpp,
    LiteLLM), through the official SDK with its own retries off: retrying is ours."""

    def __init__(
        self,
        client: AsyncOpenAI,
        model: str,
        *,
        stream: bool = True,
        json_mode: bool = True,
        temperature: float = 0.0,
    ) -> None:
        self._client = client
        self._model = model
        self._stream = stream
        self._json_mode = json_mode
        self._temperature = temperature

    @property
    def model(self) -> str:
        return self._model

    async def close(self) -> None:
        await self._client.close()

    async def complete(
        self, messages: Sequence[Message], *, max_tokens: int, json_output: bool = False
    ) -> Completion:
        request: dict[str, Any] = {
            "model": self._model,
            "messages": list(messages),
            "max_tokens": max_tokens,
            "temperature": self._temperature,
        }
        if json_output and self._json_mode:
            request["response_format"] = {"type": "json_object"}
        try:
            if self._stream:
                return await self._streamed(request)
            return await self._whole(request)
        except openai.APIStatusError as exc:
            raise _status_error(exc) from exc
        except openai.APITimeoutError as exc:
            raise ProviderError(
                "provider_timeout", "the provider did not answer in time", retryable=True
            ) from exc
        except openai.APIConnectionError as exc:
            log.warning("cannot reach the provider: %s", exc.__cause__ or exc)
            raise ProviderError("provider_unavailable", "cannot reach the provider", retryable=True) from exc
        except openai.APIError as exc:  # e.g. an error event inside a stream
            log.warning("provider error: %s", exc.message)
            raise ProviderError(
                "provider_unavailable", "the provider reported an error", retryable=True
            ) from exc

    async def _whole(self, request: dict[str, Any]) -> Completion:
        response = await self._client.chat.completions.create(**request)
        choice = response.choices[0] if response.choices else None
        usage = response.usage
        return Completion(
            text=(choice.message.content or "") if choice else "",
            model=response.model or self._model,
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            usage_reported=usage is not None,
            finish_reason=choice.finish_reason if choice else None,
        )

    async def _streamed(self, request: dict[str, Any]) -> Completion:
        parts: list[str] = []
        model, finish, usage = self._model, None, None
        stream = await self._client.chat.completions.create(
            **request, stream=True, stream_options={"include_usage": True}
        )
        # `async with` closes the response on any exit, cancellation included: an abandoned
        # stream never stays open on the provider (which would keep generating for nobody).
        async with stream:
            async for chunk in stream:
                model = chunk.model or model
                if chunk.usage is not None:
                    usage = chunk.usage
                for choice in chunk.choices:
                    if choice.delta.content:
                        parts.append(choice.delta.content)
                    finish = choice.finish_reason or finish
        return Completion(
            text="".join(parts),
            model=model,
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            usage_reported=usage is not None,
            finish_reason=finish,
        )
