"""The attempts store of grader serve and ``grader attempts``."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import cli
from grader.errors import GraderError
from grader.serve.attempts import DATABASE, AttemptStore, Pick, chosen_attempts, export_attempts


def record(store: AttemptStore, learner: str, question: str, answer: str, score: float, **extra):
    return store.record(
        learner=learner,
        name=extra.get("name", ""),
        bank=extra.get("bank", "b1"),
        question=question,
        answer=answer,
        language=extra.get("language", "en"),
        language_given=extra.get("given", False),
        score=score,
        points=2,
        view={"score": score},
    )


@pytest.fixture
def store(tmp_path: Path) -> AttemptStore:
    store = AttemptStore(tmp_path)
    record(store, "anon-1", "q1", "first", 1.5, name="Ann")
    record(store, "anon-1", "q1", "second", 0.5, name="Ann")
    record(store, "anon-2", "q1", "=1+1", 2, language="ko", given=True)
    record(store, "anon-2", "ch/s1", "step", 1)
    return store


def test_a_learner_sees_only_their_own_attempts_newest_first(store: AttemptStore) -> None:
    mine = store.of_learner("anon-1", "b1", ["q1"])
    assert [a.answer for a in mine] == ["second", "first"]
    assert all(a.learner == "anon-1" for a in mine)
    assert store.of_learner("anon-1", "b2", ["q1"]) == []
    assert [a.answer for a in store.of_learner("anon-2", "b1", ["q1", "ch/s1"])] == ["step", "=1+1"]


def test_last_and_best(store: AttemptStore) -> None:
    attempts = store.all()
    last = {(a.student, a.question): a.answer for a in chosen_attempts(attempts, Pick.LAST)}
    best = {(a.student, a.question): a.answer for a in chosen_attempts(attempts, Pick.BEST)}
    assert last[("Ann", "q1")] == "second" and best[("Ann", "q1")] == "first"
    assert last[("anon-2", "q1")] == best[("anon-2", "q1")] == "=1+1"


def test_export_writes_a_submissions_file_grader_reads(store: AttemptStore, tmp_path: Path) -> None:
    from grader.load.submissions import read_submissions

    out = tmp_path / "subs.csv"
    export_attempts(tmp_path, out, "best")
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert rows == [
        {"student": "Ann", "question": "q1", "answer": "first", "language": ""},
        {"student": "anon-2", "question": "q1", "answer": "=1+1", "language": "ko"},
        {"student": "anon-2", "question": "ch/s1", "answer": "step", "language": ""},
    ]
    parsed = read_submissions(str(out))
    assert [(r.student, r.answer, r.language) for r in parsed.rows][1] == ("anon-2", "=1+1", "ko")
    jsonl = tmp_path / "subs.jsonl"
    export_attempts(tmp_path, jsonl)
    lines = [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines()]
    assert lines[0] == {"student": "Ann", "question": "q1", "answer": "second", "language": ""}


def test_export_errors(tmp_path: Path) -> None:
    with pytest.raises(GraderError, match=f"no attempts here \\({DATABASE} is missing\\)"):
        export_attempts(tmp_path / "none", tmp_path / "x.csv")
    store = AttemptStore(tmp_path)
    record(store, "a", "q1", "x", 1, bank="b1")
    record(store, "a", "q1", "x", 1, bank="b2")
    with pytest.raises(GraderError, match="several banks \\(b1, b2\\): choose one with --bank"):
        export_attempts(tmp_path, tmp_path / "x.csv")
    with pytest.raises(GraderError, match="no attempts at bank 'b3'"):
        export_attempts(tmp_path, tmp_path / "x.csv", bank="b3")
    assert len(export_attempts(tmp_path, tmp_path / "x.csv", bank="b2")) == 1


def test_rate_limit_counts_per_client(tmp_path: Path) -> None:
    store = AttemptStore(tmp_path)
    assert [store.hit("1.2.3.4", 60, 3) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = store.hit("1.2.3.4", 60, 3)
    assert 1.0 <= wait <= 60.0
    assert store.hit("5.6.7.8", 60, 3) == 0.0  # another client
    assert store.hit("1.2.3.4", 0.0, 3) == 0.0  # the window has passed


def test_attempts_command(store: AttemptStore, tmp_path: Path) -> None:
    out = tmp_path / "s.csv"
    result = CliRunner().invoke(cli, ["attempts", str(tmp_path), "--out", str(out), "--best"])
    assert result.exit_code == 0, result.output
    assert result.output == f"Wrote {out}: 3 answers (best attempt each) from 2 learners\n"
    missing = CliRunner().invoke(cli, ["attempts", str(tmp_path / "no"), "--out", str(out)])
    assert missing.exit_code == 1
    assert missing.output == (
        f"Error: {tmp_path / 'no'}: no attempts here ({DATABASE} is missing) "
        "(give the --data folder that grader serve printed at start)\n"
    )
