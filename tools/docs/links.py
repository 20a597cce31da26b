"""`python -m tools.docs.links`: every relative link in the Markdown docs points at a file that
exists and, with `#anchor`, at a heading of it (GitHub's heading ids)."""

import re
import sys
from collections.abc import Iterator
from pathlib import Path

__all__ = ["broken_links", "heading_ids"]

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = ("README.md", "docs/*.md", "bench/README.md")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def heading_ids(markdown: str) -> set[str]:
    """The ids GitHub gives the headings: lower case, punctuation dropped, spaces as hyphens,
    a repeated id numbered `-1`, `-2`, ..."""
    ids: set[str] = set()
    for line in FENCE.sub("", markdown).splitlines():
        if match := re.match(r"#{1,6}\s+(.*)", line):
            base = re.sub(r"[^\w\- ]", "", match.group(1).strip().lower()).replace(" ", "-")
            anchor, n = base, 0
            while anchor in ids:
                n += 1
                anchor = f"{base}-{n}"
            ids.add(anchor)
    return ids


def _links(path: Path) -> Iterator[str]:
    for target in LINK.findall(FENCE.sub("", path.read_text())):
        if not re.match(r"[a-z]+:", target):
            yield target


def broken_links(paths: list[Path]) -> list[str]:
    broken = []
    for path in paths:
        for target in _links(path):
            file_part, _, anchor = target.partition("#")
            linked = (path.parent / file_part).resolve() if file_part else path
            name = f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: {target}"
            if not linked.exists():
                broken.append(f"{name} (no such file)")
            elif anchor and linked.suffix == ".md" and anchor not in heading_ids(linked.read_text()):
                broken.append(f"{name} (no such heading)")
    return broken


def main() -> int:
    paths = sorted({p for pattern in DOCUMENTS for p in ROOT.glob(pattern)})
    broken = broken_links(paths)
    for line in broken:
        print(f"broken link: {line}", file=sys.stderr)
    if not broken:
        print(f"every relative link in {len(paths)} Markdown files resolves")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
