"""Named-entity recognition with spaCy: chunking long texts and mapping offsets back."""

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

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
    (heartbeats, acks, other jobs' events) never waits for the CPU work."""

    def __init__(self, pipeline: str, *, max_text_chars: int, chunk_chars: int) -> None:
        import spacy

        self._nlp: Any = spacy.load(pipeline)
        meta = self._nlp.meta
        self.model = f"{meta['lang']}_{meta['name']}-{meta['version']}"
        self._max_text_chars = max_text_chars
        self._chunk_chars = chunk_chars
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spacy")

    def entities(self, text: str, offset: int = 0) -> list[Entity]:
        doc = self._nlp(text)
        return [
            Entity(text=e.text, label=e.label_, start=e.start_char + offset, end=e.end_char + offset)
            for e in doc.ents
        ]

    async def run(self, job: NerInput, ctx: JobContext) -> NerResult:
        text = job.text
        if len(text) > self._max_text_chars:
            raise JobFailure(
                "input_too_large",
                f"text has {len(text)} characters; this worker accepts at most {self._max_text_chars}",
            )
        chunks = split_text(text, self._chunk_chars)
        loop = asyncio.get_running_loop()
        found: list[Entity] = []
        for number, (offset, chunk) in enumerate(chunks, start=1):
            with stage("ner.chunk", chunk=number, chunks=len(chunks), chars=len(chunk)):
                found += await loop.run_in_executor(self._executor, self.entities, chunk, offset)
            if len(chunks) > 1:
                await ctx.progress(number / len(chunks), f"chunk {number} of {len(chunks)}")
        return NerResult(entities=found, model=self.model)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
