"""End-to-end jobs behind the CLI commands: load, grade, write. No click here.

The modules only a batch command needs (pages, review, evaluation, calibration fitting) are imported
in the functions that use them: `grader check` is what a learner waits for, and importing them costs
it about 0.1 s (benchmarks/throughput.py, command latency).
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader.errors import GraderError
from grader.evidence import DEFAULT_DEVICE
from grader.evidence.embedding import load_embedder
from grader.evidence.models import auto_model_for
from grader.fsutil import staged_output
from grader.grading import GradeOptions, check_answer, grade, timed
from grader.i18n import gettext_for, label_language, ngettext_for
from grader.load.loader import load_bank
from grader.load.submissions import MAX_ANSWER_CHARS, read_submissions
from grader.output.pages import check_reveal
from grader.output.results_json import load_results
from grader.output.student_view import (
    answer_document,
    bank_policy,
    criterion_name,
    format_number,
    student_answer,
)
from grader.results import Results
from grader.review.groups import DEFAULT_THRESHOLD, answer_groups
from grader.review.override_file import load_overrides
from grader.review.overrides import apply_overrides, overrides_as_graded_rows
from grader.scoring.calibration import load_calibration

if TYPE_CHECKING:
    from grader.bank import Bank
    from grader.load.submissions import Submission
    from grader.output.student_view import StudentAnswer
    from grader.quality.evaluation import Evaluation
    from grader.quality.fit_search import CalibrationFit
    from grader.review.diff import ResultsDiff
    from grader.review.groups import AnswerGroup
    from grader.review.override_file import OverrideRow


@dataclass(frozen=True)
class GradeRequest:
    bank: Path
    submissions: str  # a path, or "-" for stdin
    out_dir: Path
    model: str | None = None
    device: str = DEFAULT_DEVICE
    cache_dir: Path | None = None
    use_cache: bool = True
    rubric_dirs: Sequence[Path] = ()
    calibration: Path | None = None
    reveal: str | None = None  # None: the bank's setting
    timestamp: bool = False
    reports: bool = True
    overrides: Path | None = None
    compare: Path | None = None  # an earlier results.json to diff against
    dry_run: bool = False  # grade and diff, write nothing
    # When a dict: seconds per stage are added to it (load, analyse, embed, score, write, render).
    timings: dict[str, float] | None = field(default=None, compare=False)


# What each command owns in its --out folder: replaced together, or removed when not written.
GRADE_OUTPUTS = (
    "results.json",
    "grades.csv",
    "index.html",
    "instructor",
    "students",
    "review",
)
RESULTS_OUTPUTS = ("results.json", "grades.csv")  # grade without the pages (reports=False)
REPORT_OUTPUTS = ("index.html", "instructor", "students")
REVIEW_OUTPUTS = ("review",)


@dataclass(frozen=True)
class Outcome:
    results: Results
    written: list[Path]
    diff: ResultsDiff | None = None  # when compared


def _options(
    request: GradeRequest,
    progress: Callable[[int, int], None] | None,
    bank_id: str | None = None,
) -> GradeOptions:
    calibration = None
    if request.calibration is not None:
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
    from grader.output.result_files import write_results
    from grader.review.diff import diff_results

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


def _load_overrides(path: Path | None) -> list[OverrideRow] | None:
    if path is None:
        return None

    return load_overrides(path)


def _previous_results(request: GradeRequest) -> Results | None:
    """The results to compare with: --compare, or for --dry-run the folder's current results."""
    if request.compare is not None:
        return load_results(request.compare)
    existing = request.out_dir / "results.json"
    if request.dry_run and existing.is_file():
        return load_results(existing)
    return None


def _apply_overrides(
    results: Results, overrides: Sequence[OverrideRow], request: GradeRequest
) -> Results:
    groups = None
    if any(row.group and "~" in row.group for row in overrides):
        groups = _meaning_groups(results, request.model, request.device)
    updated, _problems = apply_overrides(results, overrides, groups)  # also in results.problems
    settings = {**updated.settings, "overrides": str(request.overrides)}
    return replace(updated, settings=settings)


def _meaning_groups(
    results: Results, model: str | None, device: str
) -> dict[str, list[AnswerGroup]]:
    """Answer groups by meaning, for overrides that name a "~" group (multilingual by default)."""
    name = "use-multilingual" if model in (None, "auto") else model
    embed = None if name == "none" else load_embedder(name, device).encode
    return answer_groups(results, embed)


def _write_reports(
    results: Results,
    bank: Bank | None,
    request: GradeRequest,
    diff: ResultsDiff | None,
    folder: Path,
) -> list[Path]:
    from grader.output.report import write_reports
    from grader.review.diff_output import diff_section
    from grader.review.pages import write_review_pages

    sections = [_review_link_section()]
    if diff is not None:
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


@dataclass(frozen=True)
class CheckOutcome:
    """A learner's self-check of one answer: what the learner may see, and in which language."""

    question: str
    prompt: str
    view: StudentAnswer
    label_language: str  # the interface's: the answer's, else the bank's first, else English


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
    reveal: str | None = None,
) -> CheckOutcome:
    """A learner's self-check of one answer, as the student view shows it (``reveal``, else the
    bank's setting)."""
    bank = load_bank(bank_path, rubric_dirs)
    policy = bank_policy(bank, reveal)
    if len(answer) > MAX_ANSWER_CHARS:
        raise GraderError(
            f"the answer is {len(answer):,} characters long; answers over "
            f"{MAX_ANSWER_CHARS:,} characters are not graded (shorten it)"
        )
    options = GradeOptions(model=model, device=device, cache_dir=cache_dir, use_cache=use_cache)
    result = check_answer(bank, question, answer, language, options)
    gradable = bank.gradables()[question]
    view = student_answer(result, gradable, policy, bank.languages)
    return CheckOutcome(
        question=question,
        prompt=gradable.prompt.get(result.language, bank.languages),
        view=view,
        label_language=label_language(result.language, *bank.languages[:1]),
    )


def check_document(outcome: CheckOutcome) -> dict[str, Any]:
    """The self-check as JSON-ready data (the same shape as ``grader serve``'s /api/check)."""
    return {
        "ok": True,
        "question": outcome.question,
        "prompt": outcome.prompt,
        **answer_document(outcome.view, gettext_for(outcome.label_language)),
    }


def describe_check(outcome: CheckOutcome) -> str:
    """The self-check as text, every label in the answer's language."""
    _ = gettext_for(outcome.label_language)
    ngettext = ngettext_for(outcome.label_language)
    view = outcome.view
    lines = [f"{_('Score')}: {format_number(view.score)} / {format_number(view.points)}"]
    if view.overridden and view.comment:
        lines.append(f"  [{_('Comment')}] {view.comment}")
    for criterion in view.criteria:
        mark = _("Missing")
        if criterion.met:
            mark = _("Likely met") if criterion.likely else _("Met")
        line = f"  [{mark}] {criterion_name(criterion, _)}"
        if criterion.feedback:
            line += f": {criterion.feedback.text}"
        lines.append(line)
        if criterion.key_idea:
            lines.append(f"      {_('Key idea')}: {criterion.key_idea.text}")
        if criterion.hint:
            lines.append(f"      {_('Hint')}: {criterion.hint.text}")
    if view.hidden:
        lines.append(
            "  "
            + ngettext(
                "Your instructor chose not to show what the missed criterion asks for.",
                "Your instructor chose not to show what the %(num)s missed criteria ask for.",
                view.hidden,
            )
        )
    for hit in view.misconceptions:
        penalty = f" {_('Penalty')} −{format_number(hit.penalty)}" if hit.penalty else ""
        said = f": {hit.feedback.text}" if hit.feedback else ""
        lines.append(f"  [{_('Misconception')}]{penalty}{said}")
    if view.feedback:
        lines.append(f"  [{_('About this question')}] {view.feedback.text}")
    if view.hint:
        lines.append(f"  [{_('Hint')}] {view.hint.text}")
    for text in view.model_answers:
        lines.append(f"  [{_('Model answer')}] {text.text}")
    return "\n".join(lines)


def rerender(
    results_path: Path,
    out_dir: Path,
    bank_path: Path | None,
    reveal: str | None = None,
    warn: Callable[[str], None] | None = None,
) -> list[Path]:
    """Write the HTML pages again from a results file (the bank adds prompts; optional).

    Without ``bank_path`` the bank recorded in the results is used only if its sha256 is still
    the recorded one; a changed bank is left out (and ``warn`` says so). ``reveal``: what the
    student pages show (None: the bank's setting)."""
    from grader.output.report import write_reports

    if reveal is not None:
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
    device: str = DEFAULT_DEVICE,
    threshold: float = DEFAULT_THRESHOLD,
) -> list[Path]:
    """Write review pages (answer groups per question) for saved results."""
    from grader.review.pages import write_review_pages

    results = load_results(results_path)
    bank = load_bank(bank_path) if bank_path is not None else None
    embed = None
    if model != "none":
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
    device: str = DEFAULT_DEVICE
    cache_dir: Path | None = None
    use_cache: bool = True
    rubric_dirs: Sequence[Path] = ()
    calibration: Path | None = None
    overrides: Path | None = None  # calibrate: corrections as graded answers
    results: Path | None = None  # calibrate: the results the overrides were made on


def _graded_rows(request: AgreementRequest) -> tuple[Bank, list[Submission]]:
    bank = load_bank(request.bank, request.rubric_dirs)
    rows = list(read_submissions(request.graded).rows) if request.graded else []
    if request.overrides is not None:
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


def evaluate_file(
    request: AgreementRequest, out_dir: Path | None = None
) -> tuple[Evaluation, list[Path]]:
    """Grade human-scored answers and measure agreement; optionally write the HTML page."""
    from grader.quality.evaluation import evaluate, write_evaluation_page

    bank, rows = _graded_rows(request)
    evaluation = evaluate(bank, rows, _agreement_options(request))
    written = [write_evaluation_page(evaluation, out_dir)] if out_dir is not None else []
    return evaluation, written


def calibrate_file(request: AgreementRequest, out: Path) -> CalibrationFit:
    """Fit a calibration to human-scored answers (cross-validated) and save it."""
    from grader.quality.calibration import fit_calibration_with_evidence

    bank, rows = _graded_rows(request)
    fit = fit_calibration_with_evidence(bank, rows, _agreement_options(request))
    fit.calibration.save(out)
    return fit
