"""Named-entity recognition with spaCy: chunking long texts and mapping offsets back."""

import multiprocessing
import os
import re
import signal
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from shared.batching import MicroBatcher, in_executor
from shared.job_text import text_of_job
from shared.readmodel import JobStore
from shared.schemas import Entity, NerInput, NerResult
from shared.telemetry.tracing import stage
from shared.worker import JobContext, JobFailure

__all__ = ["EntityRecognizer", "ModelProcess", "split_text"]

Out = TypeVar("Out")

_BREAKS = (re.compile(r"\n\s*\n"), re.compile(r"(?<=[.!?])\s+"), re.compile(r"\s+"))


def split_text(text: str, size: int) -> list[tuple[int, str]]:
    """Split into chunks of at most `size` characters, each with its offset in `text`.

    Cuts at the last paragraph break before the limit, else the last sentence end,
    else the last whitespace, else hard at the limit, so entities are rarely cut.
    """
    chunks: list[tuple[int, str]] = []
    start = 0
    while len(text) - start > size:
        window = text[start : start + size]
        cut = size
        for pattern in _BREAKS:
            ends = [m.end() for m in pattern.finditer(window) if m.end() > size // 2]
            if ends:
                cut = ends[-1]
                break
        chunks.append((start, text[start : start + cut]))
        start += cut
    if start < len(text) or not chunks:
        chunks.append((start, text[start:]))
    return chunks


# The model lives in its own process. On a thread, spaCy holds the GIL for most of a batch,
# and the event loop (publishing events, acking, heartbeats) competes with it for every step;
# in a process of its own the loop has a core of its own. (Measured in `make bench-sse`, the
# worker's share of the event delay fell only from 129 to 117 ms p50 with this alone: the
# batch size mattered more, see bench/README.md.)
_nlp: Any = None


def _load(pipeline: str) -> None:
    """Initializer of the model process: load the pipeline; leave Ctrl-C and SIGTERM to the
    parent, which drains its jobs and then shuts this process down."""
    global _nlp
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    threading.Thread(target=_exit_with, args=(os.getppid(),), daemon=True, name="parent-watch").start()
    import spacy

    _nlp = spacy.load(pipeline)


def _exit_with(parent: int) -> None:
    """A parent killed with SIGKILL cannot shut its pool down: go when it is gone."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def _model_name() -> str:
    meta = _nlp.meta
    return f"{meta['lang']}_{meta['name']}-{meta['version']}"


def _find(texts: Sequence[tuple[str, int]]) -> list[list[tuple[str, str, int, int]]]:
    """(text, label, start, end) of each (text, offset) pair's entities, offsets added: one
    `nlp.pipe` over all of them. Plain tuples, cheap to send back to the worker."""
    docs = _nlp.pipe((text for text, _ in texts), batch_size=max(1, len(texts)))
    return [
        [(e.text, e.label_, e.start_char + offset, e.end_char + offset) for e in doc.ents]
        for doc, (_, offset) in zip(docs, texts, strict=True)
    ]


def _entities(found: list[tuple[str, str, int, int]]) -> list[Entity]:
    return [Entity(text=text, label=label, start=start, end=end) for text, label, start, end in found]


class ModelProcess(Executor):
    """One process that holds the pipeline; replaced if it dies (a batch that killed it
    fails, and the batcher retries its texts one by one to find the culprit)."""

    def __init__(self, pipeline: str) -> None:
        self._pipeline = pipeline
        self._pool = self._start()

    def _start(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),  # never fork a process with threads
            initializer=_load,
            initargs=(self._pipeline,),
        )

    def submit(self, fn: Callable[..., Out], /, *args: Any, **kwargs: Any) -> "Future[Out]":
        try:
            return self._pool.submit(fn, *args, **kwargs)
        except BrokenProcessPool:
            self._pool.shutdown(wait=False)
            self._pool = self._start()
            return self._pool.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)


class EntityRecognizer:
    """Runs the pipeline in a model process (`ModelProcess`), so the event loop never waits
    for the CPU work. Texts of jobs that run at the same time go through `nlp.pipe` together
    (see shared/batching.py)."""

    def __init__(
        self,
        pipeline: str,
        *,
        max_text_chars: int,
        chunk_chars: int,
        batch_size: int = 32,
        batch_wait: float = 0.005,
        jobs: JobStore | None = None,
    ) -> None:
        self.jobs = jobs
        """Where a `job_id` input's text is read."""
        self._max_text_chars = max_text_chars
        self._chunk_chars = chunk_chars
        self._executor = ModelProcess(pipeline)
        self.model = self._executor.submit(_model_name).result()  # waits until it is loaded
        self.batcher: MicroBatcher[tuple[str, int], list[tuple[str, str, int, int]]] = MicroBatcher(
            in_executor(_find, self._executor), max_batch=batch_size, max_wait=batch_wait
        )

    def entities(self, text: str, offset: int = 0) -> list[Entity]:
        return self.entities_of_many([(text, offset)])[0]

    def entities_of_many(self, texts: Sequence[tuple[str, int]]) -> list[list[Entity]]:
        """Entities of each (text, offset) pair, offsets added, outside any batcher."""
        return [_entities(found) for found in self._executor.submit(_find, list(texts)).result()]

    async def run(self, job: NerInput, ctx: JobContext) -> NerResult:
        if job.text is not None:
            text = job.text
        elif self.jobs is None:
            raise JobFailure("source_job_unavailable", "this worker has no read model to read jobs from")
        else:
            assert job.job_id is not None  # the input model requires one source
            text = await text_of_job(self.jobs, ctx.command.tenant, job.job_id)
        if len(text) > self._max_text_chars:
            raise JobFailure(
                "input_too_large",
                f"text has {len(text)} characters; this worker accepts at most {self._max_text_chars}",
            )
        chunks = split_text(text, self._chunk_chars)
        found: list[Entity] = []
        for number, (offset, chunk) in enumerate(chunks, start=1):
            with stage("ner.chunk", chunk=number, chunks=len(chunks), chars=len(chunk)):
                found += _entities(await self.batcher.submit((chunk, offset)))
            if len(chunks) > 1:
                await ctx.progress(number / len(chunks), f"chunk {number} of {len(chunks)}")
        return NerResult(entities=found, model=self.model)

    async def close(self) -> None:
        await self.batcher.close()
        self._executor.shutdown(wait=False, cancel_futures=True)
