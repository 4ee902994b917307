"""What the scoring rule reads (the signals of one answer) and what it gives back (``Scored``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from grader.results import CriterionResult, Flag, GroupEvidence, MisconceptionResult, TermEvidence

if TYPE_CHECKING:
    from grader.evidence.keywords import KeywordResult, TermMatch

    pass
from grader.evidence.match import Match

MODEL_ANSWER_CRITERION = "model-answer"


@dataclass(frozen=True)
class KeywordSignal:
    """Keyword evidence of one criterion or misconception (from grader.evidence.keywords)."""

    language: str
    groups: tuple[GroupEvidence, ...]

    @property
    def credit(self) -> float:
        usable = [group for group in self.groups if group.met and group.negated is None]
        return len(usable) / len(self.groups) if self.groups else 0.0

    @property
    def negated(self) -> bool:
        """A group found only in a negated clause, or stated and then negated elsewhere."""
        return any(group.negated is not None for group in self.groups)


@dataclass(frozen=True)
class CriterionSignal:
    """The evidence about one criterion (or, without a rubric, about the model answers)."""

    keywords: KeywordSignal | None = None
    match: Match | None = None  # the closest reference: the concept, or a model answer
    overlap: float | None = None  # share of that reference's own content words the answer states
    negated: bool = (
        False  # the closest sentence negates the reference (grader.scoring.signals says when)
    )
    wrong: Match | None = None  # a wrong answer or misconception closer than the reference
    rubric: bool = True  # a rubric criterion (False: the model answers of a question without one)

    @property
    def denied(self) -> bool:
        """The answer negates the criterion: a keyword group found only negated or stated and
        then negated, or the closest sentence negating the reference (``negated``)."""
        return self.negated or bool(self.keywords and self.keywords.negated)


@dataclass(frozen=True)
class MisconceptionSignal:
    keywords: KeywordSignal | None = None
    match: Match | None = None  # the answer sentence closest to the statement
    right_cosine: float = -1.0  # that sentence's cosine with the closest right reference
    negated: bool = False  # that sentence negates the statement


@dataclass(frozen=True)
class WrongAnswerSignal:
    """One of the question's known wrong answers, stated by the whole answer."""

    match: Match
    feedback: str = ""


@dataclass(frozen=True)
class Penalty:
    """A gaming check that scales the score down."""

    code: str
    factor: float  # multiply the score by this (0..1)
    reason: str


@dataclass(frozen=True)
class Signals:
    language: str
    answered: bool
    criteria: Mapping[str, CriterionSignal] = field(default_factory=dict)  # by criterion id
    misconceptions: Mapping[str, MisconceptionSignal] = field(default_factory=dict)
    answer_match: Match | None = None  # best match with a model answer (evidence only)
    wrong_answer: WrongAnswerSignal | None = None  # the answer is a known wrong answer
    penalties: tuple[Penalty, ...] = ()
    notes: tuple[Flag, ...] = ()  # flags found while gathering signals (language, truncation)


@dataclass(frozen=True)
class Scored:
    score: float
    criteria: tuple[CriterionResult, ...]
    misconceptions: tuple[MisconceptionResult, ...]
    flags: tuple[Flag, ...]
    risk: float = 0.0  # estimated chance that the score is off by over a quarter of the points


def keyword_signal_from(result: KeywordResult) -> KeywordSignal:
    """The keyword matches of one criterion or misconception as evidence records."""
    groups = tuple(
        GroupEvidence(
            tuple(str(term) for term in group.group.terms),
            group.match is not None,
            _term_evidence(group.match),
            _term_evidence(group.negated),
        )
        for group in result.groups
    )
    return KeywordSignal(result.language, groups)


def _term_evidence(match: TermMatch | None) -> TermEvidence | None:
    if match is None:
        return None
    return TermEvidence(
        str(match.term), match.text, match.start, match.end, match.fuzzy, match.negated
    )
