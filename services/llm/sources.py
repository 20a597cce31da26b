"""Where an operation's text comes from: the input itself, an uploaded PDF's text layer, or a
finished job's result."""

import asyncio

from shared.documents import pdf_text
from shared.files import FileCatalog, read_job_file
from shared.job_text import text_of_job
from shared.readmodel import JobStore
from shared.schemas import JobCommand
from shared.schemas.llm import ExtractInput, SummarizeInput
from shared.worker import JobFailure

__all__ = ["TextSource"]


class TextSource:
    def __init__(
        self, jobs: JobStore | None, files: FileCatalog | None = None, *, max_pages: int = 500
    ) -> None:
        self._jobs = jobs
        self._files = files
        self._max_pages = max_pages

    async def text_of(self, job: SummarizeInput | ExtractInput, command: JobCommand) -> str:
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
        return await text_of_job(self._jobs, tenant, job_id)
