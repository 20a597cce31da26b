"""The words sent to the model. Kept together so they can be read and tuned as a whole."""

import json
from typing import Any

from services.llm.provider import Message

__all__ = [
    "OVERHEAD_TOKENS",
    "combine_summaries",
    "extract",
    "merge_extractions",
    "repair",
    "summarize_part",
    "summarize_whole",
]

OVERHEAD_TOKENS = 400
"""Room kept for the instructions around the text in every prompt."""

_SUMMARY_SYSTEM = (
    "You write accurate, concise summaries. Use only information in the text you are given; "
    "keep names, numbers, dates and conclusions; never add facts."
)
_EXTRACT_SYSTEM = (
    "You extract information from text as JSON. Answer with one JSON value that validates against "
    "the given JSON Schema, and nothing else: no prose, no code fences. Use only the text given."
)


def _guidance(instructions: str | None) -> str:
    return f"\nAdditional instructions: {instructions}\n" if instructions else ""


def summarize_whole(text: str, words: int, instructions: str | None) -> list[Message]:
    return [
        {"role": "system", "content": _SUMMARY_SYSTEM},
        {
            "role": "user",
            "content": f"Summarize the following document in at most {words} words."
            f"{_guidance(instructions)}\n<document>\n{text}\n</document>",
        },
    ]


def summarize_part(text: str, part: int, parts: int, words: int, instructions: str | None) -> list[Message]:
    return [
        {"role": "system", "content": _SUMMARY_SYSTEM},
        {
            "role": "user",
            "content": f"This is part {part} of {parts} of a longer document. Summarize this part in at "
            f"most {words} words; it will be combined with the summaries of the other parts."
            f"{_guidance(instructions)}\n<part>\n{text}\n</part>",
        },
    ]


def combine_summaries(summaries: list[str], words: int, instructions: str | None) -> list[Message]:
    numbered = "\n\n".join(f'<summary part="{i}">\n{s}\n</summary>' for i, s in enumerate(summaries, 1))
    return [
        {"role": "system", "content": _SUMMARY_SYSTEM},
        {
            "role": "user",
            "content": "These are summaries of consecutive parts of one document, in order. Combine them "
            f"into one coherent summary of at most {words} words, without repeating yourself."
            f"{_guidance(instructions)}\n{numbered}",
        },
    ]


def _schema_text(schema: dict[str, Any]) -> str:
    return json.dumps(schema, ensure_ascii=False)


def extract(text: str, schema: dict[str, Any], instructions: str | None, *, partial: bool) -> list[Message]:
    scope = (
        "This is one part of a longer document: extract what this part contains; the parts' answers "
        "will be merged, so leave out what this part does not mention even if the schema requires it."
        if partial
        else "Extract the information from the text below."
    )
    return [
        {"role": "system", "content": _EXTRACT_SYSTEM},
        {
            "role": "user",
            "content": f"{scope}{_guidance(instructions)}\nJSON Schema:\n{_schema_text(schema)}\n"
            f"\n<text>\n{text}\n</text>\n\nAnswer with the JSON only.",
        },
    ]


def merge_extractions(
    parts: list[str], schema: dict[str, Any], instructions: str | None, *, final: bool
) -> list[Message]:
    listed = "\n".join(f'<part n="{i}">{p}</part>' for i, p in enumerate(parts, 1))
    goal = "one JSON value that validates against the schema" if final else "one JSON value"
    return [
        {"role": "system", "content": _EXTRACT_SYSTEM},
        {
            "role": "user",
            "content": "These JSON values were extracted from consecutive parts of one document, in "
            f"order. Merge them into {goal}: combine lists, keep every fact, resolve duplicates."
            f"{_guidance(instructions)}\nJSON Schema:\n{_schema_text(schema)}\n\n{listed}\n\n"
            "Answer with the JSON only.",
        },
    ]


def repair(messages: list[Message], answer: str, errors: list[str]) -> list[Message]:
    """The original request, the last answer and what is wrong with it (earlier failed
    answers are dropped, so the conversation does not outgrow the context)."""
    problems = "\n".join(f"- {e}" for e in errors)
    return [
        *messages[:2],
        {"role": "assistant", "content": answer},
        {
            "role": "user",
            "content": f"That answer is not valid:\n{problems}\n\nAnswer again with only the corrected JSON.",
        },
    ]
