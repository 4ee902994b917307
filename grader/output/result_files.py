"""Machine-readable outputs: results.json and the grades.csv gradebook."""

from __future__ import annotations

from pathlib import Path

from grader.fsutil import atomic_write, csv_text
from grader.output.results_json import results_json_chunks
from grader.output.student_view import Display, shown_scores
from grader.results import Results


def grades_csv(results: Results) -> str:
    """One row per student: a column per question, then total and max. Scores are rounded as
    students see them (the bank's display setting); the total is the sum of the columns."""
    question_ids = [q.id for q in results.students[0].questions] if results.students else []
    header = ["student", *question_ids, "total", "max"]
    display = Display.from_settings(results.settings)
    rows = []
    for student in results.students:
        scores, total = shown_scores(student, display)
        rows.append(
            [
                student.id,
                *(cell_number(scores[q.id]) for q in student.questions),
                cell_number(total),
                cell_number(student.max),
            ]
        )
    return csv_text(header, rows)


def cell_number(value: float) -> float | int:
    """A shown score for a CSV cell: 3 rather than 3.0."""
    return int(value) if float(value).is_integer() else value


def write_results(results: Results, out_dir: Path) -> list[Path]:
    """Write results.json and grades.csv atomically; returns the paths written."""
    written = []
    for name, text in (
        ("results.json", results_json_chunks(results)),
        ("grades.csv", grades_csv(results)),
    ):
        path = out_dir / name
        atomic_write(path, text)
        written.append(path)
    return written
