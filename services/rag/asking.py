"""`rag.ask`: the question's best chunks from the collection, then an answer that cites them.

With an LLM endpoint the answer streams: progress events carry the answer so far (at most
one per `interval` seconds, and the last piece always), so an SSE client shows it growing.
Without one, the answer is the best passage itself, labelled `extractive`.
"""

import time

from services.rag.generation import Answer, StreamingChat, prompt
from services.rag.store import CollectionEmpty, VectorStore
from services.rag.vectors import EmbeddingThread
from shared.schemas.llm import Usage
from shared.schemas.rag import AskInput, AskResult, Source
from shared.worker import JobContext, JobFailure

__all__ = ["Asker", "retrieve"]

EXTRACTIVE = "extractive"


async def retrieve(
    store: VectorStore, embedding: EmbeddingThread, tenant: str, collection: str, query: str, top_k: int
) -> list[Source]:
    """Raises CollectionEmpty."""
    vector = await embedding.embed([query])
    return await store.search(tenant, collection, vector[0], top_k, embedding.model)


def _estimate(text: str) -> int:
    return max(1, len(text) // 4)  # about four characters per token in English


class Asker:
    def __init__(
        self, store: VectorStore, embedding: EmbeddingThread, chat: StreamingChat | None, *, interval: float
    ) -> None:
        self.store = store
        self.embedding = embedding
        self.chat = chat
        self.interval = interval

    async def run(self, job: AskInput, ctx: JobContext) -> AskResult:
        try:
            sources = await retrieve(
                self.store, self.embedding, ctx.command.tenant, job.collection, job.question, job.top_k
            )
        except CollectionEmpty as exc:
            raise JobFailure(
                "collection_empty", f"collection {job.collection!r} has no indexed chunks to answer from"
            ) from exc
        await ctx.progress(0.1, "")
        if self.chat is None:
            answer = sources[0].text
            await ctx.progress(0.99, answer)
            return AskResult(
                answer=answer,
                sources=sources[:1],
                model=EXTRACTIVE,
                method="extractive",
                usage=Usage(prompt_tokens=0, completion_tokens=0),
            )
        return await self._generate(job, sources, ctx)

    async def _generate(self, job: AskInput, sources: list[Source], ctx: JobContext) -> AskResult:
        assert self.chat is not None
        messages = prompt(job.question, sources)
        answer = Answer()
        sent, last = "", 0.0
        async for text in self.chat.stream(messages, answer):
            if time.monotonic() - last >= self.interval:
                await ctx.progress(self._fraction(text), text)
                sent, last = text, time.monotonic()
        if answer.text != sent:
            await ctx.progress(self._fraction(answer.text), answer.text)
        usage = (
            Usage(prompt_tokens=answer.prompt_tokens, completion_tokens=answer.completion_tokens)
            if answer.usage_reported
            else Usage(
                prompt_tokens=_estimate(str(messages)),
                completion_tokens=_estimate(answer.text),
                estimated=True,
            )
        )
        return AskResult(
            answer=answer.text, sources=sources, model=answer.model, method="generated", usage=usage
        )

    def _fraction(self, text: str) -> float:
        # Tokens so far against the most the answer may take: a rising bar, never full early.
        assert self.chat is not None
        return min(0.99, 0.1 + 0.89 * _estimate(text) / max(self.chat.max_tokens, 1))
