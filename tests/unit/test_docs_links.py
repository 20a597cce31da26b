"""`make docs-check` finds relative links to missing files or headings in the Markdown docs."""

from pathlib import Path

from tools.docs.links import broken_links, heading_ids


def test_heading_ids_follow_github() -> None:
    markdown = "# Jobs\n## `ocr.image` and `ocr.pdf`\n```\n# not a heading\n```\n## Notes\n## Notes\n"
    assert heading_ids(markdown) == {"jobs", "ocrimage-and-ocrpdf", "notes", "notes-1"}


def test_links_to_missing_files_and_headings_are_reported(tmp_path: Path) -> None:
    (tmp_path / "target.md").write_text("# Target\n## Some part\n")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](target.md#some-part) [self](#local) [web](https://example.com/x.md)\n"
        "## Local\n[gone](missing.md) [wrong](target.md#other-part)\n"
        "```\n[in code](nowhere.md)\n```\n"
    )
    assert broken_links([page]) == [
        f"{page}: missing.md (no such file)",
        f"{page}: target.md#other-part (no such heading)",
    ]
