"""The operations the platform runs, each with its input and result model."""

from dataclasses import dataclass

from pydantic import BaseModel

from shared.schemas.llm import ExtractInput, ExtractResult, SummarizeInput, SummarizeResult
from shared.schemas.ner import NerInput, NerResult
from shared.schemas.ocr import IMAGE_CONTENT_TYPES, OcrImageInput, OcrPdfInput, OcrResult
from shared.schemas.pipeline import PipelineInput, PipelineResult
from shared.schemas.rag import AskInput, AskResult, IndexInput, IndexResult
from shared.schemas.topology import LLM_QUEUE, NER_QUEUE, OCR_QUEUE, PIPELINE_QUEUE, RAG_QUEUE, QueueSpec

__all__ = ["OPERATIONS", "Operation"]


@dataclass(frozen=True)
class Operation:
    name: str
    """`<domain>.<verb>`; also the routing key on the `jobs` exchange."""
    queue: QueueSpec
    input_model: type[BaseModel]
    result_model: type[BaseModel]
    description: str
    file_types: tuple[str, ...] = ()
    """Content types of an upload named as `file_id` that the operation reads (422 otherwise)."""
    slow_input: bool = False
    """Validating the input may take long (it carries a caller's JSON Schema): the API does it
    on a worker thread, never on its event loop."""
    text_output: bool = False
    """Its result has a top-level `text` (str): a later step (or job) can take it as its text."""
    takes_text: bool = False
    """Accepts a finished job's `text` as its input (`{"job_id": ...}` instead of `{"text": ...}`,
    resolved by `shared/sources.py`, following a result by reference to the storage)."""


OPERATIONS: dict[str, Operation] = {
    op.name: op
    for op in (
        Operation(
            name="ner.entities",
            queue=NER_QUEUE,
            input_model=NerInput,
            result_model=NerResult,
            description="Named entities (people, places, organisations, ...) in a text.",
            file_types=("application/pdf",),
            takes_text=True,
        ),
        Operation(
            name="llm.summarize",
            queue=LLM_QUEUE,
            input_model=SummarizeInput,
            result_model=SummarizeResult,
            description="Summary of a text of any length (map-reduce over chunks that fit the model).",
            file_types=("application/pdf",),
            takes_text=True,
        ),
        Operation(
            name="llm.extract",
            queue=LLM_QUEUE,
            input_model=ExtractInput,
            result_model=ExtractResult,
            description="JSON that validates against a given JSON Schema, extracted from a text.",
            file_types=("application/pdf",),
            slow_input=True,
            takes_text=True,
        ),
        Operation(
            name="ocr.image",
            queue=OCR_QUEUE,
            input_model=OcrImageInput,
            result_model=OcrResult,
            description="Text of an uploaded image (PNG, JPEG, TIFF, WebP, BMP; TIFF frames are pages).",
            file_types=IMAGE_CONTENT_TYPES,
            text_output=True,
        ),
        Operation(
            name="ocr.pdf",
            queue=OCR_QUEUE,
            input_model=OcrPdfInput,
            result_model=OcrResult,
            description="Text of an uploaded PDF, page by page: its text layer where it has one, else OCR.",
            file_types=("application/pdf",),
            text_output=True,
        ),
        Operation(
            name="pipeline",
            queue=PIPELINE_QUEUE,
            input_model=PipelineInput,
            result_model=PipelineResult,
            description="Several operations as one job: each step a job of its own, a step with "
            "`after` started when that step has succeeded and reading its text.",
            slow_input=True,  # its steps' inputs are validated too (llm.extract's JSON Schema)
        ),
        Operation(
            name="rag.index",
            queue=RAG_QUEUE,
            input_model=IndexInput,
            result_model=IndexResult,
            description="Index an uploaded PDF into one of the tenant's collections (text layer, else "
            "OCR; chunks keep their page); indexing a file again replaces its chunks.",
            file_types=("application/pdf",),
        ),
        Operation(
            name="rag.ask",
            queue=RAG_QUEUE,
            input_model=AskInput,
            result_model=AskResult,
            description="Answer a question from a collection, citing the pages it used; progress "
            "events carry the answer as it is generated.",
        ),
    )
}
