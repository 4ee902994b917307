"""Fit the shipped scoring defaults (grader/scoring/defaults.yaml) with leave-one-data-set-out
evidence.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/fit_defaults.py [--write]

1. Ramps. For each packaged model (minilm, use-multilingual, and their English ensemble): the
   mean cosine between two wordings of the same short answer and between unrelated short answers,
   in one language and across languages, measured on grader/scoring/anchors.yaml (40 answers, each
   with a paraphrase and a wrong "near miss", in 16 languages). A cosine is then read as
   ``(cosine - floor) / (ceiling - floor)``: 0 for unrelated text, 1 for a paraphrase.
2. Evidence. Every human-graded data set in ../shared/datasets is converted as
   benchmarks/agreement.py does and graded once (embeddings cached); each answer's evidence is
   read back from the results: its closest model answer's cosine, the share of that answer's own
   words it states, its length.
3. The meaning map: logistic fits of the human share of the points (binomial likelihood), one per
   kind of evidence (both; similarity only; overlap only). Each data set weighs the same and has
   its own intercept (the data sets grade with different strictness); the anchors join as one
   more group (a paraphrase is worth full marks, an unrelated answer nothing) and shape the
   slopes. The intercept shipped is the mean of the intercepts of the data sets graded on a scale
   of points (a 0/1 "correct" label puts a partly right answer at 0: no level for points). The
   grader reads the curve from its value at zero evidence up (an unrelated answer earns nothing,
   grader.scoring.vectorised.meaning_credit); fitting that reading directly levels the scores off
   early and loses correlation on every data set, so the plain curve is fitted and the held-out
   table measures the rule as the grader applies it.
4. The review estimate: a logistic fit of "the score is off from the human's by more than a
   quarter of the points" on held-out scores, and the cut that flags ``REVIEW_SHARE`` of the
   answers of the fitting data.

Every fit is done twice: on all data sets (shipped), and once per data set without it
(``held_out`` in the file: what benchmarks/agreement.py scores that data set with, so its
zero-shot rows are never fitted on the data they score). The table printed is that held-out
agreement. Without ``--write`` nothing is written.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import agreement  # noqa: E402

from grader.cache_file import default_cache_dir  # noqa: E402
from grader.evidence.embed_cache import EmbeddingCache  # noqa: E402
from grader.evidence.embedding import embed_texts, load_embedder  # noqa: E402
from grader.evidence.match import Ramp  # noqa: E402
from grader.evidence.models import (  # noqa: E402
    ENGLISH_ENSEMBLE,
    MINILM,
    USE_LANGUAGES,
    USE_MULTILINGUAL,
)
from grader.evidence.space import same_language  # noqa: E402
from grader.grading import GradeOptions, grade  # noqa: E402
from grader.load.loader import load_bank  # noqa: E402
from grader.load.submissions import read_submissions  # noqa: E402
from grader.scoring.defaults import DEFAULTS_FILE, defaults_from_dict  # noqa: E402
from grader.scoring.vectorised import meaning_credit  # noqa: E402
from grader.text.analysis import analyze, content_words  # noqa: E402

ANCHORS = ROOT / "grader" / "scoring" / "anchors.yaml"
DEFAULTS_PATH = ROOT / "grader" / "scoring" / DEFAULTS_FILE
COMMAND = "HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/fit_defaults.py --write"
MODELS = {MINILM: ("en",), USE_MULTILINGUAL: USE_LANGUAGES, ENGLISH_ENSEMBLE: ("en",)}
REVIEW_SHARE = 0.15  # the share of answers flagged for review on the fitting data
OFF = 0.25  # an answer is mis-scored when off from the human by more than this share
ANCHOR_WEIGHT = 1.0  # the anchors weigh as much as one data set
L2 = 1e-3  # ridge on the slopes (the fits are well determined; this only keeps them finite)


# ---------------------------------------------------------------- anchors and ramps


def load_anchors() -> list[dict[str, Any]]:
    data = yaml.safe_load(ANCHORS.read_text(encoding="utf-8"))
    return list(data["items"])


@dataclass(frozen=True)
class AnchorPair:
    model: str
    cosine: float
    cross: bool
    overlap: float | None  # the statement's content words stated in the other (same language)
    label: float  # 1: a paraphrase, 0: an unrelated answer
    kind: str  # "paraphrase" | "unrelated" | "near-miss"


def anchor_pairs(items: list[dict[str, Any]], cache: EmbeddingCache) -> list[AnchorPair]:
    """Statement-paraphrase, statement-unrelated and statement-near-miss pairs per model, in one
    language and across languages (every ordered pair of the languages the model reads)."""
    pairs = []
    for model, languages in MODELS.items():
        embedder = load_embedder(model, "cpu", lazy=True, shared={})
        texts: dict[str, int] = {}
        for item in items:
            for field in ("statement", "paraphrase", "near_miss"):
                for language in languages:
                    texts.setdefault(item[field][language], len(texts))
        vectors = embed_texts(embedder, list(texts), cache)

        def cosine(
            first: str, second: str, vectors: np.ndarray = vectors, rows: dict[str, int] = texts
        ) -> float:
            return float(vectors[rows[first]] @ vectors[rows[second]])

        count = len(items)
        for index, item in enumerate(items):
            other = items[(index + 7) % count]  # an unrelated answer (another topic)
            for first in languages:
                for second in languages:
                    cross = first != second
                    if cross and (index + len(first) + len(second)) % 4:
                        continue  # a quarter of the cross-language pairs is plenty
                    statement = item["statement"][first]
                    overlap = (
                        None if cross else _overlap(statement, item["paraphrase"][second], first)
                    )
                    pairs.append(
                        AnchorPair(
                            model,
                            cosine(statement, item["paraphrase"][second]),
                            cross,
                            overlap,
                            1.0,
                            "paraphrase",
                        )
                    )
                    unrelated = other["paraphrase"][second]
                    pairs.append(
                        AnchorPair(
                            model,
                            cosine(statement, unrelated),
                            cross,
                            None if cross else _overlap(statement, unrelated, first),
                            0.0,
                            "unrelated",
                        )
                    )
                    miss = item["near_miss"][second]
                    pairs.append(
                        AnchorPair(
                            model,
                            cosine(statement, miss),
                            cross,
                            None if cross else _overlap(statement, miss, first),
                            0.0,
                            "near-miss",
                        )
                    )
                    if not cross:  # a right answer (the paraphrase) against the wrong one
                        paraphrase = item["paraphrase"][first]
                        pairs.append(
                            AnchorPair(
                                model, cosine(paraphrase, miss), False, None, 0.0, "answer-miss"
                            )
                        )
    return pairs


def _overlap(reference: str, answer: str, language: str) -> float | None:
    words = content_words(analyze(reference, language))
    if not words:
        return None
    return len(content_words(analyze(answer, language)) & words) / len(words)


def ramps(pairs: Sequence[AnchorPair]) -> dict[str, Ramp]:
    found = {}
    for model in MODELS:

        def mean(kind: str, cross: bool, model: str = model) -> float:
            values = [
                p.cosine for p in pairs if p.model == model and p.kind == kind and p.cross == cross
            ]
            return float(np.mean(values)) if values else math.nan

        floor, ceiling = mean("unrelated", False), mean("paraphrase", False)
        cross_floor, cross_ceiling = mean("unrelated", True), mean("paraphrase", True)
        if not (cross_ceiling - cross_floor > 0.05):  # a one-language model: no cross ramp
            cross_floor, cross_ceiling = floor, ceiling
        found[model] = Ramp(
            round(floor, 4), round(ceiling, 4), round(cross_floor, 4), round(cross_ceiling, 4)
        )
    found["generic"] = found[MINILM]
    return found


def near_miss_gap(pairs: Sequence[AnchorPair], ramp_of: dict[str, Ramp]) -> float:
    """The 99th percentile, over the anchors' same-language items, of how much closer a right
    answer (the paraphrase) comes to the item's wrong "near miss" than to the right reference
    (the statement): how far "closer to a wrong answer" alone misleads. (The pairs are listed
    item by item, per model and language.)"""
    gaps = []
    paraphrases = [p for p in pairs if p.kind == "paraphrase" and not p.cross]
    misses = [p for p in pairs if p.kind == "answer-miss"]
    for right, wrong in zip(paraphrases, misses, strict=True):
        ramp = ramp_of[right.model]
        gaps.append(ramp.similarity(wrong.cosine) - ramp.similarity(right.cosine))
    return float(np.quantile(gaps, 0.99))


# ---------------------------------------------------------------- evidence of the data sets


@dataclass(frozen=True)
class Evidence:
    data_set: str
    question: str
    human: float  # share of the points
    points: float
    model: str
    cosine: float
    cross: bool
    overlap: float
    words: int
    negated: bool  # the rule gives this answer nothing whatever the map
    factor: float  # gaming factors


def grade_data_set(data_set: agreement.DataSet, folder: Path, cache: Path) -> list[Evidence]:
    bank_path, submissions_path = agreement.write_files(data_set, folder)
    bank = load_bank(bank_path)
    submissions = read_submissions(submissions_path)
    results = grade(bank, submissions.rows, GradeOptions(cache_dir=cache))
    found = []
    for student in results.students:
        for question in student.questions:
            for answer in question.answers:
                if answer.human_score is None or not answer.answered or not answer.criteria:
                    continue
                criterion = answer.criteria[0]
                if criterion.concept is None or criterion.overlap is None:
                    continue
                factor = 1.0
                for flag in answer.flags:
                    factor *= flag.factor
                found.append(
                    Evidence(
                        data_set.name,
                        answer.id,
                        float(answer.human_score) / answer.points,
                        answer.points,
                        answer.model or "",
                        criterion.concept.cosine,
                        not same_language(criterion.concept.reference_language, answer.language),
                        criterion.overlap,
                        answer.words,
                        criterion.status == "negated",
                        factor,
                    )
                )
    return found


# ---------------------------------------------------------------- fitting


def _sigmoid(values: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(values, -50, 50)))


def logistic(
    features: np.ndarray,
    target: np.ndarray,
    weight: np.ndarray,
    groups: np.ndarray,
    level: Sequence[int],
    from_unrelated: bool = False,
) -> np.ndarray:
    """Weighted logistic regression of fractional targets, with one intercept per group (a data
    set, or the anchors) and slopes shared by all. Returns the intercept of the grader's own
    scale, the mean of the ``level`` groups' intercepts, then the slopes. ``from_unrelated``: the
    curve is read as the grader reads it, from its value at zero evidence up
    (grader.scoring.vectorised.meaning_credit), and fitted so."""
    from scipy.optimize import minimize

    names = sorted(set(groups.tolist()))
    index = np.array([names.index(g) for g in groups])
    slopes = features.shape[1]

    def loss(values: np.ndarray) -> tuple[float, np.ndarray]:
        intercepts, beta = values[: len(names)], values[len(names) :]
        base = intercepts[index]
        p = _sigmoid(base + features @ beta)
        if from_unrelated:
            p0 = _sigmoid(base)
            raw = (p - p0) / (1 - p0)
            q = np.clip(raw, 1e-6, 1 - 1e-6)
            inside = (raw > 1e-6) & (raw < 1 - 1e-6)  # where the clip is flat, so is q
            dq_dz = np.where(inside, p * (1 - p) / (1 - p0), 0.0)  # d q / d evidence
            dq_db = np.where(inside, raw * (1 - p), 0.0)  # d q / d intercept
        else:
            q = np.clip(p, 1e-6, 1 - 1e-6)
            dq_dz = dq_db = p * (1 - p)
        value = -float(np.sum(weight * (target * np.log(q) + (1 - target) * np.log(1 - q))))
        dl_dq = -weight * (target / q - (1 - target) / (1 - q))
        gradient = np.zeros_like(values)
        np.add.at(gradient, index, dl_dq * dq_db)
        gradient[len(names) :] = features.T @ (dl_dq * dq_dz)
        value += L2 * float(beta @ beta)
        gradient[len(names) :] += 2 * L2 * beta
        return value, gradient

    start = np.concatenate([np.full(len(names), -1.0), np.ones(slopes)])
    bounds = [(-8.0, 8.0)] * len(names) + [(-30.0, 30.0)] * slopes
    found = minimize(
        loss, start, jac=True, method="L-BFGS-B", bounds=bounds, options={"maxiter": 5000}
    )
    coefficients = found.x
    intercept = float(np.mean([coefficients[names.index(g)] for g in level]))
    return np.concatenate([[intercept], coefficients[len(names) :]])


def _equal_weights(labels: Sequence[str]) -> np.ndarray:
    counts: dict[str, int] = defaultdict(int)
    for label in labels:
        counts[label] += 1
    return np.array([1.0 / counts[label] for label in labels])


@dataclass(frozen=True)
class Table:
    """Evidence as arrays, with ramped similarities."""

    data_set: np.ndarray
    human: np.ndarray
    similarity: np.ndarray
    overlap: np.ndarray
    words: np.ndarray
    negated: np.ndarray
    factor: np.ndarray
    points: np.ndarray
    question: np.ndarray

    @classmethod
    def build(cls, evidence: Sequence[Evidence], ramp_of: dict[str, Ramp]) -> Table:
        return cls(
            data_set=np.array([e.data_set for e in evidence]),
            human=np.array([e.human for e in evidence]),
            similarity=np.array([ramp_of[e.model].similarity(e.cosine, e.cross) for e in evidence]),
            overlap=np.array([e.overlap for e in evidence]),
            words=np.array([e.words for e in evidence], dtype=float),
            negated=np.array([e.negated for e in evidence]),
            factor=np.array([e.factor for e in evidence]),
            points=np.array([e.points for e in evidence]),
            question=np.array([e.question for e in evidence]),
        )

    def rows(self, mask: np.ndarray) -> Table:
        return Table(*(getattr(self, name)[mask] for name in self.__dataclass_fields__))


def fit_meaning(
    table: Table, anchors: Sequence[AnchorPair], ramp_of: dict[str, Ramp]
) -> dict[str, dict[str, float]]:
    """The three predictors of the meaning map, fitted on ``table`` (negated answers left out:
    the rule gives them nothing whatever the map) and the anchors."""
    usable = ~table.negated
    rows = table.rows(usable)
    names = sorted(set(rows.data_set.tolist()))
    group = np.array([names.index(name) for name in rows.data_set])
    # The grader's level is that of the data sets graded on a scale of points: a 0/1 label
    # ("correct" or not) puts a partly right answer at 0 and is no level for points.
    level = [
        index
        for index, name in enumerate(names)
        if not np.all(np.isin(rows.human[rows.data_set == name], (0.0, 1.0)))
    ] or list(range(len(names)))
    weight = _equal_weights(rows.data_set.tolist())
    anchor = [a for a in anchors if a.kind in ("paraphrase", "unrelated")]
    a_similarity = np.array([ramp_of[a.model].similarity(a.cosine, a.cross) for a in anchor])
    a_overlap = np.array([math.nan if a.overlap is None else a.overlap for a in anchor])
    a_label = np.array([a.label for a in anchor])

    def fit(columns: list[str]) -> dict[str, float]:
        features = []
        anchor_features = []
        if "similarity" in columns:
            features.append(rows.similarity)
            anchor_features.append(a_similarity)
        if "overlap" in columns:
            features.append(rows.overlap)
            anchor_features.append(a_overlap)
        x = np.column_stack(features)
        ax = np.column_stack(anchor_features)
        keep = ~np.isnan(ax).any(axis=1)
        anchor_weight = np.full(int(keep.sum()), ANCHOR_WEIGHT / max(int(keep.sum()), 1))
        coefficients = logistic(
            np.vstack([x, ax[keep]]),
            np.concatenate([rows.human, a_label[keep]]),
            np.concatenate([weight, anchor_weight]),
            np.concatenate([group, np.full(int(keep.sum()), len(names))]),
            level,
        )
        fitted = {"intercept": round(float(coefficients[0]), 4)}
        for name, value in zip(columns, coefficients[1:], strict=True):
            fitted[name] = round(float(value), 4)
        return fitted

    return {
        "both": fit(["similarity", "overlap"]),
        "similarity_only": fit(["similarity"]),
        "overlap_only": fit(["overlap"]),
    }


def predict(meaning: dict[str, dict[str, float]], table: Table, kind: str = "both") -> np.ndarray:
    """Each answer's share under the grader's own rule (grader.scoring.vectorised.meaning_credit)
    with this meaning map, the kind of evidence chosen by ``kind``; nothing where the rule negates
    it."""
    mapping = defaults_from_dict(
        {**yaml.safe_load(DEFAULTS_PATH.read_text(encoding="utf-8")), "meaning": meaning}
    ).meaning
    similarity = table.similarity if kind != "overlap_only" else np.full(len(table.human), np.nan)
    overlap = table.overlap if kind != "similarity_only" else np.full(len(table.human), np.nan)
    share = meaning_credit(similarity, overlap, mapping) * table.factor
    return np.where(table.negated, 0.0, share)


def review_features(
    meaning: dict[str, dict[str, float]], table: Table, share: np.ndarray
) -> np.ndarray:
    alone = predict(meaning, table, "similarity_only")
    words = predict(meaning, table, "overlap_only")
    return np.column_stack([share * (1 - share), np.abs(alone - words), 1.0 / (1.0 + table.words)])


def fit_review(
    tables: Sequence[tuple[Table, np.ndarray, dict[str, dict[str, float]]]],
) -> dict[str, float]:
    """The review estimate from held-out shares: (table, held-out share, the map that made it)."""
    features = np.vstack([review_features(m, t, s) for t, s, m in tables])
    target = np.concatenate([(np.abs(s - t.human) > OFF).astype(float) for t, s, _ in tables])
    labels = np.concatenate([t.data_set for t, _, _ in tables]).tolist()
    weight = _equal_weights(labels)
    coefficients = logistic(features, target, weight, np.zeros(len(target), dtype=int), [0])
    risk = _sigmoid(np.column_stack([np.ones(len(target)), features]) @ coefficients)
    threshold = _weighted_quantile(risk, weight, 1.0 - REVIEW_SHARE)
    return {
        "intercept": round(float(coefficients[0]), 4),
        "uncertainty": round(float(coefficients[1]), 4),
        "disagreement": round(float(coefficients[2]), 4),
        "short": round(float(coefficients[3]), 4),
        "threshold": round(float(threshold), 4),
        "share": REVIEW_SHARE,
    }


def review_risk(review: dict[str, float], features: np.ndarray) -> np.ndarray:
    z = review["intercept"] + features @ np.array(
        [review["uncertainty"], review["disagreement"], review["short"]]
    )
    return _sigmoid(z)


def _weighted_quantile(values: np.ndarray, weight: np.ndarray, quantile: float) -> float:
    order = np.argsort(values)
    cumulative = np.cumsum(weight[order]) / weight.sum()
    return float(values[order][np.searchsorted(cumulative, quantile)])


# ---------------------------------------------------------------- leave one data set out


@dataclass(frozen=True)
class HeldOut:
    name: str
    n: int
    pearson: float
    rmse: float  # in points
    accuracy: float  # at half the points
    flagged: float
    precision: float
    recall: float


def leave_one_out(
    table: Table, anchors: Sequence[AnchorPair], ramp_of: dict[str, Ramp]
) -> tuple[list[HeldOut], dict[str, dict[str, Any]]]:
    names = sorted(set(table.data_set.tolist()))
    meanings = {}
    shares = {}
    for name in names:
        rest = table.rows(table.data_set != name)
        meanings[name] = fit_meaning(rest, anchors, ramp_of)
        shares[name] = predict(meanings[name], table.rows(table.data_set == name))
    held_out_fits: dict[str, dict[str, Any]] = {}
    rows = []
    for name in names:
        # The review estimate for ``name`` is fitted on the other data sets' held-out shares.
        others = [
            (table.rows(table.data_set == other), shares[other], meanings[other])
            for other in names
            if other != name
        ]
        review = fit_review(others)
        own = table.rows(table.data_set == name)
        risk = review_risk(review, review_features(meanings[name], own, shares[name]))
        flagged = risk >= review["threshold"]
        off = np.abs(shares[name] - own.human) > OFF
        rows.append(
            HeldOut(
                name,
                len(own.human),
                float(np.corrcoef(own.human, shares[name])[0, 1]),
                float(np.sqrt(np.mean((shares[name] - own.human) ** 2)) * own.points[0]),
                float(np.mean((shares[name] >= 0.5) == (own.human >= 0.5))),
                float(flagged.mean()),
                float(off[flagged].mean()) if flagged.any() else math.nan,
                float(flagged[off].mean()) if off.any() else math.nan,
            )
        )
        held_out_fits[name] = {"meaning": meanings[name], "review": review}
    return rows, held_out_fits


def print_held_out(rows: Sequence[HeldOut]) -> str:
    lines = [
        "| data set | n | Pearson r | RMSE (points) | accuracy at 1/2 | flagged "
        "| flag precision | flag recall |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row.name} | {row.n} | {row.pearson:.3f} | {row.rmse:.3f} | {row.accuracy:.3f} | "
            f"{row.flagged:.2f} | {row.precision:.2f} | {row.recall:.2f} |"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------- the file


def defaults_document(
    ramp_of: dict[str, Ramp],
    meaning: dict[str, dict[str, float]],
    review: dict[str, float],
    held_out_fits: dict[str, dict[str, Any]],
    rows: Sequence[HeldOut],
    data_sets: Sequence[str],
    anchors: Sequence[AnchorPair],
) -> dict[str, Any]:
    existing = yaml.safe_load(DEFAULTS_PATH.read_text(encoding="utf-8"))
    near = [a for a in anchors if a.kind not in ("paraphrase", "unrelated")]
    return {
        "schema": "grader.defaults/1",
        "version": datetime.now(UTC).strftime("%Y-%m-%d"),
        "ramps": {name: dict(vars(ramp)) for name, ramp in ramp_of.items()},
        "meaning": meaning,
        "criteria": existing["criteria"],
        "review": review,
        "gaming": existing["gaming"],
        "fitted": {
            "command": COMMAND,
            "data_sets": list(data_sets),
            "anchors": (
                f"grader/scoring/anchors.yaml: {len(anchors) - len(near)} "
                "paraphrase/unrelated pairs"
            ),
            "held_out": {
                row.name: {
                    "n": row.n,
                    "pearson": round(row.pearson, 3),
                    "rmse": round(row.rmse, 3),
                    "accuracy": round(row.accuracy, 3),
                    "flagged": round(row.flagged, 3),
                    "flag_precision": round(row.precision, 3),
                    "flag_recall": round(row.recall, 3),
                }
                for row in rows
            },
        },
        "held_out": held_out_fits,
    }


HEADER = """\
# grader scoring defaults: every number that decides a grade.
#
# ramps, meaning and review are written by
#     {command}
# on {date}: ramps from grader/scoring/anchors.yaml; the meaning map and the review estimate fitted
# on the human-graded data sets in ../shared/datasets ({data_sets}), each data set weighted the
# same, with leave-one-data-set-out evidence under fitted.held_out (the fits without each data set
# are under held_out: benchmarks/agreement.py scores a data set with the fit that never saw it).
#
# criteria and gaming are set by hand; each value's reason is beside it. Edit them here, then run
# the command above again (it keeps them).
"""


def write(document: dict[str, Any]) -> None:
    from grader.fsutil import atomic_write

    criteria_gaming = DEFAULTS_PATH.read_text(encoding="utf-8")
    hand = _hand_sections(criteria_gaming)
    body = yaml.safe_dump(
        {key: value for key, value in document.items() if key not in ("criteria", "gaming")},
        sort_keys=False,
        allow_unicode=True,
        width=100,
    )
    header = HEADER.format(
        command=COMMAND,
        date=document["version"],
        data_sets=", ".join(document["fitted"]["data_sets"]),
    )
    defaults_from_dict({**document})  # refuses anything the package would not read
    atomic_write(DEFAULTS_PATH, header + body + hand)


def _hand_sections(text: str) -> str:
    """The ``criteria:`` and ``gaming:`` blocks of the current file, comments kept."""
    lines = text.splitlines(keepends=True)
    kept: list[str] = []
    keeping = False
    for line in lines:
        if line[:1].strip() and not line.startswith("#"):
            keeping = line.startswith(("criteria:", "gaming:"))
        if keeping:
            kept.append(line)
    return "".join(kept)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--datasets", type=Path, default=agreement.DEFAULT_DATASETS)
    parser.add_argument("--cache", type=Path, default=None, help="embedding cache folder")
    parser.add_argument("--write", action="store_true", help="write grader/scoring/defaults.yaml")
    args = parser.parse_args(argv)
    cache_dir = args.cache or default_cache_dir()
    started = time.perf_counter()
    anchors = anchor_pairs(load_anchors(), EmbeddingCache(cache_dir))
    ramp_of = ramps(anchors)
    for model, ramp in ramp_of.items():
        print(f"ramp {model}: {ramp}", file=sys.stderr)
    evidence: list[Evidence] = []
    used = []
    with tempfile.TemporaryDirectory(prefix="grader-fit-") as temporary:
        for name, reader in agreement.READERS.items():
            data_set = reader(args.datasets)
            if data_set is None:
                print(f"skipped {name}: not found under {args.datasets}", file=sys.stderr)
                continue
            print(f"{name}: {len(data_set.items)} answers ...", file=sys.stderr)
            evidence.extend(grade_data_set(data_set, Path(temporary), cache_dir))
            used.append(name)
    table = Table.build(evidence, ramp_of)
    rows, held_out_fits = leave_one_out(table, anchors, ramp_of)
    meaning = fit_meaning(table, anchors, ramp_of)
    shares = [
        (table.rows(table.data_set == name), fit["meaning"]) for name, fit in held_out_fits.items()
    ]
    review = fit_review([(part, predict(m, part), m) for part, m in shares])
    print(print_held_out(rows))
    print(f"meaning map: {meaning}", file=sys.stderr)
    print(f"review: {review}", file=sys.stderr)
    near = [a for a in anchors if a.kind == "near-miss"]
    print(
        "anchors: a right answer is closer to a same-topic wrong one than to the right one by "
        f"{near_miss_gap(anchors, ramp_of):.3f} (ramped, 99th percentile; criteria.wrong_margin)",
        file=sys.stderr,
    )
    for kind in ("paraphrase", "unrelated", "near-miss"):
        chosen = [a for a in anchors if a.kind == kind]
        sims = np.array([ramp_of[a.model].similarity(a.cosine, a.cross) for a in chosen])
        print(f"anchors {kind}: mean ramped similarity {sims.mean():.2f}", file=sys.stderr)
    del near
    if args.write:
        write(defaults_document(ramp_of, meaning, review, held_out_fits, rows, used, anchors))
        print(f"wrote {DEFAULTS_PATH}", file=sys.stderr)
    print(f"{time.perf_counter() - started:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
