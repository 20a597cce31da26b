"""Running a worker process."""

import asyncio
import signal
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

import uvloop

from shared.settings import CommonSettings
from shared.telemetry.setup import init_telemetry

__all__ = ["run_service", "run_until_signalled"]

S = TypeVar("S", bound=CommonSettings)


class _App(Protocol):
    def run(self) -> Awaitable[None]: ...


def run_service(service: str, settings: S, create_app: Callable[[S], _App]) -> None:
    """A consumer process's entry point: its settings, read once, go to telemetry and app."""
    init_telemetry(service, settings)
    run_until_signalled(create_app(settings))


def run_until_signalled(app: _App) -> None:
    """Run a worker app until SIGTERM or SIGINT.

    Propan installs its stop handlers with `signal.signal`, which does not wake an idle
    asyncio loop: a quiet worker would only notice SIGTERM at its next timer. The same
    handlers are re-registered on the loop, which wakes it at once.
    """

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            handler = signal.getsignal(sig)
            if callable(handler):
                loop.add_signal_handler(sig, handler, sig, None)
        await app.run()

    # uvloop, as uvicorn uses for the API: the workers' hot path is small socket writes
    # (publishes, confirms, acks, Redis calls), which cost less CPU per message on uvloop.
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main())
