"""`llm.summarize`: map-reduce summaries with a model, or the local extractive fallback."""

import asyncio

from services.llm import prompts
from services.llm.extractive import EXTRACTIVE_MODEL, extractive_summary
from services.llm.limits import split_input
from services.llm.mapreduce import MapReduce
from services.llm.operation import LlmOperation
from services.llm.provider import ChatProvider, Message, ProviderError
from shared.schemas.llm import SummarizeInput, SummarizeResult, Usage
from shared.worker import JobContext, JobFailure, TransientError

__all__ = ["Summarizer", "provider_failure"]


def provider_failure(error: ProviderError) -> JobFailure:
    """A provider error the retries could not cure, as the job's failure."""
    if error.retryable:
        return TransientError(error.code, error.message)
    return JobFailure(error.code, error.message)


class Summarizer(LlmOperation):
    async def run(self, job: SummarizeInput, ctx: JobContext) -> SummarizeResult:
        text = await self._source.text_of(job, ctx.command)
        if self._provider is None:
            return await self._extractive(text, ctx)
        try:
            return await self._map_reduce(self._provider, text, job.instructions, ctx)
        except ProviderError as error:
            raise provider_failure(error) from error

    async def _extractive(self, text: str, ctx: JobContext) -> SummarizeResult:
        summary = await asyncio.to_thread(extractive_summary, text)
        if not summary:
            raise JobFailure("empty_input", "the text has no sentences to summarize")
        await ctx.progress(1.0, "ranked the text's sentences (no LLM endpoint configured)")
        return SummarizeResult(
            summary=summary,
            chunks=1,
            model=EXTRACTIVE_MODEL,
            method="extractive",
            usage=Usage(prompt_tokens=0, completion_tokens=0),
        )

    async def _map_reduce(
        self, provider: ChatProvider, text: str, instructions: str | None, ctx: JobContext
    ) -> SummarizeResult:
        limits, words = self._limits, self._limits.summary_words
        pieces = await split_input(text, limits.chunk_tokens, limits, self._tokenizer)
        tally = self._tally(ctx)

        async def call(messages: list[Message]) -> str:
            completion = await tally.complete(provider, messages, max_tokens=limits.max_output_tokens)
            return completion.text.strip()

        async def summarize(number: int, count: int, piece: str) -> str:
            if count == 1:
                return await call(prompts.summarize_whole(piece, words, instructions))
            return await call(prompts.summarize_part(piece, number, count, words, instructions))

        async def combine(summaries: list[str], final: bool) -> str:
            return await call(prompts.combine_summaries(summaries, words, instructions))

        reducer = MapReduce(
            ctx,
            measure=lambda s: len(self._tokenizer.encode(s)),
            limit=limits.chunk_tokens,
            result_tokens=limits.max_output_tokens,
        )
        summary = await reducer.run(pieces, summarize, combine)
        if not summary:
            raise JobFailure("invalid_output", "the model returned an empty summary")
        return SummarizeResult(
            summary=summary,
            chunks=len(pieces),
            model=tally.model or provider.model,
            method="map-reduce",
            usage=tally.usage(),
        )
