"""Runs `rabbitmqctl` (or `$RABBITMQCTL`, e.g. `docker compose exec -T rabbitmq rabbitmqctl`)."""

import os
import shlex
import subprocess

__all__ = ["Rabbitmqctl"]


class Rabbitmqctl:
    def __init__(self, command: str | None = None) -> None:
        self.command = shlex.split(command or os.environ.get("RABBITMQCTL", "rabbitmqctl"))

    def run(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run(
            [*self.command, *args], input=stdin, capture_output=True, text=True, timeout=120, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {args[0]} failed: {done.stderr.strip() or done.stdout.strip()}")
        return done.stdout

    def users(self) -> set[str]:
        lines = self.run("list_users", "--silent", "--no-table-headers").splitlines()
        return {line.split("\t")[0] for line in lines if line.strip()}

    # Passwords go through stdin: never in the process list, and one that starts
    # with "-" is not taken for an option.
    def add_user(self, user: str, password: str) -> None:
        self.run("add_user", user, stdin=password)

    def change_password(self, user: str, password: str) -> None:
        self.run("change_password", user, stdin=password)

    def delete_user(self, user: str) -> None:
        self.run("delete_user", user)

    def set_permissions(self, vhost: str, user: str, configure: str, write: str, read: str) -> None:
        self.run("set_permissions", "-p", vhost, user, configure, write, read)
