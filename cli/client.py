"""The HTTP API as the CLI uses it: plain calls, and a job's event stream that resumes
after a dropped connection from the last event it saw (SSE `Last-Event-ID`)."""

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from httpx_sse import connect_sse

from shared.schemas.lifecycle import TERMINAL_STATES

__all__ = ["ApiError", "JobEvent", "JobsClient"]


class ApiError(Exception):
    """The API answered with an error, or could not be reached."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class JobEvent:
    type: str
    id: int
    data: dict[str, Any]

    @property
    def status(self) -> str:
        """The job's status after this event (a snapshot carries it; events imply it)."""
        if self.type == "snapshot":
            return str(self.data["status"])
        return {"started": "running", "progress": "running", "retrying": "queued"}.get(self.type, self.type)


class JobsClient:
    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"), headers=headers, timeout=timeout, transport=transport
        )

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ApiError(f"cannot reach the API at {self._http.base_url}: {exc}") from exc
        if response.is_error:
            raise ApiError(f"{response.status_code}: {_detail(response)}", response.status_code)
        return response.json()

    def upload(self, path: Path) -> dict[str, Any]:
        """`POST /v1/files` (multipart, field `file`) -> 201 with the file's id."""
        with path.open("rb") as body:
            return dict(self._call("POST", "/v1/files", files={"file": (path.name, body)}))

    def submit(
        self, operation: str, job_input: dict[str, Any], idempotency_key: str | None = None
    ) -> dict[str, Any]:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        body = {"operation": operation, "input": job_input}
        return dict(self._call("POST", "/v1/jobs", json=body, headers=headers))

    def get(self, job_id: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/v1/jobs/{job_id}"))

    def list(self, status: str | None = None, operation: str | None = None, limit: int = 50) -> list[Any]:
        params: dict[str, Any] = {"limit": limit}
        if status:
            params["status"] = status
        if operation:
            params["operation"] = operation
        return list(self._call("GET", "/v1/jobs", params=params)["items"])

    def cancel(self, job_id: str) -> dict[str, Any]:
        return dict(self._call("POST", f"/v1/jobs/{job_id}/cancel"))

    def events(self, job_id: str, *, reconnects: int = 10) -> Iterator[JobEvent]:
        """The job's snapshot, then its events until the terminal one."""
        last_id: int | None = None
        failures = 0
        while True:
            headers = {"Last-Event-ID": str(last_id)} if last_id is not None else {}
            try:
                with connect_sse(
                    self._http, "GET", f"/v1/jobs/{job_id}/events", headers=headers, timeout=None
                ) as source:
                    if source.response.is_error:
                        source.response.read()
                        raise ApiError(
                            f"{source.response.status_code}: {_detail(source.response)}",
                            source.response.status_code,
                        )
                    for sse in source.iter_sse():
                        if not sse.event or sse.event == "message":
                            continue
                        event = JobEvent(sse.event, int(sse.id or 0), json.loads(sse.data))
                        last_id = event.id
                        failures = 0
                        yield event
                        if event.status in TERMINAL_STATES:
                            return
            except httpx.TransportError as exc:
                failures += 1
                if failures > reconnects:
                    raise ApiError(f"lost the event stream of job {job_id}: {exc}") from exc
                time.sleep(min(2.0, 0.2 * failures))


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        return response.text[:500]
    return detail if isinstance(detail, str) else json.dumps(detail)
