"""Where an operation's text comes from (shared/schemas/sources.py): the input itself, an
uploaded PDF's text layer, or a succeeded job's result, read from the file storage when that
result is kept by reference. Every operation that `takes_text` resolves its input here."""

import asyncio
import logging
from typing import Any

from shared.documents import pdf_text
from shared.files import FileCatalog, read_job_file
from shared.readmodel import JobStore
from shared.results import ResultCorrupt, ResultStore
from shared.schemas import JobCommand, JobStatus, JobView
from shared.schemas.sources import TextSourceInput
from shared.storage import BlobMissing, StorageUnavailable
from shared.worker import JobFailure, TransientError

__all__ = ["TextSource"]

log = logging.getLogger(__name__)


class TextSource:
    def __init__(
        self,
        jobs: JobStore | None,
        files: FileCatalog | None = None,
        results: ResultStore | None = None,
        *,
        max_pages: int = 500,
    ) -> None:
        """`results`: where results kept by reference are read (default: the storage of `files`)."""
        self._jobs = jobs
        self._files = files
        if results is None and files is not None:
            results = ResultStore(files.storage)
        self._results = results
        self._max_pages = max_pages

    async def text_of(self, job: TextSourceInput, command: JobCommand) -> str:
        if job.text is not None:
            return job.text
        if job.job_id is not None:
            return await self._job_text(command.tenant, job.job_id)
        assert job.file_id is not None  # the input model requires exactly one source
        return await self._file_text(command, job.file_id)

    async def _file_text(self, command: JobCommand, file_id: str) -> str:
        if self._files is None:
            raise JobFailure("file_input_unavailable", "this worker has no file storage configured")
        _, data = await read_job_file(self._files, command, file_id)  # a PDF: the operation's type
        return await asyncio.to_thread(pdf_text, data, max_pages=self._max_pages, needed_by=command.operation)

    async def _job_text(self, tenant: str, job_id: str) -> str:
        if self._jobs is None:
            raise JobFailure("source_job_unavailable", "this worker has no read model to read jobs from")
        view = await self._jobs.get(tenant, job_id)
        if view is None:  # another tenant's job looks exactly like a missing one
            raise JobFailure("source_job_not_found", f"no job {job_id!r} for this tenant")
        if view.status != JobStatus.succeeded:
            raise JobFailure(
                "source_job_not_succeeded",
                f"job {job_id} is {view.status.value}; only a succeeded job's text can be used",
            )
        text = (await self._result_of(view)).get("text")
        if not isinstance(text, str) or not text.strip():
            raise JobFailure(
                "source_job_has_no_text",
                f"job {job_id} ({view.operation}) has no `text` in its result",
            )
        return text

    async def _result_of(self, view: JobView) -> dict[str, Any]:
        if view.result_ref is None:
            return view.result or {}
        if self._results is None:
            raise JobFailure("source_job_unavailable", "this worker has no file storage configured")
        try:
            return await self._results.load(view.result_ref)
        except BlobMissing as exc:
            raise JobFailure(
                "source_job_result_missing", f"job {view.id}'s result is no longer stored"
            ) from exc
        except ResultCorrupt as exc:
            raise JobFailure(
                "source_job_result_corrupt", f"job {view.id}'s stored result is damaged"
            ) from exc
        except StorageUnavailable as exc:
            log.warning("file storage unavailable: %s", exc)
            raise TransientError("storage_unavailable", "file storage did not answer") from exc
