"""Cutting text into pieces that fit a model's context, measured in tokens.

Pieces end at paragraph or sentence boundaries where possible; a single sentence
longer than the limit is cut between tokens. Counts come from a tiktoken encoding:
exact for OpenAI models, an estimate for others (the settings keep a margin).
"""

import re
from collections.abc import Sequence
from typing import Protocol

import tiktoken

__all__ = ["TiktokenTokenizer", "Tokenizer", "pack", "split_by_tokens"]

# Zero-width cut points: after a paragraph break, or after sentence-ending punctuation
# and the spaces that follow it. The spaces stay with the sentence before.
_UNIT_END = re.compile(r"(?<=\n\n)(?=\S)|(?<=[.!?…])\s+(?=\S)")


class Tokenizer(Protocol):
    @property
    def name(self) -> str: ...

    def encode(self, text: str) -> list[int]: ...

    def decode(self, tokens: Sequence[int]) -> str: ...


class TiktokenTokenizer:
    def __init__(self, encoding: str) -> None:
        self._encoding = tiktoken.get_encoding(encoding)

    @property
    def name(self) -> str:
        return self._encoding.name

    def encode(self, text: str) -> list[int]:
        # Text from users may contain "<|endoftext|>": count it as text, never as a control token.
        return self._encoding.encode(text, disallowed_special=())

    def decode(self, tokens: Sequence[int]) -> str:
        return self._encoding.decode(list(tokens))


def _units(text: str) -> list[str]:
    """Sentences and paragraphs, whitespace kept, so that `"".join(units) == text`."""
    units, start = [], 0
    for match in _UNIT_END.finditer(text):
        end = match.end()
        if end > start:
            units.append(text[start:end])
            start = end
    if start < len(text):
        units.append(text[start:])
    return units


def split_by_tokens(text: str, limit: int, tokenizer: Tokenizer) -> list[str]:
    """Consecutive pieces of `text`, each at most `limit` tokens, joined back they are `text`
    (except where an over-long sentence had to be cut between tokens)."""
    if limit < 1:
        raise ValueError("limit must be positive")
    pieces: list[str] = []
    current: list[str] = []
    used = 0
    for unit in _units(text):
        tokens = tokenizer.encode(unit)
        if len(tokens) > limit:
            if current:
                pieces.append("".join(current))
                current, used = [], 0
            pieces += [tokenizer.decode(tokens[i : i + limit]) for i in range(0, len(tokens), limit)]
            continue
        if used + len(tokens) > limit and current:
            pieces.append("".join(current))
            current, used = [], 0
        current.append(unit)
        used += len(tokens)
    if current:
        pieces.append("".join(current))
    return [piece for piece in pieces if piece.strip()]


def pack(sizes: Sequence[int], limit: int) -> list[range]:
    """Group consecutive items (by token size) so that each group stays within `limit`,
    but never fewer than two items a group: each round of combining must shrink the list."""
    groups: list[range] = []
    start, used = 0, 0
    for index, size in enumerate(sizes):
        if index - start >= 2 and used + size > limit:
            groups.append(range(start, index))
            start, used = index, 0
        used += size
    if start < len(sizes):
        if groups and len(sizes) - start == 1:  # a lone last item joins the group before it
            groups[-1] = range(groups[-1].start, len(sizes))
        else:
            groups.append(range(start, len(sizes)))
    return groups
