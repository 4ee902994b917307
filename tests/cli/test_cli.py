from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys

import pytest
from click.testing import CliRunner

import grader.cli
import grader.fsutil
import grader.load.loader
from grader.cli import cli
from grader.load.loader import load_bank
from grader.load.submissions import read_submissions
from grader.scoring.calibration import load_calibration
from tests.conftest import EXAMPLE_SUBMISSIONS, ROOT, SEED_BANK
from tests.load.test_loader import make_bank


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


def test_help_lists_commands():
    result = run("--help")
    assert result.exit_code == 0
    for command in ("validate", "grade", "check", "models", "languages", "report"):
        assert command in result.output


def test_validate_ok_and_errors(write):
    path = make_bank(write)
    ok = run("validate", str(path))
    assert ok.exit_code == 0
    assert ok.output.startswith(
        f"OK: {path}\n"
        "What the grader does for each language of these banks:\n"
        "  en  English\n"
        "      analyser:  words at spaces and punctuation; Snowball (Porter2) stems\n"
    )
    assert "  ko  Korean\n" in ok.output
    assert "      encoder:   use-multilingual (what --model auto uses)\n" in ok.output
    broken = make_bank(write, bank=(path.read_text().replace("points: 2", "pionts: 2", 1)))
    result = run("validate", str(broken))
    assert result.exit_code == 1
    assert (
        f"Error: {broken}:7: unknown key 'pionts' in question 'q1' (did you mean 'points'?)\n"
        in result.output
    )
    assert result.output.endswith("problems found.\n")


def test_validate_json(write):
    path = make_bank(write)
    result = run("validate", str(path), "--json")
    found = json.loads(result.output)
    assert found["ok"] is True and found["problems"] == []
    assert [language["language"] for language in found["languages"]] == ["en", "ko"]
    assert set(found["languages"][0]) == {
        "language", "name", "analyser", "negation", "compounds", "encoder"
    }  # fmt: skip


def test_languages_lists_every_profile():
    result = run("languages")
    assert result.exit_code == 0
    for name in ("German", "Chinese (simplified and traditional)", "Arabic", "Thai"):
        assert name in result.output
    assert (
        "      compounds: split into dictionary words (simplemma): Sauerstoffbläschen = "
        "Sauer + stoff + bläschen, so Sauerstoff matches it\n" in result.output
    )
    assert result.output.endswith("see docs/languages.md to add one.\n")
    as_json = json.loads(run("languages", "--json").output)
    assert [found["language"] for found in as_json][:3] == ["en", "de", "fr"]


def test_usage_error_exits_2():
    assert run("grade").exit_code == 2


def test_grade_missing_bank_is_a_clean_error(tmp_path):
    result = run(
        "grade", str(tmp_path / "none.yaml"), str(EXAMPLE_SUBMISSIONS), "--out", str(tmp_path / "o")
    )
    assert result.exit_code == 1
    assert result.output == f"Error: {tmp_path / 'none.yaml'}: no such file (check the path)\n"


def test_grade_keywords_only_writes_files_and_reports_bad_rows(write, tmp_path):
    bank = make_bank(write)
    subs = write(
        "subs.csv",
        "student,question,answer\ns1,q1,BERT uses bidirectional context\ns1,q9,x\ns2,ch,y\ns2,ch/s1,a\n",
    )
    out = tmp_path / "out"
    result = run("grade", str(bank), str(subs), "--out", str(out), "--model", "none", "--no-cache")
    assert result.exit_code == 0, result.output
    assert f"Warning: {subs}:3: unknown question 'q9' (known: q1, ch/s1, ch/s2)" in result.output
    assert f"Warning: {subs}:4: 'ch' is a challenge (address a step: ch/s1, ch/s2)" in result.output
    assert "Graded 2 answers from 2 students" in result.output
    grades = (out / "grades.csv").read_text()
    assert grades.splitlines()[0] == "student,q1,ch,total,max"
    data = json.loads((out / "results.json").read_text())
    assert data["schema"] == "grader.results/1" and data["created"] is None
    assert len(data["problems"]) == 2


def test_check_json_single_line(write):
    bank = make_bank(write)
    result = run(
        "check",
        str(bank),
        "q1",
        "--answer",
        "BERT uses bidirectional context",
        "--model",
        "none",
        "--json",
    )
    assert result.exit_code == 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    document = json.loads(lines[0])
    assert document["question"] == "q1" and document["score"] == pytest.approx(2)
    assert [(c["id"], c["met"]) for c in document["criteria"]] == [("bidir", True)]
    # the student view: no flags, no evidence, no keywords
    assert (
        "flags" not in document
        and "groups" not in lines[0]
        and "bidirectional" not in str(document["criteria"])
    )


def test_check_reads_answer_interactively(write):
    bank = make_bank(write)
    result = run("check", str(bank), "q1", "--model", "none", input="양방향 문맥을 본다\n")
    assert result.exit_code == 0 and "점수: 2 / 2" in result.output


def test_check_unknown_question(write):
    bank = make_bank(write)
    result = run("check", str(bank), "q11", "--answer", "x", "--model", "none")
    assert (
        result.exit_code == 1
        and result.output == "Error: unknown question 'q11' (did you mean 'q1'?)\n"
    )


def test_python_m_grader_and_help_do_not_import_torch():
    code = "import sys, runpy; sys.argv=['grader','--help']\ntry:\n runpy.run_module('grader', run_name='__main__')\nexcept SystemExit: pass\nprint('torch' in sys.modules, 'kiwipiepy' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip().endswith("False False")


def test_validate_does_not_import_torch():
    code = (
        "import sys\nfrom grader.load.loader import validate_paths\n"
        f"validate_paths([{str(ROOT / 'banks')!r}])\nprint('torch' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"


def test_seed_bank_and_example_submissions_fit_together():
    """Every row of the example submissions answers a question of the seed bank, without a row
    problem, and every question of the bank is answered."""
    bank = load_bank(SEED_BANK)
    submissions = read_submissions(EXAMPLE_SUBMISSIONS)
    assert submissions.problems == ()
    answered = {row.question for row in submissions.rows}
    assert answered == set(bank.gradables())


def test_evaluate_and_calibrate_keywords_only(write, tmp_path):
    bank = make_bank(write)
    graded = write(
        "graded.csv",
        "student,question,answer,score\n"
        "s1,q1,BERT uses bidirectional context,2\n"
        "s2,q1,BERT reads context,1\n"
        "s3,q1,I like pasta,0\n"
        "s4,q1,both directions of context,2\n"
        "s5,q1,context,1\n"
        "s6,q1,,0\n"
        "s7,q1,bidirectional,1.5\n"
        "s8,q1,cats and dogs,0\n"
        "s9,q1,it sees the context in both directions,2\n"
        "s10,q1,left to right only,0\n"
        "s11,q1,context from both sides,1.5\n",
    )
    result = run("evaluate", str(bank), str(graded), "--model", "none", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["overall"]["n"] == 11 and document["overall"]["pearson"] > 0.5
    out = tmp_path / "cal.yaml"
    calibrated = run("calibrate", str(bank), str(graded), "--model", "none", "--out", str(out))
    assert calibrated.exit_code == 0, calibrated.output
    assert "Held-out agreement after calibration" in calibrated.output and out.is_file()
    assert calibrated.output.endswith(f"Wrote {out}\n")
    saved = load_calibration(out)
    assert (saved.bank_id, saved.answers) == ("demo", 11)
    assert saved.held_out["before"]["n"] == 11
    assert saved.held_out["before"]["pearson"] == pytest.approx(
        document["overall"]["pearson"], abs=1e-3
    )
    again = run(
        "evaluate", str(bank), str(graded), "--model", "none", "--calibration", str(out), "--json"
    )
    assert again.exit_code == 0, again.output
    recalibrated = json.loads(again.output)
    assert recalibrated["settings"]["calibration"] == str(out)
    assert recalibrated["overall"]["n"] == 11
    # Graded with what calibrate wrote, scores move only as the file says: with the defaults kept
    # (too few answers to beat them), no score changes.
    if saved.models["none"].bank.empty and not saved.models["none"].questions:
        for key in ("pearson", "qwk", "rmse", "mae"):
            assert recalibrated["overall"][key] == pytest.approx(document["overall"][key], abs=1e-4)


def test_calibrate_needs_graded_answers(write):
    bank = make_bank(write)
    result = run("calibrate", str(bank), "--out", "x.yaml")
    assert result.exit_code == 2 and "give GRADED" in result.output


def run_main(monkeypatch, *args: str) -> int:
    """grader.cli.main (the console entry point, which CliRunner does not use): its exit code."""
    monkeypatch.setattr(sys, "argv", ["grader", *args])
    previous = signal.getsignal(signal.SIGTERM)
    try:
        grader.cli.main()
    except SystemExit as done:
        return int(done.code or 0)
    finally:
        signal.signal(signal.SIGTERM, previous)  # main() turns SIGTERM into KeyboardInterrupt
    raise AssertionError("main() returned without exiting")


def test_main_reports_an_internal_error_with_exit_3(monkeypatch, capsys, tmp_path):
    def broken(*_args: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(grader.load.loader, "validate_paths", broken)
    assert run_main(monkeypatch, "validate", str(tmp_path)) == 3
    captured = capsys.readouterr()
    assert captured.err == (
        "Internal error: RuntimeError: boom\n"
        "This is a bug in grader; please report it with the command you ran.\n"
    )
    assert captured.out == ""


def test_main_exits_130_when_interrupted_and_1_when_input_ends(monkeypatch, capsys, write):
    """Ctrl-C in any command exits 130 (click turns it into Abort, which exited 1); the end of
    input at a prompt is an abort (exit 1)."""

    def interrupted(*_args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(grader.load.loader, "validate_paths", interrupted)
    assert run_main(monkeypatch, "validate", "x.yaml") == 130
    assert capsys.readouterr().err == "\nInterrupted.\n"
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert run_main(monkeypatch, "check", str(make_bank(write)), "q1", "--model", "none") == 1
    assert capsys.readouterr().err.endswith("Aborted.\n")


def test_main_turns_sigterm_into_a_clean_exit_130(monkeypatch, capsys, tmp_path):
    """SIGTERM ends a command like Ctrl-C: temporary files removed, exit 130."""
    out = tmp_path / "grades.jsonl"
    results = tmp_path / "results.json"
    assert (
        run(
            "grade",
            str(SEED_BANK),
            str(EXAMPLE_SUBMISSIONS),
            "--out",
            str(tmp_path / "o"),
            "--model",
            "none",
            "--no-cache",
        ).exit_code
        == 0
    )
    (tmp_path / "o" / "results.json").replace(results)
    real_fsync = os.fsync

    def terminated_fsync(descriptor: int) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        real_fsync(descriptor)

    monkeypatch.setattr(grader.fsutil.os, "fsync", terminated_fsync)
    assert (
        run_main(monkeypatch, "export", str(results), "--format", "jsonl", "--out", str(out)) == 130
    )
    assert capsys.readouterr().err.endswith("Interrupted.\n")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["o", "results.json"]


KOREAN_BANK = """\
id: ko-demo
title: 데모
languages: [ko, en]
questions:
  - id: q1
    points: 2
    prompt: {ko: "BERT는 무엇을 쓰나?", en: "What does BERT use?"}
    answers: {ko: "BERT는 양방향 문맥과 마스크 언어 모델을 쓴다.", en: "Bidirectional context and masked LM."}
    hint: {ko: 학습 목표를 떠올려 보세요., en: Think of the training objective.}
    rubric:
      criteria:
        - id: bidir
          points: 1
          keywords: {ko: [[양방향]], en: [[bidirectional]]}
          feedback: {met: {ko: 맞습니다., en: Right.}, missed: {ko: 방향을 언급하세요., en: Mention direction.}}
        - id: mlm
          points: 1
          keywords: {ko: [[마스크]], en: [[masked]]}
          feedback: {met: {ko: 좋습니다., en: Good.}, missed: {ko: 학습 목표를 쓰세요., en: Name the objective.}}
          hint: {ko: 가려진 단어를 생각해 보세요., en: Think of hidden words.}
"""


def test_check_speaks_only_the_answers_language(write):
    """A Korean answer gets Korean labels, the rubric's Korean feedback and hints, and none of the
    instructor's flags (a 1-of-2 score is flagged near the pass mark on the instructor's pages)."""
    bank = write("banks/ko.yaml", KOREAN_BANK)
    result = run(
        "check", str(bank), "q1", "--answer", "BERT는 양방향 문맥을 본다", "--model", "none"
    )
    assert result.exit_code == 0, result.output
    assert result.output == (
        "점수: 1 / 2\n"
        "  [충족] bidir: 맞습니다.\n"
        "  [부족] mlm: 학습 목표를 쓰세요.\n"
        "      힌트: 가려진 단어를 생각해 보세요.\n"
        "  [힌트] 학습 목표를 떠올려 보세요.\n"
    )
    hidden = run(
        "check",
        str(bank),
        "q1",
        "--answer",
        "BERT는 양방향 문맥을 본다",
        "--model",
        "none",
        "--reveal",
        "none",
    )
    assert hidden.output == (
        "점수: 1 / 2\n"
        "  [충족] bidir: 맞습니다.\n"
        "  [부족] 기준 2\n"
        "  교수자가 놓친 기준 1개의 내용은 공개하지 않기로 했습니다.\n"
    )
    english = run(
        "check",
        str(bank),
        "q1",
        "--answer",
        "BERT reads bidirectional context",
        "--model",
        "none",
        "--lang",
        "en",
    )
    assert english.output.startswith(
        "Score: 1 / 2\n  [Met] bidir: Right.\n  [Missing] mlm: Name the objective.\n"
    )
    german = run(
        "check",
        str(bank),
        "q1",
        "--answer",
        "BERT liest bidirectional",
        "--model",
        "none",
        "--lang",
        "de",
    )
    assert german.output.startswith("Punkte: ")  # no German rubric text: the labels still are


def test_check_shows_a_known_wrong_answer_without_a_second_deduction():
    """A known wrong answer earns nothing through its criteria; its feedback is shown, with no
    "Penalty" beside it (the rubric's own misconception keeps its penalty line)."""
    wrong = (
        "Decoders are smaller and cheaper than encoders, so companies switched to save on hardware."
    )
    result = run("check", str(SEED_BANK), "decoder-shift", "--answer", wrong, "--lang", "en")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Score: 0 / 4"
    assert "  [Misconception]: Today's decoders are far larger than BERT; they won because" in (
        result.output
    )
    assert "Penalty −0" not in result.output
    assert [line for line in lines if "Penalty −1:" in line], result.output
