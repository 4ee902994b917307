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
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from grader.results import AnswerResult, Flag, Override, Results
from grader.text.normalize import normalize_text

if TYPE_CHECKING:
    import numpy as np

    from grader.bank import Bank

DEFAULT_THRESHOLD = 0.92
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


# ---------------------------------------------------------------- review pages


@dataclass(frozen=True)
class EvidenceLine:
    kind: str  # "ok", "bad", "mis", "info"
    text: str


@dataclass(frozen=True)
class MemberView:
    student: str
    href: str  # the student's page, relative to the review page
    answer: str  # "" when it is the group's representative text (shown once)
    score: float
    auto_score: float
    override: Override | None
    flags: tuple[Flag, ...]


@dataclass(frozen=True)
class ReviewAnswerView:
    """One answer that needs review: flagged and not overridden."""

    student: str
    href: str
    answer: str
    answered: bool
    language: str
    score: float
    auto_score: float
    points: float
    flags: tuple[Flag, ...]
    evidence: tuple[EvidenceLine, ...]
    group: str  # the id of the group it is in


@dataclass(frozen=True)
class GroupView:
    id: str
    anchor: str
    size: int
    share: float  # of the gradable's answers
    representative: str
    representative_student: str
    empty: bool
    similar: bool
    flagged: bool
    flag_codes: tuple[str, ...]
    low: float
    high: float
    points: float
    overridden: int
    evidence: tuple[EvidenceLine, ...]
    members: tuple[MemberView, ...]
    variants: tuple[str, ...]


@dataclass(frozen=True)
class GradableRow:
    """One line of the review index."""

    id: str
    href: str
    points: float
    answers: int
    answered: int
    groups: int
    shared: int  # groups of more than one answer
    needs_review: int
    overridden: int
    mean: float


def _evidence(answer: AnswerResult) -> tuple[EvidenceLine, ...]:
    """A short account of how the automatic score was reached."""
    lines = []
    for criterion in answer.criteria:
        found = [g.match.matched for g in criterion.groups if g.match and not g.match.negated]
        negated = [g.negated.matched for g in criterion.groups if g.negated]
        text = f"{criterion.id}: {_num(criterion.score)}/{_num(criterion.points)}"
        if found:
            text += " · found " + ", ".join(f"“{item}”" for item in found)
        if negated:
            text += " · negated " + ", ".join(f"“{item}”" for item in negated)
        if criterion.concept is not None:
            text += f" · concept cosine {criterion.concept.cosine:.2f}"
        lines.append(EvidenceLine("ok" if criterion.met else "bad", text))
    for hit in answer.misconceptions:
        lines.append(EvidenceLine("mis", f"misconception {hit.id}: −{_num(hit.penalty)}"))
    if answer.similarity is not None:
        cosine = answer.similarity.cosine
        lines.append(EvidenceLine("info", f"closest model answer: cosine {cosine:.2f}"))
    if answer.overlap is not None:
        lines.append(
            EvidenceLine("info", f"model-answer word overlap {round(answer.overlap * 100)}%")
        )
    if answer.model is None and answer.answered and answer.criteria:
        lines.append(EvidenceLine("info", "keywords only (no embedding model)"))
    return tuple(lines)


def _num(value: float) -> str:
    from grader.output.pages import number

    return number(value)


def _page_links(results: Results) -> dict[str, str]:
    from grader.output.class_page import page_names
    from grader.output.pages import INSTRUCTOR_FOLDER

    return {
        student: f"../{INSTRUCTOR_FOLDER}/{quote(name)}.html"
        for student, name in page_names(results).items()
    }


def _needs_review(
    pairs: Sequence[tuple[str, AnswerResult]],
    groups: Sequence[AnswerGroup],
    links: Mapping[str, str],
) -> tuple[ReviewAnswerView, ...]:
    group_of = {student: group.id for group in groups for student in group.members}
    rows = [
        ReviewAnswerView(
            student=student,
            href=links.get(student, ""),
            answer=answer.answer,
            answered=answer.answered,
            language=answer.language,
            score=answer.score,
            auto_score=answer.auto_score,
            points=answer.points,
            flags=answer.flags,
            evidence=_evidence(answer),
            group=group_of.get(student, ""),
        )
        for student, answer in pairs
        if answer.flags and answer.override is None
    ]
    return tuple(sorted(rows, key=lambda row: (-len(row.flags), row.student)))


def _group_view(
    group: AnswerGroup, total: int, answers: Mapping[str, AnswerResult], links: Mapping[str, str]
) -> GroupView:
    members = tuple(
        MemberView(
            student=student,
            href=links.get(student, ""),
            answer=""
            if answers[student].answer == group.representative
            else answers[student].answer,
            score=answers[student].score,
            auto_score=answers[student].auto_score,
            override=answers[student].override,
            flags=answers[student].flags,
        )
        for student in group.members
    )
    return GroupView(
        id=group.id,
        anchor="g-" + quote(group.id, safe="").replace("%", "_"),
        size=group.size,
        share=group.size / total if total else 0.0,
        representative=group.representative,
        representative_student=group.representative_student,
        empty=group.empty,
        similar=group.similar,
        flagged=group.flagged,
        flag_codes=group.flag_codes,
        low=min(group.scores),
        high=max(group.scores),
        points=group.points,
        overridden=sum(1 for member in members if member.override is not None),
        evidence=_evidence(answers[group.representative_student]),
        members=members,
        variants=group.variants if group.similar else (),
    )


def _prompts(bank: Bank | None, gradable: str) -> tuple[str, str]:
    """(question prompt, step prompt) in the bank's first language; "" when unknown."""
    if bank is None:
        return "", ""
    found = bank.gradables().get(gradable)
    step = found.prompt.get(None, bank.languages) if found else ""
    if "/" not in gradable:
        return step, ""
    question = bank.question(gradable.split("/", 1)[0])
    return (question.prompt.get(None, bank.languages) if question else ""), step


def _csp() -> str:
    return (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'none'; "
        "base-uri 'none'; form-action 'none'"
    )


def _bank_title(results: Results, bank: Bank | None) -> str:
    if bank is not None and bank.title:
        return bank.title.get(None, bank.languages)
    return results.bank.title or results.bank.id


def _render(**context: object) -> str:
    from grader.output.pages import environment

    template = environment().get_template("review.html.j2")
    return template.render(csp=_csp(), **context)


def review_file_names(gradables: Sequence[str]) -> dict[str, str]:
    """The page file stem of each gradable: readable, safe, unique."""
    from grader.fsutil import safe_file_names

    names = safe_file_names(gradables)
    for gradable, name in names.items():
        if name.casefold() == "index":  # the index page's own name
            names[gradable] = f"{name}-{hashlib.sha256(gradable.encode('utf-8')).hexdigest()[:8]}"
    return names


def render_review_page(
    results: Results,
    gradable: str,
    groups: Sequence[AnswerGroup],
    bank: Bank | None = None,
) -> str:
    """The review page of one gradable: answers that need review, then groups largest first."""
    pairs = answers_by_gradable(results).get(gradable, [])
    answers = {student: answer for student, answer in pairs}
    links = _page_links(results)
    question_prompt, step_prompt = _prompts(bank, gradable)
    views = tuple(_group_view(group, len(pairs), answers, links) for group in groups)
    return _render(
        page="gradable",
        page_lang=_page_lang(results),
        title=_bank_title(results, bank),
        gradable=gradable,
        points=pairs[0][1].points if pairs else 0.0,
        question_prompt=question_prompt,
        step_prompt=step_prompt,
        answered=sum(1 for _student, answer in pairs if answer.answered),
        total=len(pairs),
        needs_review=_needs_review(pairs, groups, links),
        groups=views,
        shared=sum(1 for view in views if view.size > 1),
        rows=(),
    )


def _page_lang(results: Results) -> str:
    from grader.output.pages import lang_attr

    languages = results.bank.languages
    return lang_attr(languages[0]) if languages and lang_attr(languages[0]) else "en"


def _gradable_row(
    gradable: str,
    name: str,
    pairs: Sequence[tuple[str, AnswerResult]],
    groups: Sequence[AnswerGroup],
) -> GradableRow:
    scores = [answer.score for _student, answer in pairs]
    return GradableRow(
        id=gradable,
        href=f"{quote(name)}.html",
        points=pairs[0][1].points if pairs else 0.0,
        answers=len(pairs),
        answered=sum(1 for _student, answer in pairs if answer.answered),
        groups=len(groups),
        shared=sum(1 for group in groups if group.size > 1),
        needs_review=sum(
            1 for _student, answer in pairs if answer.flags and answer.override is None
        ),
        overridden=sum(1 for _student, answer in pairs if answer.override is not None),
        mean=round(sum(scores) / len(scores), 4) if scores else 0.0,
    )


def render_review_index(
    results: Results, groups: Mapping[str, Sequence[AnswerGroup]], bank: Bank | None = None
) -> str:
    """The review index: one row per gradable with its counts and a link to its page."""
    by_gradable = answers_by_gradable(results)
    names = review_file_names(list(by_gradable))
    rows = tuple(
        _gradable_row(gradable, names[gradable], pairs, groups.get(gradable, ()))
        for gradable, pairs in by_gradable.items()
    )
    return _render(
        page="index",
        page_lang=_page_lang(results),
        title=_bank_title(results, bank),
        rows=rows,
        meaning=any(group.similar for listed in groups.values() for group in listed),
    )


def write_review_pages(
    results: Results,
    groups: Mapping[str, Sequence[AnswerGroup]],
    bank: Bank | None,
    out_dir: Path,
) -> list[Path]:
    """Write ``out_dir/review/<gradable>.html`` per gradable and ``out_dir/review/index.html``.

    Pages are self-contained (inline CSS, no script, nothing from the network) and link to the
    instructor's page of each student in ``out_dir/instructor/``
    (``grader.output.report.write_reports``).
    """
    from grader.fsutil import atomic_write

    folder = Path(out_dir) / "review"
    names = review_file_names(list(answers_by_gradable(results)))
    written = []
    for gradable, name in names.items():
        path = folder / f"{name}.html"
        atomic_write(path, render_review_page(results, gradable, groups.get(gradable, ()), bank))
        written.append(path)
    index = folder / "index.html"
    atomic_write(index, render_review_index(results, groups, bank))
    written.append(index)
    return written
