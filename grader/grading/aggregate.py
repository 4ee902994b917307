"""Stage 6: answers into question scores, student totals and the class's results."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import asdict
from datetime import UTC, datetime

from grader.bank import Bank
from grader.fsutil import safe_file_names
from grader.grading.run import Run
from grader.grading.score import answer_result
from grader.results import (
    AnswerResult,
    BankInfo,
    ProblemRecord,
    QuestionResult,
    Results,
    StudentResult,
    Summary,
)
from grader.scoring.defaults import defaults
from grader.scoring.params import ScoringParams


def aggregate_results(run: Run) -> None:
    bank = run.bank
    student_ids = sorted(run.scored)
    file_names = safe_file_names(student_ids)
    students = tuple(
        _student(bank, student, file_names[student], run.scored[student]) for student in student_ids
    )
    run.results = _results(run, students)


def bank_info(bank: Bank) -> BankInfo:
    path = bank.source
    digest = hashlib.sha256(path.read_bytes()).hexdigest() if path and path.is_file() else ""
    return BankInfo(
        bank.id,
        bank.title.get(None, bank.languages),
        str(path or ""),
        digest,
        bank.languages,
        bank.points,
    )


def _student(
    bank: Bank, student: str, file_name: str, answers: Mapping[str, AnswerResult]
) -> StudentResult:
    questions = []
    for question in bank.questions:
        parts = tuple(answers.get(g.id) or answer_result(g) for g in question.gradables)
        score = round(sum(part.score for part in parts), 4)
        questions.append(
            QuestionResult(question.id, question.type.value, question.points, score, parts)
        )
    total = round(sum(q.score for q in questions), 4)
    return StudentResult(student, file_name, total, bank.points, tuple(questions))


def _results(run: Run, students: tuple[StudentResult, ...]) -> Results:
    bank, options, problems = run.bank, run.options, run.problems
    answers = [a for s in students for q in s.questions for a in q.answers if a.answered]
    flagged = sum(1 for a in answers if a.flags)
    mean = sum(s.total for s in students) / len(students) if students else 0.0
    models = {
        name: {
            "backend": space.embedder.info.backend,
            "dimension": space.embedder.info.dimension,
            "languages": list(space.embedder.info.languages)
            if space.embedder.info.languages
            else None,
            "ramp": asdict(ScoringParams.for_model(name, shipped=options.defaults).ramp),
        }
        for name, space in sorted(run.spaces.items())
    }
    settings = {
        "model": options.model or bank.settings.model,
        "defaults": (options.defaults or defaults()).version,
        "similarity_floor": bank.settings.similarity_floor,
        "similarity_ceiling": bank.settings.similarity_ceiling,
        "calibration": options.calibration.source if options.calibration else None,
        "display_decimals": bank.settings.display_decimals,  # scores shown to students
        "display_step": bank.settings.display_step,
    }
    created = datetime.now(UTC).isoformat(timespec="seconds") if options.timestamp else None
    return Results(
        bank=bank_info(bank),
        settings=settings,
        models=models,
        students=students,
        problems=tuple(ProblemRecord(p.file, p.line, p.message, p.fix) for p in problems),
        summary=Summary(len(students), len(answers), flagged, len(problems), round(mean, 4)),
        created=created,
    )
