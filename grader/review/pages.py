"""The review pages: per gradable, the answers that need a look, then its answer groups, largest
first; and an index of the gradables."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from grader.results import AnswerResult, Flag, Override, Results

if TYPE_CHECKING:
    from grader.bank import Bank
from grader.fsutil import atomic_write, safe_file_names
from grader.output.class_page import page_names
from grader.output.pages import INSTRUCTOR_FOLDER, environment, lang_attr, number
from grader.review.groups import AnswerGroup, answers_by_gradable

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
    return number(value)


def _page_links(results: Results) -> dict[str, str]:
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
    template = environment().get_template("review.html.j2")
    return template.render(csp=_csp(), **context)


def review_file_names(gradables: Sequence[str]) -> dict[str, str]:
    """The page file stem of each gradable: readable, safe, unique."""
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
