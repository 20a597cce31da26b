"""`jobs-admin`: operator commands that talk to the platform's Redis, not to the HTTP API.

`jobs-admin rebuild` asks the projector to rebuild the read model from the job history stream
(it drops the read model's history offset: the projector notices within its check interval and
replays the stream from its first record, over the read model as it is: every apply is
idempotent) and shows the replay's progress until it is done.
Exit codes: 0 rebuilt; 2 no projector took the request in time; 5 still replaying at --timeout.
"""

import asyncio
import time
from typing import Annotated, cast

import typer
from redis.asyncio import Redis
from rich.console import Console

from shared import redis_keys as keys

__all__ = ["app", "request_rebuild", "run"]

EXIT_NOT_TAKEN, EXIT_NOT_FINISHED = 2, 5

app = typer.Typer(name="jobs-admin", help="Operator commands of the jobs platform.", no_args_is_help=True)
out = Console()


@app.callback()
def main() -> None:
    """Operator commands (they need the platform's Redis: REDIS_URL)."""


async def request_rebuild(redis: Redis) -> float:
    """Ask for a replay; the time of the request."""
    requested = time.time()
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hset(keys.HISTORY_REBUILD, mapping={"state": "requested", "requested_at": f"{requested:.3f}"})
        pipe.delete(keys.HISTORY_OFFSET)
        await pipe.execute()
    return requested


def describe(status: dict[str, str]) -> str:
    applied, target = status.get("applied") or "-", status.get("target") or "-"
    share = ""
    if status.get("applied") and status.get("target"):
        share = f" ({100 * (int(applied) + 1) / (int(target) + 1):.0f}%)"
    return (
        f"{status.get('state', '?')}: offset {applied} of {target}{share}, "
        f"{status.get('records', '0')} records, {status.get('rate', '0')} records/s"
    )


async def _rebuild(redis_url: str, wait: bool, within: float, take_within: float) -> int:
    redis = Redis.from_url(redis_url, decode_responses=True)
    try:
        requested = await request_rebuild(redis)
        out.print(f"rebuild requested at {time.strftime('%H:%M:%S', time.localtime(requested))}")
        if not wait:
            return 0
        last = ""
        while True:
            status = cast(dict[str, str], await redis.hgetall(keys.HISTORY_REBUILD))
            took = float(status.get("started_at") or 0) >= requested
            if took and describe(status) != last:
                last = describe(status)
                out.print(last)
            if took and status.get("state") == "done":
                return 0
            waited = time.time() - requested
            if not took and waited > take_within:
                out.print(f"[red]no projector took the request within {take_within:.0f}s[/]")
                return EXIT_NOT_TAKEN
            if waited > within:
                out.print(f"[yellow]still replaying after {within:.0f}s[/]")
                return EXIT_NOT_FINISHED
            await asyncio.sleep(0.5)
    finally:
        await redis.aclose()


@app.command()
def rebuild(
    redis_url: Annotated[
        str, typer.Option(envvar="REDIS_URL", help="The read model's Redis.")
    ] = "redis://127.0.0.1:6379/0",
    wait: Annotated[bool, typer.Option(help="Show the replay's progress until it is done.")] = True,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the replay to end.")] = 3600,
    take_within: Annotated[
        float,
        typer.Option(help="Seconds for the projector to take the request (it checks every <= 10 s)."),
    ] = 30,
) -> None:
    """Rebuild the Redis read model from the job history stream, showing progress."""
    raise typer.Exit(asyncio.run(_rebuild(redis_url, wait, timeout, take_within)))


def run() -> None:
    app()
