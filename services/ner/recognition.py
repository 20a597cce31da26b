"""Named-entity recognition with spaCy: chunking long texts and mapping offsets back."""

import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from services.ner.batching import MicroBatcher
from shared.schemas import Entity, NerInput, NerResult
from shared.telemetry.tracing import stage
from shared.worker import JobContext, JobFailure

__all__ = ["EntityRecognizer", "split_text"]

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


class EntityRecognizer:
    """Loads the pipeline once; runs it on one dedicated thread so the event loop
    (heartbeats, acks, other jobs' events) never waits for the CPU work. Texts of jobs that
    run at the same time go through `nlp.pipe` together (see services/ner/batching.py)."""

    def __init__(
        self,
        pipeline: str,
        *,
        max_text_chars: int,
        chunk_chars: int,
        batch_size: int = 64,
        batch_wait: float = 0.005,
    ) -> None:
        import spacy

        self._nlp: Any = spacy.load(pipeline)
        meta = self._nlp.meta
        self.model = f"{meta['lang']}_{meta['name']}-{meta['version']}"
        self._max_text_chars = max_text_chars
        self._chunk_chars = chunk_chars
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spacy")
        self.batcher: MicroBatcher[tuple[str, int], list[Entity]] = MicroBatcher(
            self.entities_of_many, self._executor, max_batch=batch_size, max_wait=batch_wait
        )

    def entities(self, text: str, offset: int = 0) -> list[Entity]:
        return self.entities_of_many([(text, offset)])[0]

    def entities_of_many(self, texts: Sequence[tuple[str, int]]) -> list[list[Entity]]:
        """Entities of each (text, offset) pair, offsets added; one `nlp.pipe` over all of them."""
        docs = self._nlp.pipe((text for text, _ in texts), batch_size=max(1, len(texts)))
        return [
            [
                Entity(text=e.text, label=e.label_, start=e.start_char + offset, end=e.end_char + offset)
                for e in doc.ents
            ]
            for doc, (_, offset) in zip(docs, texts, strict=True)
        ]

    async def run(self, job: NerInput, ctx: JobContext) -> NerResult:
        text = job.text
        if len(text) > self._max_text_chars:
            raise JobFailure(
                "input_too_large",
                f"text has {len(text)} characters; this worker accepts at most {self._max_text_chars}",
            )
        chunks = split_text(text, self._chunk_chars)
        found: list[Entity] = []
        for number, (offset, chunk) in enumerate(chunks, start=1):
            with stage("ner.chunk", chunk=number, chunks=len(chunks), chars=len(chunk)):
                found += await self.batcher.submit((chunk, offset))
            if len(chunks) > 1:
                await ctx.progress(number / len(chunks), f"chunk {number} of {len(chunks)}")
        return NerResult(entities=found, model=self.model)

    async def close(self) -> None:
        await self.batcher.close()
        self._executor.shutdown(wait=False, cancel_futures=True)
