"""End-to-end jobs behind the CLI commands: load, grade, write. No click here."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.grading import GradeOptions, check_answer, grade
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


@dataclass(frozen=True)
class Outcome:
    results: Results
    written: list[Path]


def _options(request: GradeRequest, progress: Callable[[int, int], None] | None) -> GradeOptions:
    calibration = None
    if request.calibration is not None:
        from grader.calibration import load_calibration

        calibration = load_calibration(request.calibration)
    return GradeOptions(
        model=request.model,
        device=request.device,
        cache_dir=request.cache_dir,
        use_cache=request.use_cache,
        calibration=calibration,
        timestamp=request.timestamp,
        progress=progress,
    )


def grade_to_folder(
    request: GradeRequest, progress: Callable[[int, int], None] | None = None
) -> Outcome:
    """Grade a submissions file and write results.json, grades.csv and the HTML pages."""
    from grader.export import write_results
    from grader.fsutil import ensure_folder

    bank = load_bank(request.bank, request.rubric_dirs)
    ensure_folder(request.out_dir)
    submissions = read_submissions(request.submissions)
    results = grade(
        bank, submissions.rows, _options(request, progress), submissions.problems, submissions.path
    )
    written = write_results(results, request.out_dir)
    if request.reports:
        written.extend(_write_reports(results, bank, request))
    return Outcome(results, written)


def _write_reports(results: Results, bank: Any, request: GradeRequest) -> list[Path]:
    try:
        from grader.report import write_reports
    except ImportError:  # the HTML stage is optional while it is being built
        return []
    written: list[Path] = write_reports(results, bank, request.out_dir, reveal=request.reveal)
    return written


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
    bank = load_bank(bank_path, rubric_dirs)
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


def rerender(results_path: Path, out_dir: Path, bank_path: Path | None, reveal: str) -> list[Path]:
    """Write the HTML pages again from a results file (the bank adds prompts; optional)."""
    from grader.report import write_reports
    from grader.results import load_results

    results = load_results(results_path)
    bank = None
    source = bank_path or (Path(results.bank.path) if results.bank.path else None)
    if source is not None and source.is_file():
        bank = load_bank(source)
    elif bank_path is not None:
        load_bank(bank_path)  # raises the clear "no such file" error
    written: list[Path] = write_reports(results, bank, out_dir, reveal=reveal)
    return written
