"""The `rag.search` RPC: what the API's synchronous `POST /v1/collections/{name}/search` asks.

The API stays light (no model, no numpy): it sends a `SearchCall` and waits for the
`SearchReply` on RabbitMQ's direct reply-to. Every request gets an answer, an error one
included, so the caller never waits out its timeout because of bad input.
"""

import logging

from pydantic import ValidationError

from services.rag.asking import retrieve
from services.rag.store import CollectionEmpty, VectorStore
from services.rag.vectors import EmbeddingThread
from shared.schemas.rag import SearchCall, SearchReply

__all__ = ["Searcher"]

log = logging.getLogger(__name__)


class Searcher:
    def __init__(self, store: VectorStore, embedding: EmbeddingThread) -> None:
        self.store = store
        self.embedding = embedding

    async def answer(self, body: bytes) -> bytes:
        return (await self.search(body)).model_dump_json().encode()

    async def search(self, body: bytes) -> SearchReply:
        try:
            call = SearchCall.model_validate_json(body)
        except ValidationError as exc:
            return SearchReply(
                error="unavailable", message=f"malformed search call: {exc.error_count()} errors"
            )
        try:
            results = await retrieve(
                self.store, self.embedding, call.tenant, call.collection, call.query, call.top_k
            )
        except CollectionEmpty as exc:
            return SearchReply(error="collection_empty", message=str(exc))
        except Exception as exc:
            log.exception("search in %r failed", call.collection)
            return SearchReply(error="unavailable", message=type(exc).__name__)
        return SearchReply(results=results)
