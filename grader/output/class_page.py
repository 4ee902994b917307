"""The class page: statistics, histograms, questions, students, near-identical pairs, problems."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote

from markupsafe import Markup

from grader.i18n import label_language
from grader.output import statistics as report_stats
from grader.results import ProblemRecord, Results

if TYPE_CHECKING:
    from grader.bank import Bank
from grader.fsutil import MAX_NAME_BYTES, safe_file_names
from grader.output.answer_views import BankText
from grader.output.pages import (
    INSTRUCTOR_FOLDER,
    PROMPT_CHARS,
    SAFE_STEM,
    STUDENT_FOLDER,
    SectionHtml,
    csp,
    excerpt,
    lang_attr,
    number,
    render,
    script_text,
    share,
)
from grader.output.student_page import bank_text, bank_title, instructor_language

# ---------------------------------------------------------------- the class page


@dataclass(frozen=True)
class BarView:
    x: float
    y: float
    width: float
    height: float
    count: int
    label: str  # the band, e.g. "30–40"
    middle: float


@dataclass(frozen=True)
class HistogramView:
    width: int
    height: int
    baseline: float
    left: float
    right: float
    y_ticks: tuple[tuple[float, int], ...]  # (y, count)
    x_ticks: tuple[tuple[float, int], ...]  # (x, percent) at the band edges
    bars: tuple[BarView, ...]
    summary: str  # the counts as text for screen readers


@dataclass(frozen=True)
class QuestionRow:
    number: int
    id: str
    type: str
    prompt: str
    prompt_lang: str
    stats: report_stats.QuestionStats


@dataclass(frozen=True)
class StudentRow:
    id: str
    href: str  # the instructor's page
    student_href: str  # the student's own page
    total: float
    max: float
    share: float
    scores: tuple[tuple[float, float], ...]  # (score, points) per question
    flagged: int
    overridden: bool


@dataclass(frozen=True)
class PairRow:
    pair: report_stats.SimilarPair
    first_href: str
    second_href: str


def histogram_view(
    bins: Sequence[report_stats.Bin], width: int = 520, height: int = 230
) -> HistogramView:
    """Geometry of the score histogram (an inline SVG): one bar per band of the maximum."""
    left, right, top, bottom = 34.0, 18.0, 22.0, 44.0
    plot_width, plot_height = width - left - right, height - top - bottom
    baseline = height - bottom
    scale_top = max(1, max((b.count for b in bins), default=0))
    step = plot_width / max(1, len(bins))
    bars = []
    for index, item in enumerate(bins):
        bar_height = plot_height * item.count / scale_top
        bars.append(
            BarView(
                x=round(left + index * step + step * 0.08, 2),
                y=round(baseline - bar_height, 2),
                width=round(step * 0.84, 2),
                height=round(bar_height, 2),
                count=item.count,
                label=f"{round(item.low * 100)}–{round(item.high * 100)}",
                middle=round(left + (index + 0.5) * step, 2),
            )
        )
    y_values = sorted({0, (scale_top + 1) // 2, scale_top})
    y_ticks = tuple(
        (round(baseline - plot_height * value / scale_top, 2), value) for value in y_values
    )
    edges = [bins[0].low, *(b.high for b in bins)] if bins else []
    x_ticks = tuple(
        (round(left + index * step, 2), round(edge * 100)) for index, edge in enumerate(edges)
    )
    summary = ", ".join(f"{bar.label}%: {bar.count}" for bar in bars)
    return HistogramView(
        width, height, baseline, left, width - right, y_ticks, x_ticks, tuple(bars), summary
    )


def page_names(results: Results) -> dict[str, str]:
    """Each student's page file stem: the recorded file name when every one is safe and unique."""
    recorded = [student.file_name for student in results.students]
    folded = [name.casefold() for name in recorded]
    safe = all(
        SAFE_STEM.fullmatch(name) and len(name.encode("utf-8")) <= MAX_NAME_BYTES
        for name in recorded
    )
    if safe and len(set(folded)) == len(folded):
        return {student.id: student.file_name for student in results.students}
    return safe_file_names(student.id for student in results.students)


def _student_rows(results: Results, names: dict[str, str]) -> tuple[StudentRow, ...]:
    return tuple(
        StudentRow(
            id=student.id,
            href=f"{INSTRUCTOR_FOLDER}/{quote(names[student.id])}.html",
            student_href=f"{STUDENT_FOLDER}/{quote(names[student.id])}.html",
            total=student.total,
            max=student.max,
            share=round(share(student.total, student.max), 4),
            scores=tuple((q.score, q.points) for q in student.questions),
            flagged=sum(1 for q in student.questions for a in q.answers if a.flags),
            overridden=any(a.override is not None for q in student.questions for a in q.answers),
        )
        for student in results.students
    )


def _question_rows(results: Results, text: BankText, language: str) -> tuple[QuestionRow, ...]:
    rows = []
    for index, stats in enumerate(report_stats.question_stats(results), start=1):
        if stats.type == "challenge":
            prompt, prompt_lang = text.question_prompt(stats.id, language)
        else:
            prompt, prompt_lang = text.prompt(stats.id, language)
        rows.append(
            QuestionRow(
                index,
                stats.id,
                stats.type,
                excerpt(prompt, PROMPT_CHARS),
                lang_attr(prompt_lang),
                stats,
            )
        )
    return tuple(rows)


def _pair_rows(
    pairs: Sequence[report_stats.SimilarPair], names: dict[str, str]
) -> tuple[PairRow, ...]:
    return tuple(
        PairRow(
            pair,
            f"{INSTRUCTOR_FOLDER}/{quote(names[pair.first])}.html",
            f"{INSTRUCTOR_FOLDER}/{quote(names[pair.second])}.html",
        )
        for pair in pairs
    )


def _sections(extra_sections: Sequence[SectionHtml]) -> tuple[tuple[str, str, Markup], ...]:
    return tuple(
        (f"extra-{index}", title, Markup(html))
        for index, (title, html) in enumerate(extra_sections, start=1)
    )


def _problems(results: Results) -> tuple[ProblemRecord, ...]:
    """The first problems in file and line order (all of them are in results.json)."""
    ordered = sorted(results.problems, key=lambda p: (p.file, p.line or 0, p.message))
    return tuple(ordered[: report_stats.MAX_LISTED_PROBLEMS])


def _problem_kinds(results: Results) -> tuple[report_stats.ProblemKind, ...]:
    """Problems by kind, when there are more than the page lists one by one."""
    if len(results.problems) <= report_stats.MAX_LISTED_PROBLEMS:
        return ()
    return tuple(report_stats.problem_kinds(results.problems))


def render_class(
    results: Results, bank: Bank | None, extra_sections: Sequence[SectionHtml] = ()
) -> str:
    """The class overview. ``extra_sections``: (title, pre-rendered safe HTML) added at the end."""
    text = bank_text(results, bank)
    page_lang = instructor_language(results, bank)
    title, title_lang = bank_title(results, bank, page_lang)
    names = page_names(results)
    pairs, found, exhaustive = report_stats.similar_pairs(results)
    script = script_text()
    return render(
        "class.html.j2",
        label_language(page_lang),
        csp=csp(script),
        script=Markup(script),
        bank_title=title,
        bank_title_lang=title_lang,
        results=results,
        models=sorted(results.models),
        histogram=histogram_view(report_stats.histogram(results)),
        questions=_question_rows(results, text, page_lang),
        question_ids=[q.id for q in results.students[0].questions] if results.students else [],
        students=_student_rows(results, names),
        pairs=_pair_rows(pairs, names),
        pairs_found=found,
        pairs_found_text=number(found) + ("" if exhaustive else "+"),
        pair_words=report_stats.MIN_PAIR_WORDS,
        pair_threshold=round(report_stats.PAIR_THRESHOLD),
        problems=_problems(results),
        problem_kinds=_problem_kinds(results),
        extra_sections=_sections(extra_sections),
        created=results.created,
    )
