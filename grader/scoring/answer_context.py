"""One answer as the signals read it: its analysis, units, keyword evidence, and what it says
about a reference (the closest match, negation)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from grader.bank import Gradable, LocalText
from grader.evidence.match import Match
from grader.evidence.space import (
    Space,
    Unit,
    best_match,
    covered,
)
from grader.results import Flag
from grader.scoring.inputs import (
    KeywordSignal,
)
from grader.scoring.params import ScoringParams
from grader.text.analysis import Analysis
from grader.text.polarity import (
    Reading,
    consistency,
    polarity,
)

if TYPE_CHECKING:
    import numpy as np
from grader.scoring.reference_words import ReferenceWords, prompt_words_of

Span = tuple[int, int]
# Keyword evidence by id: of the criteria, of the misconceptions.
KeywordSignals = tuple[dict[str, KeywordSignal], dict[str, KeywordSignal]]


@dataclass(frozen=True)
class AnswerView:
    """What the signals need of one analysed answer."""

    gradable: Gradable
    language: str
    analysis: Analysis
    units: Sequence[Unit] = ()  # the whole answer and its sentences (embedded)
    keywords: KeywordSignals = ({}, {})
    notes: tuple[Flag, ...] = ()


@dataclass(frozen=True)
class Context:
    answer: AnswerView
    space: Space | None
    params: ScoringParams
    words: ReferenceWords
    reading: Reading
    answer_words: frozenset[str]
    matrix: np.ndarray | None  # the units' rows in the space

    @property
    def gradable(self) -> Gradable:
        return self.answer.gradable

    @property
    def retracted(self) -> tuple[Span, ...]:
        return self.reading.retracted

    def match(self, references: Sequence[tuple[str, str]]) -> Match | None:
        if self.space is None or not self.answer.units:
            return None
        readable = covered(references, self.space.languages)
        return best_match(
            self.space, self.answer.units, readable, self.answer.language, self.matrix
        )

    def unit_of(self, match: Match) -> str:
        return next(text for text, span in self.answer.units if span == match.span)

    def negates(self, match: Match | None, *texts: LocalText | str, strict: bool = False) -> bool:
        """Whether the part of the answer in ``match`` negates the first of ``texts`` and
        agrees with none of the others (texts in the answer's language; another language's
        text tells nothing). The question's own words are left out of the comparison.
        ``strict``: none of the first text's words may be stated plainly."""
        language = self.answer.language
        chosen = [t.by_language.get(language, "") if isinstance(t, LocalText) else t for t in texts]
        if not chosen or not chosen[0]:
            return False
        span = match.span if match else None
        prompt = frozenset().union(*self.words.get(self.gradable, language, prompt_words_of))
        opposite, agree = polarity(self.reading, span, chosen[0], prompt)
        if not (opposite > 0 and (agree == 0 if strict else opposite >= agree)):
            return False
        for other in chosen[1:]:
            same, different = consistency(self.reading, span, other, prompt)
            if other and same > different:
                return False
        return True
