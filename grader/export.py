"""Machine-readable outputs: results.json and the grades.csv gradebook."""

from __future__ import annotations

from pathlib import Path

from grader.fsutil import atomic_write, csv_text
from grader.results import Results, results_json_chunks


def grades_csv(results: Results) -> str:
    """One row per student: a column per question, then total and max."""
    question_ids = [q.id for q in results.students[0].questions] if results.students else []
    header = ["student", *question_ids, "total", "max"]
    rows = [
        [
            student.id,
            *(_number(q.score) for q in student.questions),
            _number(student.total),
            _number(student.max),
        ]
        for student in results.students
    ]
    return csv_text(header, rows)


def _number(value: float) -> float | int:
    rounded = round(value, 2)
    return int(rounded) if rounded.is_integer() else rounded


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
