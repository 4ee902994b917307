"""What changed between two gradings of a class, and why.

``diff_results(old, new)`` lists every answer whose final score changed (or whose override did,
or that exists on one side only), with the reasons it can see: which criteria and misconceptions
changed their credit, overrides added, removed or changed, answer text, points, language or
embedding model. Changes that touch every answer (the bank file, settings, models, calibration)
are listed once as context. Students added or removed are listed by total only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from grader.output.pages import number
from grader.results import AnswerResult, Override, Results

SECTION_TITLE = "Changes since the last grading"
_DIGITS = 4


def same(first: float | None, second: float | None) -> bool:
    if first is None or second is None:
        return first is second
    return round(first, _DIGITS) == round(second, _DIGITS)


def num(value: float | None) -> str:
    return number(value)


def signed(value: float) -> str:
    rounded = round(value, 2)
    if rounded == 0:
        return "±0"
    return ("+" if rounded > 0 else "-") + num(abs(rounded))


# ---------------------------------------------------------------- the model


@dataclass(frozen=True)
class PartChange:
    """A criterion's score or a misconception's penalty that differs."""

    kind: str  # "criterion" | "misconception"
    id: str
    old: float | None  # criterion score / misconception penalty; None: absent on that side
    new: float | None
    old_points: float | None = None  # a criterion's points (None for a misconception)
    new_points: float | None = None

    @property
    def effect(self) -> float:
        """What the change did to the answer's automatic score (before clamping)."""
        old, new = self.old or 0.0, self.new or 0.0
        return new - old if self.kind == "criterion" else old - new


@dataclass(frozen=True)
class AnswerChange:
    student: str
    question: str  # the question id
    answer: str  # the gradable id ("q" or "q/step")
    old_score: float | None  # None: not in the old results
    new_score: float | None  # None: not in the new results
    old_auto: float | None
    new_auto: float | None
    override: str  # "" (unchanged), "added", "removed" or "changed"
    reasons: tuple[str, ...]  # one line each, most specific first
    parts: tuple[PartChange, ...] = ()

    @property
    def delta(self) -> float:
        return round((self.new_score or 0.0) - (self.old_score or 0.0), _DIGITS)

    @property
    def status(self) -> str:
        if self.old_score is None:
            return "added"
        if self.new_score is None:
            return "removed"
        return "changed"


@dataclass(frozen=True)
class StudentChange:
    student: str
    old_total: float | None  # None: the student is new
    new_total: float | None  # None: the student is gone

    @property
    def delta(self) -> float:
        return round((self.new_total or 0.0) - (self.old_total or 0.0), _DIGITS)

    @property
    def status(self) -> str:
        if self.old_total is None:
            return "added"
        if self.new_total is None:
            return "removed"
        return "changed"


@dataclass(frozen=True)
class ResultsDiff:
    context: tuple[str, ...]  # bank, settings, model and calibration changes, one line each
    students: tuple[StudentChange, ...]  # totals that changed, students added or removed
    answers: tuple[AnswerChange, ...]  # per student and answer, in bank order

    @property
    def empty(self) -> bool:
        return not (self.context or self.students or self.answers)

    @property
    def scores_changed(self) -> int:
        """Answers in both results whose final score differs."""
        return sum(
            1
            for change in self.answers
            if change.status == "changed" and not same(change.old_score, change.new_score)
        )


# ---------------------------------------------------------------- context


def _value(value: Any) -> str:
    return "default" if value is None else repr(value) if isinstance(value, str) else str(value)


def _context(old: Results, new: Results) -> tuple[str, ...]:
    lines = []
    if old.bank.id != new.bank.id:
        lines.append(f"bank '{old.bank.id}' → '{new.bank.id}'")
    if old.bank.sha256 != new.bank.sha256:
        lines.append(f"bank file changed (sha256 {old.bank.sha256[:12]} → {new.bank.sha256[:12]})")
    if not same(old.bank.points, new.bank.points):
        lines.append(f"total points {num(old.bank.points)} → {num(new.bank.points)}")
    for key in sorted(set(old.settings) | set(new.settings)):
        before, after = old.settings.get(key), new.settings.get(key)
        if before != after:
            lines.append(f"setting {key}: {_value(before)} → {_value(after)}")
    lines.extend(_model_lines(old.models, new.models))
    return tuple(lines)


def _model_lines(
    old: Mapping[str, Mapping[str, Any]], new: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    lines = []
    for name in sorted(set(old) | set(new)):
        if name not in new:
            lines.append(f"model {name} no longer used")
        elif name not in old:
            lines.append(f"model {name} now used")
        else:
            changed = [
                f"{key} {_value(old[name].get(key))} → {_value(new[name].get(key))}"
                for key in sorted(set(old[name]) | set(new[name]))
                if old[name].get(key) != new[name].get(key)
            ]
            if changed:
                lines.append(f"model {name}: " + ", ".join(changed))
    return lines


# ---------------------------------------------------------------- one answer


def _override_text(override: Override) -> str:
    text = f"{num(override.score)}"
    if override.source:
        text += f" from {override.source}"
    if override.comment:
        text += f" ({override.comment})"
    return text


def _override_change(old: Override | None, new: Override | None) -> tuple[str, list[str]]:
    if old == new:
        return "", []
    if old is None and new is not None:
        return "added", [f"override added: {_override_text(new)}"]
    if new is None and old is not None:
        return "removed", [f"override removed (was {_override_text(old)})"]
    assert old is not None and new is not None
    if not same(old.score, new.score):
        return "changed", [f"override changed: {num(old.score)} → {_override_text(new)}"]
    if old.comment != new.comment:
        return "changed", [f"override comment changed: {new.comment!r}"]
    return "changed", [f"override moved to {new.source}"]


def _criterion_parts(old: AnswerResult, new: AnswerResult) -> list[PartChange]:
    before = {criterion.id: criterion for criterion in old.criteria}
    after = {criterion.id: criterion for criterion in new.criteria}
    parts = []
    for name in [*before, *(name for name in after if name not in before)]:
        first, second = before.get(name), after.get(name)
        old_score = first.score if first else None
        new_score = second.score if second else None
        old_points = first.points if first else None
        new_points = second.points if second else None
        if same(old_score, new_score) and same(old_points, new_points):
            continue
        parts.append(PartChange("criterion", name, old_score, new_score, old_points, new_points))
    return parts


def _misconception_parts(old: AnswerResult, new: AnswerResult) -> list[PartChange]:
    before = {hit.id: hit.penalty for hit in old.misconceptions}
    after = {hit.id: hit.penalty for hit in new.misconceptions}
    return [
        PartChange("misconception", name, before.get(name), after.get(name))
        for name in [*before, *(name for name in after if name not in before)]
        if not same(before.get(name), after.get(name))
    ]


def _part_reason(part: PartChange) -> str:
    if part.kind == "misconception":
        if part.old is None:
            return f"misconception {part.id} now found (-{num(part.new)})"
        if part.new is None:
            return f"misconception {part.id} no longer found (+{num(part.old)})"
        return f"misconception {part.id} penalty {num(part.old)} → {num(part.new)}"
    if part.old is None:
        return f"criterion {part.id} added: {num(part.new)}/{num(part.new_points)}"
    if part.new is None:
        return f"criterion {part.id} removed (was {num(part.old)}/{num(part.old_points)})"
    return (
        f"criterion {part.id}: {num(part.old)}/{num(part.old_points)} → "
        f"{num(part.new)}/{num(part.new_points)} ({signed(part.effect)})"
    )


def _answer_reasons(old: AnswerResult, new: AnswerResult) -> list[str]:
    reasons = []
    if old.answered != new.answered:
        reasons.append("answer added" if new.answered else "answer removed")
    elif old.answer != new.answer:
        reasons.append("answer text changed")
    if not same(old.points, new.points):
        reasons.append(f"points {num(old.points)} → {num(new.points)}")
    if old.language != new.language and old.answered and new.answered:
        reasons.append(f"language {old.language or '?'} → {new.language or '?'}")
    if old.model != new.model:
        reasons.append(f"model {old.model or 'none'} → {new.model or 'none'}")
    return reasons


def _similarity_reasons(old: AnswerResult, new: AnswerResult) -> list[str]:
    reasons = []
    if old.similarity and new.similarity and not same(old.similarity.credit, new.similarity.credit):
        before, after = old.similarity.cosine, new.similarity.cosine
        reasons.append(f"closest model answer: cosine {before:.2f} → {after:.2f}")
    if not same(old.overlap, new.overlap) and old.overlap is not None and new.overlap is not None:
        reasons.append(f"model-answer overlap {old.overlap:.0%} → {new.overlap:.0%}")
    return reasons


def _auto_reasons(
    old: AnswerResult, new: AnswerResult, context: bool
) -> tuple[list[str], list[PartChange]]:
    parts = _criterion_parts(old, new) + _misconception_parts(old, new)
    reasons = _answer_reasons(old, new) + [_part_reason(part) for part in parts]
    if not parts:
        reasons.extend(_similarity_reasons(old, new))
    if not reasons:
        reasons.append(
            "scoring settings or calibration changed" if context else "automatic score changed"
        )
    if old.override is not None or new.override is not None:
        reasons.insert(0, f"automatic score {num(old.auto_score)} → {num(new.auto_score)}")
    return reasons, parts


def _answer_change(
    student: str, question: str, old: AnswerResult, new: AnswerResult, context: bool
) -> AnswerChange | None:
    override, override_reasons = _override_change(old.override, new.override)
    if same(old.score, new.score) and not override:
        return None
    reasons = list(override_reasons)
    parts: list[PartChange] = []
    if not same(old.auto_score, new.auto_score) or (
        not same(old.score, new.score) and not override
    ):
        auto_reasons, parts = _auto_reasons(old, new, context)
        reasons.extend(auto_reasons)
    return AnswerChange(
        student, question, new.id, old.score, new.score, old.auto_score, new.auto_score,
        override, tuple(reasons), tuple(parts),
    )  # fmt: skip


def _one_sided(student: str, question: str, answer: AnswerResult, added: bool) -> AnswerChange:
    reason = "question added to the bank" if added else "question removed from the bank"
    return AnswerChange(
        student=student,
        question=question,
        answer=answer.id,
        old_score=None if added else answer.score,
        new_score=answer.score if added else None,
        old_auto=None if added else answer.auto_score,
        new_auto=answer.auto_score if added else None,
        override="",
        reasons=(reason,),
    )


# ---------------------------------------------------------------- the class


def _answers(results: Results) -> dict[str, dict[str, tuple[str, AnswerResult]]]:
    """student -> gradable -> (question id, answer)."""
    return {
        student.id: {
            answer.id: (question.id, answer)
            for question in student.questions
            for answer in question.answers
        }
        for student in results.students
    }


def _order(*sides: Iterable[str]) -> dict[str, int]:
    order: dict[str, int] = {}
    for side in sides:
        for gradable in side:
            order.setdefault(gradable, len(order))
    return order


def _student_answers(
    student: str,
    old: Mapping[str, tuple[str, AnswerResult]],
    new: Mapping[str, tuple[str, AnswerResult]],
    order: Mapping[str, int],
    context: bool,
) -> list[AnswerChange]:
    changes = []
    for gradable in sorted(set(old) | set(new), key=lambda item: order[item]):
        if gradable not in old:
            changes.append(_one_sided(student, *new[gradable], added=True))
        elif gradable not in new:
            changes.append(_one_sided(student, *old[gradable], added=False))
        else:
            change = _answer_change(
                student, new[gradable][0], old[gradable][1], new[gradable][1], context
            )
            if change:
                changes.append(change)
    return changes


def diff_results(old: Results, new: Results) -> ResultsDiff:
    """What changed from ``old`` to ``new`` (``created`` and problems are not compared)."""
    context = _context(old, new)
    old_answers, new_answers = _answers(old), _answers(new)
    order = _order(
        *(answers for answers in new_answers.values()), *(a for a in old_answers.values())
    )
    old_totals = {student.id: student.total for student in old.students}
    new_totals = {student.id: student.total for student in new.students}
    students, answers = [], []
    for student in sorted(set(old_totals) | set(new_totals)):
        before, after = old_totals.get(student), new_totals.get(student)
        if before is not None and after is not None:
            answers.extend(
                _student_answers(
                    student, old_answers[student], new_answers[student], order, bool(context)
                )
            )
        if not same(before, after):
            students.append(StudentChange(student, before, after))
    return ResultsDiff(context, tuple(students), tuple(answers))
