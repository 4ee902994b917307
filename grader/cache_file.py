"""The cache file format shared by the embedding cache and the analysis store: one SQLite file of
``digest -> blob`` rows (a ``vectors`` table), safe for several processes at once."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass


SCHEMA_VERSION = 2
_PAGE_SIZE = 16384
_LOCK_TIMEOUT_S = 30.0


def default_cache_dir() -> Path:
    """``platformdirs.user_cache_dir("grader")/embeddings``."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("grader")) / "embeddings"


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
def connect(path: Path) -> Iterator[sqlite3.Connection]:
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


def insert_rows(conn: sqlite3.Connection, rows: Iterable[tuple[bytes, bytes]]) -> None:
    """Write ``(digest, blob)`` rows in one transaction, replacing older rows."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.executemany("INSERT OR REPLACE INTO vectors (digest, vector) VALUES (?, ?)", rows)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
