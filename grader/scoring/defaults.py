"""The shipped scoring defaults: every number that decides a grade, read from ``defaults.yaml``.

``defaults.yaml`` is written by ``benchmarks/fit_defaults.py`` (the command and the data it was
fitted on are in the file's header and under ``fitted``); the numbers in it are fitted on the
human-graded data sets in ``../shared/datasets`` with leave-one-data-set-out, never on the data
they are scored on, or set by hand with the reason next to them. Nothing else in the package
restates them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from typing import Any

from grader.evidence.match import Ramp

DEFAULTS_FILE = "defaults.yaml"
SCHEMA = "grader.defaults/1"


@dataclass(frozen=True)
class Logit:
    """One linear predictor of a credit's log-odds."""

    intercept: float
    similarity: float = 0.0  # per unit of ramped similarity (0 unrelated, 1 a paraphrase)
    overlap: float = 0.0  # per unit of content-word overlap with the reference (0..1)

    def __call__(self, similarity: float = 0.0, overlap: float = 0.0) -> float:
        return self.intercept + self.similarity * similarity + self.overlap * overlap


@dataclass(frozen=True)
class MeaningMap:
    """From the evidence about one reference (a concept, or the model answers) to a credit 0..1:
    ``sigmoid(logit)``, with the predictor that the evidence at hand allows."""

    both: Logit  # a similarity and the content-word overlap (same language)
    similarity_only: Logit  # a similarity only (across languages: no shared words)
    overlap_only: Logit  # the overlap only (keywords-only grading, no model)


@dataclass(frozen=True)
class Review:
    """When an answer is flagged for review: a fitted estimate of the chance that its automatic
    score is off from a human's by more than a quarter of the points, and the cut above which
    it is flagged (set so that about ``share`` of the answers are, on the fitting data)."""

    intercept: float
    uncertainty: float  # per unit of p * (1 - p), p the answer's share of the points
    disagreement: float  # per unit of |meaning credit - overlap credit|
    short: float  # per unit of 1 / (1 + words)
    threshold: float
    share: float


@dataclass(frozen=True)
class Gaming:
    """Checks for answers built to fool the grader (grader.scoring.gaming); each number with its
    reason in defaults.yaml."""

    salad_factor: float
    copy_factor: float
    other_answer_factor: float
    foreign_factor: float
    contradiction_factor: float
    salad_minimum: int
    salad_glue: float
    salad_known: float
    padding_ratio: float
    padding_minimum: int
    copy_minimum: int  # content words of an answer checked for a copy of the question
    copy_answer_share: float  # ... the share of them that are the prompt's
    copy_prompt_share: float  # ... and the share of the prompt's that they restate
    other_answer_margin: float  # cosine by which another question's model answer must win
    contradiction_overlap: float  # Jaccard of two sentences' words: the same statement
    contradiction_negated: float  # ... share of the shared words negated: its opposite
    retraction_minimum: int  # negated words after a retraction word that were stated before
    retraction_share: float  # ... as a share of the sentence's negated words


@dataclass(frozen=True)
class Defaults:
    version: str
    ramps: dict[str, Ramp]  # per packaged model (and "generic" for any other)
    meaning: MeaningMap
    met: float  # credit at or above which a criterion counts as met
    meaning_cap: float  # the most a criterion with keywords earns from meaning alone
    misconception_similarity: float  # ramped similarity at which a statement counts as made
    misconception_margin: float  # ... and by which it must beat every right reference
    wrong_margin: float  # ramped similarity by which a wrong answer must beat the right one
    wrong_similarity: float  # ... and the ramped similarity it must reach
    sharpness: float  # multiplies a rubric criterion's meaning log-odds
    meaning_only_flag: float  # share of the points credited on meaning alone that is flagged
    answered: float  # own-word overlap that shows the question was answered (gaming guard)
    review: Review
    gaming: Gaming
    fitted: dict[str, Any] = field(default_factory=dict)
    # Per data set: the meaning map and review estimate fitted without it (for the benchmarks).
    held_out: dict[str, dict[str, Any]] = field(default_factory=dict)

    def ramp(self, model: str) -> Ramp:
        return self.ramps.get(model) or self.ramps["generic"]

    def with_fit(self, fit: dict[str, Any]) -> Defaults:
        """These defaults with another fitted meaning map and review estimate."""
        return replace(
            self, meaning=_meaning(fit["meaning"]), review=Review(**_numbers(fit["review"]))
        )


def sigmoid(value: float) -> float:
    if value >= 0:
        return 1.0 / (1.0 + math.exp(-value))
    exponential = math.exp(value)
    return exponential / (1.0 + exponential)


@cache
def defaults() -> Defaults:
    """The shipped defaults (read once)."""
    import yaml

    text = resources.files("grader.scoring").joinpath(DEFAULTS_FILE).read_text(encoding="utf-8")
    return defaults_from_dict(yaml.safe_load(text))


def defaults_from_dict(data: dict[str, Any]) -> Defaults:
    if data.get("schema") != SCHEMA:
        raise ValueError(f"{DEFAULTS_FILE}: schema {data.get('schema')!r}, expected {SCHEMA}")
    criteria = data["criteria"]
    return Defaults(
        version=str(data["version"]),
        ramps={name: Ramp(**_numbers(values)) for name, values in data["ramps"].items()},
        meaning=_meaning(data["meaning"]),
        met=float(criteria["met"]),
        meaning_cap=float(criteria["meaning_cap"]),
        misconception_similarity=float(criteria["misconception_similarity"]),
        misconception_margin=float(criteria["misconception_margin"]),
        wrong_margin=float(criteria["wrong_margin"]),
        wrong_similarity=float(criteria["wrong_similarity"]),
        sharpness=float(criteria["sharpness"]),
        meaning_only_flag=float(criteria["meaning_only_flag"]),
        answered=float(criteria["answered"]),
        review=Review(**_numbers(data["review"])),
        gaming=Gaming(**_numbers(data["gaming"])),
        fitted=dict(data.get("fitted") or {}),
        held_out=dict(data.get("held_out") or {}),
    )


def _meaning(data: dict[str, Any]) -> MeaningMap:
    return MeaningMap(
        both=Logit(**_numbers(data["both"])),
        similarity_only=Logit(**_numbers(data["similarity_only"])),
        overlap_only=Logit(**_numbers(data["overlap_only"])),
    )


def _numbers(values: dict[str, Any]) -> dict[str, Any]:
    """The mapping with every value checked to be a finite number."""
    checked = {}
    for key, value in values.items():
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise ValueError(f"{DEFAULTS_FILE}: {key} must be a finite number, not {value!r}")
        checked[key] = value
    return checked
