"""A class's way through the grading stages: what each stage reads and leaves for the next."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from grader.grading.options import GradeOptions

if TYPE_CHECKING:
    from grader.bank import Bank, Gradable
    from grader.errors import Problem
    from grader.evidence.space import Space
    from grader.load.submissions import Submission
    from grader.results import AnswerResult, Flag, Results
    from grader.scoring.answer_context import KeywordSignals
    from grader.scoring.reference_words import ReferenceWords
    from grader.text.analysis import Analysis, StoredAnalyses

AnswerKey = tuple[str, str, str | None]  # gradable, answer text, declared language


@dataclass
class Answer:
    """One submission on its way through the stages."""

    row: Submission
    gradable: Gradable
    language: str = ""
    analysis: Analysis | None = None
    model: str | None = None
    units: list[tuple[str, tuple[int, int] | None]] = field(default_factory=list)
    notes: list[Flag] = field(default_factory=list)
    keywords: KeywordSignals | None = None  # matched once, before scoring

    @property
    def key(self) -> AnswerKey:
        """Answers with the same key get the same result (but for their own line and human
        score)."""
        return self.gradable.id, self.row.answer, self.row.language


@dataclass
class Run:
    """Grading one class: the inputs, and what each stage adds."""

    bank: Bank
    rows: tuple[Submission, ...]
    options: GradeOptions = GradeOptions()
    source: str = "submissions"  # the submissions' name in problems
    problems: list[Problem] = field(default_factory=list)
    store: StoredAnalyses | None = None  # analyses kept between runs
    answers: list[Answer] = field(default_factory=list)  # every routed row, in order
    distinct: dict[AnswerKey, Answer] = field(default_factory=dict)  # the first of each key
    spaces: dict[str, Space] = field(default_factory=dict)  # per embedding model
    words: ReferenceWords | None = None
    scored: dict[str, dict[str, AnswerResult]] = field(default_factory=dict)  # student, gradable
    results: Results | None = None

    @property
    def unique(self) -> list[Answer]:
        """The answers that are analysed, embedded and scored (one per key)."""
        return list(self.distinct.values())
