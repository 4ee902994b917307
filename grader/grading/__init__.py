"""Grade a class: the submissions go through ``STAGES`` in order, each a function of the ``Run``.

1. route (``grading.route``): each row to the gradable it answers; unknown questions are problems;
2. analyse (``grading.analyse``): each distinct answer's language and analysis;
3. match keywords (``grading.match``): the rubric's keyword evidence, once per answer;
4. embed (``grading.embed``): every text compared, per model, in one pass through the cache;
5. score (``grading.score``): the signals of each distinct answer and the one scoring rule;
6. aggregate (``grading.aggregate``): question scores, student totals, the class's results.

Answers with the same question, text and declared language are graded once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from grader.bank import Bank
from grader.errors import GraderError, Problem
from grader.grading.aggregate import aggregate_results, bank_info
from grader.grading.analyse import analyse_answers
from grader.grading.embed import embed_answers, spaces
from grader.grading.match import match_keywords
from grader.grading.options import GradeOptions, Progress, cache_folder, timed
from grader.grading.route import route_rows, unknown_question
from grader.grading.run import Run
from grader.grading.score import score_answers
from grader.load.submissions import Submission
from grader.results import AnswerResult, Results
from grader.text.analysis import keeping_analyses_in
from grader.text.store import analysis_store

__all__ = [
    "STAGES",
    "GradeOptions",
    "Progress",
    "Stage",
    "bank_info",
    "check_answer",
    "grade",
    "texts_to_embed",
    "timed",
]


@dataclass(frozen=True)
class Stage:
    name: str
    timing: str  # the entry of GradeOptions.timings its seconds are added to
    run: Callable[[Run], None]


STAGES = (
    Stage("route", "analyse", route_rows),
    Stage("analyse", "analyse", analyse_answers),
    Stage("match keywords", "analyse", match_keywords),
    Stage("embed", "embed", embed_answers),
    Stage("score", "score", score_answers),
    Stage("aggregate", "score", aggregate_results),
)


def grade(
    bank: Bank,
    rows: Sequence[Submission],
    options: GradeOptions = GradeOptions(),
    problems: Sequence[Problem] = (),
    source: str = "submissions",
) -> Results:
    """Grade every submission against the bank. Bad rows become problems; the rest are graded."""
    run = Run(bank, tuple(rows), options, source, list(problems))
    with analysis_store(cache_folder(options)) as store, keeping_analyses_in(store):
        run.store = store
        for stage in STAGES:
            with timed(options.timings, stage.timing):
                stage.run(run)
    assert run.results is not None
    return run.results


def texts_to_embed(
    bank: Bank, rows: Sequence[Submission], options: GradeOptions = GradeOptions()
) -> dict[str, list[str]]:
    """The distinct texts ``grade`` embeds, per model: answers, their sentences, references.

    Nothing is encoded and no model is loaded (benchmarks compare grading with encoding these).
    """
    run = Run(bank, tuple(rows), options)
    route_rows(run)
    analyse_answers(run)
    return {name: list(space.texts) for name, space in spaces(bank, run.unique, options).items()}


def check_answer(
    bank: Bank, question_id: str, answer: str, language: str | None, options: GradeOptions
) -> AnswerResult:
    """Grade one answer (a learner's self-check)."""
    if question_id not in bank.gradables():
        problem = unknown_question(bank, Submission("you", question_id, answer), "the bank")
        raise GraderError(f"{problem.message} ({problem.fix})")
    results = grade(bank, [Submission("you", question_id, answer, language, None, 0)], options)
    question = results.students[0].questions
    return next(a for q in question for a in q.answers if a.id == question_id)
