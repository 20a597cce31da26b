"""Generated parts of hand-written Markdown, kept between a pair of HTML comments."""

from pathlib import Path

__all__ = ["replace_between", "write_between"]


def replace_between(text: str, name: str, generated: str) -> str:
    """`text` with everything between `<!-- name:start -->` and `<!-- name:end -->` replaced by
    `generated`; the markers stay, so the next run finds them again."""
    start, end = f"<!-- {name}:start", f"<!-- {name}:end -->"
    head, found_start, rest = text.partition(start)
    if not found_start:
        raise ValueError(f"marker {start} ... --> not found")
    start_line, newline, rest = rest.partition("\n")
    _, found_end, tail = rest.partition(end)
    if not newline or not found_end:
        raise ValueError(f"marker {end} not found after {start}")
    return f"{head}{start}{start_line}\n{generated.strip()}\n{end}{tail}"


def write_between(path: Path, name: str, generated: str) -> None:
    """Put `generated` between the markers in `path`, keeping the hand-written text around them;
    a file without the markers (or no file) becomes just the generated text between them."""
    text = path.read_text() if path.exists() else ""
    if f"<!-- {name}:start" not in text:
        text = f"<!-- {name}:start -->\n<!-- {name}:end -->\n"
    path.write_text(replace_between(text, name, generated))
