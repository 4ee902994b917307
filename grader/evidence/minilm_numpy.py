"""all-MiniLM-L6-v2 (a 6-layer BERT) in pure numpy: the CPU path without torch.

Reads the packaged sentence-transformers folder (``model.safetensors``, ``tokenizer.json``,
``config.json``, ``sentence_bert_config.json``) and computes what sentence-transformers computes
with its Transformer -> mean Pooling -> Normalize modules: the same tokens (truncated to
``max_seq_length``), the same float32 forward pass, rows equal to its CPU ones within about
1e-6. numpy, safetensors and tokenizers import in a fraction of a second; torch takes several.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

BATCH_SIZE = 64  # texts per forward pass; texts are grouped by token count to limit padding
_FEED_FORWARD_ROWS = 256  # tokens per step through the feed-forward block

# A rational approximation of erf in float32 (Eigen's generic_fast_erf_float: a few ulp on
# [-4, 4], where it is clamped: beyond, erf is +-1 in float32); highest power first, in x^2.
_ERF_NUMERATOR = (
    -2.72614225801306e-10, 2.77068142495902e-08, -2.10102402082508e-06, -5.69250639462346e-05,
    -7.34990630326855e-04, -2.95459980854025e-03, -1.60960333262415e-02,
)  # fmt: skip
_ERF_DENOMINATOR = (
    -1.45660718464996e-05, -2.13374055278905e-04, -1.68282697438203e-03, -7.37332916720468e-03,
    -1.42647390514189e-02,
)  # fmt: skip


def erf(x: np.ndarray) -> np.ndarray:
    """erf of a float32 array, to a few float32 ulp (numpy has no erf)."""
    x = np.clip(np.asarray(x, dtype=np.float32), np.float32(-4.0), np.float32(4.0))
    x2 = x * x
    numerator = _polynomial(x2, _ERF_NUMERATOR)
    numerator *= x
    numerator /= _polynomial(x2, _ERF_DENOMINATOR)
    return numerator


def _polynomial(x: np.ndarray, coefficients: Sequence[float]) -> np.ndarray:
    """Horner's rule in float32, in as few passes over ``x`` as numpy allows."""
    result = x * np.float32(coefficients[0])
    for coefficient in coefficients[1:-1]:
        result += np.float32(coefficient)
        result *= x
    result += np.float32(coefficients[-1])
    return result


def gelu(x: np.ndarray) -> np.ndarray:
    """BERT's exact GELU, x * (1 + erf(x / sqrt 2)) / 2, computed in place in ``x``."""
    factor = erf(x * np.float32(np.sqrt(0.5)))
    factor += np.float32(1.0)
    factor *= np.float32(0.5)
    x *= factor
    return x


def layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    centred = x - x.mean(axis=-1, keepdims=True)
    variance = np.square(centred).mean(axis=-1, keepdims=True)
    centred /= np.sqrt(variance + np.float32(eps))
    centred *= weight
    centred += bias
    return centred


class _Layer:
    """One encoder layer: weights transposed for ``rows @ weight``, Q, K and V side by side."""

    def __init__(self, weights: dict[str, np.ndarray], prefix: str) -> None:
        def get(name: str) -> np.ndarray:
            return np.asarray(weights[f"{prefix}.{name}"], dtype=np.float32)

        def dense(name: str) -> tuple[np.ndarray, np.ndarray]:
            return np.ascontiguousarray(get(f"{name}.weight").T), get(f"{name}.bias")

        def norm(name: str) -> tuple[np.ndarray, np.ndarray]:
            return get(f"{name}.weight"), get(f"{name}.bias")

        projections = [dense(f"attention.self.{part}") for part in ("query", "key", "value")]
        self.qkv = np.ascontiguousarray(np.hstack([weight for weight, _ in projections]))
        self.qkv_bias = np.concatenate([bias for _, bias in projections])
        self.out, self.out_bias = dense("attention.output.dense")
        self.norm1 = norm("attention.output.LayerNorm")
        self.up, self.up_bias = dense("intermediate.dense")
        self.down, self.down_bias = dense("output.dense")
        self.norm2 = norm("output.LayerNorm")


class MiniLM:
    """A BERT sentence encoder with mean pooling, as sentence-transformers runs it, in numpy."""

    def __init__(self, folder: Path | str, batch_size: int = BATCH_SIZE) -> None:
        folder = Path(folder)
        config = _read_json(folder / "config.json")
        if config.get("hidden_act", "gelu") != "gelu":
            raise ValueError(f"unsupported activation {config.get('hidden_act')!r} in {folder}")
        self.dimension = int(config["hidden_size"])
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        positions = int(config["max_position_embeddings"])
        max_seq_length = _read_json(folder / "sentence_bert_config.json").get("max_seq_length")
        self.max_length = min(int(max_seq_length or positions), positions)
        self.batch_size = max(1, batch_size)

        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()  # padded per batch below
        self.tokenizer.enable_truncation(self.max_length)
        self.pad_id = int(config.get("pad_token_id", 0))

        weights = load_file(str(folder / "model.safetensors"))
        self.words = weights["embeddings.word_embeddings.weight"]
        self.positions = weights["embeddings.position_embeddings.weight"]
        self.token_type = weights["embeddings.token_type_embeddings.weight"][0]  # all type 0
        self.norm = weights["embeddings.LayerNorm.weight"], weights["embeddings.LayerNorm.bias"]
        self.layers = [
            _Layer(weights, f"encoder.layer.{index}")
            for index in range(int(config["num_hidden_layers"]))
        ]

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids with [CLS] and [SEP], truncated to ``max_length`` tokens."""
        return [encoding.ids for encoding in self.tokenizer.encode_batch(list(texts))]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dimension) float32 unit rows in the order of ``texts``."""
        ids = self.token_ids(texts)
        rows = np.zeros((len(ids), self.dimension), dtype=np.float32)
        order = sorted(range(len(ids)), key=lambda index: len(ids[index]))
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            rows[chunk] = self._forward([ids[index] for index in chunk])
        return rows

    def _forward(self, batch: list[list[int]]) -> np.ndarray:
        size, length = len(batch), max(len(ids) for ids in batch)
        ids = np.full((size, length), self.pad_id, dtype=np.int64)
        mask = np.zeros((size, length), dtype=np.float32)
        for row, row_ids in enumerate(batch):
            ids[row, : len(row_ids)] = row_ids
            mask[row, : len(row_ids)] = 1.0
        x = self.words[ids] + self.token_type
        x += self.positions[:length]
        x = layer_norm(x, *self.norm, self.eps).reshape(size * length, self.dimension)
        hidden_mask = np.where(mask > 0, np.float32(0.0), np.float32(-np.inf))[:, None, None, :]
        for layer in self.layers:
            x = self._layer(x, layer, size, length, hidden_mask)
        tokens = x.reshape(size, length, self.dimension)
        pooled = np.matmul(mask[:, None, :], tokens)[:, 0, :]
        pooled /= np.maximum(mask.sum(axis=1, keepdims=True), np.float32(1e-9))
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return pooled / np.maximum(norms, np.float32(1e-12))

    def _layer(
        self, x: np.ndarray, layer: _Layer, size: int, length: int, hidden_mask: np.ndarray
    ) -> np.ndarray:
        head_size = self.dimension // self.heads
        qkv = x @ layer.qkv
        qkv += layer.qkv_bias
        q, k, v = qkv.reshape(size, length, 3, self.heads, head_size).transpose(2, 0, 3, 1, 4)
        scores = (q * np.float32(1.0 / np.sqrt(head_size))) @ k.transpose(0, 1, 3, 2)
        scores += hidden_mask
        scores -= scores.max(axis=-1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=-1, keepdims=True)
        context = (scores @ v).transpose(0, 2, 1, 3).reshape(size * length, self.dimension)
        attended = context @ layer.out
        attended += layer.out_bias
        attended += x
        x = layer_norm(attended, *layer.norm1, self.eps)
        out = np.empty_like(x)
        for start in range(0, len(x), _FEED_FORWARD_ROWS):  # GELU's many passes stay in cache
            rows = slice(start, start + _FEED_FORWARD_ROWS)
            hidden = x[rows] @ layer.up
            hidden += layer.up_bias
            np.matmul(gelu(hidden), layer.down, out=out[rows])
        out += layer.down_bias
        out += x
        return layer_norm(out, *layer.norm2, self.eps)


def _read_json(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object")
    return data
