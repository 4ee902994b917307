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

import contextlib
import hashlib
import logging
import os
import re
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2
_PAGE_SIZE = 16384
_LOCK_TIMEOUT_S = 30.0
_QUERY_CHUNK = 500  # digests per SELECT ... IN (...), under SQLite's variable limit
_NORM_TOLERANCE = 1e-2

T = TypeVar("T")


def default_cache_dir() -> Path:
    """``platformdirs.user_cache_dir("grader")/embeddings``."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("grader")) / "embeddings"


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
                with _connect(path) as conn:
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


def replace_with_empty_database(path: Path) -> None:
    """Build an empty cache file beside ``path`` and move it into place atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(descriptor)
    try:
        with contextlib.closing(sqlite3.connect(temporary)) as conn:
            _create_schema(conn)
            conn.commit()
        for leftover in (f"{path}-journal", f"{path}-wal", f"{path}-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(leftover)  # a stale journal would be replayed into the new file
        os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)


@contextlib.contextmanager
def _connect(path: Path) -> Iterator[sqlite3.Connection]:
    """A connection to a checked cache file; SQLite itself creates a missing one.

    Creation is left to SQLite (not a temporary file) because two processes may create the
    same file at once: SQLite's locks make one of them write the schema and the other wait.
    """
    conn = sqlite3.connect(path, timeout=_LOCK_TIMEOUT_S, isolation_level=None)
    try:
        conn.execute(f"PRAGMA page_size={_PAGE_SIZE}")  # only has an effect on a new, empty file
        conn.execute("PRAGMA synchronous=NORMAL")
        if _schema_version(conn) == 0:
            _create_schema_once(conn)
        version = _schema_version(conn)
        if version != SCHEMA_VERSION:
            raise sqlite3.DatabaseError(f"schema version {version}, expected {SCHEMA_VERSION}")
        _check_table(conn)
        yield conn
    finally:
        conn.close()


def _schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _create_schema_once(conn: sqlite3.Connection) -> None:
    """Write the schema into a new, empty file, unless another process just did."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        if _schema_version(conn) == 0:
            tables = conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0]
            if tables:
                raise sqlite3.DatabaseError("not an embedding cache")
            _create_schema(conn)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _create_schema(conn: sqlite3.Connection) -> None:
    # A rowid table on 16 KiB pages: vectors of 1.5-2 KiB pack about 7 to a page; 100k vectors
    # of 384 floats take 168 MB (154 MB of floats) and read back in 0.3 s. WITHOUT ROWID would
    # spill every row to overflow pages (469 MB, 2.6 s).
    conn.execute(f"PRAGMA page_size={_PAGE_SIZE}")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS vectors (digest BLOB PRIMARY KEY, vector BLOB NOT NULL)"
    )
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")


def _check_table(conn: sqlite3.Connection) -> None:
    found = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type='table' AND name='vectors'"
    ).fetchone()
    if found is None:
        raise sqlite3.DatabaseError("no vectors table")


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


def insert_rows(conn: sqlite3.Connection, rows: Iterable[tuple[bytes, bytes]]) -> None:
    """Write ``(digest, blob)`` rows in one transaction, replacing older rows."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.executemany("INSERT OR REPLACE INTO vectors (digest, vector) VALUES (?, ?)", rows)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


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
