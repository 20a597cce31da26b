"""The production option: any OpenAI-compatible `/v1/embeddings` endpoint (OpenAI, vLLM, Ollama,
llama.cpp, LiteLLM, TEI), through the official SDK with its own retries off.

Retries are ours, as for the LLM provider (services/llm/resilience.py): exponential backoff with
jitter, `Retry-After` honoured up to `EMBEDDINGS_BACKOFF_MAX`, 429/5xx/408/409/timeouts/resets
retried, everything else final. Error messages reach the tenant, so they never quote the
endpoint's address or the server's own text; those go to the log.
"""

import logging
import math
import random
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import numpy as np
import openai
from openai import OpenAI, Timeout

from services.rag.embedding import EmbeddingError, EmbeddingUnavailable, Vectors, normalise
from services.rag.embedding_settings import EmbeddingSettings

__all__ = ["EndpointEmbedder"]

log = logging.getLogger(__name__)


class EndpointEmbedder:
    def __init__(
        self,
        client: OpenAI,
        model: str,
        *,
        dimensions: int | None = None,
        batch_size: int = 32,
        attempts: int = 5,
        backoff_base: float = 1.0,
        backoff_max: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self._client = client
        self.model = model
        self._dimensions = dimensions
        self._dim = dimensions
        self.batch_size = batch_size
        self._attempts = attempts
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._sleep = sleep
        self._rng = rng or random.Random()

    @classmethod
    def from_settings(cls, settings: EmbeddingSettings, **kwargs: Any) -> "EndpointEmbedder":
        client = OpenAI(
            base_url=settings.base_url,
            api_key=settings.api_key.get_secret_value(),
            max_retries=0,  # retried here, honouring Retry-After and our limits
            timeout=Timeout(settings.timeout, connect=settings.connect_timeout),
        )
        return cls(
            client,
            settings.model,
            dimensions=settings.dimensions,
            batch_size=settings.batch_size,
            attempts=settings.attempts,
            backoff_base=settings.backoff_base,
            backoff_max=settings.backoff_max,
            **kwargs,
        )

    @property
    def dim(self) -> int:
        """The vectors' length: `EMBEDDINGS_DIMENSIONS`, else learnt from the endpoint (one call)."""
        if self._dim is None:
            self.embed(["dimension probe"])
        assert self._dim is not None
        return self._dim

    def close(self) -> None:
        self._client.close()

    def embed(self, texts: Sequence[str]) -> Vectors:
        batches = [list(texts[i : i + self.batch_size]) for i in range(0, len(texts), self.batch_size)]
        rows = [self._with_retries(batch) for batch in batches]
        return np.concatenate(rows) if rows else np.zeros((0, self._dim or 0), dtype=np.float32)

    def _with_retries(self, batch: list[str]) -> Vectors:
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._request(batch)
            except EmbeddingUnavailable as error:
                delay = self._delay(attempt, error.retry_after)
                if delay is None:
                    raise
                log.info("embeddings attempt %d failed (%s); again in %.1f s", attempt, error.code, delay)
                self._sleep(delay)

    def _delay(self, attempt: int, server_asked: float | None) -> float | None:
        """Seconds before the next attempt; None: stop. "Equal jitter", Retry-After as a floor."""
        if attempt >= self._attempts:
            return None
        if server_asked is not None:
            return (
                None if server_asked > self._backoff_max else float(server_asked + self._rng.uniform(0, 0.1))
            )
        ceiling = min(self._backoff_max, self._backoff_base * 2 ** (attempt - 1))
        return float(ceiling / 2 + self._rng.uniform(0, ceiling / 2))

    def _request(self, batch: list[str]) -> Vectors:
        extra: dict[str, Any] = {"dimensions": self._dimensions} if self._dimensions else {}
        try:
            # "float": the SDK would otherwise ask for base64, which some servers do not speak.
            response = self._client.embeddings.create(
                model=self.model, input=batch, encoding_format="float", **extra
            )
        except openai.APIStatusError as exc:
            raise _status_error(exc) from exc
        except openai.APITimeoutError as exc:
            raise EmbeddingUnavailable(
                "embeddings_timeout", "the embeddings endpoint did not answer in time"
            ) from exc
        except openai.APIConnectionError as exc:
            log.warning("cannot reach the embeddings endpoint: %s", exc.__cause__ or exc)
            raise EmbeddingUnavailable(
                "embeddings_unavailable", "cannot reach the embeddings endpoint"
            ) from exc
        except (openai.APIError, ValueError) as exc:  # e.g. a body that is not JSON
            log.warning("embeddings endpoint error: %s", exc)
            raise EmbeddingError(
                "embeddings_bad_response", "the embeddings endpoint answered nonsense"
            ) from exc
        return self._vectors(getattr(response, "data", None) or [], len(batch))

    def _vectors(self, data: Sequence[Any], expected: int) -> Vectors:
        def bad(why: str) -> EmbeddingError:
            log.warning("embeddings endpoint answered badly: %s", why)
            return EmbeddingError("embeddings_bad_response", f"the embeddings endpoint answered badly: {why}")

        if len(data) != expected:
            raise bad(f"{len(data)} vectors for {expected} texts")
        ordered = sorted(data, key=lambda item: item.index)
        if [item.index for item in ordered] != list(range(expected)):
            raise bad("vector indexes do not match the texts")
        vectors = [item.embedding for item in ordered]
        if not all(isinstance(v, list) and v for v in vectors):
            raise bad("a vector is missing")
        width = len(vectors[0])
        if any(len(v) != width for v in vectors):
            raise bad("vectors of unequal lengths")
        if self._dim is not None and width != self._dim:
            raise bad(f"vectors of {width} numbers, expected {self._dim}")
        array = np.asarray(vectors, dtype=np.float32)
        if not np.isfinite(array).all():
            raise bad("a vector holds a number that is not finite")
        self._dim = width
        return normalise(array)


def _retry_after(headers: Any) -> float | None:
    """Seconds the server asked us to wait: `retry-after-ms`, `retry-after` seconds or HTTP date."""
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name) if headers is not None else None
        if value is None:
            continue
        try:
            seconds = float(value) / scale
            return max(seconds, 0.0) if math.isfinite(seconds) else None
        except ValueError:
            pass
        try:
            return max((parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds(), 0.0)
        except (TypeError, ValueError):
            return None
    return None


def _status_error(exc: openai.APIStatusError) -> EmbeddingError:
    status = exc.status_code
    log.warning("embeddings endpoint answered HTTP %s: %s", status, exc.message)
    detail = f"HTTP {status} from the embeddings endpoint"
    wait = _retry_after(exc.response.headers)
    if status == 429:
        return EmbeddingUnavailable("embeddings_rate_limited", detail, retry_after=wait)
    if status >= 500 or status in (408, 409):
        return EmbeddingUnavailable("embeddings_unavailable", detail, retry_after=wait)
    if status in (401, 403):
        return EmbeddingError("embeddings_auth_failed", detail + " (check EMBEDDINGS_API_KEY)")
    if status == 404:
        return EmbeddingError("embeddings_rejected", detail + " (check EMBEDDINGS_BASE_URL and _MODEL)")
    return EmbeddingError("embeddings_rejected", detail)
