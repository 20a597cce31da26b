"""Retries, timeouts and bounded concurrency around any `ChatProvider`.

The SDK's own retries are off: here a retry can honour `Retry-After` exactly, give up
when the server asks for a longer wait than we are willing to hold a job for, and
release its concurrency slot while it sleeps.
"""

import asyncio
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass

from services.llm.provider import ChatProvider, Completion, Message, ProviderError
from shared.telemetry.tracing import stage

__all__ = ["ResilientProvider", "RetryPolicy", "retry_delay"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    backoff_base: float = 1.0
    """Seconds before the first retry, doubled per attempt (with jitter)."""
    backoff_max: float = 60.0
    """Longest single wait, also the longest `Retry-After` honoured before giving up."""
    call_timeout: float = 120.0
    """Seconds one attempt may take from request to last streamed token."""


def retry_delay(
    attempt: int, policy: RetryPolicy, server_asked: float | None, rng: random.Random
) -> float | None:
    """Seconds to wait after failed attempt number `attempt` (1-based); None: stop trying.

    Exponential with "equal jitter" (half fixed, half random) so that many workers
    failing together do not come back together. A server's `Retry-After` is a floor.
    """
    if attempt >= policy.max_attempts:
        return None
    if server_asked is not None:
        if server_asked > policy.backoff_max:
            return None
        return float(server_asked + rng.uniform(0, min(1.0, server_asked * 0.1)))
    ceiling = min(policy.backoff_max, policy.backoff_base * 2 ** (attempt - 1))
    return float(ceiling / 2 + rng.uniform(0, ceiling / 2))


class ResilientProvider:
    """A `ChatProvider` that retries what is worth retrying, bounds each attempt in time and
    keeps at most `concurrency` requests in flight for the whole worker process."""

    def __init__(
        self, inner: ChatProvider, policy: RetryPolicy, *, concurrency: int, rng: random.Random | None = None
    ) -> None:
        self._inner = inner
        self._policy = policy
        self._slots = asyncio.Semaphore(concurrency)
        self._rng = rng or random.Random()

    @property
    def model(self) -> str:
        return self._inner.model

    async def close(self) -> None:
        await self._inner.close()

    async def complete(
        self, messages: Sequence[Message], *, max_tokens: int, json_output: bool = False
    ) -> Completion:
        attempt = 0
        while True:
            attempt += 1
            try:
                async with self._slots, asyncio.timeout(self._policy.call_timeout):
                    with stage("llm.call", model=self.model, attempt=attempt):
                        return await self._inner.complete(
                            messages, max_tokens=max_tokens, json_output=json_output
                        )
            except TimeoutError:
                error = ProviderError(
                    "provider_timeout",
                    f"no complete answer within {self._policy.call_timeout:g} s",
                    retryable=True,
                )
            except ProviderError as exc:
                error = exc
            if not error.retryable:
                raise error
            delay = retry_delay(attempt, self._policy, error.retry_after, self._rng)
            if delay is None:
                asked = f"; it asked to wait {error.retry_after:g} s" if error.retry_after else ""
                raise ProviderError(
                    error.code,
                    f"{error.message} (gave up after {attempt} attempts{asked})",
                    retryable=True,
                    status=error.status,
                    retry_after=error.retry_after,
                ) from error
            log.warning(
                "provider call failed (%s), attempt %d; retrying in %.2f s", error.message, attempt, delay
            )
            await asyncio.sleep(delay)
