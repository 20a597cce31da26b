"""The message contract: every message and name shared between services lives here."""

from shared.schemas.commands import SCHEMA_VERSION, JobCommand
from shared.schemas.events import (
    SEQ_PER_ATTEMPT,
    Cancelled,
    Failed,
    JobError,
    JobEvent,
    Progress,
    Queued,
    Retrying,
    Started,
    Succeeded,
    parse_event,
)
from shared.schemas.files import SUPPORTED_CONTENT_TYPES, StoredFile
from shared.schemas.lifecycle import (
    TERMINAL_STATES,
    InvalidMove,
    JobRef,
    JobTimeline,
    failed_named_job,
    is_terminal,
    status_after,
)
from shared.schemas.ner import Entity, NerInput, NerResult
from shared.schemas.ocr import OcrImageInput, OcrPage, OcrPdfInput, OcrResult
from shared.schemas.operations import OPERATIONS, Operation
from shared.schemas.results import RESULT_CONTENT_TYPE, ResultRef, result_blob_key
from shared.schemas.views import JobPage, JobStatus, JobView, ProgressView

__all__ = [
    "OPERATIONS",
    "RESULT_CONTENT_TYPE",
    "SCHEMA_VERSION",
    "SEQ_PER_ATTEMPT",
    "SUPPORTED_CONTENT_TYPES",
    "TERMINAL_STATES",
    "Cancelled",
    "Entity",
    "Failed",
    "InvalidMove",
    "JobCommand",
    "JobError",
    "JobEvent",
    "JobPage",
    "JobRef",
    "JobStatus",
    "JobTimeline",
    "JobView",
    "NerInput",
    "NerResult",
    "OcrImageInput",
    "OcrPage",
    "OcrPdfInput",
    "OcrResult",
    "Operation",
    "Progress",
    "ProgressView",
    "Queued",
    "ResultRef",
    "Retrying",
    "Started",
    "StoredFile",
    "Succeeded",
    "failed_named_job",
    "is_terminal",
    "parse_event",
    "result_blob_key",
    "status_after",
]
