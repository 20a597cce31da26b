"""`make run`: every service as a child process in its own environment, restarted when it
exits, all stopped on Ctrl+C or SIGTERM.

For development; in production each service is its own container (see docker-compose.yml).
Without JOBS_API_KEYS a development key is made and printed.
"""

import os
import secrets
import signal
import sys
import threading

from tools.devstack.launcher import SERVICES, Launcher


def main() -> int:
    env = dict(os.environ)
    if not env.get("JOBS_API_KEYS"):
        key = secrets.token_urlsafe(24)
        env["JOBS_API_KEYS"] = f"dev:{key}"
        print(f"\n  JOBS_API_KEYS is not set; development key for tenant 'dev':\n\n    {key}\n", flush=True)
    stopping = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    with Launcher(env) as launcher:
        launcher.start_services(SERVICES)
        port = env.get("API_PORT", "8000")
        print(
            f"  API on http://127.0.0.1:{port} (docs /docs, dashboard /ui/); Ctrl+C stops everything\n",
            flush=True,
        )
        launcher.supervise(stopping)
    return 0


if __name__ == "__main__":
    sys.exit(main())
