"""Validated bank data: frozen dataclasses built by ``grader.load.loader``.

Nothing here reads files; the loader turns YAML into these objects after checking every field.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path


class QuestionType(StrEnum):
    SHORT_ANSWER = "short_answer"
    CHALLENGE = "challenge"
    MULTIPLE_CHOICE = "multiple_choice"
    NUMERIC = "numeric"

    @property
    def closed(self) -> bool:
        """Graded exactly, without language analysis or embeddings."""
        return self in (QuestionType.MULTIPLE_CHOICE, QuestionType.NUMERIC)


@dataclass(frozen=True)
class LocalText:
    """A text in one or more languages, in the order the file gave them."""

    by_language: Mapping[str, str]

    def get(self, language: str | None, fallback: tuple[str, ...] = ()) -> str:
        """The text in ``language``, else in the first fallback language present, else any."""
        for code in (language, *fallback):
            if code and code in self.by_language:
                return self.by_language[code]
        return next(iter(self.by_language.values()), "")

    def language_of(self, language: str | None, fallback: tuple[str, ...] = ()) -> str:
        for code in (language, *fallback):
            if code and code in self.by_language:
                return code
        return next(iter(self.by_language), language or "")

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self.by_language)

    def __bool__(self) -> bool:
        return any(text.strip() for text in self.by_language.values())


EMPTY_TEXT = LocalText({})


@dataclass(frozen=True)
class Term:
    """One alternative of a keyword group: a phrase or (``is_regex``) a regular expression."""

    text: str
    is_regex: bool = False
    gap: int = 2
    fuzzy: bool = True
    negatable: bool = True

    def __str__(self) -> str:
        return f"re:{self.text}" if self.is_regex else self.text


@dataclass(frozen=True)
class KeywordGroup:
    """Alternatives for one required idea: any term satisfies the group."""

    language: str
    terms: tuple[Term, ...]


@dataclass(frozen=True)
class Keywords:
    """Groups per language. A criterion wants every group of one language to be met."""

    by_language: Mapping[str, tuple[KeywordGroup, ...]]

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self.by_language)

    def groups(self, language: str) -> tuple[KeywordGroup, ...]:
        return self.by_language.get(language, ())

    def __bool__(self) -> bool:
        return any(self.by_language.values())


NO_KEYWORDS = Keywords({})


@dataclass(frozen=True)
class Criterion:
    id: str
    points: float
    keywords: Keywords = NO_KEYWORDS
    concept: LocalText = EMPTY_TEXT
    feedback_met: LocalText = EMPTY_TEXT
    feedback_missed: LocalText = EMPTY_TEXT
    hint: LocalText = EMPTY_TEXT  # shown to a learner after an attempt that missed it


@dataclass(frozen=True)
class Misconception:
    id: str
    statement: LocalText
    penalty: float
    keywords: Keywords = NO_KEYWORDS
    feedback: LocalText = EMPTY_TEXT


@dataclass(frozen=True)
class Rubric:
    id: str  # "" for an inline rubric
    criteria: tuple[Criterion, ...] = ()
    misconceptions: tuple[Misconception, ...] = ()
    source: Path | None = None

    @property
    def points(self) -> float:
        return sum(criterion.points for criterion in self.criteria)


@dataclass(frozen=True)
class Option:
    """One option of a multiple-choice question."""

    id: str
    text: LocalText
    credit: float  # share of the points, -1..1
    feedback: LocalText = EMPTY_TEXT


@dataclass(frozen=True)
class Closed:
    """What a closed question needs: options (multiple choice) or a value (numeric)."""

    options: tuple[Option, ...] = ()
    multiple: bool = False
    value: float | None = None
    tolerance: float = 0.0
    units: tuple[str, ...] = ()

    def value_text(self) -> str | None:
        """A numeric question's right answer as shown: "12.5 ± 0.5 GB"; None without a value."""
        if self.value is None:
            return None
        value = f"{self.value:g}"
        if self.tolerance:
            value += f" ± {self.tolerance:g}"
        if self.units:
            value += f" {self.units[0]}"
        return value


@dataclass(frozen=True)
class WrongAnswer:
    """An answer known to be wrong (like a Moodle short answer's 0 % answer), with feedback."""

    text: str
    feedback: str = ""


@dataclass(frozen=True)
class Gradable:
    """Anything a student answers: a short-answer question or one step of a challenge."""

    id: str  # "question" or "question/step"
    points: float
    prompt: LocalText
    answers: Mapping[str, tuple[str, ...]]  # model answers per language
    rubric: Rubric | None = None
    feedback: LocalText = EMPTY_TEXT
    kind: QuestionType = QuestionType.SHORT_ANSWER
    closed: Closed | None = None
    wrong_answers: Mapping[str, tuple[WrongAnswer, ...]] = field(default_factory=dict)
    hint: LocalText = EMPTY_TEXT  # shown to a learner after an attempt below full marks

    def model_answers(self) -> Iterator[tuple[str, str]]:
        """(language, text) for every model answer."""
        for language, texts in self.answers.items():
            for text in texts:
                yield language, text

    def known_wrong(self) -> Iterator[tuple[str, WrongAnswer]]:
        """(language, wrong answer) for every wrong answer the bank lists."""
        for language, items in self.wrong_answers.items():
            for item in items:
                yield language, item


@dataclass(frozen=True)
class Question:
    id: str
    type: QuestionType
    points: float
    prompt: LocalText
    answers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    rubric: Rubric | None = None
    steps: tuple[Gradable, ...] = ()
    feedback: LocalText = EMPTY_TEXT
    closed: Closed | None = None
    wrong_answers: Mapping[str, tuple[WrongAnswer, ...]] = field(default_factory=dict)
    grader_notes: LocalText = EMPTY_TEXT  # for whoever grades by hand; never graded against
    hint: LocalText = EMPTY_TEXT  # a challenge's: shown when a learner's steps fall short

    @property
    def gradables(self) -> tuple[Gradable, ...]:
        """What students answer: the question itself, or the steps of a challenge in order."""
        if self.type is QuestionType.CHALLENGE:
            return self.steps
        return (
            Gradable(
                id=self.id,
                points=self.points,
                prompt=self.prompt,
                answers=self.answers,
                rubric=self.rubric,
                feedback=self.feedback,
                kind=self.type,
                closed=self.closed,
                wrong_answers=self.wrong_answers,
                hint=self.hint,
            ),
        )


class Reveal(StrEnum):
    """How much of the rubric a student sees (the ``reveal`` setting, ``--reveal``)."""

    NONE = "none"  # the score, and which criteria were met (with their feedback); no more
    MISSED = "missed"  # also what was missed, with its feedback, hints and the general feedback
    ALL = "all"  # also the model answers and the key idea of every criterion

    def names_missed(self) -> bool:
        """A missed criterion's name and feedback, misconceptions, hints, general feedback."""
        return self is not Reveal.NONE

    def key_idea(self, met: bool) -> bool:
        """The criterion's concept sentence."""
        return self is Reveal.ALL or (self is Reveal.MISSED and met)

    @property
    def model_answers(self) -> bool:
        return self is Reveal.ALL


REVEAL_CHOICES = tuple(level.value for level in Reveal)
DEFAULT_REVEAL = Reveal.MISSED  # a bank without a reveal setting, and grader export


@dataclass(frozen=True)
class Settings:
    model: str = "auto"
    similarity_floor: float | None = None  # None: the model's own default
    similarity_ceiling: float | None = None
    display_decimals: int = 2  # scores shown to students: rounded to this many decimals ...
    display_step: float | None = None  # ... or to multiples of this step (e.g. 0.5)
    reveal: Reveal = DEFAULT_REVEAL  # what student-facing outputs show


@dataclass(frozen=True)
class Bank:
    id: str
    title: LocalText
    languages: tuple[str, ...]
    questions: tuple[Question, ...]
    settings: Settings = Settings()
    description: LocalText = EMPTY_TEXT
    source: Path | None = None

    @property
    def points(self) -> float:
        return sum(question.points for question in self.questions)

    def gradables(self) -> dict[str, Gradable]:
        """Every gradable by its submission id ("q" or "q/step"), in bank order."""
        return {g.id: g for question in self.questions for g in question.gradables}

    def question(self, question_id: str) -> Question | None:
        return next((q for q in self.questions if q.id == question_id), None)
