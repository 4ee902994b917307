"""End-to-end jobs behind the CLI commands: load, grade, write. No click here."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from grader.grading import GradeOptions, check_answer, grade, timed
from grader.loader import load_bank
from grader.results import AnswerResult, Results, to_dict
from grader.submissions import read_submissions


@dataclass(frozen=True)
class GradeRequest:
    bank: Path
    submissions: str  # a path, or "-" for stdin
    out_dir: Path
    model: str | None = None
    device: str = "auto"
    cache_dir: Path | None = None
    use_cache: bool = True
    rubric_dirs: Sequence[Path] = ()
    calibration: Path | None = None
    reveal: str = "missed"
    timestamp: bool = False
    reports: bool = True
    overrides: Path | None = None
    compare: Path | None = None  # an earlier results.json to diff against
    dry_run: bool = False  # grade and diff, write nothing
    # When a dict: seconds per stage are added to it (load, analyse, embed, score, write, render).
    timings: dict[str, float] | None = field(default=None, compare=False)


# What each command owns in its --out folder: replaced together, or removed when not written.
GRADE_OUTPUTS = ("results.json", "grades.csv", "index.html", "students", "review")
RESULTS_OUTPUTS = ("results.json", "grades.csv")  # grade without the pages (reports=False)
REPORT_OUTPUTS = ("index.html", "students")
REVIEW_OUTPUTS = ("review",)


@dataclass(frozen=True)
class Outcome:
    results: Results
    written: list[Path]
    diff: Any = None  # grader.diff.ResultsDiff when compared


def _options(
    request: GradeRequest,
    progress: Callable[[int, int], None] | None,
    bank_id: str | None = None,
) -> GradeOptions:
    calibration = None
    if request.calibration is not None:
        from grader.calibration import load_calibration

        calibration = load_calibration(request.calibration)
        if bank_id is not None:
            calibration.check_bank(bank_id)
    return GradeOptions(
        model=request.model,
        device=request.device,
        cache_dir=request.cache_dir,
        use_cache=request.use_cache,
        calibration=calibration,
        timestamp=request.timestamp,
        progress=progress,
        timings=request.timings,
    )


def grade_to_folder(
    request: GradeRequest, progress: Callable[[int, int], None] | None = None
) -> Outcome:
    """Grade a submissions file and write results.json, grades.csv and the HTML pages.

    The outputs are written into a fresh folder inside ``out_dir`` and swapped in together when
    all are written (grader.fsutil.staged_output): an interruption leaves the earlier outputs as
    they were, and ``out_dir`` is locked against a second run meanwhile."""
    from grader.export import write_results
    from grader.fsutil import staged_output

    with contextlib.ExitStack() as stack:
        with timed(request.timings, "load"):
            bank = load_bank(request.bank, request.rubric_dirs)
            overrides = _load_overrides(request.overrides)
            previous = _previous_results(request)
            submissions = read_submissions(request.submissions)
            owned = GRADE_OUTPUTS if request.reports else RESULTS_OUTPUTS
            # Before grading: an unwritable or busy folder fails fast.
            output = (
                None
                if request.dry_run
                else stack.enter_context(staged_output(request.out_dir, owned))
            )
        results = grade(
            bank,
            submissions.rows,
            _options(request, progress, bank.id),
            submissions.problems,
            submissions.path,
        )
        if overrides is not None:
            results = _apply_overrides(results, overrides, request)
        diff = None
        if previous is not None:
            from grader.diff import diff_results

            diff = diff_results(previous, results)
        if output is None:
            return Outcome(results, [], diff)
        with timed(request.timings, "write"):
            written = write_results(results, output.folder)
        if request.reports:
            with timed(request.timings, "render"):
                written.extend(_write_reports(results, bank, request, diff, output.folder))
        finals = [output.final(path) for path in written]
    return Outcome(results, finals, diff)


def _load_overrides(path: Path | None) -> Any:
    if path is None:
        return None
    from grader.overrides import load_overrides

    return load_overrides(path)


def _previous_results(request: GradeRequest) -> Results | None:
    """The results to compare with: --compare, or for --dry-run the folder's current results."""
    from grader.results import load_results

    if request.compare is not None:
        return load_results(request.compare)
    existing = request.out_dir / "results.json"
    if request.dry_run and existing.is_file():
        return load_results(existing)
    return None


def _apply_overrides(results: Results, overrides: Any, request: GradeRequest) -> Results:
    from grader.overrides import apply_overrides

    groups = None
    if any(row.group and "~" in row.group for row in overrides):
        groups = _meaning_groups(results, request.model, request.device)
    updated, _problems = apply_overrides(results, overrides, groups)  # also in results.problems
    settings = {**updated.settings, "overrides": str(request.overrides)}
    return replace(updated, settings=settings)


def _meaning_groups(results: Results, model: str | None, device: str) -> Any:
    """Answer groups by meaning, for overrides that name a "~" group (multilingual by default)."""
    from grader.embedding import load_embedder
    from grader.review import answer_groups

    name = "use-multilingual" if model in (None, "auto") else model
    embed = None if name == "none" else load_embedder(name, device).encode
    return answer_groups(results, embed)


def _write_reports(
    results: Results, bank: Any, request: GradeRequest, diff: Any, folder: Path
) -> list[Path]:
    from grader.report import write_reports
    from grader.review import answer_groups, write_review_pages

    sections = [_review_link_section()]
    if diff is not None:
        from grader.diff import diff_section

        sections.insert(0, diff_section(diff))
    written: list[Path] = write_reports(
        results, bank, folder, reveal=request.reveal, extra_sections=sections
    )
    written.extend(write_review_pages(results, answer_groups(results), bank, folder))
    return written


def _review_link_section() -> tuple[str, str]:
    from markupsafe import Markup

    html = Markup(
        '<p><a href="review/index.html">Answer groups per question</a>: grade a group once, '
        "answers that need review first.</p>"
    )
    return ("Review", html)


def check_one(
    bank_path: Path,
    question: str,
    answer: str,
    language: str | None,
    model: str | None,
    device: str,
    cache_dir: Path | None,
    use_cache: bool,
    rubric_dirs: Sequence[Path] = (),
) -> dict[str, Any]:
    """A learner's self-check of one answer, as a JSON-ready document."""
    from grader.errors import GraderError
    from grader.submissions import MAX_ANSWER_CHARS

    bank = load_bank(bank_path, rubric_dirs)
    if len(answer) > MAX_ANSWER_CHARS:
        raise GraderError(
            f"the answer is {len(answer):,} characters long; answers over "
            f"{MAX_ANSWER_CHARS:,} characters are not graded (shorten it)"
        )
    options = GradeOptions(model=model, device=device, cache_dir=cache_dir, use_cache=use_cache)
    result = check_answer(bank, question, answer, language, options)
    gradable = bank.gradables()[question]
    document: dict[str, Any] = {
        "ok": True,
        "question": question,
        "prompt": gradable.prompt.get(result.language, bank.languages),
        **_check_fields(result),
    }
    return document


def _check_fields(result: AnswerResult) -> dict[str, Any]:
    data = to_dict(result)
    return {
        "score": result.score,
        "points": result.points,
        "language": result.language,
        "met": [c.id for c in result.criteria if c.met],
        "missing": [c.id for c in result.criteria if not c.met],
        "feedback": [c.feedback for c in result.criteria if c.feedback],
        "misconceptions": [{"id": m.id, "feedback": m.feedback} for m in result.misconceptions],
        "flags": [{"code": f.code, "reason": f.reason} for f in result.flags],
        "criteria": data["criteria"],
    }


def describe_check(outcome: dict[str, Any]) -> str:
    """The self-check as text, with labels in the answer's language."""
    from grader.labels import labels_for

    labels = labels_for(outcome["language"])
    lines = [f"{labels['score']}: {outcome['score']:g} / {outcome['points']:g}"]
    for criterion in outcome["criteria"]:
        mark = labels["met"] if criterion["met"] else labels["missed"]
        line = f"  [{mark}] {criterion['id']}"
        if criterion["feedback"]:
            line += f": {criterion['feedback']}"
        lines.append(line)
    for misconception in outcome["misconceptions"]:
        lines.append(
            f"  [{labels['misconception']}] {misconception['id']}: {misconception['feedback']}"
        )
    for flag in outcome["flags"]:
        lines.append(f"  [{labels['review']}] {flag['reason']}")
    return "\n".join(lines)


def rerender(
    results_path: Path,
    out_dir: Path,
    bank_path: Path | None,
    reveal: str,
    warn: Callable[[str], None] | None = None,
) -> list[Path]:
    """Write the HTML pages again from a results file (the bank adds prompts; optional).

    Without ``bank_path`` the bank recorded in the results is used only if its sha256 is still
    the recorded one; a changed bank is left out (and ``warn`` says so)."""
    from grader.fsutil import staged_output
    from grader.report import check_reveal, write_reports
    from grader.results import load_results

    check_reveal(reveal)
    results = load_results(results_path)
    bank = None
    if bank_path is not None:
        bank = load_bank(bank_path)  # a missing file is a clear "no such file" error
    elif results.bank.path and Path(results.bank.path).is_file():
        recorded = Path(results.bank.path)
        if _sha256(recorded) == results.bank.sha256:
            bank = load_bank(recorded)
        elif warn is not None:
            warn(
                f"{recorded}: the bank changed since grading (its sha256 is not the one in "
                f"{results_path}); the pages leave out its prompts and model answers "
                "(give --bank to use it anyway)"
            )
    with staged_output(out_dir, REPORT_OUTPUTS) as output:
        written = write_reports(results, bank, output.folder, reveal=reveal)
        return [output.final(path) for path in written]


def _sha256(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""


def review_to_folder(
    bank_path: Path | None,
    results_path: Path,
    out_dir: Path,
    model: str = "none",
    device: str = "auto",
    threshold: float = 0.92,
) -> list[Path]:
    """Write review pages (answer groups per question) for saved results."""
    from grader.fsutil import staged_output
    from grader.results import load_results
    from grader.review import answer_groups, write_review_pages

    results = load_results(results_path)
    bank = load_bank(bank_path) if bank_path is not None else None
    embed = None
    if model != "none":
        from grader.embedding import auto_model_for, load_embedder

        name = auto_model_for(results.bank.languages[0] if results.bank.languages else "en")
        embed = load_embedder(name if model == "auto" else model, device).encode
    groups = answer_groups(results, embed, threshold)
    with staged_output(out_dir, REVIEW_OUTPUTS) as output:
        written = write_review_pages(results, groups, bank, output.folder)
        return [output.final(path) for path in written]


@dataclass(frozen=True)
class AgreementRequest:
    bank: Path
    graded: str  # a submissions file with a score column ("-": stdin)
    model: str | None = None
    device: str = "auto"
    cache_dir: Path | None = None
    use_cache: bool = True
    rubric_dirs: Sequence[Path] = ()
    calibration: Path | None = None
    overrides: Path | None = None  # calibrate: corrections as graded answers
    results: Path | None = None  # calibrate: the results the overrides were made on


def _graded_rows(request: AgreementRequest) -> tuple[Any, list[Any]]:
    bank = load_bank(request.bank, request.rubric_dirs)
    rows = list(read_submissions(request.graded).rows) if request.graded else []
    if request.overrides is not None:
        from grader.overrides import load_overrides, overrides_as_graded_rows
        from grader.results import load_results

        source = request.results or Path("reports") / "results.json"
        rows.extend(
            overrides_as_graded_rows(load_results(source), load_overrides(request.overrides))
        )
    return bank, rows


def _agreement_options(request: AgreementRequest) -> GradeOptions:
    grade_request = GradeRequest(
        bank=request.bank,
        submissions=request.graded,
        out_dir=Path("."),
        model=request.model,
        device=request.device,
        cache_dir=request.cache_dir,
        use_cache=request.use_cache,
        calibration=request.calibration,
    )
    return _options(grade_request, None)


def evaluate_file(request: AgreementRequest, out_dir: Path | None = None) -> tuple[Any, list[Path]]:
    """Grade human-scored answers and measure agreement; optionally write the HTML page."""
    from grader.evaluation import evaluate, write_evaluation_page

    bank, rows = _graded_rows(request)
    evaluation = evaluate(bank, rows, _agreement_options(request))
    written = [write_evaluation_page(evaluation, out_dir)] if out_dir is not None else []
    return evaluation, written


def calibrate_file(request: AgreementRequest, out: Path) -> Any:
    """Fit a calibration to human-scored answers (cross-validated) and save it."""
    from grader.calibration import fit_calibration_with_evidence

    bank, rows = _graded_rows(request)
    fit = fit_calibration_with_evidence(bank, rows, _agreement_options(request))
    fit.calibration.save(out)
    return fit
