"""A student's page (to hand to the student) and the instructor's page of the same student."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from grader.bank import DEFAULT_REVEAL, Reveal
from grader.i18n import gettext_for, label_language
from grader.output.student_view import (
    Display,
    Policy,
    StudentReport,
    criterion_name,
    main_language,
    parse_reveal,
    student_report,
)
from grader.results import AnswerResult, QuestionResult, Results, StudentResult

if TYPE_CHECKING:
    from grader.bank import Bank
from grader.output.answer_views import (
    AnswerView,
    BankText,
    QuestionView,
    answer_spans,
    criterion_names,
    criterion_view,
    highlight,
    misconception_view,
    similarity_view,
)
from grader.output.pages import csp, lang_attr, render

# ---------------------------------------------------------------- the student page


def _answer_view(
    answer: AnswerResult,
    question: QuestionResult,
    page_lang: str,
    text: BankText,
    _: Any,
) -> AnswerView:
    names = criterion_names(answer.criteria, _)
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
        segments=highlight(answer.answer, answer_spans(answer, names, _)),
        score=answer.score,
        points=answer.points,
        auto_score=answer.auto_score,
        override=answer.override,
        flags=answer.flags,
        criteria=tuple(
            criterion_view(criterion, names[criterion.id], answer.answer)
            for criterion in answer.criteria
        ),
        misconceptions=tuple(
            misconception_view(hit, answer.answer) for hit in answer.misconceptions
        ),
        similarity=similarity_view(answer.similarity, answer.answer, True),
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


def bank_text(results: Results, bank: Bank | None) -> BankText:
    languages = tuple(bank.languages) if bank else tuple(results.bank.languages)
    return BankText(bank, languages, bank.gradables() if bank else {})


def bank_title(results: Results, bank: Bank | None, language: str) -> tuple[str, str]:
    if bank is not None and bank.title:
        return bank.title.get(language, bank.languages), lang_attr(
            bank.title.language_of(language, bank.languages)
        )
    title_lang = results.bank.languages[0] if results.bank.languages else ""
    return results.bank.title or results.bank.id, lang_attr(title_lang)


def instructor_language(results: Results, bank: Bank | None) -> str:
    """The instructor's pages are in the bank's first language."""
    languages = tuple(bank.languages) if bank else tuple(results.bank.languages)
    return lang_attr(languages[0]) if languages and lang_attr(languages[0]) else "en"


def render_instructor(
    results: Results, student: StudentResult, bank: Bank | None, student_href: str = ""
) -> str:
    """The instructor's page of one student: every score, flag and piece of evidence."""
    text = bank_text(results, bank)
    answer_lang = student_language(student, text.languages)
    page_lang = instructor_language(results, bank)
    _ = gettext_for(label_language(page_lang))
    title, title_lang = bank_title(results, bank, page_lang)
    questions = tuple(
        _question_view(index, question, answer_lang, text, _)
        for index, question in enumerate(student.questions, start=1)
    )
    flagged = sum(1 for q in student.questions for a in q.answers if a.flags)
    return render(
        "instructor.html.j2",
        label_language(page_lang),
        csp=csp(None),
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
        level = bank.settings.reveal if bank is not None else DEFAULT_REVEAL
    return Policy(level, Display.from_settings(results.settings))


def render_student(
    results: Results, student: StudentResult, bank: Bank | None, reveal: str | Reveal | None = None
) -> str:
    """The student's own page, with labels in the language of most of their answers (else the
    bank's first language, else English): only what ``grader.output.student_view`` shows."""
    text = bank_text(results, bank)
    view: StudentReport = student_report(student, bank, student_policy(results, bank, reveal))
    answer_lang = student_language(student, text.languages)
    page_lang = label_language(view.language, *text.languages[:1])
    _ = gettext_for(page_lang)
    title, title_lang = bank_title(results, bank, answer_lang)
    prompts: dict[str, PromptView] = {}
    for question in view.questions:
        first = next((a.language for a in question.answers if a.answered and a.language), "")
        prompt, prompt_lang = text.question_prompt(question.id, first or answer_lang)
        prompts[question.id] = PromptView(prompt, lang_attr(prompt_lang))
        for answer in question.answers:
            prompt, prompt_lang = text.prompt(answer.id, answer.language or answer_lang)
            prompts[answer.id] = PromptView(prompt, lang_attr(prompt_lang))
    return render(
        "student.html.j2",
        page_lang,
        csp=csp(None),
        bank_title=title,
        bank_title_lang=title_lang,
        view=view,
        prompts=prompts,
        name=lambda criterion: criterion_name(criterion, _),
        lang_attr=lang_attr,
        bank_id=results.bank.id,
        created=results.created,
    )
