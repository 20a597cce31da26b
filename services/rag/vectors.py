"""Embedding off the event loop: the embedder (services/rag/embedding.py) is blocking and
CPU-bound, so every call runs on one thread of its own, shared by indexing, questions and
searches of the process (one model, one thread: no oversubscription of the cores)."""

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

import numpy as np
import numpy.typing as npt

__all__ = ["EmbeddingThread", "TextEmbedder"]


class TextEmbedder(Protocol):
    """What this service needs of an embedder (structurally the `Embedder` of embedding.py)."""

    @property
    def model(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """(len(texts), dim) float32, each row L2-normalised."""
        ...


class EmbeddingThread:
    def __init__(self, embedder: TextEmbedder) -> None:
        self.embedder = embedder
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed")

    @property
    def model(self) -> str:
        return self.embedder.model

    async def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        if not texts:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self.embedder.embed, list(texts))

    def close(self) -> None:
        self._thread.shutdown(wait=False, cancel_futures=True)
