"""Sampling profiles of this system's processes while the load runs (py-spy, no code changes).

`Profiler(dir).attach(name, pid)` records collapsed stacks to `<dir>/<name>.txt`;
`summarize(path)` prints the functions that hold the most samples, inclusive and self.
"""

import subprocess
import sys
from collections import Counter
from pathlib import Path

__all__ = ["Profiler", "summarize"]


class Profiler:
    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        out_dir.mkdir(parents=True, exist_ok=True)
        self._running: list[tuple[str, subprocess.Popen[bytes]]] = []

    def attach(self, name: str, pid: int) -> None:
        py_spy = Path(sys.executable).parent / "py-spy"
        out = self.out_dir / f"{name}.txt"
        argv = [str(py_spy), "record", "--pid", str(pid), "--format", "raw", "--rate", "200", "-o", str(out)]
        argv += ["--nonblocking", "--threads"]
        self._running.append(
            (name, subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        )

    def stop(self) -> None:
        for _, proc in self._running:
            proc.send_signal(2)  # SIGINT: py-spy writes its file and exits
        for name, proc in self._running:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
            print(f"profile of {name}: {self.out_dir / (name + '.txt')}")
            print(summarize(self.out_dir / f"{name}.txt"))


def summarize(path: Path, top: int = 25) -> str:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    if not path.exists():
        return f"  (no profile written at {path})"
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count
    lines = [f"  {total} samples; inclusive:"]
    lines += [f"  {100 * c / total:5.1f}%  {f}" for f, c in inclusive.most_common(top)]
    lines += ["  self:"]
    lines += [f"  {100 * c / total:5.1f}%  {f}" for f, c in own.most_common(top)]
    return "\n".join(lines)


if __name__ == "__main__":
    print(summarize(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 25))
