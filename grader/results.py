"""The results model: what was graded, the score of every answer, and the evidence behind it.

Serialised as ``results.json`` (schema ``grader.results/1``, documented in docs/formats.md) by
``grader.output.results_json``: every class round-trips through ``to_dict`` / ``results_from_dict``
so reports and exports can be re-made from a saved file without re-grading.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SCHEMA = "grader.results/1"


@dataclass(frozen=True)
class TermEvidence:
    term: str  # as written in the rubric ("re:..." for a regex)
    matched: str  # the answer's text that matched
    start: int  # character span in the answer
    end: int
    fuzzy: bool = False  # matched with misspelling tolerance
    negated: bool = False  # inside a negated clause: earns nothing


@dataclass(frozen=True)
class GroupEvidence:
    terms: tuple[str, ...]  # the group's alternatives
    met: bool
    match: TermEvidence | None = None
    negated: TermEvidence | None = None  # found only inside a negated clause


@dataclass(frozen=True)
class Similarity:
    """How close (part of) the answer came to a reference text, and the credit that earned."""

    cosine: float
    credit: float  # the cosine through the model's ramp (0 unrelated .. 1 a paraphrase), clipped
    reference: str  # the model answer, concept or statement it was compared with
    reference_language: str
    answer_start: int | None = None  # the matching sentence's span; None: the whole answer
    answer_end: int | None = None


@dataclass(frozen=True)
class CriterionResult:
    id: str
    points: float
    credit: float  # 0..1 share of the criterion's points earned
    score: float  # points * credit
    met: bool  # the answer states it (status met, or likely on meaning alone)
    keyword_language: str | None = None
    keyword_credit: float | None = None  # share of keyword groups met; None: no keywords
    groups: tuple[GroupEvidence, ...] = ()
    concept: Similarity | None = None  # semantic evidence; None without a concept or a model
    feedback: str = ""
    feedback_language: str = ""
    reason: str = ""  # one line: how the credit was reached
    status: str = ""  # grader.scoring.rule.Status: met, partly, likely, missed, negated, wrong
    meaning_credit: float | None = None  # the meaning map's credit; None without evidence
    overlap: float | None = None  # share of the reference's own content words stated
    negated: bool = False  # the closest sentence negates the concept (or is taken back)
    wrong: Similarity | None = None  # the wrong answer/misconception that voided meaning credit


@dataclass(frozen=True)
class MisconceptionResult:
    id: str
    penalty: float
    groups: tuple[GroupEvidence, ...] = ()  # keyword evidence, when keywords found it
    similarity: Similarity | None = None  # semantic evidence, when the statement matched
    feedback: str = ""
    feedback_language: str = ""


@dataclass(frozen=True)
class Flag:
    code: str  # e.g. "uncertain", "meaning-only", "language-not-covered", "keyword-salad"
    reason: str
    factor: float = 1.0  # a gaming check's factor on the score (1: the flag changes nothing)


@dataclass(frozen=True)
class Override:
    score: float
    comment: str = ""
    source: str = ""  # the overrides file and line


@dataclass(frozen=True)
class AnswerResult:
    """One answer to one gradable (a short-answer question or a challenge step)."""

    id: str  # "q" or "q/step"
    points: float
    score: float  # the final score (after an override, if any)
    auto_score: float  # the automatic score
    answer: str
    language: str  # declared or detected; "" when empty
    answered: bool
    model: str | None = None  # the embedding model used; None: keywords only
    criteria: tuple[CriterionResult, ...] = ()
    misconceptions: tuple[MisconceptionResult, ...] = ()
    similarity: Similarity | None = None  # best match with a model answer
    overlap: float | None = None  # content-word recall of the best model answer (no rubric)
    flags: tuple[Flag, ...] = ()
    risk: float = 0.0  # estimated chance the automatic score is off by over a quarter of the points
    words: int = 0  # the answer's words, as its language's analyser counts them
    feedback: str = ""  # the question's general feedback
    human_score: float | None = None  # from the submissions' score column
    override: Override | None = None
    line: int = 0  # the submission's line


@dataclass(frozen=True)
class QuestionResult:
    id: str
    type: str  # "short_answer" | "challenge"
    points: float
    score: float
    answers: tuple[AnswerResult, ...]  # one, or one per challenge step in order

    @property
    def flagged(self) -> bool:
        return any(answer.flags for answer in self.answers)


@dataclass(frozen=True)
class StudentResult:
    id: str
    file_name: str  # a safe, unique file name stem for the student's page
    total: float
    max: float
    questions: tuple[QuestionResult, ...]


@dataclass(frozen=True)
class ProblemRecord:
    file: str
    line: int | None
    message: str
    fix: str = ""


@dataclass(frozen=True)
class BankInfo:
    id: str
    title: str
    path: str
    sha256: str
    languages: tuple[str, ...]
    points: float


@dataclass(frozen=True)
class Summary:
    students: int
    answers: int
    flagged: int
    problems: int
    mean_total: float


@dataclass(frozen=True)
class Results:
    bank: BankInfo
    settings: dict[str, Any]  # the effective scoring settings
    models: dict[str, dict[str, Any]]  # per model used: backend, dimension, floor, ceiling
    students: tuple[StudentResult, ...]
    problems: tuple[ProblemRecord, ...]
    summary: Summary
    created: str | None = None  # the only time-dependent field; None unless asked for
    schema: str = SCHEMA
    extra: dict[str, Any] = field(default_factory=dict)
