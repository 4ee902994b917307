"""The command line: parse options, call one library function, report GraderError as a clean error.

Exit codes: 0 ok, 1 user error (bad input), 2 usage error (bad options), 3 internal error.
"""

from __future__ import annotations

import json
import re
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from grader.errors import GraderError, format_problem, printable

T = TypeVar("T")
INTERNAL_ERROR = 3
REVEAL_CHOICES = ("none", "missed", "all")  # grader.bank.Reveal (not imported: --help stays fast)
REVEAL_HELP = (
    "What students see besides their score and the criteria they met: none, missed (what they "
    "missed, hints, feedback) or all (also model answers). Default: the bank's 'reveal' setting."
)
INTERRUPTED = 130
# Characters json.dumps(ensure_ascii=False) leaves as they are that a terminal acts on (C1
# controls) or that reorder the text around them (bidi overrides and isolates).
_RAW_IN_JSON = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def _fail(error: GraderError) -> click.ClickException:
    # ClickException exits with 1; control characters from the input are shown as escapes.
    return click.ClickException(printable(str(error), keep_newlines=True))


def call(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a library function; a GraderError becomes a click error (exit 1, no traceback)."""
    try:
        return function(*args, **kwargs)
    except GraderError as error:
        raise _fail(error) from None


def emit_json(document: Any, indent: int | None = 1) -> None:
    text = json.dumps(document, ensure_ascii=False, indent=indent)
    click.echo(_RAW_IN_JSON.sub(lambda found: f"\\u{ord(found.group()):04x}", text))


def say(message: str) -> None:
    """A line for stdout, with control characters from the input shown as escapes."""
    click.echo(printable(message, keep_newlines=True))


def warn(message: str) -> None:
    click.echo(printable(message, keep_newlines=True), err=True)


def _raise_interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


@contextmanager
def interruptible(out_dir: Path | None) -> Iterator[None]:
    """Ctrl-C or SIGTERM: stop cleanly (temporary files removed), say what ``out_dir`` holds."""
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    except KeyboardInterrupt as interrupt:
        from grader.fsutil import CommittedInterrupt

        where = f" in {out_dir}" if out_dir else ""
        if isinstance(interrupt, CommittedInterrupt):
            warn(f"Interrupted: the new outputs{where} were already in place, whole.")
        else:
            warn(f"Interrupted: nothing half-written; earlier outputs{where} are intact.")
        sys.exit(INTERRUPTED)
    finally:
        signal.signal(signal.SIGTERM, previous)


json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON document on stdout."
)
model_option = click.option(
    "--model",
    default=None,
    help="Embedding model: auto, minilm, use-multilingual, none (keywords only), "
    "or a sentence-transformers id or folder. Default: the bank's setting (auto).",
)
device_option = click.option(
    "--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N."
)
cache_options = [
    click.option(
        "--cache-dir",
        type=click.Path(path_type=Path),
        default=None,
        help="Cache folder (embeddings and language analyses).",
    ),
    click.option("--no-cache", is_flag=True, help="Do not read or write the cache."),
]
rubrics_option = click.option(
    "--rubrics",
    "rubric_dirs",
    multiple=True,
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    help="Another folder to look for rubrics in (repeatable).",
)


def with_cache_options(function: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(cache_options):
        function = option(function)
    return function


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="grader")
def cli() -> None:
    """Grade free-text answers and multi-step challenges in several languages, offline."""


@cli.command()
@click.argument("paths", nargs=-1, required=True)
@rubrics_option
@json_option
def validate(paths: tuple[str, ...], rubric_dirs: tuple[Path, ...], as_json: bool) -> None:
    """Check banks and rubrics (files or folders) and list every problem."""
    from grader.load.loader import bank_languages, validate_paths
    from grader.text.languages import describe

    problems = call(validate_paths, paths, rubric_dirs)
    languages = [] if problems else [describe(code) for code in bank_languages(paths, rubric_dirs)]
    if as_json:
        emit_json(
            {
                "ok": not problems,
                "problems": [problem.__dict__ for problem in problems],
                "languages": languages,
            }
        )
    else:
        for problem in problems:
            warn(f"Error: {problem}")
        if not problems:
            say(f"OK: {', '.join(paths)}")
            if languages:
                say("What the grader does for each language of these banks:")
                say(describe_languages(languages))
    if problems:
        if not as_json:
            warn(f"{len(problems)} problem{'s' if len(problems) != 1 else ''} found.")
        sys.exit(1)


@cli.command()
@click.argument("bank", type=click.Path(path_type=Path))
@click.argument("submissions")
@click.option(
    "--out", "out_dir", type=click.Path(path_type=Path), default=Path("reports"), show_default=True
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
        from grader.review.diff import diff_to_dict

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
        from grader.review.diff import format_diff

        say(format_diff(outcome.diff))
    if dry_run:
        say("Dry run: nothing was written.")
    say(
        f"Graded {summary.answers} answers from {summary.students} students "
        f"({summary.flagged} flagged for review, {summary.problems} row problems)."
    )
    for path in outcome.written:
        say(f"Wrote {path}")


def _warn_problems(problems: Sequence[Any]) -> None:
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


def describe_languages(languages: list[dict[str, str]]) -> str:
    lines = []
    for found in languages:
        lines.append(f"  {found['language']:<4}{found['name']}")
        for key in ("analyser", "negation", "compounds", "encoder"):
            lines.append(f"      {key + ':':<11}{found[key]}")
    return "\n".join(lines)


@cli.command()
@json_option
def languages(as_json: bool) -> None:
    """What the grader does for each language it has a profile for (and for the others)."""
    from grader.text.languages import PROFILED_LANGUAGES, describe

    found = [describe(code) for code in PROFILED_LANGUAGES]
    if as_json:
        emit_json(found)
        return
    say(describe_languages(found))
    say(
        "  Any other language: words at spaces, Snowball stems where Snowball has the language, "
        "no negation; see docs/languages.md to add one."
    )


@cli.command()
@json_option
def models(as_json: bool) -> None:
    """List the embedding models available here (packaged, cached, configured)."""
    from grader.evidence.models import auto_model_for, available_models

    found = call(available_models)
    if as_json:
        emit_json([{**model.__dict__, "languages": model.languages} for model in found])
        return
    for model in found:
        languages = ", ".join(model.languages) if model.languages else "any"
        say(
            f"{model.name:<24} {model.backend:<22} {model.source:<10} "
            f"dim={model.dimension or '?':<5} "
            f"languages: {languages}"
        )
    auto = ", ".join(f"{lang}->{auto_model_for(lang)}" for lang in ("en", "ko", "ja", "ru", "zh"))
    say(f"auto picks: {auto}")


@cli.command()
@click.argument("results_file", type=click.Path(path_type=Path))
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True)
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
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True)
@click.option(
    "--model",
    default="none",
    show_default=True,
    help="Also group answers that mean the same (auto, minilm, use-multilingual, ...); "
    "none: the same text only.",
)
@device_option
@click.option("--threshold", type=click.FloatRange(0, 1), default=0.92, show_default=True)
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


def _agreement_request(**options: Any) -> Any:
    from grader.pipeline import AgreementRequest

    return AgreementRequest(
        bank=options["bank"],
        graded=options["graded"],
        model=options["model"],
        device=options["device"],
        cache_dir=options["cache_dir"],
        use_cache=not options["no_cache"],
        rubric_dirs=options["rubric_dirs"],
        calibration=options.get("calibration"),
        overrides=options.get("overrides"),
        results=options.get("results"),
    )


def _print_evaluation(evaluation: Any, title: str = "") -> None:
    from grader.quality.evaluation import format_agreement

    if title:
        say(title)
    width = max([len("overall"), *(len(question) for question in evaluation.questions)])
    say(f"  {'overall':<{width}} {format_agreement(evaluation.overall)}")
    for question, agreement in evaluation.questions.items():
        say(f"  {question:<{width}} {format_agreement(agreement)}")


@cli.command()
@click.argument("bank", type=click.Path(path_type=Path))
@click.argument("graded")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Write an HTML page here.",
)
@click.option(
    "--calibration", type=click.Path(path_type=Path), default=None, help="A calibration.yaml."
)
@model_option
@device_option
@with_cache_options
@rubrics_option
@json_option
def evaluate(out_dir: Path | None, as_json: bool, **options: Any) -> None:
    """Agreement with human scores: GRADED is a submissions file with a score column."""
    from grader.pipeline import evaluate_file
    from grader.quality.evaluation import evaluation_to_dict

    evaluation, written = call(evaluate_file, _agreement_request(**options), out_dir)
    if as_json:
        emit_json(
            {"ok": True, **evaluation_to_dict(evaluation), "files": [str(p) for p in written]}
        )
        return
    _print_evaluation(evaluation, f"Agreement with the human scores ({evaluation.bank}):")
    for path in written:
        say(f"Wrote {path}")


@cli.command()
@click.argument("bank", type=click.Path(path_type=Path))
@click.argument("graded", required=False, default="")
@click.option(
    "--out", type=click.Path(path_type=Path), required=True, help="The calibration.yaml to write."
)
@click.option(
    "--overrides",
    type=click.Path(path_type=Path),
    default=None,
    help="Use instructor overrides as graded answers too.",
)
@click.option(
    "--results",
    type=click.Path(path_type=Path),
    default=None,
    help="The results.json the overrides were made on.",
)
@model_option
@device_option
@with_cache_options
@rubrics_option
@json_option
def calibrate(out: Path, as_json: bool, **options: Any) -> None:
    """Fit the scoring parameters to human-scored answers (GRADED and/or --overrides)."""
    from grader.pipeline import calibrate_file
    from grader.quality.evaluation import evaluation_to_dict

    if not options["graded"] and options["overrides"] is None:
        raise click.UsageError("give GRADED (answers with a score column) or --overrides")
    fit = call(calibrate_file, _agreement_request(**options), out)
    if as_json:
        emit_json(
            {
                "ok": True,
                "file": str(out),
                "before": evaluation_to_dict(fit.before),
                "after": evaluation_to_dict(fit.after),
            }
        )
        return
    _print_evaluation(fit.before, "Held-out agreement before calibration:")
    _print_evaluation(fit.after, "Held-out agreement after calibration (cross-validated):")
    say(f"Wrote {out}")


@cli.command(name="import")
@click.argument("source", type=click.Path(path_type=Path))
@click.option(
    "--out", type=click.Path(path_type=Path), required=True, help="The bank file to write."
)
@click.option(
    "--lang", "language", default="en", show_default=True, help="The language of the questions."
)
@click.option("--id", "bank_id", default=None, help="The bank's id (default: from the file name).")
@json_option
def import_(source: Path, out: Path, language: str, bank_id: str | None, as_json: bool) -> None:
    """Import a Moodle XML or GIFT question file as a bank."""
    from grader.lms.import_ import import_questions, write_bank_yaml

    result = call(import_questions, source, language, bank_id)
    call(write_bank_yaml, result, out)
    if as_json:
        emit_json(
            {
                "ok": True,
                "format": result.format,
                "questions": len(result.bank.get("questions", [])),
                "skipped": result.skipped,
                "notes": result.notes,
                "file": str(out),
            }
        )
        return
    for skipped in result.skipped:
        warn(f"Skipped: {skipped}")
    for note in result.notes:
        warn(f"Note: {note}")
    count = len(result.bank.get("questions", []))
    say(f"Imported {count} questions from {source} ({result.format}) into {out}")


@cli.command()
@click.argument("results_file", type=click.Path(path_type=Path))
@click.option(
    "--format", "fmt", type=click.Choice(["moodle-csv", "canvas-csv", "jsonl"]), required=True
)
@click.option("--out", type=click.Path(path_type=Path), required=True)
@click.option(
    "--roster",
    type=click.Path(path_type=Path),
    default=None,
    help="Maps student ids to LMS identities.",
)
@click.option(
    "--gradebook",
    type=click.Path(path_type=Path),
    default=None,
    help="canvas-csv: a Canvas gradebook export; its assignments and students are reused.",
)
@click.option(
    "--items",
    type=click.Choice(["questions", "total", "both"]),
    default="questions",
    show_default=True,
    help="Grade items: one per question, the bank total, or both.",
)
@click.option("--identifier", default=None, help="Moodle's identifier column: email or idnumber.")
@click.option(
    "--feedback", is_flag=True, help="moodle-csv, jsonl: add each question's feedback text."
)
@click.option(
    "--reveal",
    type=click.Choice(["none", "missed", "all"]),
    default="missed",
    show_default=True,
    help="With --feedback: what feedback students may see, as for the student pages.",
)
@click.option(
    "--allow-unmatched",
    is_flag=True,
    help="Exit 0 even when students the LMS cannot match are left out.",
)
@json_option
def export(
    results_file: Path,
    fmt: str,
    out: Path,
    roster: Path | None,
    gradebook: Path | None,
    items: str,
    identifier: str | None,
    feedback: bool,
    reveal: str,
    allow_unmatched: bool,
    as_json: bool,
) -> None:
    """Export grades from a results.json for Moodle, Canvas or scripts."""
    from grader.lms.export import export_grades, unmatched_path, write_export
    from grader.results import load_results

    results = call(load_results, results_file)
    result = call(
        export_grades,
        results,
        fmt,
        roster,
        items=items,
        identifier=identifier,
        gradebook=gradebook,
        feedback=feedback,
        reveal=reveal,
    )
    written = call(write_export, result, out)
    left_out = bool(result.unmatched_text)
    if as_json:
        emit_json(
            {
                "ok": allow_unmatched or not left_out,
                "format": fmt,
                "file": str(out),
                "unmatched": result.unmatched,
                "unmatched_file": str(written[1]) if left_out else None,
                "notices": result.notices,
            }
        )
    else:
        for notice in result.notices:
            warn(notice)
        if result.unmatched and not left_out:
            warn(
                "Not in the roster (exported under their grader id): " + ", ".join(result.unmatched)
            )
        say(f"Wrote {out} ({fmt})")
    if not left_out:
        return
    names = ", ".join(result.unmatched)
    message = (
        f"{len(result.unmatched)} student(s) left out of {out}, the LMS could not match them: "
        f"{names}; their grades are in {unmatched_path(out)}"
    )
    if allow_unmatched:
        if not as_json:
            warn(message)
        return
    raise click.ClickException(
        printable(message + " (fix the roster and export again, or pass --allow-unmatched)")
    )


@cli.command()
@click.argument("banks", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--data",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Where attempts (SQLite) and the cache go. Default: beside the cache, printed at start.",
)
@click.option(
    "--access-code",
    default=None,
    envvar="GRADER_ACCESS_CODE",
    help="A code learners type once; required for any --host but 127.0.0.1 "
    "(or set GRADER_ACCESS_CODE).",
)
@click.option("--workers", default=1, show_default=True, type=int, help="Server processes.")
@click.option(
    "--rate-limit", default=30, show_default=True, type=int, help="Checks a minute per client."
)
@click.option(
    "--max-answer", default=5000, show_default=True, type=int, help="Characters an answer may have."
)
@click.option("--reveal", type=click.Choice(REVEAL_CHOICES), default=None, help=REVEAL_HELP)
@model_option
@device_option
@rubrics_option
def serve(
    banks: tuple[Path, ...],
    host: str,
    port: int,
    data: Path | None,
    access_code: str | None,
    workers: int,
    rate_limit: int,
    max_answer: int,
    reveal: str | None,
    model: str | None,
    device: str,
    rubric_dirs: tuple[Path, ...],
) -> None:
    """Serve BANKS to learners in the browser: pick a question, answer, get feedback."""
    from grader.serve.server import ServeConfig, check_config
    from grader.serve.server import serve as run_server

    config = ServeConfig(
        banks=banks,
        host=host,
        port=port,
        data=data,
        access_code=access_code,
        workers=workers,
        rate_limit=rate_limit,
        max_answer=max_answer,
        model=model,
        device=device,
        rubric_dirs=rubric_dirs,
        reveal=reveal,
    )
    call(check_config, config)
    call(run_server, config, click.echo)


@cli.command()
@click.argument("data", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The submissions file to write (.csv, or .jsonl for JSON Lines).",
)
@click.option(
    "--last", "pick", flag_value="last", default=True, help="Each learner's last attempt."
)
@click.option("--best", "pick", flag_value="best", help="Each learner's best attempt.")
@click.option("--bank", default=None, help="The bank's id (needed when DATA holds several).")
@json_option
def attempts(data: Path, out: Path, pick: str, bank: str | None, as_json: bool) -> None:
    """Write what learners tried in grader serve (its --data folder) as a submissions file."""
    from grader.serve.attempts import export_attempts

    written = call(export_attempts, data, out, pick, bank)
    if as_json:
        emit_json({"ok": True, "file": str(out), "attempts": len(written), "pick": pick})
        return
    learners = len({attempt.student for attempt in written})
    click.echo(
        f"Wrote {out}: {len(written)} answers ({pick} attempt each) from {learners} learners"
    )


def main() -> None:
    """Entry point: exit 3 with a short message for anything unexpected; 130 when interrupted
    (Ctrl-C or SIGTERM, after temporary files are removed)."""
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort as abort:
        if isinstance(abort.__cause__, KeyboardInterrupt):  # click turns Ctrl-C into Abort
            warn("Interrupted.")
            sys.exit(INTERRUPTED)
        warn("Aborted.")  # end of input at a prompt
        sys.exit(1)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        warn("Interrupted.")
        sys.exit(INTERRUPTED)
    except Exception as error:
        warn(f"Internal error: {type(error).__name__}: {error}")
        warn("This is a bug in grader; please report it with the command you ran.")
        sys.exit(INTERNAL_ERROR)
    sys.exit(0)
