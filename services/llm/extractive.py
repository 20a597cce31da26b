"""The local fallback summarizer: the text's own most representative sentences.

Used when no LLM endpoint is configured, so `make run` works on a laptop without a
model. Nothing is generated: each sentence of the summary is copied from the input.
Scoring is classic frequency-based extraction (Luhn, 1958): a sentence scores the
mean weight of its content words, a word weighs its frequency in the whole text.
"""

import math
import re
from collections import Counter

__all__ = ["EXTRACTIVE_MODEL", "extractive_summary"]

EXTRACTIVE_MODEL = "local-extractive-v1"

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n\s*\n")
_WORD = re.compile(r"[^\W\d_]+(?:['\u2019][^\W\d_]+)?")  # ASCII or typographic apostrophe
# Function words carry no topic; a short English list is enough to keep them from
# dominating the counts (other languages still work, a little less well).
_STOPWORDS = frozenset(
    """
    a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further
    had has have having he her here hers herself him himself his how i if in into is it its
    itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves
    also may might must shall its
    """.split()  # noqa: SIM905 (a word list reads better as text)
)


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


def _content_words(sentence: str) -> list[str]:
    return [w for w in (m.group().lower() for m in _WORD.finditer(sentence)) if w not in _STOPWORDS]


def extractive_summary(text: str, *, max_sentences: int = 7, ratio: float = 0.2) -> str:
    """About `ratio` of the sentences (1 to `max_sentences`), in their original order."""
    sentences = _sentences(text)
    if len(sentences) <= 1:
        return sentences[0] if sentences else ""
    words = [_content_words(s) for s in sentences]
    frequency = Counter(w for ws in words for w in ws)
    if not frequency:
        return sentences[0]
    top = frequency.most_common(1)[0][1]
    keep = max(1, min(max_sentences, round(len(sentences) * ratio)))

    def score(index: int) -> float:
        ws = words[index]
        if len(ws) < 3:  # headings and fragments say little on their own
            return 0.0
        weight = sum(frequency[w] / top for w in ws) / math.sqrt(len(ws))
        # Documents tend to state their subject early: a small bonus, fading with position.
        return weight * (1.0 + 0.5 / (1 + index))

    chosen = sorted(sorted(range(len(sentences)), key=score, reverse=True)[:keep])
    return " ".join(sentences[i] for i in chosen)
