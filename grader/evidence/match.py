"""A cosine between (part of) an answer and one reference text, and what it means at a model's
ramp (0: unrelated text, 1: a paraphrase)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from grader.results import Similarity


@dataclass(frozen=True)
class Ramp:
    """Where one model's cosines sit: ``floor`` is the mean cosine of unrelated short answers,
    ``ceiling`` that of two wordings of the same answer; ``cross_*`` the same across languages.
    A cosine is read as ``(cosine - floor) / (ceiling - floor)``: 0 unrelated, 1 a paraphrase."""

    floor: float
    ceiling: float
    cross_floor: float
    cross_ceiling: float

    def similarity(self, cosine: float, cross: bool = False) -> float:
        floor, ceiling = (
            (self.cross_floor, self.cross_ceiling) if cross else (self.floor, self.ceiling)
        )
        return (cosine - floor) / max(ceiling - floor, 1e-6)


class Ramped(Protocol):
    """Anything that carries a ramp (the scoring parameters of an answer)."""

    @property
    def ramp(self) -> Ramp: ...


@dataclass(frozen=True)
class Match:
    """A cosine between (part of) the answer and one reference text."""

    cosine: float
    reference: str
    reference_language: str
    span: tuple[int, int] | None = None  # the answer sentence; None for the whole answer
    cross: bool = False  # the reference is in another language than the answer

    def similarity(self, params: Ramped) -> float:
        return params.ramp.similarity(self.cosine, self.cross)

    def evidence(self, params: Ramped) -> Similarity:
        start, end = self.span if self.span else (None, None)
        return Similarity(
            round(self.cosine, 4),
            round(min(1.0, max(0.0, self.similarity(params))), 4),
            self.reference,
            self.reference_language,
            start,
            end,
        )
