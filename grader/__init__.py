"""grader: grade free-text answers and multi-step challenges in several languages, with evidence.

The library API (the CLI uses only this)::

    from grader import load_bank, read_submissions, grade, GradeOptions, write_results

    bank = load_bank("banks/transformer-triad.yaml")
    submissions = read_submissions("banks/examples/submissions.csv")
    results = grade(bank, submissions.rows, GradeOptions(model="auto"), submissions.problems)
    write_results(results, Path("reports/example"))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "GraderError": "grader.errors",
    "ValidationError": "grader.errors",
    "Problem": "grader.errors",
    "load_bank": "grader.load.loader",
    "load_rubric": "grader.load.rubric",
    "validate_paths": "grader.load.loader",
    "read_submissions": "grader.load.submissions",
    "Submission": "grader.load.submissions",
    "grade": "grader.grading",
    "check_answer": "grader.grading",
    "GradeOptions": "grader.grading",
    "Results": "grader.results",
    "load_results": "grader.output.results_json",
    "write_results": "grader.output.result_files",
    "grades_csv": "grader.output.result_files",
}

__all__ = [
    "GradeOptions",
    "GraderError",
    "Problem",
    "Results",
    "Submission",
    "ValidationError",
    "check_answer",
    "grade",
    "grades_csv",
    "load_bank",
    "load_results",
    "load_rubric",
    "read_submissions",
    "validate_paths",
    "write_results",
]

if TYPE_CHECKING:
    from grader.errors import GraderError, Problem, ValidationError
    from grader.grading import GradeOptions, check_answer, grade
    from grader.load.loader import load_bank, validate_paths
    from grader.load.rubric import load_rubric
    from grader.load.submissions import Submission, read_submissions
    from grader.output.result_files import grades_csv, write_results
    from grader.output.results_json import load_results
    from grader.results import Results


def __getattr__(name: str) -> Any:
    """Import lazily so that ``import grader`` stays light (no torch, no analysers)."""
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'grader' has no attribute {name!r}")
