"""The attempts ``grader serve`` records: SQLite under its ``--data`` folder.

Each check is one row: when, which learner (the id kept in the learner's signed cookie, and the
name they gave, if any), which bank and question ("q" or "q/step"), the answer, its language, the
score the learner saw and the student view as JSON. ``grader attempts DIR --out submissions.csv``
turns them into a submissions file that ``grader grade`` reads.

The same database counts recent checks per client for the rate limit, so that every worker
process of one server shares the count.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from grader.errors import GraderError
from grader.fsutil import atomic_write, csv_text

DATABASE = "attempts.sqlite3"
SUBMISSION_COLUMNS = ("student", "question", "answer", "language")
_TIMEOUT_S = 30.0
_SCHEMA = """
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    learner TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    bank TEXT NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    language TEXT NOT NULL DEFAULT '',
    language_given INTEGER NOT NULL DEFAULT 0,
    score REAL NOT NULL,
    points REAL NOT NULL,
    view TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS attempts_by_learner ON attempts (learner, bank, question);
CREATE TABLE IF NOT EXISTS hits (client TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS hits_by_client ON hits (client, at);
"""


class Pick(StrEnum):
    """Which of a learner's attempts at a question ``grader attempts`` writes."""

    LAST = "last"
    BEST = "best"


@dataclass(frozen=True)
class Attempt:
    id: int
    at: float  # seconds since the epoch
    learner: str
    name: str
    bank: str
    question: str
    answer: str
    language: str
    language_given: bool
    score: float
    points: float
    view: dict[str, Any]

    @property
    def student(self) -> str:
        """The learner as a submissions file names them: the name given, else the id."""
        return self.name or self.learner


class AttemptStore:
    """The attempts database of one ``--data`` folder (created on first use)."""

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / DATABASE
        with self._connect() as connection:
            connection.executescript(_SCHEMA)

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        connection = sqlite3.connect(self.path, timeout=_TIMEOUT_S, isolation_level=None)
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            yield connection
        finally:
            connection.close()

    def record(
        self,
        *,
        learner: str,
        name: str,
        bank: str,
        question: str,
        answer: str,
        language: str,
        language_given: bool,
        score: float,
        points: float,
        view: dict[str, Any],
    ) -> int:
        with self._connect() as connection:
            cursor = connection.execute(
                "INSERT INTO attempts (at, learner, name, bank, question, answer, language,"
                " language_given, score, points, view) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    time.time(),
                    learner,
                    name,
                    bank,
                    question,
                    answer,
                    language,
                    int(language_given),
                    score,
                    points,
                    json.dumps(view, ensure_ascii=False),
                ),
            )
            return int(cursor.lastrowid or 0)

    def of_learner(
        self, learner: str, bank: str, questions: Sequence[str], limit: int = 50
    ) -> list[Attempt]:
        """A learner's own attempts at ``questions`` of a bank, newest first."""
        if not questions:
            return []
        marks = ",".join("?" for _ in questions)
        with self._connect() as connection:
            rows = connection.execute(
                f"SELECT * FROM attempts WHERE learner = ? AND bank = ? AND question IN ({marks})"
                " ORDER BY id DESC LIMIT ?",
                (learner, bank, *questions, limit),
            ).fetchall()
        return [_attempt(row) for row in rows]

    def all(self) -> list[Attempt]:
        with self._connect() as connection:
            rows = connection.execute("SELECT * FROM attempts ORDER BY id").fetchall()
        return [_attempt(row) for row in rows]

    def hit(self, client: str, window_s: float, limit: int) -> float:
        """Count a check by ``client``; 0 when it is allowed, else the seconds to wait."""
        now = time.time()
        with self._connect() as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                connection.execute("DELETE FROM hits WHERE at < ?", (now - window_s,))
                recent = [
                    at
                    for (at,) in connection.execute(
                        "SELECT at FROM hits WHERE client = ? ORDER BY at", (client,)
                    )
                ]
                if len(recent) >= limit:
                    connection.execute("COMMIT")
                    return max(1.0, recent[len(recent) - limit] + window_s - now)
                connection.execute("INSERT INTO hits (client, at) VALUES (?, ?)", (client, now))
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
        return 0.0


def _attempt(row: tuple[Any, ...]) -> Attempt:
    (
        identifier,
        at,
        learner,
        name,
        bank,
        question,
        answer,
        language,
        given,
        score,
        points,
        view,
    ) = row
    return Attempt(
        identifier,
        at,
        learner,
        name,
        bank,
        question,
        answer,
        language,
        bool(given),
        score,
        points,
        json.loads(view),
    )


# ---------------------------------------------------------------- grader attempts


def open_store(folder: Path) -> AttemptStore:
    """The attempts of an existing ``--data`` folder (a clear error when there are none)."""
    if not (Path(folder) / DATABASE).is_file():
        raise GraderError.at(
            folder,
            None,
            f"no attempts here ({DATABASE} is missing)",
            "give the --data folder that grader serve printed at start",
        )
    try:
        return AttemptStore(folder)
    except sqlite3.DatabaseError as error:
        raise GraderError.at(
            folder / DATABASE, None, f"not an attempts database: {error}"
        ) from None


def chosen_attempts(attempts: Sequence[Attempt], pick: Pick) -> list[Attempt]:
    """One attempt per (learner, question): the last, or the best (the earliest of the best)."""
    chosen: dict[tuple[str, str], Attempt] = {}
    for attempt in attempts:  # in the order they were made
        key = (attempt.student, attempt.question)
        held = chosen.get(key)
        if held is None or pick is Pick.LAST or attempt.score > held.score + 1e-9:
            chosen[key] = attempt
    return sorted(chosen.values(), key=lambda attempt: (attempt.student, attempt.id))


def submissions_text(attempts: Sequence[Attempt], json_lines: bool = False) -> str:
    """A submissions file (student, question, answer, language) of the chosen attempts: CSV, or
    JSON Lines. Answers are written exactly as typed (a CSV cell starting with "=" is not
    guarded as a spreadsheet formula: ``grader grade`` must read what the learner wrote).

    The language is written only where the learner gave it: a detected language is left to be
    detected again, so that ``grader grade`` reaches the score the learner saw.
    """
    records = [
        {
            "student": attempt.student,
            "question": attempt.question,
            "answer": attempt.answer,
            "language": attempt.language if attempt.language_given else "",
        }
        for attempt in attempts
    ]
    if json_lines:
        return "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    rows = [[record[column] for column in SUBMISSION_COLUMNS] for record in records]
    return csv_text(SUBMISSION_COLUMNS, rows, guard_formulas=False)


def export_attempts(
    folder: Path, out: Path, pick: Pick | str = Pick.LAST, bank: str | None = None
) -> list[Attempt]:
    """Write the attempts of a ``grader serve --data`` folder as a submissions file (JSON Lines
    for a ``.jsonl`` name, else CSV); returns the attempts written."""
    attempts = open_store(Path(folder)).all()
    banks = sorted({attempt.bank for attempt in attempts})
    if bank is not None:
        if bank not in banks:
            found = ", ".join(banks) or "none"
            raise GraderError(f"no attempts at bank '{bank}' in {folder} (banks: {found})")
        attempts = [attempt for attempt in attempts if attempt.bank == bank]
    elif len(banks) > 1:
        raise GraderError(
            f"{folder} holds attempts at several banks ({', '.join(banks)}): "
            "choose one with --bank (a submissions file is for one bank)"
        )
    chosen = chosen_attempts(attempts, Pick(pick))
    atomic_write(Path(out), submissions_text(chosen, Path(out).suffix.lower() == ".jsonl"))
    return chosen
