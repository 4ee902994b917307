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
import grader.output.report
import grader.review.pages
from grader.cli import cli
from grader.errors import GraderError
from grader.fsutil import atomic_write
from grader.grading import GradeOptions, grade
from grader.load.loader import load_bank
from grader.load.submissions import Submission, read_submissions
from grader.output.results_json import to_dict
from grader.results import Results
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
    """grade, report and export: each file in the output arrives by a rename, of itself (a
    single file: export) or of the staging folder entry that holds it (grade, report)."""
    renamed: list[tuple[Path, Path]] = []
    real_replace, real_rename = os.replace, Path.rename

    def recording_replace(source, target):  # type: ignore[no-untyped-def]
        assert Path(source).parent == Path(target).parent  # same folder: one file system
        renamed.append((Path(source), Path(target)))
        real_replace(source, target)

    def recording_rename(self, target):  # type: ignore[no-untyped-def]
        renamed.append((Path(self), Path(target)))
        return real_rename(self, target)

    monkeypatch.setattr(grader.fsutil.os, "replace", recording_replace)
    monkeypatch.setattr(Path, "rename", recording_rename)
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
    arrived = {target for _source, target in renamed}
    for path in written:
        assert path in arrived or any(parent in arrived for parent in path.parents), path
    staged = [(s, t) for s, t in renamed if s.parent.name.startswith(".grader-new-")]
    assert {t.name for s, t in staged if t.parent == out} == {
        "results.json",
        "grades.csv",
        "index.html",
        "instructor",
        "students",
        "review",
    }
    assert {t.name for s, t in staged if t.parent == again} == {
        "index.html",
        "instructor",
        "students",
    }
    assert not [p for p in tmp_path.rglob(".grader-*")]  # no staging or old folder is left


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


def default_interrupt() -> None:
    """Ctrl-C acts in the child even when this suite runs in the background of a shell without
    job control, which starts it (and so every child) with SIGINT ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


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
        command,
        stdout=subprocess.PIPE,
        stderr=child,
        cwd=ROOT,
        env={**os.environ},
        preexec_fn=default_interrupt,
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
    from tests.scoring.test_gaming import write_compact_bank

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


# ---------------------------------------------------------------- a grading's outputs, together


def grade_into(out: Path, submissions: Path = EXAMPLE_SUBMISSIONS, *extra: str):
    return run(
        "grade",
        str(SEED_BANK),
        str(submissions),
        "--out",
        str(out),
        "--model",
        "none",
        "--no-cache",
        *extra,
    )


def fewer_submissions(tmp_path: Path, students: int) -> Path:
    """The example submissions of the first ``students`` students, their answers changed."""
    rows = list(csv.reader(io.StringIO(EXAMPLE_SUBMISSIONS.read_text(encoding="utf-8"))))
    keep = sorted({row[0] for row in rows[1:]})[:students]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(rows[0])
    for student, question, answer, *rest in rows[1:]:
        if student in keep:
            writer.writerow([student, question, answer + " Also, attention.", *rest])
    path = tmp_path / "fewer.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def patch_page_writes(monkeypatch, replacement) -> None:  # type: ignore[no-untyped-def]
    """The HTML pages (and fsutil's own files) are written through ``replacement``."""
    for module in (grader.fsutil, grader.output.report, grader.review.pages):
        monkeypatch.setattr(module, "atomic_write", replacement)


def test_an_interruption_while_pages_are_written_leaves_every_earlier_output(tmp_path, monkeypatch):
    """Ctrl-C during rendering left new results.json, grades.csv and index.html beside 2,579 of
    3,000 old student pages, while the message said earlier outputs were intact."""
    out = tmp_path / "out"
    assert grade_into(out).exit_code == 0
    earlier = tree(out)
    calls = []
    real_write = grader.fsutil.atomic_write

    def interrupted_write(path, data):  # type: ignore[no-untyped-def]
        calls.append(path)
        if len(calls) == 3:  # index.html and one student's two pages are written, not the rest
            raise KeyboardInterrupt
        real_write(path, data)

    patch_page_writes(monkeypatch, interrupted_write)
    result = grade_into(out, fewer_submissions(tmp_path, 3))
    assert result.exit_code == 130
    assert result.output.endswith(
        f"Interrupted: nothing half-written; earlier outputs in {out} are intact.\n"
    )
    assert {path.parent.name for path in calls[1:]} == {"instructor", "students"}, calls
    assert tree(out) == earlier  # byte-identical: no new file, no leftover


def test_pages_of_students_no_longer_in_the_class_are_removed(tmp_path):
    out = tmp_path / "out"
    assert grade_into(out).exit_code == 0
    assert len(list((out / "students").iterdir())) > 5
    keep = tmp_path / "user-notes.txt"  # a file of the user's own in --out is left alone
    (out / keep.name).write_text("mine", encoding="utf-8")
    assert grade_into(out, fewer_submissions(tmp_path, 3)).exit_code == 0
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    names = sorted(f"{student['file_name']}.html" for student in data["students"])
    assert len(names) == 3 and sorted(p.name for p in (out / "students").iterdir()) == names
    assert (out / keep.name).read_text(encoding="utf-8") == "mine"
    fresh = tmp_path / "fresh"
    assert grade_into(fresh, fewer_submissions(tmp_path, 3)).exit_code == 0
    assert tree(out) == {**tree(fresh), keep.name: b"mine"}


@pytest.mark.parametrize("command", ["grade", "report", "review"])
def test_a_second_writer_is_refused_while_the_folder_is_locked(tmp_path, command):
    """Two `grade` runs into one --out interleaved their student pages (84 from one, 216 from
    the other)."""
    out = tmp_path / "out"
    assert grade_into(out).exit_code == 0
    earlier = tree(out)
    arguments = {
        "grade": ("grade", str(SEED_BANK), str(EXAMPLE_SUBMISSIONS), "--model", "none"),
        "report": ("report", str(out / "results.json")),
        "review": ("review", str(SEED_BANK), str(out / "results.json")),
    }[command]
    with grader.fsutil._locked(out):  # another run holds the folder
        result = run(*arguments, "--out", str(out))
    assert (result.exit_code, result.output) == (
        1,
        f"Error: {out}: another grader run is writing to this folder (wait for it to finish, "
        "or choose another --out folder)\n",
    )
    assert tree(out) == earlier


def test_two_grading_processes_into_one_folder(tmp_path):
    """The second of two real `grader grade` processes into one --out is refused while the first
    grades; the first's outputs are complete and its own."""
    subs = tmp_path / "large.csv"
    large_submissions(subs, copies=12)
    out = tmp_path / "out"
    parent, child = pty.openpty()
    command = [sys.executable, "-m", "grader", "grade", str(SEED_BANK), str(subs)]
    command += ["--out", str(out), "--model", "none", "--no-cache"]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=child, cwd=ROOT)
    os.close(child)
    try:
        shown = read_until(parent, b"Grading", 180)
        assert b"Grading" in shown, shown
        second = subprocess.run(
            [*command[:5], str(EXAMPLE_SUBMISSIONS), *command[6:]],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=300,
        )
        assert second.returncode == 1
        assert second.stderr == (
            f"Error: {out}: another grader run is writing to this folder (wait for it to finish, "
            "or choose another --out folder)\n"
        )
        read_until(parent, b"never", 1)
        assert first.wait(timeout=300) == 0
    finally:
        if first.poll() is None:
            first.kill()
        os.close(parent)
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    names = {f"{student['file_name']}.html" for student in data["students"]}
    assert {p.name for p in (out / "students").iterdir()} == names and len(names) > 50


def test_a_swap_cut_short_is_finished_by_the_next_run(tmp_path, monkeypatch):
    """A crash between the renames of the swap: the journal lets the next run finish it."""
    out, clean = tmp_path / "out", tmp_path / "clean"
    assert grade_into(out).exit_code == 0
    fewer = fewer_submissions(tmp_path, 3)
    assert grade_into(clean, fewer).exit_code == 0
    real_rename = Path.rename
    renames = []

    def crashing_rename(self, target):  # type: ignore[no-untyped-def]
        renames.append(target)
        if len(renames) == 4:  # results.json and grades.csv moved out, one new one in
            raise OSError(5, "Input/output error")
        return real_rename(self, target)

    monkeypatch.setattr(Path, "rename", crashing_rename)
    result = grade_into(out, fewer)
    assert (result.exit_code, result.output) == (
        1,
        f"Error: {out}: cannot put the new outputs in place: Input/output error\n",
    )
    assert (out / ".grader-swap.json").is_file()
    monkeypatch.setattr(Path, "rename", real_rename)
    grader.fsutil._recover(out)
    assert tree(out) == tree(clean)


def test_a_signal_during_the_swap_waits_for_it_to_finish(tmp_path, monkeypatch):
    out, clean = tmp_path / "out", tmp_path / "clean"
    assert grade_into(out).exit_code == 0
    fewer = fewer_submissions(tmp_path, 3)
    assert grade_into(clean, fewer).exit_code == 0
    real_apply = grader.fsutil._apply

    def interrupted_apply(out_dir, journal):  # type: ignore[no-untyped-def]
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.01)
        real_apply(out_dir, journal)

    monkeypatch.setattr(grader.fsutil, "_apply", interrupted_apply)
    result = grade_into(out, fewer)
    assert result.exit_code == 130
    assert result.output.endswith(
        f"Interrupted: the new outputs in {out} were already in place, whole.\n"
    )
    assert tree(out) == tree(clean)


@pytest.mark.parametrize("command", ["report", "review"])
def test_sigterm_on_report_and_review_cleans_up_and_exits_130(tmp_path, monkeypatch, command):
    """SIGTERM on `report` or `review` left .tmp files; Ctrl-C there exited 1 instead of 130."""
    out = tmp_path / "out"
    assert grade_into(out).exit_code == 0
    earlier = tree(out)
    calls = []
    real_write = grader.fsutil.atomic_write

    def terminated_write(path, data):  # type: ignore[no-untyped-def]
        calls.append(path)
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGTERM)  # the handler raises in the write below
        real_write(path, data)

    patch_page_writes(monkeypatch, terminated_write)
    arguments = {
        "report": ("report", str(out / "results.json"), "--reveal", "all"),
        "review": ("review", str(SEED_BANK), str(out / "results.json")),
    }[command]
    result = run(*arguments, "--out", str(out))
    assert result.exit_code == 130
    assert result.output.endswith(
        f"Interrupted: nothing half-written; earlier outputs in {out} are intact.\n"
    )
    assert len(calls) == 3
    assert tree(out) == earlier
