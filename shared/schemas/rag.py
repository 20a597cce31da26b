"""Operations `rag.index` and `rag.ask`, the collections API's bodies, and the search call
the API makes to the rag service (RabbitMQ RPC, queue `rag.search`).

A collection belongs to a tenant like jobs and files do: the same name under two tenants
is two collections. Its chunks keep the page they come from, so every answer cites pages.
"""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.schemas.llm import Usage
from shared.schemas.ocr import FILE_ID_PATTERN

__all__ = [
    "COLLECTION_PATTERN",
    "AskInput",
    "AskResult",
    "CollectionDetail",
    "CollectionFile",
    "CollectionList",
    "CollectionName",
    "CollectionSummary",
    "IndexInput",
    "IndexResult",
    "SearchCall",
    "SearchQuery",
    "SearchReply",
    "SearchResults",
    "Source",
]

COLLECTION_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
"""Lower-case letters, digits, `_` and `-`, 1-63 characters: safe in paths and object keys."""

CollectionName = Annotated[
    str, Field(pattern=COLLECTION_PATTERN, description="Collection name, unique per tenant.")
]
Question = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
TopK = Annotated[int, Field(ge=1, le=50, description="How many chunks to retrieve (1-50).")]

_FILE = "3f2b8c1d9e0a4b7c8d6e5f4a3b2c1d0e"


class IndexInput(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"file_id": _FILE, "collection": "contracts"}]}
    )

    file_id: str = Field(pattern=FILE_ID_PATTERN, description="A PDF uploaded with `POST /v1/files`.")
    collection: CollectionName


class IndexResult(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "file_id": _FILE,
                    "collection": "contracts",
                    "pages": 12,
                    "chunks": 48,
                    "ocr_pages": 2,
                    "embedding_model": "bge-small-en-v1.5",
                    "replaced_chunks": 0,
                    "note": "",
                }
            ]
        }
    )

    file_id: str
    collection: str
    pages: int = Field(ge=0, description="Pages of the PDF.")
    chunks: int = Field(ge=0, description="Chunks stored; 0 when no page had text (see `note`).")
    ocr_pages: int = Field(ge=0, description="Pages without a text layer, read by OCR.")
    embedding_model: str
    replaced_chunks: int = Field(ge=0, description="Chunks of an earlier indexing of this file, replaced.")
    note: str = Field("", description="Why nothing was indexed, when `chunks` is 0.")


class AskInput(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"collection": "contracts", "question": "When does the lease end?", "top_k": 5}]
        },
    )

    collection: CollectionName
    question: Question
    top_k: TopK = 5


class Source(BaseModel):
    file_id: str
    page: int = Field(ge=1, description="1-based page of the PDF the chunk comes from.")
    text: str
    score: float = Field(description="Cosine similarity to the question or query (higher is closer).")


class AskResult(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "answer": "The lease ends on 31 March 2031 [1].",
                    "sources": [
                        {"file_id": _FILE, "page": 3, "text": "The term ends 31 March 2031.", "score": 0.82}
                    ],
                    "model": "gpt-4o-mini",
                    "method": "generated",
                    "usage": {"prompt_tokens": 912, "completion_tokens": 14, "estimated": False},
                }
            ]
        }
    )

    answer: str = Field(description="Cites its sources as [1], [2], ... in the order of `sources`.")
    sources: list[Source]
    model: str = Field(description="The provider's model, or `extractive` without an LLM endpoint.")
    method: Literal["generated", "extractive"] = Field(
        description="`extractive`: no LLM endpoint is configured; the answer is the best passage."
    )
    usage: Usage


class SearchQuery(BaseModel):
    """Body of `POST /v1/collections/{name}/search`."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"query": "termination notice", "top_k": 5}]}
    )

    query: Question
    top_k: TopK = 5


class SearchResults(BaseModel):
    results: list[Source] = Field(description="Best first.")


class CollectionFile(BaseModel):
    file_id: str
    pages: int = Field(ge=0)
    chunks: int = Field(ge=0)
    embedding_model: str
    indexed_at: str = Field(description="ISO 8601, UTC.")


class CollectionSummary(BaseModel):
    name: str
    files: int = Field(ge=0)
    pages: int = Field(ge=0)
    chunks: int = Field(ge=0)


class CollectionList(BaseModel):
    collections: list[CollectionSummary]


class CollectionDetail(BaseModel):
    name: str
    pages: int = Field(ge=0)
    chunks: int = Field(ge=0)
    files: list[CollectionFile]


class SearchCall(BaseModel):
    """The API's request on queue `rag.search` (reply to `amq.rabbitmq.reply-to`)."""

    tenant: str
    collection: str
    query: str
    top_k: int = Field(ge=1, le=50)


class SearchReply(BaseModel):
    """The rag service's answer: `results`, or `error` (`collection_empty`, `unavailable`)."""

    results: list[Source] = Field(default_factory=list)
    error: Literal["collection_empty", "unavailable"] | None = None
    message: str = ""
