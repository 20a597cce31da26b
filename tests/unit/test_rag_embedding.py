"""The bundled embedder (all-MiniLM-L6-v2, int8 ONNX): shape, unit length, determinism,
meaning (paraphrases closer than unrelated sentences), and loading with no network at all."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from services.rag.embedding import Embedder, embedder_from_settings, normalise
from services.rag.embedding_local import MAX_TOKENS, MODEL_NAME, MiniLmEmbedder
from services.rag.embedding_settings import EmbeddingSettings
from tools.devstack import ROOT


@pytest.fixture(scope="module")
def model() -> MiniLmEmbedder:
    return MiniLmEmbedder(batch_size=4, threads=1)


def test_the_factory_picks_the_bundled_model_without_an_endpoint() -> None:
    chosen: Embedder = embedder_from_settings(EmbeddingSettings(local_threads=1))
    assert isinstance(chosen, MiniLmEmbedder)
    assert (chosen.model, chosen.dim) == (MODEL_NAME, 384)


def test_one_unit_float32_row_per_text_in_order(model: MiniLmEmbedder) -> None:
    texts = ["short", "a somewhat longer sentence about invoices and payments", "", "x " * 50]
    vectors = model.embed(texts)
    assert vectors.shape == (4, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    alone = np.stack([model.embed([t])[0] for t in texts])
    np.testing.assert_allclose(vectors, alone, atol=1e-5)  # batching and padding change nothing
    assert model.embed([]).shape == (0, 384)


def test_the_same_text_gives_the_same_vector(model: MiniLmEmbedder) -> None:
    texts = [f"The warehouse in city {i} ships {i * 10} parcels a day." for i in range(11)]
    first, second = model.embed(texts), model.embed(texts)
    assert np.array_equal(first, second)
    shuffled = model.embed(texts[::-1])[::-1]
    np.testing.assert_allclose(first, shuffled, atol=1e-5)


@pytest.mark.parametrize(
    ("text", "paraphrase", "unrelated"),
    [
        (
            "The invoice must be paid within thirty days.",
            "Payment of the bill is due in a month.",
            "The hikers reached the summit before sunrise.",
        ),
        (
            "Our headquarters moved to Lisbon in 2019.",
            "Where is the company's main office located?",
            "Add two eggs and whisk the batter until smooth.",
        ),
        (
            "The pump delivers 40 litres per minute at full speed.",
            "What is the maximum flow rate of the pump?",
            "The committee postponed the election until spring.",
        ),
    ],
)
def test_paraphrases_are_closer_than_unrelated_sentences(
    model: MiniLmEmbedder, text: str, paraphrase: str, unrelated: str
) -> None:
    a, b, c = model.embed([text, paraphrase, unrelated])
    assert float(a @ b) > float(a @ c) + 0.2


def test_texts_past_the_model_limit_are_cut_not_refused(model: MiniLmEmbedder) -> None:
    long = "tokens " * 2000
    assert model.count_tokens(long) > MAX_TOKENS
    start = "tokens " * (MAX_TOKENS - 2)
    np.testing.assert_allclose(model.embed([long]), model.embed([start]), atol=1e-5)


def test_normalise_keeps_zero_rows_zero() -> None:
    rows = normalise(np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(rows, [[0.6, 0.8], [0.0, 0.0]])


def test_the_model_loads_and_embeds_with_no_network_at_all() -> None:
    """In a new network namespace (`unshare -n`: only a loopback, down) and without
    HF_HUB_OFFLINE: everything the model needs is installed, nothing is fetched."""
    script = textwrap.dedent(
        """
        import socket
        from services.rag.embedding_local import MiniLmEmbedder
        assert [name for _, name in socket.if_nameindex()] == ["lo"]
        vectors = MiniLmEmbedder(threads=1).embed(["offline and fine"])
        print(vectors.shape, round(float((vectors ** 2).sum()), 4))
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE"))}
    done = subprocess.run(
        ["unshare", "--net", sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(1, 384) 1.0"
