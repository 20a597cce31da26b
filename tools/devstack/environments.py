"""The project's Python environments, all from the one `uv.lock`.

Propan cannot share an environment with FastAPI 0.128 or newer, so each service has its own
environment built from its workspace member (services/<name>/pyproject.toml), and the workers'
Propan comes with their `propan` extra. `.venv` is the development environment: every service's
code and the test tools, never Propan. `.venvs/asyncapi` reads the workers' Propan apps for
`make asyncapi`. `make install` builds them (tools/devstack/install.py).
"""

from dataclasses import dataclass
from pathlib import Path

__all__ = ["ENVIRONMENTS", "ROOT", "Environment"]

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Environment:
    name: str
    member: str
    """The workspace member whose dependencies the environment holds."""
    extras: tuple[str, ...] = ()
    dev: bool = False
    """With the member's dev dependency group (type stubs for `make lint`)."""

    @property
    def path(self) -> Path:
        return ROOT / ".venvs" / self.name

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    def sync_command(self, uv: str) -> list[str]:
        extras = [arg for extra in self.extras for arg in ("--extra", extra)]
        dev = [] if self.dev else ["--no-dev"]
        return [uv, "sync", "--frozen", *dev, "--package", self.member, *extras]


ENVIRONMENTS: dict[str, Environment] = {
    env.name: env
    for env in (
        Environment("api", "jobs-api"),
        Environment("ner", "jobs-ner", ("propan",)),
        Environment("ocr", "jobs-ocr", ("propan",)),
        Environment("llm", "jobs-llm", ("propan",)),
        Environment("projector", "jobs-projector", ("propan",)),
        Environment("pipeline", "jobs-pipeline", ("propan",)),
        Environment("rag", "jobs-rag", ("propan",)),
        Environment("asyncapi", "jobs-asyncapi", dev=True),
    )
}
