"""A results diff for people: the terminal summary of ``grader grade --dry-run``, the class page's
section, and JSON."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from markupsafe import Markup

from grader.output.pages import mark_controls
from grader.output.results_json import to_dict
from grader.review.diff import (
    SECTION_TITLE,
    AnswerChange,
    ResultsDiff,
    StudentChange,
    num,
    same,
    signed,
)

# ---------------------------------------------------------------- output


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _headline(diff: ResultsDiff) -> str:
    if diff.empty:
        return "No changes: every score is the same."
    changed = [c for c in diff.answers if c.status == "changed"]
    rescored = [c for c in changed if not same(c.old_score, c.new_score)]
    students = len({change.student for change in rescored})
    parts = [
        f"{_plural(len(rescored), 'score')} changed for {_plural(students, 'student')}"
        if rescored
        else "No score changed"
    ]
    if len(changed) > len(rescored):
        others = len(changed) - len(rescored)
        parts.append(f"{_plural(others, 'override')} changed without changing the score")
    if len(diff.answers) > len(changed):
        parts.append(
            f"{_plural(len(diff.answers) - len(changed), 'answer')} to added or removed questions"
        )
    added = sum(1 for change in diff.students if change.status == "added")
    removed = sum(1 for change in diff.students if change.status == "removed")
    if added or removed:
        parts.append(f"{_plural(added, 'student')} added, {removed} removed")
    return "; ".join(parts) + "."


def _score_pair(old: float | None, new: float | None) -> str:
    if old is None:
        return f"new: {num(new)}"
    if new is None:
        return f"gone (was {num(old)})"
    return f"{num(old)} → {num(new)} ({signed((new or 0) - (old or 0))})"


def format_diff(diff: ResultsDiff) -> str:
    """The diff as text for the terminal."""
    lines = [_headline(diff)]
    if diff.context:
        lines.append("What changed for everyone:")
        lines.extend(f"  {line}" for line in diff.context)
    by_student: dict[str, list[AnswerChange]] = {}
    for change in diff.answers:
        by_student.setdefault(change.student, []).append(change)
    for total_change in diff.students:
        by_student.setdefault(total_change.student, [])
    totals = {change.student: change for change in diff.students}
    for student, changes in sorted(by_student.items()):
        total = totals.get(student)
        head = _score_pair(total.old_total, total.new_total) if total else "total unchanged"
        lines.append(f"{student}: {head}")
        for change in changes:
            lines.append(f"  {change.answer}: {_score_pair(change.old_score, change.new_score)}")
            lines.extend(f"    {reason}" for reason in change.reasons)
    return "\n".join(lines)


def _marked(text: str) -> Markup:
    return mark_controls(text)


def _answer_row(change: AnswerChange) -> Markup:
    why = Markup("<br>").join(_marked(reason) for reason in change.reasons)
    return Markup(
        '<tr><td><bdi>{}</bdi></td><td><code>{}</code></td><td class="num">{}</td>'
        '<td class="num">{}</td><td class="num">{}</td><td class="small">{}</td></tr>'
    ).format(
        _marked(change.student),
        _marked(change.answer),
        num(change.old_score),
        num(change.new_score),
        signed(change.delta),
        why,
    )


def _student_items(students: Sequence[StudentChange], status: str) -> Markup:
    chosen = [student for student in students if student.status == status]
    if not chosen:
        return Markup("")
    label = "Students added" if status == "added" else "Students removed"
    names = Markup(", ").join(
        Markup("<bdi>{}</bdi> ({})").format(
            _marked(student.student),
            num(student.new_total if status == "added" else student.old_total),
        )
        for student in chosen
    )
    return Markup("<p>{}: {}</p>").format(label, names)


def diff_section_html(diff: ResultsDiff) -> Markup:
    """The diff as an HTML fragment for the class page (everything escaped); pass it to
    ``grader.output.report.write_reports(..., extra_sections=[diff_section(diff)])``."""
    parts = [Markup("<p>{}</p>").format(_headline(diff))]
    if diff.context:
        items = Markup("").join(
            Markup("<li>{}</li>").format(_marked(line)) for line in diff.context
        )
        parts.append(Markup('<ul class="small">{}</ul>').format(items))
    parts.append(_student_items(diff.students, "added"))
    parts.append(_student_items(diff.students, "removed"))
    if diff.answers:
        rows = Markup("").join(_answer_row(change) for change in diff.answers)
        parts.append(
            Markup(
                '<div class="table-wrap" role="region" aria-label="Changed scores" tabindex="0">'
                '<table><thead><tr><th>Student</th><th>Question</th><th class="num">Before</th>'
                '<th class="num">After</th><th class="num">Change</th><th>Why</th></tr></thead>'
                "<tbody>{}</tbody></table></div>"
            ).format(rows)
        )
    return Markup("").join(parts)


def diff_section(diff: ResultsDiff) -> tuple[str, str]:
    """(title, html) for ``grader.output.report.write_reports``'s ``extra_sections``."""
    return SECTION_TITLE, str(diff_section_html(diff))


def diff_to_dict(diff: ResultsDiff) -> dict[str, Any]:
    """The diff as a JSON-ready document."""
    return {
        "empty": diff.empty,
        "scores_changed": diff.scores_changed,
        "context": list(diff.context),
        "students": [
            {**to_dict(change), "delta": change.delta, "status": change.status}
            for change in diff.students
        ],
        "answers": [
            {**to_dict(change), "delta": change.delta, "status": change.status}
            for change in diff.answers
        ],
    }
