"""Start every service as a child process, restart one that dies, stop all on Ctrl+C.

For development and `make run`; in production each service is its own container
(see docker-compose.yml). Without JOBS_API_KEYS a development key is made and printed.
"""

import os
import secrets
import signal
import subprocess
import sys
import time

SERVICES = ("projector", "ner", "ocr", "llm", "api")


def main() -> int:
    env = dict(os.environ)
    if not env.get("JOBS_API_KEYS"):
        key = secrets.token_urlsafe(24)
        env["JOBS_API_KEYS"] = f"dev:{key}"
        print(f"\n  JOBS_API_KEYS is not set; development key for tenant 'dev':\n\n    {key}\n", flush=True)
    children: dict[str, subprocess.Popen[bytes]] = {}
    stopping = False

    def start(name: str) -> None:
        children[name] = subprocess.Popen([sys.executable, "-m", f"services.{name}"], env=env)

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    for name in SERVICES:
        start(name)
    port = env.get("API_PORT", "8000")
    print(
        f"  API on http://127.0.0.1:{port} (docs /docs, dashboard /ui/); Ctrl+C stops everything\n",
        flush=True,
    )
    while not stopping:
        time.sleep(0.5)
        for name, child in list(children.items()):
            if child.poll() is not None and not stopping:
                print(f"  {name} exited with {child.returncode}; restarting in 2 s", flush=True)
                time.sleep(2)
                start(name)
    for child in children.values():
        child.send_signal(signal.SIGTERM)
    for child in children.values():
        try:
            child.wait(timeout=20)
        except subprocess.TimeoutExpired:
            child.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
