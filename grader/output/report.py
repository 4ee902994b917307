"""HTML reports: the class overview, and per student an instructor page and the student's page.

The instructor's pages keep everything (flags, the automatic score under an override, how each
credit was reached, the matched evidence and the expected keywords). The student's page shows
only what ``grader.output.student_view`` lets a student see, rounded as the bank says.

Every page is self-contained (CSS, SVG and the one small script inline; no URL outside the page)
and inert: all text from answers, ids, rubrics and feedback goes through Jinja's autoescaping,
bidirectional-override and control characters are shown as visible markers, and a
Content-Security-Policy allows only the page's own script (by hash) and nothing from the network.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from markupsafe import Markup, escape

from grader.bank import Reveal
from grader.output import statistics as report_stats
from grader.output.i18n import gettext_for, label_language, template_globals
from grader.output.student_view import (
    Display,
    Policy,
    StudentReport,
    criterion_name,
    format_number,
    main_language,
    parse_reveal,
    student_report,
)
from grader.results import (
    AnswerResult,
    CriterionResult,
    Flag,
    GroupEvidence,
    MisconceptionResult,
    Override,
    ProblemRecord,
    QuestionResult,
    Results,
    Similarity,
    StudentResult,
)

if TYPE_CHECKING:
    from jinja2 import Environment

    from grader.bank import Bank, Gradable

REVEAL_CHOICES = tuple(level.value for level in Reveal)
MODEL_ANSWER_CRITERION = "model-answer"  # the pseudo-criterion of a question without a rubric
RTL_LANGUAGES = frozenset({"ar", "dv", "fa", "he", "ps", "sd", "ug", "ur", "yi"})
EXCERPT_CHARS = 240
PROMPT_CHARS = 160
INSTRUCTOR_FOLDER = "instructor"  # a page per student with everything, for the instructor
STUDENT_FOLDER = "students"  # a page per student to hand to the student
_LANG_CODE = re.compile(r"[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*")
_SAFE_STEM = re.compile(r"\w[\w.-]{0,99}")
# Bidi embeddings, overrides and isolates, and control characters other than tab and newlines:
# shown as a visible marker so that no text can reorder or hide the page around it.
_HIDDEN = re.compile("[\u202a-\u202e\u2066-\u2069\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
SectionHtml = tuple[str, str]  # (title, pre-rendered safe HTML) for extra class-page sections


# ---------------------------------------------------------------- text safety


def control_name(char: str) -> str:
    return f"U+{ord(char):04X}"


def mark_controls(text: str) -> Markup:
    """Escaped text with each hidden control character replaced by a visible marker."""
    if _HIDDEN.search(text) is None:
        return escape(text)  # the common case, the same result
    parts: list[str] = []
    position = 0
    for found in _HIDDEN.finditer(text):
        parts.append(str(escape(text[position : found.start()])))
        name = control_name(found.group())
        parts.append(f'<span class="ctl" title="{name}">[{name}]</span>')
        position = found.end()
    parts.append(str(escape(text[position:])))
    return Markup("".join(parts))


def plain_controls(text: str) -> str:
    """The text for places without markup (titles, attributes): controls as "[U+202E]"."""
    return _HIDDEN.sub(lambda found: f"[{control_name(found.group())}]", str(text))


def _finalize(value: Any) -> Any:
    """Applied to every {{ expression }}: plain strings get their hidden characters marked."""
    if isinstance(value, Markup) or not isinstance(value, str):
        return value
    return mark_controls(value)


def lang_attr(code: str | None) -> str:
    """A language code fit for a lang attribute, or "" (inherit) for anything else."""
    return code if code and _LANG_CODE.fullmatch(code) else ""


def direction(code: str) -> str:
    return "rtl" if code.split("-")[0].lower() in RTL_LANGUAGES else "ltr"


def number(value: float | None, digits: int = 2) -> str:
    """A score for people: 3, 2.5, 1.33; "—" for none."""
    if value is None:
        return "—"
    rounded = round(value, digits)
    if rounded == 0:
        return "0"
    return str(int(rounded)) if float(rounded).is_integer() else f"{rounded:.{digits}f}".rstrip("0")


def percent(share: float | None) -> str:
    return "—" if share is None else f"{round(share * 100)}%"


def share(score: float, points: float) -> float:
    return 0.0 if points <= 0 else max(0.0, min(1.0, score / points))


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


# ---------------------------------------------------------------- the Jinja environment


@lru_cache(maxsize=1)
def environment() -> Environment:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    folder = Path(__file__).parent / "templates"
    env = Environment(
        loader=FileSystemLoader(str(folder)),
        autoescape=True,
        undefined=StrictUndefined,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["num"] = number
    env.filters["shown"] = format_number  # a score already rounded for students
    env.filters["pct"] = percent
    env.filters["plain"] = plain_controls
    env.filters["urlpart"] = lambda text: quote(str(text), safe="")
    env.globals["share"] = share
    return env


def _script_text() -> str:
    return environment().get_template("_sort_script.html.j2").render().strip()


def _csp(script: str | None) -> str:
    script_source = "'none'"
    if script is not None:
        digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
        script_source = f"'sha256-{digest}'"
    return (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        f"script-src {script_source}; base-uri 'none'; form-action 'none'"
    )


# ---------------------------------------------------------------- rendering


def check_reveal(reveal: str | Reveal) -> Reveal:
    return parse_reveal(reveal)


def _render(template: str, language: str, **context: Any) -> str:
    """A page with its labels in ``language`` (English where the catalogue has none)."""
    page_lang = lang_attr(language) or "en"
    return (
        environment()
        .get_template(template)
        .render(
            **template_globals(page_lang),
            page_lang=page_lang,
            page_dir=direction(page_lang),
            **context,
        )
    )


# ---------------------------------------------------------------- views of one answer


@dataclass(frozen=True)
class Segment:
    text: str
    kind: str = ""  # "" plain, "hit" matched keyword, "neg" negated keyword, "mis" misconception
    note: str = ""


@dataclass(frozen=True)
class SimilarityView:
    cosine: float
    credit: float
    sentence: str  # the answer's closest sentence; "" when the whole answer was compared
    reference: str  # "" when hidden
    reference_lang: str


@dataclass(frozen=True)
class GroupView:
    met: bool
    matched: str  # the answer's text that satisfied the group
    term: str
    fuzzy: bool
    negated: str  # the answer's text found only inside a negated clause
    expected: tuple[str, ...]  # the alternatives; empty unless revealed


@dataclass(frozen=True)
class CriterionView:
    name: str
    met: bool
    score: float
    points: float
    keyword_credit: float | None
    groups: tuple[GroupView, ...]
    concept: SimilarityView | None
    feedback: str
    feedback_lang: str
    reason: str


@dataclass(frozen=True)
class MisconceptionView:
    name: str
    penalty: float
    groups: tuple[GroupView, ...]
    similarity: SimilarityView | None
    feedback: str
    feedback_lang: str


@dataclass(frozen=True)
class AnswerView:
    id: str
    anchor: str
    step: str  # the step's id within a challenge; "" for a question
    prompt: str
    prompt_lang: str
    lang: str
    answered: bool
    segments: tuple[Segment, ...]
    score: float
    points: float
    auto_score: float
    override: Override | None
    flags: tuple[Flag, ...]
    criteria: tuple[CriterionView, ...]
    misconceptions: tuple[MisconceptionView, ...]
    similarity: SimilarityView | None
    overlap: float | None
    feedback: str
    feedback_lang: str
    model_answers: tuple[tuple[str, str], ...]  # (language, text)
    chosen: tuple[str, ...]  # the texts of the chosen options (multiple choice)


@dataclass(frozen=True)
class QuestionView:
    number: int
    id: str
    anchor: str
    type: str
    prompt: str
    prompt_lang: str
    score: float
    points: float
    answers: tuple[AnswerView, ...]
    flagged: bool
    overridden: bool


def _clamp_span(text: str, start: int | None, end: int | None) -> tuple[int, int] | None:
    if start is None or end is None:
        return None
    start, end = max(0, min(start, len(text))), max(0, min(end, len(text)))
    return (start, end) if end > start else None


def highlight(text: str, spans: Sequence[tuple[int, int, int, str, str]]) -> tuple[Segment, ...]:
    """Split ``text`` into plain and marked segments.

    ``spans`` are (priority, start, end, kind, note); where spans overlap the lower priority number
    wins, then the earlier and longer span. Segments hold raw text: the template escapes them.
    """
    chosen: list[tuple[int, int, str, str]] = []
    for _priority, start, end, kind, note in sorted(spans, key=lambda s: (s[0], s[1], s[1] - s[2])):
        span = _clamp_span(text, start, end)
        if span and all(span[1] <= other[0] or span[0] >= other[1] for other in chosen):
            chosen.append((span[0], span[1], kind, note))
    segments: list[Segment] = []
    position = 0
    for start, end, kind, note in sorted(chosen):
        if start > position:
            segments.append(Segment(text[position:start]))
        segments.append(Segment(text[start:end], kind, note))
        position = end
    if position < len(text):
        segments.append(Segment(text[position:]))
    return tuple(segments)


def _answer_spans(
    answer: AnswerResult, names: dict[str, str], _: Any
) -> list[tuple[int, int, int, str, str]]:
    spans: list[tuple[int, int, int, str, str]] = []
    for misconception in answer.misconceptions:
        for group in misconception.groups:
            if group.match:
                note = f"{_('Misconception')}: {misconception.id}"
                spans.append((0, group.match.start, group.match.end, "mis", note))
    for criterion in answer.criteria:
        name = names[criterion.id]
        for group in criterion.groups:
            if group.negated:
                note = f"{name}: {_('negated')}"
                spans.append((1, group.negated.start, group.negated.end, "neg", note))
            if group.match:
                kind = "neg" if group.match.negated else "hit"
                note = f"{name}: {_('negated') if kind == 'neg' else _('matched')}"
                spans.append(
                    (1 if kind == "neg" else 2, group.match.start, group.match.end, kind, note)
                )
    return spans


def _similarity_view(
    similarity: Similarity | None, answer: str, show_reference: bool
) -> SimilarityView | None:
    if similarity is None:
        return None
    span = _clamp_span(answer, similarity.answer_start, similarity.answer_end)
    sentence = excerpt(answer[span[0] : span[1]]) if span and span != (0, len(answer)) else ""
    return SimilarityView(
        cosine=similarity.cosine,
        credit=similarity.credit,
        sentence=sentence,
        reference=similarity.reference if show_reference else "",
        reference_lang=lang_attr(similarity.reference_language),
    )


def _group_views(groups: Sequence[GroupEvidence], show_expected: bool) -> tuple[GroupView, ...]:
    return tuple(
        GroupView(
            met=group.met,
            matched=group.match.matched if group.match else "",
            term=group.match.term if group.match else "",
            fuzzy=bool(group.match and group.match.fuzzy),
            negated=group.negated.matched if group.negated else "",
            expected=tuple(group.terms) if show_expected and not group.met else (),
        )
        for group in groups
    )


def _criterion_names(criteria: Sequence[CriterionResult], _: Any) -> dict[str, str]:
    return {
        criterion.id: _("Model answer") if criterion.id == MODEL_ANSWER_CRITERION else criterion.id
        for criterion in criteria
    }


def _criterion_view(criterion: CriterionResult, name: str, answer: str) -> CriterionView:
    return CriterionView(
        name=name,
        met=criterion.met,
        score=criterion.score,
        points=criterion.points,
        keyword_credit=criterion.keyword_credit,
        groups=_group_views(criterion.groups, True),
        concept=_similarity_view(criterion.concept, answer, True),
        feedback=criterion.feedback,
        feedback_lang=lang_attr(criterion.feedback_language),
        reason=criterion.reason,
    )


def _misconception_view(hit: MisconceptionResult, answer: str) -> MisconceptionView:
    return MisconceptionView(
        name=hit.id,
        penalty=hit.penalty,
        groups=_group_views(hit.groups, False),
        similarity=_similarity_view(hit.similarity, answer, True),
        feedback=hit.feedback,
        feedback_lang=lang_attr(hit.feedback_language),
    )


# ---------------------------------------------------------------- what the bank adds


@dataclass(frozen=True)
class BankText:
    """Prompts, model answers and options from the bank, when the bank is at hand."""

    bank: Bank | None
    languages: tuple[str, ...]
    by_id: Mapping[str, Gradable] = field(default_factory=dict)  # the bank's gradables, made once

    def gradable(self, answer_id: str) -> Gradable | None:
        return self.by_id.get(answer_id)

    def question_prompt(self, question_id: str, language: str) -> tuple[str, str]:
        question = self.bank.question(question_id) if self.bank else None
        if question is None or not question.prompt:
            return "", ""
        return question.prompt.get(language, self.languages), question.prompt.language_of(
            language, self.languages
        )

    def prompt(self, answer_id: str, language: str) -> tuple[str, str]:
        gradable = self.gradable(answer_id)
        if gradable is None or not gradable.prompt:
            return "", ""
        return gradable.prompt.get(language, self.languages), gradable.prompt.language_of(
            language, self.languages
        )

    def feedback_language(self, answer_id: str, language: str) -> str:
        gradable = self.gradable(answer_id)
        return gradable.feedback.language_of(language, self.languages) if gradable else ""

    def model_answers(self, answer: AnswerResult) -> tuple[tuple[str, str], ...]:
        gradable = self.gradable(answer.id)
        if gradable is None:
            similarity = answer.similarity
            return ((similarity.reference_language, similarity.reference),) if similarity else ()
        if gradable.closed is not None:
            return self._closed_answers(gradable, answer.language)
        for code in (answer.language, *self.languages, *gradable.answers):
            if code and gradable.answers.get(code):
                return tuple((code, text) for text in gradable.answers[code])
        return ()

    def _closed_answers(self, gradable: Gradable, language: str) -> tuple[tuple[str, str], ...]:
        closed = gradable.closed
        assert closed is not None
        if closed.options:
            return tuple(
                (
                    option.text.language_of(language, self.languages),
                    option.text.get(language, self.languages),
                )
                for option in closed.options
                if option.credit > 0
            )
        if closed.value is None:
            return ()
        value = f"{closed.value:g}"
        if closed.tolerance:
            value += f" ± {closed.tolerance:g}"
        if closed.units:
            value += f" {closed.units[0]}"
        return (("", value),)

    def chosen_options(self, answer: AnswerResult) -> tuple[str, ...]:
        gradable = self.gradable(answer.id)
        closed = gradable.closed if gradable else None
        if closed is None or not closed.options or not answer.answered:
            return ()
        wanted = answer.answer.strip().casefold()
        for option in closed.options:
            if any(text.strip().casefold() == wanted for text in option.text.by_language.values()):
                return (option.text.get(answer.language, self.languages),)
        by_id = {option.id.casefold(): option for option in closed.options}
        picked = [by_id.get(part.strip().casefold()) for part in answer.answer.split(",")]
        if any(option is None for option in picked):
            return ()
        return tuple(
            option.text.get(answer.language, self.languages) for option in picked if option
        )


# ---------------------------------------------------------------- the student page


def _answer_view(
    answer: AnswerResult,
    question: QuestionResult,
    page_lang: str,
    text: BankText,
    _: Any,
) -> AnswerView:
    names = _criterion_names(answer.criteria, _)
    language = answer.language or page_lang
    prompt, prompt_lang = text.prompt(answer.id, language)
    step = answer.id.split("/", 1)[1] if "/" in answer.id else ""
    return AnswerView(
        id=answer.id,
        anchor="a-" + quote(answer.id, safe="").replace("%", "_"),
        step=step,
        prompt=prompt if question.type == "challenge" else "",
        prompt_lang=lang_attr(prompt_lang),
        lang=lang_attr(answer.language),
        answered=answer.answered,
        segments=highlight(answer.answer, _answer_spans(answer, names, _)),
        score=answer.score,
        points=answer.points,
        auto_score=answer.auto_score,
        override=answer.override,
        flags=answer.flags,
        criteria=tuple(
            _criterion_view(criterion, names[criterion.id], answer.answer)
            for criterion in answer.criteria
        ),
        misconceptions=tuple(
            _misconception_view(hit, answer.answer) for hit in answer.misconceptions
        ),
        similarity=_similarity_view(answer.similarity, answer.answer, True),
        overlap=answer.overlap,
        feedback=answer.feedback,
        feedback_lang=lang_attr(text.feedback_language(answer.id, language)),
        model_answers=text.model_answers(answer),
        chosen=text.chosen_options(answer),
    )


def _question_view(
    number_: int,
    question: QuestionResult,
    page_lang: str,
    text: BankText,
    _: Any,
) -> QuestionView:
    answers = tuple(
        _answer_view(answer, question, page_lang, text, _) for answer in question.answers
    )
    first_language = next(
        (a.language for a in question.answers if a.answered and a.language), page_lang
    )
    if question.type == "challenge":
        prompt, prompt_lang = text.question_prompt(question.id, first_language)
    else:
        prompt, prompt_lang = (
            text.prompt(question.answers[0].id, first_language) if question.answers else ("", "")
        )
    return QuestionView(
        number=number_,
        id=question.id,
        anchor=f"q{number_}",
        type=question.type,
        prompt=prompt,
        prompt_lang=lang_attr(prompt_lang),
        score=question.score,
        points=question.points,
        answers=answers,
        flagged=question.flagged,
        overridden=any(answer.override is not None for answer in question.answers),
    )


def student_language(student: StudentResult, languages: Sequence[str]) -> str:
    """The language most of the student's answers are in (ties: the bank's order), else the
    bank's first language, else English."""
    found = lang_attr(main_language(student, languages))
    if found:
        return found
    return lang_attr(languages[0]) if languages and lang_attr(languages[0]) else "en"


def _bank_text(results: Results, bank: Bank | None) -> BankText:
    languages = tuple(bank.languages) if bank else tuple(results.bank.languages)
    return BankText(bank, languages, bank.gradables() if bank else {})


def _bank_title(results: Results, bank: Bank | None, language: str) -> tuple[str, str]:
    if bank is not None and bank.title:
        return bank.title.get(language, bank.languages), lang_attr(
            bank.title.language_of(language, bank.languages)
        )
    title_lang = results.bank.languages[0] if results.bank.languages else ""
    return results.bank.title or results.bank.id, lang_attr(title_lang)


def _instructor_language(results: Results, bank: Bank | None) -> str:
    """The instructor's pages are in the bank's first language."""
    languages = tuple(bank.languages) if bank else tuple(results.bank.languages)
    return lang_attr(languages[0]) if languages and lang_attr(languages[0]) else "en"


def render_instructor(
    results: Results, student: StudentResult, bank: Bank | None, student_href: str = ""
) -> str:
    """The instructor's page of one student: every score, flag and piece of evidence."""
    text = _bank_text(results, bank)
    answer_lang = student_language(student, text.languages)
    page_lang = _instructor_language(results, bank)
    _ = gettext_for(label_language(page_lang))
    title, title_lang = _bank_title(results, bank, page_lang)
    questions = tuple(
        _question_view(index, question, answer_lang, text, _)
        for index, question in enumerate(student.questions, start=1)
    )
    flagged = sum(1 for q in student.questions for a in q.answers if a.flags)
    return _render(
        "instructor.html.j2",
        label_language(page_lang),
        csp=_csp(None),
        bank_title=title,
        bank_title_lang=title_lang,
        student=student,
        student_href=student_href,
        questions=questions,
        flagged=flagged,
        bank_id=results.bank.id,
        created=results.created,
    )


@dataclass(frozen=True)
class PromptView:
    text: str
    lang: str


def student_policy(results: Results, bank: Bank | None, reveal: str | Reveal | None) -> Policy:
    """The reveal level (``reveal``, else the bank's setting) and the rounding of the results."""
    level = parse_reveal(reveal) if reveal is not None else None
    if level is None:
        level = bank.settings.reveal if bank is not None else Reveal.MISSED
    return Policy(level, Display.from_settings(results.settings))


def render_student(
    results: Results, student: StudentResult, bank: Bank | None, reveal: str | Reveal | None = None
) -> str:
    """The student's own page, with labels in the language of most of their answers (else the
    bank's first language, else English): only what ``grader.output.student_view`` shows."""
    text = _bank_text(results, bank)
    view: StudentReport = student_report(student, bank, student_policy(results, bank, reveal))
    answer_lang = student_language(student, text.languages)
    page_lang = label_language(view.language, *text.languages[:1])
    _ = gettext_for(page_lang)
    title, title_lang = _bank_title(results, bank, answer_lang)
    prompts: dict[str, PromptView] = {}
    for question in view.questions:
        first = next((a.language for a in question.answers if a.answered and a.language), "")
        prompt, prompt_lang = text.question_prompt(question.id, first or answer_lang)
        prompts[question.id] = PromptView(prompt, lang_attr(prompt_lang))
        for answer in question.answers:
            prompt, prompt_lang = text.prompt(answer.id, answer.language or answer_lang)
            prompts[answer.id] = PromptView(prompt, lang_attr(prompt_lang))
    return _render(
        "student.html.j2",
        page_lang,
        csp=_csp(None),
        bank_title=title,
        bank_title_lang=title_lang,
        view=view,
        prompts=prompts,
        name=lambda criterion: criterion_name(criterion, _),
        lang_attr=lang_attr,
        bank_id=results.bank.id,
        created=results.created,
    )


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
    from grader.fsutil import MAX_NAME_BYTES, safe_file_names

    recorded = [student.file_name for student in results.students]
    folded = [name.casefold() for name in recorded]
    safe = all(
        _SAFE_STEM.fullmatch(name) and len(name.encode("utf-8")) <= MAX_NAME_BYTES
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
    text = _bank_text(results, bank)
    page_lang = _instructor_language(results, bank)
    title, title_lang = _bank_title(results, bank, page_lang)
    names = page_names(results)
    pairs, found, exhaustive = report_stats.similar_pairs(results)
    script = _script_text()
    return _render(
        "class.html.j2",
        label_language(page_lang),
        csp=_csp(script),
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


# ---------------------------------------------------------------- writing


def write_reports(
    results: Results,
    bank: Bank | None,
    out_dir: Path,
    reveal: str | Reveal | None = None,
    *,
    extra_sections: Sequence[SectionHtml] = (),
) -> list[Path]:
    """Write ``index.html``, ``instructor/<name>.html`` (everything, for the instructor) and
    ``students/<name>.html`` (for the student: ``reveal``, else the bank's setting) under
    ``out_dir``; returns the paths.

    Pages are written (each atomically, synced to disk) by a few threads while the next ones
    render, so waiting for the disk overlaps the rendering; the first failure is raised.
    """
    from collections import deque
    from concurrent.futures import Future, ThreadPoolExecutor

    from grader.fsutil import atomic_write

    if reveal is not None:
        check_reveal(reveal)
    names = page_names(results)
    written = []
    pending: deque[Future[None]] = deque()
    with ThreadPoolExecutor(max_workers=_WRITERS, thread_name_prefix="write-page") as pool:
        index = out_dir / "index.html"
        html = render_class(results, bank, extra_sections)
        pending.append(pool.submit(atomic_write, index, html))
        written.append(index)
        for student in results.students:
            name = names[student.id]
            for path, html in (
                (
                    out_dir / INSTRUCTOR_FOLDER / f"{name}.html",
                    render_instructor(
                        results, student, bank, f"../{STUDENT_FOLDER}/{quote(name)}.html"
                    ),
                ),
                (
                    out_dir / STUDENT_FOLDER / f"{name}.html",
                    render_student(results, student, bank, reveal),
                ),
            ):
                pending.append(pool.submit(atomic_write, path, html))
                written.append(path)
            while len(pending) > _PENDING_PAGES or (pending and pending[0].done()):
                pending.popleft().result()
        while pending:
            pending.popleft().result()
    return written


_WRITERS = 4  # threads writing pages (they mostly wait for the disk)
_PENDING_PAGES = 64  # rendered pages waiting to be written, at most
