"""The stack launcher with small real processes: what it stops, what it restarts."""

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tools.devstack import Launcher, Process, wait_until

FORKS_A_SLEEPER = (
    "import subprocess, sys, time\n"
    "child = subprocess.Popen(['sleep', '60'])\n"
    "print(child.pid, flush=True)\n"
    "time.sleep(60)\n"
)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited


def test_stop_also_stops_what_the_process_forked(tmp_path: Path) -> None:
    with Launcher({}, tmp_path) as launcher:
        parent = launcher.add(Process("forker", [sys.executable, "-c", FORKS_A_SLEEPER], {}, tmp_path))
        child = int(wait_until(lambda: parent.log_text().strip(), 10, "the forked child's pid"))
        assert _alive(child)
    assert not parent.alive()
    wait_until(lambda: not _alive(child), 5, "the forked child to be gone")


def test_supervise_restarts_a_process_that_exits_until_told_to_stop(tmp_path: Path) -> None:
    launcher = Launcher({}, tmp_path)
    flaky = launcher.add(Process("flaky", [sys.executable, "-c", "print('up', flush=True)"], {}, tmp_path))
    stopping = threading.Event()
    supervisor = threading.Thread(target=launcher.supervise, args=(stopping, 0.1))
    supervisor.start()
    try:
        wait_until(lambda: flaky.log_text().count("up") >= 3, 20, "two restarts")
    finally:
        stopping.set()
        supervisor.join(timeout=10)
        launcher.stop()
    assert not supervisor.is_alive()


def test_a_process_that_exited_is_reported_with_its_log(tmp_path: Path) -> None:
    launcher = Launcher({}, tmp_path)
    crashed = launcher.add(
        Process("crashed", [sys.executable, "-c", "raise SystemExit('no broker')"], {}, tmp_path)
    )
    wait_until(lambda: not crashed.alive(), 10, "the process to exit")
    with pytest.raises(RuntimeError, match="crashed exited with 1") as raised:
        launcher.check_alive()
    assert "no broker" in str(raised.value)


def test_a_process_does_not_outlive_the_one_that_started_it(tmp_path: Path) -> None:
    """A test run killed mid-teardown (its timeout) must not leave services consuming."""
    starter = (
        "import os, sys\n"
        f"sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})\n"
        "from tools.devstack import Process\n"
        "print(Process('sleeper', ['sleep', '60'], {}).start().pid, flush=True)\n"
        "os._exit(0)  # no teardown at all\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", starter], capture_output=True, text=True, timeout=30, check=True
    )
    orphan = int(done.stdout.strip())
    wait_until(lambda: not _alive(orphan), 10, "the orphaned child to end")
