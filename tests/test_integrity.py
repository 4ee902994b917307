"""Results are never lost or corrupted: atomic writes, clean interruption, identical reruns.

* every file a command writes arrives by a rename from a temporary file beside it;
* Ctrl-C or SIGTERM mid-run exits 130, says earlier outputs are intact, and they are;
* the same inputs give byte-identical outputs (``created`` is the only time field, off by default);
* the order of the submission rows changes no score.
"""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import random
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import grader.fsutil
from grader.cli import cli
from grader.errors import GraderError
from grader.fsutil import atomic_write
from grader.grading import GradeOptions, grade
from grader.loader import load_bank
from grader.results import Results, to_dict
from grader.submissions import Submission, read_submissions
from tests.conftest import EXAMPLE_SUBMISSIONS, ROOT, SEED_BANK


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def tree(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def scores(results: Results) -> dict[tuple[str, str], tuple[float, tuple[str, ...]]]:
    return {
        (student.id, answer.id): (answer.score, tuple(sorted(f.code for f in answer.flags)))
        for student in results.students
        for question in student.questions
        for answer in question.answers
    }


# ---------------------------------------------------------------- atomic writes


def test_every_output_file_arrives_by_rename(tmp_path, monkeypatch):
    """grade, report and export: each file in the output is the target of an os.replace."""
    renamed: list[Path] = []
    real_replace = os.replace

    def recording_replace(source, target):  # type: ignore[no-untyped-def]
        assert Path(source).parent == Path(target).parent  # same folder: one file system
        renamed.append(Path(target))
        real_replace(source, target)

    monkeypatch.setattr(grader.fsutil.os, "replace", recording_replace)
    out = tmp_path / "out"
    common = ("--model", "none", "--no-cache")
    graded = run("grade", str(SEED_BANK), str(EXAMPLE_SUBMISSIONS), "--out", str(out), *common)
    assert graded.exit_code == 0, graded.output
    again = tmp_path / "again"
    assert run("report", str(out / "results.json"), "--out", str(again)).exit_code == 0
    export = tmp_path / "grades.jsonl"
    exported = run("export", str(out / "results.json"), "--format", "jsonl", "--out", str(export))
    assert exported.exit_code == 0
    written = [p for folder in (out, again) for p in folder.rglob("*") if p.is_file()] + [export]
    assert len(written) > 10
    assert sorted(written) == sorted(set(renamed))


@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch, failure):
    target = tmp_path / "results.json"
    target.write_text("old", encoding="utf-8")

    def failing_fsync(_fd: int) -> None:
        raise failure

    monkeypatch.setattr(grader.fsutil.os, "fsync", failing_fsync)
    with pytest.raises(GraderError if isinstance(failure, OSError) else KeyboardInterrupt):
        atomic_write(target, "new " * 1000)
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


# ---------------------------------------------------------------- interruption


def large_submissions(path: Path, copies: int) -> None:
    """The example submissions, ``copies`` times, each answer made unique (no shared work)."""
    rows = list(csv.reader(io.StringIO(EXAMPLE_SUBMISSIONS.read_text(encoding="utf-8"))))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(rows[0])
    for copy in range(copies):
        for student, question, answer, *rest in rows[1:]:
            writer.writerow([f"{student}-{copy}", question, f"{answer} ({copy})", *rest])
    path.write_text(buffer.getvalue(), encoding="utf-8")


def read_until(fd: int, marker: bytes, seconds: float) -> bytes:
    seen = b""
    deadline = time.monotonic() + seconds
    while marker not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
    return seen


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_interrupted_run_keeps_earlier_outputs_and_says_so(tmp_path, signum):
    """Signal `grader grade` while it grades (its progress bar is showing) over older outputs."""
    subs = tmp_path / "large.csv"
    large_submissions(subs, copies=8)
    out = tmp_path / "out"
    out.mkdir()
    earlier = {"results.json": b'{"schema": "earlier run"}\n', "grades.csv": b"student\r\nold\r\n"}
    for name, data in earlier.items():
        (out / name).write_bytes(data)
    parent, child = pty.openpty()  # stderr a terminal: the progress bar shows when grading starts
    command = [sys.executable, "-m", "grader", "grade", str(SEED_BANK), str(subs)]
    command += ["--out", str(out), "--model", "none", "--no-cache"]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=child, cwd=ROOT, env={**os.environ}
    )
    os.close(child)
    try:
        shown = read_until(parent, b"Grading", 180)
        assert b"Grading" in shown, shown
        process.send_signal(signum)
        process.wait(timeout=120)
        shown += read_until(parent, b"intact.", 10)
    finally:
        if process.poll() is None:
            process.kill()
        os.close(parent)
    message = f"Interrupted: nothing half-written; earlier outputs in {out} are intact."
    assert process.returncode == 130
    assert message in shown.decode("utf-8", "replace").replace("\r", ""), shown
    assert tree(out) == earlier  # byte-identical, and no temporary or new files


# ---------------------------------------------------------------- identical reruns


def test_same_inputs_give_byte_identical_outputs(tmp_path):
    common = ("--model", "none", "--no-cache")
    for name in ("one", "two"):
        out = tmp_path / name
        result = run("grade", str(SEED_BANK), str(EXAMPLE_SUBMISSIONS), "--out", str(out), *common)
        assert result.exit_code == 0, result.output
    first, second = tree(tmp_path / "one"), tree(tmp_path / "two")
    assert "results.json" in first and len(first) > 10
    assert first == second
    stamped = tmp_path / "stamped"
    args = ("grade", str(SEED_BANK), str(EXAMPLE_SUBMISSIONS), "--out", str(stamped), *common)
    assert run(*args, "--timestamp").exit_code == 0
    plain = json.loads(first["results.json"])
    timed = json.loads((stamped / "results.json").read_bytes())
    assert plain["created"] is None and isinstance(timed["created"], str)
    assert {**timed, "created": None} == plain


@pytest.mark.parametrize("seed", [1, 2, "reversed"])
def test_row_order_changes_no_score(seed):
    bank = load_bank(SEED_BANK)
    rows = list(read_submissions(EXAMPLE_SUBMISSIONS).rows)
    shuffled = rows[::-1] if seed == "reversed" else random.Random(seed).sample(rows, len(rows))
    options = GradeOptions(model="none")
    first, second = grade(bank, rows, options), grade(bank, shuffled, options)
    assert scores(first) == scores(second)
    assert to_dict(first) == to_dict(second)  # line numbers travel with their rows


@pytest.mark.slow
def test_row_order_and_reruns_with_the_default_model(tmp_path):
    """Embedding batches hold other texts when the rows move; the scores must not."""
    from tests.test_gaming import write_compact_bank

    bank = load_bank(write_compact_bank(tmp_path), [ROOT / "rubrics"])
    wanted = {
        "decoder-shift",
        "text-to-text",
        "causal-mask",
        "kv-cache-vram",
        "positional-encoding",
    }
    rows = [r for r in read_submissions(EXAMPLE_SUBMISSIONS).rows if r.question in wanted]
    rows = [r for r in rows if r.student in ("s01", "s02", "s05", "s10")]
    rows.append(Submission("s99", "decoder-shift", "Decoders generate text and scale well."))
    options = GradeOptions(use_cache=False)
    first = grade(bank, rows, options)
    second = grade(bank, random.Random(3).sample(rows, len(rows)), options)
    assert any(a.model for s in first.students for q in s.questions for a in q.answers)
    assert scores(first) == scores(second)
