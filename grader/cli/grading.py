"""grader grade, check, report and review."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from grader.bank import REVEAL_CHOICES
from grader.cli.common import (
    REVEAL_HELP,
    call,
    cli,
    device_option,
    emit_json,
    interruptible,
    json_option,
    model_option,
    rubrics_option,
    say,
    warn,
    with_cache_options,
)
from grader.errors import format_problem
from grader.review import DEFAULT_THRESHOLD

if TYPE_CHECKING:
    from grader.results import ProblemRecord


@cli.command()
@click.argument("bank", type=click.Path(path_type=Path))
@click.argument("submissions")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=Path("reports"),
    show_default=True,
    help="The folder for results.json, grades.csv and the pages.",
)
@model_option
@device_option
@with_cache_options
@rubrics_option
@click.option(
    "--calibration", type=click.Path(path_type=Path), default=None, help="A calibration.yaml."
)
@click.option(
    "--reveal",
    type=click.Choice(REVEAL_CHOICES),
    default=None,
    help=REVEAL_HELP,
)
@click.option(
    "--timestamp", is_flag=True, help="Record the time in results.json (off: identical reruns)."
)
@click.option(
    "--overrides",
    type=click.Path(path_type=Path),
    default=None,
    help="Instructor overrides (CSV or YAML).",
)
@click.option(
    "--compare",
    type=click.Path(path_type=Path),
    default=None,
    help="An earlier results.json to diff against.",
)
@click.option("--dry-run", is_flag=True, help="Grade and show what would change; write nothing.")
@json_option
def grade(
    bank: Path,
    submissions: str,
    out_dir: Path,
    model: str | None,
    device: str,
    cache_dir: Path | None,
    no_cache: bool,
    rubric_dirs: tuple[Path, ...],
    calibration: Path | None,
    reveal: str | None,
    timestamp: bool,
    overrides: Path | None,
    compare: Path | None,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Grade SUBMISSIONS (CSV or JSON Lines, - for stdin) against BANK; write results to --out."""
    from grader.pipeline import GradeRequest, grade_to_folder

    request = GradeRequest(
        bank=bank,
        submissions=submissions,
        out_dir=out_dir,
        model=model,
        device=device,
        cache_dir=cache_dir,
        use_cache=not no_cache,
        rubric_dirs=rubric_dirs,
        calibration=calibration,
        reveal=reveal,
        timestamp=timestamp,
        overrides=overrides,
        compare=compare,
        dry_run=dry_run,
    )
    with interruptible(out_dir), _progress_bar() as progress:
        outcome = call(grade_to_folder, request, progress)
    _warn_problems(outcome.results.problems)
    summary = outcome.results.summary
    if as_json:
        from grader.review.diff_output import diff_to_dict

        emit_json(
            {
                "ok": True,
                "students": summary.students,
                "answers": summary.answers,
                "flagged": summary.flagged,
                "problems": summary.problems,
                "files": [str(path) for path in outcome.written],
                "diff": diff_to_dict(outcome.diff) if outcome.diff is not None else None,
            }
        )
        return
    if outcome.diff is not None:
        from grader.review.diff_output import format_diff

        say(format_diff(outcome.diff))
    if dry_run:
        say("Dry run: nothing was written.")
    say(
        f"Graded {summary.answers} answers from {summary.students} students "
        f"({summary.flagged} flagged for review, {summary.problems} row problems)."
    )
    for path in outcome.written:
        say(f"Wrote {path}")


def _warn_problems(problems: Sequence[ProblemRecord]) -> None:
    """Each row problem on its own line; past the first hundred, a count per kind."""
    from grader.output.statistics import MAX_LISTED_PROBLEMS, problem_kinds

    for problem in problems[:MAX_LISTED_PROBLEMS]:
        warn("Warning: " + format_problem(problem.file, problem.line, problem.message, problem.fix))
    if len(problems) > MAX_LISTED_PROBLEMS:
        hidden = len(problems) - MAX_LISTED_PROBLEMS
        warn(f"Warning: {hidden} more row problems (results.json lists them all), by kind:")
        for kind in problem_kinds(problems):
            warn(f"  {kind.count} × {kind.message}")


@contextmanager
def _progress_bar() -> Iterator[Callable[[int, int], None] | None]:
    if not sys.stderr.isatty():
        yield None
        return
    state: dict[str, Any] = {}

    def update(done: int, total: int) -> None:
        if "bar" not in state:
            state["bar"] = click.progressbar(length=total, label="Grading", file=sys.stderr)
            state["bar"].__enter__()
        state["bar"].update(done - state.get("done", 0))
        state["done"] = done

    try:
        yield update
    finally:
        if "bar" in state:
            state["bar"].__exit__(None, None, None)


@cli.command()
@click.argument("bank", type=click.Path(path_type=Path))
@click.argument("question")
@click.option("--answer", default=None, help="The answer text, or - to read it from stdin.")
@click.option(
    "--lang", "language", default=None, help="The answer's language (detected if omitted)."
)
@click.option("--reveal", type=click.Choice(REVEAL_CHOICES), default=None, help=REVEAL_HELP)
@model_option
@device_option
@with_cache_options
@rubrics_option
@json_option
def check(
    bank: Path,
    question: str,
    answer: str | None,
    language: str | None,
    reveal: str | None,
    model: str | None,
    device: str,
    cache_dir: Path | None,
    no_cache: bool,
    rubric_dirs: tuple[Path, ...],
    as_json: bool,
) -> None:
    """Self-check one answer to QUESTION: score, what was met, what is missing."""
    from grader.pipeline import check_document, check_one, describe_check

    if answer == "-":
        answer = sys.stdin.read()
    elif answer is None:
        answer = click.prompt("Your answer", err=True)
    outcome = call(
        check_one,
        bank,
        question,
        answer or "",
        language,
        model,
        device,
        cache_dir,
        not no_cache,
        rubric_dirs,
        reveal,
    )
    if as_json:
        emit_json(check_document(outcome), indent=None)
    else:
        say(describe_check(outcome))


@cli.command()
@click.argument("results_file", type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    required=True,
    help="The folder for the pages (results.json stays where it is).",
)
@click.option(
    "--bank",
    type=click.Path(path_type=Path),
    default=None,
    help="The bank (default: the one recorded in the results).",
)
@click.option("--reveal", type=click.Choice(REVEAL_CHOICES), default=None, help=REVEAL_HELP)
@json_option
def report(
    results_file: Path, out_dir: Path, bank: Path | None, reveal: str | None, as_json: bool
) -> None:
    """Re-render the HTML pages from a saved results.json, without re-grading."""
    from grader.pipeline import rerender

    with interruptible(out_dir):
        written = call(rerender, results_file, out_dir, bank, reveal, _warning)
    if as_json:
        emit_json({"ok": True, "files": [str(path) for path in written]})
        return
    say(f"Wrote {len(written)} pages to {out_dir}")


def _warning(message: str) -> None:
    warn(f"Warning: {message}")


@cli.command()
@click.argument("bank", type=click.Path(path_type=Path))
@click.argument("results_file", type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    required=True,
    help="The folder for the review pages (review/).",
)
@click.option(
    "--model",
    default="none",
    show_default=True,
    help="Also group answers that mean the same (auto, minilm, use-multilingual, ...); "
    "none: the same text only.",
)
@device_option
@click.option(
    "--threshold",
    type=click.FloatRange(0, 1),
    default=DEFAULT_THRESHOLD,
    show_default=True,
    help="Cosine at which two answers join one meaning group (with --model).",
)
@json_option
def review(
    bank: Path,
    results_file: Path,
    out_dir: Path,
    model: str,
    device: str,
    threshold: float,
    as_json: bool,
) -> None:
    """Write review pages: each question's answers in groups, needs-review first."""
    from grader.pipeline import review_to_folder

    with interruptible(out_dir):
        written = call(review_to_folder, bank, results_file, out_dir, model, device, threshold)
    if as_json:
        emit_json({"ok": True, "files": [str(path) for path in written]})
        return
    say(f"Wrote {len(written)} review pages to {out_dir / 'review'}")
