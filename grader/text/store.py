"""Language analyses kept on disk between runs, beside the embedding cache.

A re-grade after a rubric edit analyses the same answers again; loading Kiwi, Sudachi and
pymorphy3 and running them takes most of its time. ``analysis_store(folder)`` makes
:func:`grader.text.analysis.analyze` look an analysis up on disk before computing it, and saves the
new ones when the block ends. The file is keyed by a version: the source of the analysis code
(every module of ``grader.text.languages`` included) and the versions of the analysers, so that a
change to either starts a new file (an old one is never read again). Like the embedding cache
it only ever saves time: a file that cannot be used is skipped with a logged warning.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import sqlite3
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from grader.cache_file import connect, insert_rows, replace_with_empty_database
from grader.text import analysis
from grader.text.analysis import Analysis, Token

log = logging.getLogger(__name__)

_ANALYSERS = (
    "kiwipiepy", "sudachipy", "sudachidict-core", "pymorphy3", "snowballstemmer", "simplemma",
    "rjieba", "opencc", "pyarabic", "pythainlp", "lingua-language-detector",
)  # fmt: skip
_SOURCES = ("analysis.py", "normalize.py", "scripts.py", "sentences.py")


@cache
def analysis_version() -> str:
    """A digest of the analysis code and the analysers' versions."""
    from importlib import metadata

    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent
    for name in _SOURCES:
        digest.update((package / name).read_bytes())
    for path in sorted((package / "languages").glob("*.py")):  # every language profile
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    for distribution in _ANALYSERS:
        try:
            digest.update(f"{distribution}={metadata.version(distribution)};".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{distribution}=none;".encode())
    return digest.hexdigest()[:16]


class AnalysisStore:
    """One SQLite file of ``sha256(language + text) -> JSON`` rows, open for one run (the
    embedding cache's schema: its ``vectors`` table holds the analyses as JSON)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._opened = contextlib.ExitStack()
        self._connection: sqlite3.Connection | None = None
        self._new: dict[bytes, bytes] = {}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._connection = self._opened.enter_context(connect(path))
        except sqlite3.DatabaseError as error:  # not a database, or damaged: start it afresh
            self._start_afresh(error)
        except (OSError, sqlite3.Error) as error:
            self._give_up(error)

    def _start_afresh(self, damage: Exception) -> None:
        log.warning("analysis cache %s is damaged (%s); starting it afresh", self.path, damage)
        try:
            replace_with_empty_database(self.path)
            self._connection = self._opened.enter_context(connect(self.path))
        except (OSError, sqlite3.Error) as error:
            self._give_up(error)

    def get(self, text: str, language: str | None) -> Analysis | None:
        if self._connection is None:
            return None
        try:
            row = self._connection.execute(
                "SELECT vector FROM vectors WHERE digest = ?", (_digest(text, language),)
            ).fetchone()
        except sqlite3.Error as error:
            self._give_up(error)
            return None
        if row is None:
            return None
        try:
            return _decode(text, row[0])
        except (ValueError, TypeError, RecursionError):
            return None  # a damaged row: analysed again (and replaced)

    def put(self, text: str, language: str | None, found: Analysis) -> None:
        if self._connection is not None:
            self._new[_digest(text, language)] = _encode(found)

    def close(self) -> None:
        """Save the new analyses in one transaction and close the file."""
        try:
            if self._connection is not None and self._new:
                self._save()
        except sqlite3.Error as error:
            self._give_up(error)
        finally:
            self._opened.close()

    def _save(self) -> None:
        assert self._connection is not None
        insert_rows(self._connection, self._new.items())

    def _give_up(self, error: Exception) -> None:
        log.warning("analysis cache %s skipped: %s", self.path, error)
        self._connection = None


@contextlib.contextmanager
def analysis_store(folder: Path | None) -> Iterator[AnalysisStore | None]:
    """The store of ``folder`` (None: no store), open for the block: pass it to ``analyze``."""
    if folder is None:
        yield None
        return
    store = AnalysisStore(folder / f"analyses-{analysis_version()}.sqlite3")
    try:
        yield store
    finally:
        store.close()


def _digest(text: str, language: str | None) -> bytes:
    key = f"{language or ''}\n{text}"
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


def _encode(found: Analysis) -> bytes:
    tokens = [
        [t.norm, t.start, t.end, t.language, t.content, t.negated, t.stem] for t in found.tokens
    ]
    document = [found.language, tokens, [list(span) for span in found.sentences]]
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _decode(text: str, blob: Any) -> Analysis:
    """An analysis from its stored row; ValueError or TypeError when the row is damaged (every
    field is checked: a wrong type would fail later, in the middle of grading)."""
    language, rows, sentences = json.loads(bytes(blob).decode("utf-8"))
    if not isinstance(language, str) or not isinstance(rows, list):
        raise ValueError("not an analysis")
    tokens = tuple(_token(text, row) for row in rows)
    spans = tuple(_span(text, pair) for pair in sentences)
    return Analysis(text, language, tokens, spans, analysis.languages_present(tokens))


def _token(text: str, row: Any) -> Token:
    norm, start, end, language, content, negated, stem = row
    if not all(isinstance(field, str) for field in (norm, language, stem)):
        raise ValueError("a token field is not text")
    if not isinstance(content, bool) or not isinstance(negated, bool):
        raise ValueError("a token flag is not true/false")
    start, end = _span(text, (start, end))
    return Token(text[start:end], norm, start, end, language, content, negated, stem)


def _span(text: str, pair: Any) -> tuple[int, int]:
    start, end = pair
    if type(start) is not int or type(end) is not int or not 0 <= start <= end <= len(text):
        raise ValueError("a span outside the text")
    return start, end
