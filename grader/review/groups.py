"""Instructor review: answers grouped by what they say, and one review page per gradable.

An *answer group* gathers the answers to one gradable (a question, or a challenge step "q/step")
that say the same thing, so that an instructor can check one answer and override a whole group.

Group ids are stable across regrades, because overrides refer to them:

* ``<gradable>#<12 hex>``: every answer whose *group key* (its ``normalize_text`` form, without
  punctuation or spaces at its ends) has that SHA-256 prefix. It depends on the text alone, so it
  can be resolved from any results file without embeddings.
* ``<gradable>#empty``: the empty answers (missing, blank, or punctuation only).
* ``<gradable>~<12 hex>``: a meaning group (several distinct texts whose embeddings are within the
  threshold of the representative's); the hash is the representative's group key. Resolving it
  needs the same grouping (the same embedding model and threshold).
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from grader.results import AnswerResult, Results
from grader.review import DEFAULT_THRESHOLD
from grader.text.normalize import normalize_text

if TYPE_CHECKING:
    import numpy as np


EMPTY_DIGEST = "empty"
DIGEST_CHARS = 12
EXACT_MARK = "#"
SIMILAR_MARK = "~"
Embed = Callable[[list[str]], "np.ndarray"]


# ---------------------------------------------------------------- group ids


def group_key(answer: str) -> str:
    """The text two answers must share to be in one exact group ("" for an empty answer)."""
    text = normalize_text(answer)
    start, end = 0, len(text)
    while start < end and _is_edge(text[start]):
        start += 1
    while end > start and _is_edge(text[end - 1]):
        end -= 1
    return text[start:end]


def _is_edge(char: str) -> bool:
    return char.isspace() or unicodedata.category(char).startswith("P")


def _digest(key: str) -> str:
    if not key:
        return EMPTY_DIGEST
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:DIGEST_CHARS]


def exact_group_id(gradable: str, answer: str) -> str:
    """The id of the exact group ``answer`` belongs to, e.g. ``decoder-shift#3f9a1c02be7d``."""
    return f"{gradable}{EXACT_MARK}{_digest(group_key(answer))}"


def split_group_id(group_id: str) -> tuple[str, str, str] | None:
    """(gradable, mark, digest) of a group id; None when it is not shaped like one."""
    position = max(group_id.rfind(EXACT_MARK), group_id.rfind(SIMILAR_MARK))
    if position <= 0 or position == len(group_id) - 1:
        return None
    return group_id[:position], group_id[position], group_id[position + 1 :]


# ---------------------------------------------------------------- groups


@dataclass(frozen=True)
class AnswerGroup:
    """Answers to one gradable that say the same thing."""

    id: str  # "<gradable>#<digest>", "<gradable>#empty" or "<gradable>~<digest>"
    gradable: str  # "q" or "q/step"
    points: float
    members: tuple[str, ...]  # student ids, sorted
    scores: tuple[float, ...]  # each member's final score, in members order
    auto_scores: tuple[float, ...]  # each member's automatic score, in members order
    representative: str  # the representative answer's text, as written
    representative_student: str
    key: str  # the representative's group key ("" for the empty group)
    flagged: bool  # any member's answer is flagged for review
    flag_codes: tuple[str, ...]  # the distinct flag codes among the members, sorted
    variants: tuple[str, ...]  # the exact-group ids inside (just this id for an exact group)

    @property
    def size(self) -> int:
        return len(self.members)

    @property
    def empty(self) -> bool:
        return self.key == ""

    @property
    def similar(self) -> bool:
        """A meaning group: more than one distinct text."""
        return len(self.variants) > 1


@dataclass
class _Exact:
    """The answers of one gradable that share a group key."""

    key: str
    answers: list[tuple[str, AnswerResult]]  # (student, answer)

    @property
    def representative(self) -> tuple[str, str]:
        """(student, text): the most common spelling, then the first student."""
        counts = Counter(answer.answer for _student, answer in self.answers)
        text = max(counts, key=lambda item: counts[item])
        student = min(student for student, answer in self.answers if answer.answer == text)
        return student, text


def answers_by_gradable(results: Results) -> dict[str, list[tuple[str, AnswerResult]]]:
    """Every (student, answer) per gradable id, gradables in the results' order."""
    found: dict[str, list[tuple[str, AnswerResult]]] = defaultdict(list)
    for student in results.students:
        for question in student.questions:
            for answer in question.answers:
                found[answer.id].append((student.id, answer))
    return dict(found)


def _exact_groups(answers: Sequence[tuple[str, AnswerResult]]) -> list[_Exact]:
    by_key: dict[str, _Exact] = {}
    for student, answer in answers:
        key = group_key(answer.answer) if answer.answered else ""
        by_key.setdefault(key, _Exact(key, [])).answers.append((student, answer))
    return sorted(by_key.values(), key=lambda group: (-len(group.answers), group.key))


def _build_group(gradable: str, parts: Sequence[_Exact]) -> AnswerGroup:
    leader = parts[0]
    members = sorted((pair for part in parts for pair in part.answers), key=lambda pair: pair[0])
    student, text = leader.representative
    mark = SIMILAR_MARK if len(parts) > 1 else EXACT_MARK
    codes = sorted({flag.code for _student, answer in members for flag in answer.flags})
    return AnswerGroup(
        id=f"{gradable}{mark}{_digest(leader.key)}",
        gradable=gradable,
        points=members[0][1].points,
        members=tuple(pair[0] for pair in members),
        scores=tuple(pair[1].score for pair in members),
        auto_scores=tuple(pair[1].auto_score for pair in members),
        representative=text,
        representative_student=student,
        key=leader.key,
        flagged=any(answer.flags for _student, answer in members),
        flag_codes=tuple(codes),
        variants=tuple(f"{gradable}{EXACT_MARK}{_digest(part.key)}" for part in parts),
    )


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    import numpy as np

    matrix = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms > 0, norms, 1.0)


def _leader_clusters(vectors: np.ndarray, threshold: float) -> list[list[int]]:
    """Greedy clustering in the given order (largest exact group first): each unassigned text
    leads a cluster and takes every unassigned text within ``threshold`` of it, so every member
    is close to the representative itself (no chains of near neighbours)."""
    import numpy as np

    unassigned = np.ones(len(vectors), dtype=bool)
    clusters = []
    for leader in range(len(vectors)):
        if not unassigned[leader]:
            continue
        candidates = np.flatnonzero(unassigned)
        close = candidates[vectors[candidates] @ vectors[leader] >= threshold]
        members = sorted({leader, *close.tolist()})
        unassigned[members] = False
        clusters.append(members)
    return clusters


def _embed_representatives(
    exact: Mapping[str, list[_Exact]], embed: Embed
) -> dict[str, np.ndarray]:
    """One embedding call for every non-empty exact group's representative, split per gradable."""
    texts: list[str] = []
    spans: dict[str, tuple[int, int]] = {}
    for gradable, groups in exact.items():
        start = len(texts)
        texts.extend(group.representative[1] for group in groups if group.key)
        spans[gradable] = (start, len(texts))
    if not texts:
        return {}
    vectors = _unit_rows(embed(texts))
    if vectors.ndim != 2 or vectors.shape[0] != len(texts):
        raise ValueError(f"embed returned shape {vectors.shape} for {len(texts)} texts")
    return {gradable: vectors[start:end] for gradable, (start, end) in spans.items()}


def _merge_similar(
    gradable: str, groups: list[_Exact], vectors: np.ndarray | None, threshold: float
) -> list[AnswerGroup]:
    filled = [group for group in groups if group.key]
    empty = [group for group in groups if not group.key]
    if vectors is None or len(filled) < 2:
        clusters = [[index] for index in range(len(filled))]
    else:
        clusters = _leader_clusters(vectors, threshold)
    built = [_build_group(gradable, [filled[index] for index in cluster]) for cluster in clusters]
    built.extend(_build_group(gradable, [group]) for group in empty)
    return sorted(built, key=lambda group: (-group.size, group.key, group.id))


def answer_groups(
    results: Results,
    embed: Embed | None = None,
    threshold: float = DEFAULT_THRESHOLD,
) -> dict[str, list[AnswerGroup]]:
    """The answer groups of every gradable ("q" or "q/step"), largest first.

    Answers with the same group key form an exact group; empty answers form their own group.
    With ``embed`` (texts -> one vector per text, e.g. ``load_embedder("minilm").encode``), exact
    groups whose representatives have a cosine >= ``threshold`` with a larger group's
    representative join that group (greedy, largest first). ``embed`` is called once.
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], not {threshold}")
    exact = {
        gradable: _exact_groups(pairs) for gradable, pairs in answers_by_gradable(results).items()
    }
    vectors = _embed_representatives(exact, embed) if embed is not None else {}
    return {
        gradable: _merge_similar(gradable, groups, vectors.get(gradable), threshold)
        for gradable, groups in exact.items()
    }


def group_index(groups: Mapping[str, Sequence[AnswerGroup]]) -> dict[str, AnswerGroup]:
    """Every group by its id."""
    return {group.id: group for listed in groups.values() for group in listed}
