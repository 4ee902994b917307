"""Class statistics for the HTML reports: item analysis, the score histogram, similar answer pairs.

Pure functions over ``grader.results`` objects; no HTML here.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from grader.metrics import pearson
from grader.results import AnswerResult, ProblemRecord, Results, StudentResult
from grader.text.normalize import normalize_text

MIN_PAIR_WORDS = 8  # shorter answers are too alike by nature to suggest copying
PAIR_THRESHOLD = 90.0  # rapidfuzz ratio (0..100) from which two answers count as near-identical
MAX_PAIRS = 50  # the most pairs listed on the class page
MOST_MISSED = 3  # criteria listed per question
MAX_LISTED_PROBLEMS = 100  # input problems listed one by one (on the class page, on the terminal)
MAX_PAIR_CHARS = 2_000  # the start of each answer compared for near-identical pairs
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_NOT_WORD = re.compile(r"[^\w]+", re.UNICODE)


@dataclass(frozen=True)
class MissedCriterion:
    id: str  # "criterion" or "step/criterion" for a challenge step
    missed: int  # answers that missed it
    answered: int  # answers graded against it


@dataclass(frozen=True)
class QuestionStats:
    id: str
    type: str
    points: float
    answered: int  # students who answered at least part of it
    mean: float | None  # None: no students
    difficulty: float | None  # mean / points (1 = everyone earned full marks)
    discrimination: float | None  # item-rest correlation; None: too few students or no spread
    flagged: int  # flagged answers (a challenge counts each flagged step)
    overridden: int
    most_missed: tuple[MissedCriterion, ...]


@dataclass(frozen=True)
class Bin:
    low: float  # share of the maximum, 0..1
    high: float
    count: int


@dataclass(frozen=True)
class SimilarPair:
    question: str  # the answer id: "q" or "q/step"
    first: str  # student ids, first < second
    second: str
    similarity: float  # 0..100
    excerpt: str  # the start of the first answer


@dataclass(frozen=True)
class ProblemKind:
    """Problems whose messages differ only in their ids and numbers ("student '…' answered '…'
    again at line …"): how many, and the first one."""

    message: str
    count: int
    first: ProblemRecord


_VARIABLE_PART = re.compile(r"'[^']*'|\d[\d,.]*")


def problem_kinds(problems: Sequence[ProblemRecord]) -> list[ProblemKind]:
    """The problems grouped by kind, most frequent first (then in order of first appearance)."""
    counts: Counter[str] = Counter()
    first: dict[str, ProblemRecord] = {}
    for problem in problems:
        kind = _VARIABLE_PART.sub(
            lambda found: "'…'" if found.group()[0] == "'" else "…", problem.message
        )
        counts[kind] += 1
        first.setdefault(kind, problem)
    order = {kind: index for index, kind in enumerate(first)}
    ranked = sorted(counts, key=lambda kind: (-counts[kind], order[kind]))
    return [ProblemKind(kind, counts[kind], first[kind]) for kind in ranked]


MIN_ITEM_REST = 3  # students a question's discrimination needs


def item_rest(results: Results, question_index: int) -> float | None:
    """Discrimination: the correlation of a question's score with the rest of the total; None
    with fewer than three students or without spread."""
    items = [s.questions[question_index].score for s in results.students]
    rests = [s.total - s.questions[question_index].score for s in results.students]
    if len(items) < MIN_ITEM_REST:
        return None
    r = pearson(items, rests)
    return None if math.isnan(r) else r


def question_stats(results: Results) -> list[QuestionStats]:
    if not results.students:
        return []
    first = results.students[0]
    return [_one_question(results, index) for index in range(len(first.questions))]


def _one_question(results: Results, index: int) -> QuestionStats:
    questions = [s.questions[index] for s in results.students if index < len(s.questions)]
    template = questions[0]
    mean = sum(q.score for q in questions) / len(questions)
    answers = [a for q in questions for a in q.answers]
    return QuestionStats(
        id=template.id,
        type=template.type,
        points=template.points,
        answered=sum(1 for q in questions if any(a.answered for a in q.answers)),
        mean=mean,
        difficulty=mean / template.points if template.points > 0 else None,
        discrimination=item_rest(results, index),
        flagged=sum(1 for a in answers if a.flags),
        overridden=sum(1 for a in answers if a.override is not None),
        most_missed=_most_missed(answers, template.type == "challenge"),
    )


def _most_missed(answers: Sequence[AnswerResult], prefix_step: bool) -> tuple[MissedCriterion, ...]:
    missed: Counter[str] = Counter()
    graded: Counter[str] = Counter()
    for answer in answers:
        if not answer.answered:
            continue
        for criterion in answer.criteria:
            name = f"{answer.id.split('/', 1)[-1]}/{criterion.id}" if prefix_step else criterion.id
            graded[name] += 1
            if not criterion.met:
                missed[name] += 1
    ranked = sorted(missed.items(), key=lambda item: (-item[1], item[0]))
    return tuple(MissedCriterion(name, count, graded[name]) for name, count in ranked[:MOST_MISSED])


def histogram(results: Results, bins: int = 10) -> list[Bin]:
    """Students per band of the maximum score; a full score falls in the top band."""
    counts = [0] * bins
    for student in results.students:
        share = student.total / student.max if student.max > 0 else 0.0
        counts[min(bins - 1, max(0, int(share * bins + 1e-9)))] += 1
    return [Bin(i / bins, (i + 1) / bins, count) for i, count in enumerate(counts)]


def normalise(text: str) -> str:
    """Text for near-duplicate comparison: the grader's comparison form (``normalize_text``:
    NFKC, case-folded, look-alike letters folded), punctuation and spacing collapsed."""
    return " ".join(_NOT_WORD.sub(" ", normalize_text(text)).split())


def word_count(text: str) -> int:
    """Words between spaces; for Chinese and Japanese script, about one word per two characters."""
    spaced = len(text.split())
    return max(spaced, len(_CJK.findall(text)) // 2)


_Entry = tuple[StudentResult, AnswerResult, str]
_PAIR_BLOCK = 256  # distinct answers compared at a time (bounds the score matrix)
_ALL_PAIRS_UP_TO = 3000  # distinct answers to one question compared all against all
_NEIGHBOURS = 24  # beyond that, the sorted neighbours each answer is compared with


def similar_pairs(
    results: Results,
    threshold: float = PAIR_THRESHOLD,
    min_words: int = MIN_PAIR_WORDS,
    limit: int = MAX_PAIRS,
) -> tuple[list[SimilarPair], int, bool]:
    """Near-identical answers to the same question from different students, most alike first.

    Returns the pairs (at most ``limit``), how many were found in all, and whether the search was
    exhaustive. Identical texts are compared once (a popular answer written by a thousand students
    is one text, not half a million pairs), and only texts whose lengths allow the threshold are
    compared at all. A question with more than ``_ALL_PAIRS_UP_TO`` distinct answers compares each
    only with its neighbours in sorted order, from the start and from the end (near-identical
    texts share a long start or end), so that the time grows linearly: the count is then a floor.
    Answers are compared by their first ``MAX_PAIR_CHARS`` characters (after normalising), so a
    huge answer costs no more than a long one, and no text is compared with itself.
    """
    by_question: dict[str, dict[str, list[_Entry]]] = {}
    for student in results.students:
        for question in student.questions:
            for answer in question.answers:
                text = _compared_text(answer.answer)
                if answer.answered and word_count(text) >= min_words:
                    texts = by_question.setdefault(answer.id, {})
                    texts.setdefault(text, []).append((student, answer, text))
    kept: list[SimilarPair] = []
    found = 0
    exhaustive = True
    for question_id in sorted(by_question):
        groups = [sorted(texts, key=_student_id) for texts in by_question[question_id].values()]
        all_pairs = len(groups) <= _ALL_PAIRS_UP_TO
        exhaustive = exhaustive and all_pairs
        for first, second, score in _close_texts(groups, threshold, all_pairs):
            others = None if first == second else groups[second]
            found += _pair_count(groups[first], others)
            kept.extend(_first_pairs(question_id, groups[first], others, score, limit))
            if len(kept) > 4 * limit:
                kept = sorted(kept, key=_pair_order)[:limit]
    return sorted(kept, key=_pair_order)[:limit], found, exhaustive


def _compared_text(answer: str) -> str:
    """The part of an answer compared for pairs: its normalised start (spaces and punctuation
    collapse, so four times the characters are read for it)."""
    return normalise(answer[: 4 * MAX_PAIR_CHARS])[:MAX_PAIR_CHARS]


def _student_id(entry: _Entry) -> str:
    return entry[0].id


def _close_texts(
    groups: Sequence[Sequence[_Entry]], threshold: float, all_pairs: bool
) -> Iterator[tuple[int, int, float]]:
    """(i, j, score) for each group of identical texts (i == j, score 100) and each pair of
    distinct texts at least ``threshold`` alike (i < j); without ``all_pairs``, those among
    sorted neighbours (_close_neighbours)."""
    import numpy as np
    from rapidfuzz import fuzz, process

    for index, group in enumerate(groups):
        if len(group) > 1:
            yield index, index, 100.0
    if not all_pairs:
        yield from _close_neighbours([group[0][2] for group in groups], threshold)
        return
    order = sorted(range(len(groups)), key=lambda i: len(groups[i][0][2]))
    texts = [groups[i][0][2] for i in order]
    lengths = np.array([len(text) for text in texts])
    # ratio = 100 * (1 - distance / (a + b)) <= 200 * a / (a + b): a shorter text of length a can
    # reach the threshold only with texts at most a * (200 - t) / t long.
    reach = np.searchsorted(lengths, lengths * (200.0 - threshold) / threshold, side="right")

    def scored(rows: Sequence[str], columns: Sequence[str]) -> Any:
        return process.cdist(
            rows, columns, scorer=fuzz.ratio, score_cutoff=threshold, dtype=np.float32, workers=1
        )

    def pair(row: int, column: int, score: float) -> tuple[int, int, float]:
        first, second = order[row], order[column]
        return min(first, second), max(first, second), score

    for block in range(0, len(texts), _PAIR_BLOCK):
        end = min(block + _PAIR_BLOCK, len(texts))
        for row in range(block, end - 1):  # within the block: each text with the later ones
            stop = min(end, int(reach[row]))
            if stop > row + 1:
                scores = scored(texts[row : row + 1], texts[row + 1 : stop])[0]
                for column in np.flatnonzero(scores >= threshold).tolist():
                    yield pair(row, row + 1 + column, float(scores[column]))
        stop = int(reach[block:end].max())
        if stop > end:  # the block against the texts after it
            scores = scored(texts[block:end], texts[end:stop])
            for row, column in np.argwhere(scores >= threshold).tolist():
                yield pair(block + row, end + column, float(scores[row][column]))


def _close_neighbours(texts: Sequence[str], threshold: float) -> Iterator[tuple[int, int, float]]:
    """Like _close_texts, comparing each text only with its _NEIGHBOURS next ones in sorted order
    and in the order of the reversed texts."""
    from rapidfuzz import fuzz

    seen: set[tuple[int, int]] = set()
    for key in (lambda i: texts[i], lambda i: texts[i][::-1]):
        order = sorted(range(len(texts)), key=key)
        for position, first in enumerate(order):
            for second in order[position + 1 : position + 1 + _NEIGHBOURS]:
                pair = (min(first, second), max(first, second))
                if pair in seen:
                    continue
                seen.add(pair)
                score = fuzz.ratio(texts[pair[0]], texts[pair[1]], score_cutoff=threshold)
                if score >= threshold:
                    yield pair[0], pair[1], float(score)


def _pair_count(first: Sequence[_Entry], second: Sequence[_Entry] | None) -> int:
    """Pairs between two groups; within ``first`` when ``second`` is None."""
    if second is None:
        return len(first) * (len(first) - 1) // 2
    return len(first) * len(second)


def _first_pairs(
    question_id: str,
    first: Sequence[_Entry],
    second: Sequence[_Entry] | None,
    score: float,
    limit: int,
) -> list[SimilarPair]:
    """The ``limit`` pairs (within ``first`` when ``second`` is None) with the smallest student
    ids (each side sorted by id): a pair whose smaller student is not among the first ``limit``
    of its side has ``limit`` smaller pairs."""
    chosen: Iterator[tuple[_Entry, _Entry]]
    if second is None:
        chosen = itertools.islice(itertools.combinations(first, 2), limit)
    else:
        ordered = [
            (x, y) if x[0].id < y[0].id else (y, x) for x in first[:limit] for y in second[:limit]
        ]
        ordered.sort(key=lambda p: (p[0][0].id, p[1][0].id))
        chosen = iter(ordered[:limit])
    return [_pair(question_id, x, y, score) for x, y in chosen]


def _pair_order(pair: SimilarPair) -> tuple[float, str, str, str]:
    return -pair.similarity, pair.question, pair.first, pair.second


def _pair(
    question_id: str,
    first: tuple[StudentResult, AnswerResult, str],
    second: tuple[StudentResult, AnswerResult, str],
    score: float,
) -> SimilarPair:
    excerpt = " ".join(first[1].answer.split())
    if len(excerpt) > 120:
        excerpt = excerpt[:119] + "…"
    return SimilarPair(question_id, first[0].id, second[0].id, round(score, 1), excerpt)
