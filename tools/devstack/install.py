"""`python -m tools.devstack.install --uv .tools/bin/uv`: every environment but `.venv` (which
`uv sync` builds itself) from uv.lock, as `make install` does."""

import argparse
import os
import subprocess
import sys
from collections.abc import Iterable

from tools.devstack.environments import ENVIRONMENTS, ROOT


def sync(uv: str, names: Iterable[str]) -> None:
    for name in names:
        env = ENVIRONMENTS[name]
        os.environ.pop("VIRTUAL_ENV", None)  # uv would warn that it differs from the target
        subprocess.run(
            env.sync_command(uv),
            cwd=ROOT,
            env={**os.environ, "UV_PROJECT_ENVIRONMENT": str(env.path)},
            check=True,
        )


def main() -> int:
    parser = argparse.ArgumentParser(description="build the services' environments from uv.lock")
    parser.add_argument("--uv", default="uv", help="the uv executable")
    parser.add_argument("names", nargs="*", default=list(ENVIRONMENTS), help="environments (default: all)")
    args = parser.parse_args()
    sync(args.uv, args.names)
    return 0


if __name__ == "__main__":
    sys.exit(main())
