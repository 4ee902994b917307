"""Stage 1: route each submission row to the gradable it answers; unknown questions are problems."""

from __future__ import annotations

from grader.bank import Bank, QuestionType
from grader.errors import Problem, did_you_mean
from grader.grading.run import Answer, Run
from grader.load.submissions import Submission


def route_rows(run: Run) -> None:
    """Every row becomes an Answer of its gradable, or a problem; the first answer of each key is
    the one graded (``Run.distinct``)."""
    gradables = run.bank.gradables()
    for row in run.rows:
        gradable = gradables.get(row.question)
        if gradable is None:
            run.problems.append(unknown_question(run.bank, row, run.source))
            continue
        answer = Answer(row, gradable)
        run.answers.append(answer)
        run.distinct.setdefault(answer.key, answer)


def unknown_question(bank: Bank, row: Submission, source: str) -> Problem:
    """The problem of a row whose question the bank lacks, with the fix."""
    question = bank.question(row.question)
    if question is not None and question.type is QuestionType.CHALLENGE:
        steps = ", ".join(step.id for step in question.steps)
        return Problem(
            source, row.line, f"'{row.question}' is a challenge", f"address a step: {steps}"
        )
    known = list(bank.gradables())
    return Problem(
        source,
        row.line,
        f"unknown question '{row.question}'",
        did_you_mean(row.question, known, "known: "),
    )
