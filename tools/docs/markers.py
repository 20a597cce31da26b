"""Generated parts of hand-written Markdown, kept between a pair of HTML comments."""

__all__ = ["replace_between"]


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
