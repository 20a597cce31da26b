"""`jobs`: submit, follow, list, cancel and fetch jobs from the command line.

Exit codes: 0 done (or the job succeeded); 1 the job failed; 3 it was cancelled;
4 the API refused the request or could not be reached; 5 the job has not finished yet.
"""

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.live import Live

from cli.ask import ask as ask_question
from cli.ask import print_sources
from cli.client import ApiError, JobsClient
from cli.display import PipelineProgress, ProgressView, job_table, print_json
from shared.schemas.lifecycle import TERMINAL_STATES

__all__ = ["app"]

EXIT_FAILED, EXIT_CANCELLED, EXIT_API, EXIT_NOT_FINISHED = 1, 3, 4, 5

app = typer.Typer(
    name="jobs", help="Client of the jobs platform: long jobs behind an HTTP API.", no_args_is_help=True
)
out = Console()
err = Console(stderr=True)


def _client(ctx: typer.Context) -> JobsClient:
    return ctx.obj  # type: ignore[no-any-return]


@app.callback()
def main(
    ctx: typer.Context,
    api_url: Annotated[
        str, typer.Option(envvar="JOBS_API_URL", help="Base URL of the API.")
    ] = "http://127.0.0.1:8000",
    api_key: Annotated[
        str | None, typer.Option(envvar="JOBS_API_KEY", help="API key (Bearer token) of your tenant.")
    ] = None,
) -> None:
    if ctx.obj is None:  # tests hand in a client of their own
        ctx.obj = JobsClient(api_url, api_key)
        ctx.call_on_close(ctx.obj.close)


def _exit_for(status: str) -> None:
    if status == "failed":
        raise typer.Exit(EXIT_FAILED)
    if status == "cancelled":
        raise typer.Exit(EXIT_CANCELLED)


def _read_input(input_json: str | None, text: str | None) -> dict[str, Any]:
    job_input: dict[str, Any] = {}
    if input_json is not None:
        raw = Path(input_json[1:]).read_text() if input_json.startswith("@") else input_json
        try:
            loaded = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise typer.BadParameter(f"not JSON: {exc}", param_hint="--input") from exc
        if not isinstance(loaded, dict):
            raise typer.BadParameter("must be a JSON object", param_hint="--input")
        job_input.update(loaded)
    if text is not None:
        job_input["text"] = sys.stdin.read() if text == "-" else text
    return job_input


def _follow(client: JobsClient, job: dict[str, Any]) -> dict[str, Any]:
    """Show the job's progress until it ends; return its final state."""
    with ProgressView(err, job["id"], job["operation"]) as view:
        for event in client.events(job["id"]):
            view.show(event)
    return client.get(job["id"])


def _finish(final: dict[str, Any]) -> None:
    if final["status"] == "succeeded":
        print_json(out, final["result"])
    elif final["status"] == "failed":
        error = final.get("error") or {}
        err.print(f"[red]job {final['id']} failed[/]: {error.get('code')}: {error.get('message')}")
    else:
        err.print(f"[yellow]job {final['id']} {final['status']}[/]")
    _exit_for(final["status"])


@app.command()
def submit(
    ctx: typer.Context,
    operation: Annotated[str, typer.Argument(help="e.g. ner.entities, llm.summarize, ocr.pdf")],
    input_json: Annotated[
        str | None, typer.Option("--input", "-i", help="The input as a JSON object, or @file.json.")
    ] = None,
    text: Annotated[str | None, typer.Option(help="Sets input.text ('-' reads standard input).")] = None,
    file: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, help="Upload this file first (POST /v1/files)."),
    ] = None,
    file_field: Annotated[
        str, typer.Option(help="Input field that gets the uploaded file's id.")
    ] = "file_id",
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Show live progress, then print the result.")
    ] = False,
    idempotency_key: Annotated[str | None, typer.Option(help="Same key and input: same job.")] = None,
) -> None:
    """Submit a job; with --follow, wait for it and print its result."""
    client = _client(ctx)
    job_input = _read_input(input_json, text)
    if file is not None:
        uploaded = client.upload(file)
        err.print(f"uploaded {file.name} as file {uploaded['id']}")
        job_input[file_field] = uploaded["id"]
    job = client.submit(operation, job_input, idempotency_key)
    if not follow:
        out.print(job["id"])
        return
    err.print(f"job {job['id']} submitted")
    _finish(_follow(client, job))


def _pipeline_input(spec: Path, uploads: list[str], client: JobsClient) -> dict[str, Any]:
    try:
        loaded = json.loads(spec.read_text())
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"not JSON: {exc}", param_hint="FILE") from exc
    # the whole body (`{"operation": "pipeline", "input": {...}}`) or only its input
    body = loaded.get("input", loaded) if isinstance(loaded, dict) else None
    if not isinstance(body, dict) or not isinstance(body.get("steps"), list):
        raise typer.BadParameter('needs {"steps": [...]}', param_hint="FILE")
    steps = {step.get("id"): step for step in body["steps"] if isinstance(step, dict)}
    for item in uploads:
        step_id, _, path = item.partition("=")
        if step_id not in steps or not path:
            raise typer.BadParameter(
                f"{item!r}: give STEP=FILE for a step of the pipeline", param_hint="--upload"
            )
        uploaded = client.upload(Path(path))
        err.print(f"uploaded {path} as file {uploaded['id']} for step {step_id}")
        steps[step_id].setdefault("input", {})["file_id"] = uploaded["id"]
    return body


@app.command()
def pipeline(
    ctx: typer.Context,
    spec: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help='JSON: {"steps": [...]}.')],
    upload: Annotated[
        list[str] | None,
        typer.Option(help="STEP=FILE: upload FILE first and give its id to STEP as input.file_id."),
    ] = None,
    follow: Annotated[bool, typer.Option(help="Show a progress bar per step, then the result.")] = True,
) -> None:
    """Run a pipeline: steps as jobs, a step `after` another reading its text (docs/jobs.md)."""
    client = _client(ctx)
    job = client.submit("pipeline", _pipeline_input(spec, upload or [], client))
    if not follow:
        out.print(job["id"])
        return
    err.print(f"pipeline {job['id']} submitted")
    with PipelineProgress(err, job["id"]) as view:
        for _ in client.events(job["id"]):  # each event: the pipeline and its steps as they are now
            view.show(client.get(job["id"]))
    _finish(client.get(job["id"]))


@app.command()
def status(ctx: typer.Context, job_id: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """A job's status, progress, attempts, and error if it failed."""
    job = _client(ctx).get(job_id)
    if as_json:
        print_json(out, job)
    else:
        out.print(job_table([job]))
    _exit_for(job["status"])


@app.command("list")
def list_jobs(
    ctx: typer.Context,
    status: Annotated[
        str | None, typer.Option(help="queued, running, succeeded, failed or cancelled.")
    ] = None,
    operation: str | None = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Your jobs, newest first."""
    jobs = _client(ctx).list(status, operation, limit)
    if as_json:
        print_json(out, jobs)
    else:
        out.print(job_table(jobs))


@app.command()
def cancel(ctx: typer.Context, job_id: str) -> None:
    """Cancel a job: a queued one never starts, a running one stops at its next step."""
    job = _client(ctx).cancel(job_id)
    out.print(f"job {job_id}: {job['status']}")


@app.command()
def watch(
    ctx: typer.Context,
    interval: Annotated[float, typer.Option(help="Seconds between refreshes.")] = 1.0,
    timeout: Annotated[float | None, typer.Option(help="Stop after this many seconds.")] = None,
) -> None:
    """A live table of your queued and running jobs (Ctrl+C stops)."""
    client = _client(ctx)
    deadline = None if timeout is None else time.monotonic() + timeout

    def live_jobs() -> list[dict[str, Any]]:
        return client.list("running", limit=200) + client.list("queued", limit=200)

    with Live(job_table(live_jobs(), "live jobs"), console=out, auto_refresh=False) as live:
        try:
            while deadline is None or time.monotonic() < deadline:
                time.sleep(interval)
                live.update(job_table(live_jobs(), "live jobs"), refresh=True)
        except KeyboardInterrupt:
            pass


@app.command()
def result(
    ctx: typer.Context,
    job_id: str,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the result JSON here.")] = None,
) -> None:
    """A finished job's result (JSON); non-zero exit if it failed or has not finished."""
    job = _client(ctx).get(job_id)
    if job["status"] not in TERMINAL_STATES:
        err.print(f"job {job_id} is {job['status']}: no result yet")
        raise typer.Exit(EXIT_NOT_FINISHED)
    if job["status"] == "succeeded" and output is not None:
        output.write_text(json.dumps(job["result"], indent=2) + "\n")
        err.print(f"result written to {output}")
        return
    _finish(job)


@app.command()
def ask(
    ctx: typer.Context,
    collection: Annotated[str, typer.Argument(help="One of your collections (see GET /v1/collections).")],
    question: Annotated[str, typer.Argument(help="The question, in quotes.")],
    top_k: Annotated[int, typer.Option(help="Passages retrieved for the answer (1-50).")] = 5,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the whole result as JSON at the end.")
    ] = False,
) -> None:
    """Ask a question about a collection: the answer streams as it is generated, then its sources."""
    final = ask_question(_client(ctx), collection, question, top_k, sys.stdout)
    if final["status"] != "succeeded":
        _finish(final)
    if as_json:
        print_json(out, final["result"])
    else:
        print_sources(final["result"], sys.stderr)


def run() -> None:
    """Entry point: API errors become a message and exit code 4, not a traceback."""
    try:
        app()
    except ApiError as exc:
        err.print(f"[red]error[/]: {exc}")
        sys.exit(EXIT_API)
