"""An on-disk cache of sentence embeddings, keyed by model and by the sha256 of the text.

One SQLite file per model (name + fingerprint) under the cache directory, holding
``(sha256 digest) -> float32 bytes``. SQLite makes every write one atomic transaction (its
journal is the "temporary file") and lets several processes read and write the same file at
once: a busy writer is waited for, and a new file's schema is written by one process under an
exclusive lock. A file that is not a database, or is damaged, is replaced by an empty one built
under a temporary name and moved into place with ``os.replace``; rows that do not decode to a
unit vector of the model's width are ignored and re-encoded. A cache that cannot be used at all
(read-only folder, a lock held too long) is skipped with a logged warning: the cache only ever
saves time, it never stops a run.
"""

from __future__ import annotations

import hashlib
import logging
import re
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    import numpy as np
from grader.cache_file import connect, default_cache_dir, insert_rows, replace_with_empty_database

log = logging.getLogger(__name__)

_QUERY_CHUNK = 500  # digests per SELECT ... IN (...), under SQLite's variable limit
_NORM_TOLERANCE = 1e-2

T = TypeVar("T")


def text_digest(text: str) -> bytes:
    """The cache key of a text: the sha256 of its UTF-8 bytes."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def model_file_name(model_key: str) -> str:
    """A file name that is safe on every OS and unique per model key."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", model_key.split("@", 1)[0]).strip("._")[:40]
    digest = hashlib.sha256(model_key.encode("utf-8")).hexdigest()[:16]
    return f"{slug or 'model'}-{digest}.sqlite3"


class EmbeddingCache:
    """Embeddings on disk; ``EmbeddingCache(None)`` is a disabled cache that only counts.

    ``hits`` and ``misses`` count distinct texts looked up by
    :func:`grader.evidence.embedding.embed_texts` since the cache was made.
    """

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self.hits = 0
        self.misses = 0
        self._broken_reason = ""

    @classmethod
    def default(cls) -> EmbeddingCache:
        return cls(default_cache_dir())

    @property
    def enabled(self) -> bool:
        return self.directory is not None and not self._broken_reason

    def path_for(self, model_key: str) -> Path | None:
        if self.directory is None:
            return None
        return self.directory / model_file_name(model_key)

    def lookup(
        self, model_key: str, digests: Sequence[bytes], dimension: int | None
    ) -> dict[bytes, np.ndarray]:
        """The cached vectors among ``digests``; damaged rows are left out (and so re-encoded)."""
        path = self.path_for(model_key)
        if path is None or not self.enabled or not digests or not path.exists():
            return {}
        no_rows: list[tuple[bytes, bytes]] = []
        rows = self._guarded(path, lambda conn: _select(conn, digests), default=no_rows)
        return _valid_vectors(rows, dimension)

    def store(self, model_key: str, vectors: Mapping[bytes, np.ndarray]) -> None:
        """Write ``vectors`` (digest -> float32 row) in one transaction, replacing older rows."""
        path = self.path_for(model_key)
        if path is None or not self.enabled or not vectors:
            return
        if not self._ensure_directory():
            return
        self._guarded(path, lambda conn: _insert(conn, vectors), default=None)

    def _ensure_directory(self) -> bool:
        assert self.directory is not None
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            self._disable(f"cannot create {self.directory}: {error}")
            return False
        return True

    def _guarded(self, path: Path, action: Callable[[sqlite3.Connection], T], default: T) -> T:
        """Run ``action`` on the file; replace a damaged file once, else give up quietly."""
        for attempt in range(2):
            try:
                with connect(path) as conn:
                    return action(conn)
            except sqlite3.OperationalError as error:  # locked, busy, I/O, cannot open
                log.warning("embedding cache %s skipped for now: %s", path, error)
                return default
            except sqlite3.DatabaseError as error:  # not a database, malformed image
                if attempt == 1 or not self._replace_damaged(path, error):
                    self._disable(f"{path} is damaged and could not be rebuilt: {error}")
                    return default
            except OSError as error:
                self._disable(f"cannot use {path}: {error}")
                return default
        return default

    def _replace_damaged(self, path: Path, error: Exception) -> bool:
        log.warning("embedding cache %s is damaged (%s); starting it afresh", path, error)
        try:
            replace_with_empty_database(path)
        except (OSError, sqlite3.Error) as replace_error:
            log.warning("could not rebuild %s: %s", path, replace_error)
            return False
        return True

    def _disable(self, reason: str) -> None:
        log.warning("embedding cache disabled: %s", reason)
        self._broken_reason = reason


def _select(conn: sqlite3.Connection, digests: Sequence[bytes]) -> list[tuple[bytes, bytes]]:
    rows: list[tuple[bytes, bytes]] = []
    for start in range(0, len(digests), _QUERY_CHUNK):
        chunk = digests[start : start + _QUERY_CHUNK]
        marks = ",".join("?" * len(chunk))
        query = f"SELECT digest, vector FROM vectors WHERE digest IN ({marks})"
        rows.extend(conn.execute(query, chunk).fetchall())
    return rows


def _insert(conn: sqlite3.Connection, vectors: Mapping[bytes, np.ndarray]) -> None:
    import numpy as np

    insert_rows(
        conn,
        ((digest, np.asarray(row, dtype="<f4").tobytes()) for digest, row in vectors.items()),
    )


def _valid_vectors(
    rows: Sequence[tuple[bytes, bytes]], dimension: int | None
) -> dict[bytes, np.ndarray]:
    """Rows that decode to finite unit vectors of one width (``dimension`` when known)."""
    import numpy as np

    blobs = [(digest, blob) for digest, blob in rows if isinstance(blob, bytes) and blob]
    width = dimension or (len(blobs[0][1]) // 4 if blobs else 0)
    blobs = [(digest, blob) for digest, blob in blobs if len(blob) == 4 * width]
    if not blobs or width == 0:
        return {}
    joined = b"".join(blob for _, blob in blobs)
    matrix = np.frombuffer(joined, dtype="<f4").reshape(len(blobs), width).astype(np.float32)
    with np.errstate(invalid="ignore", over="ignore"):
        norms = np.sqrt(np.einsum("ij,ij->i", matrix, matrix))
    usable = np.isfinite(matrix).all(axis=1) & (np.abs(norms - 1.0) <= _NORM_TOLERANCE)
    return {bytes(blobs[i][0]): matrix[i] for i in np.flatnonzero(usable)}
