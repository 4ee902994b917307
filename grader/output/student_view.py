"""What a student may see of a graded answer: the one view behind every student-facing output.

The student's HTML page, ``grader check`` (text and ``--json``) and the learner pages and JSON API
of ``grader serve`` are all made from :func:`student_answer` / :func:`student_report`. A student
sees the score (rounded as the bank's ``display_decimals`` / ``display_step`` say), each criterion
met or missing with the rubric's feedback, an override's comment, hints after a miss, and what the
reveal policy allows. Never: flags, the automatic score under an override, how the credit was
computed, the matched evidence, or the rubric's keywords. The instructor's pages keep all of that
(``grader.output.report``).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from grader.bank import DEFAULT_REVEAL, Reveal
from grader.errors import GraderError
from grader.evidence.closed import chosen_options
from grader.scoring.rule import WRONG_ANSWER

if TYPE_CHECKING:
    from grader.bank import Bank, Gradable, LocalText
    from grader.results import AnswerResult, CriterionResult, QuestionResult, StudentResult

MODEL_ANSWER_CRITERION = "model-answer"  # the pseudo-criterion of a question without a rubric
LIKELY_STATUS = "likely"  # grader.scoring.rule.Status.LIKELY: credited on meaning alone
DEFAULT_DECIMALS = 2
MAX_DECIMALS = 4
_EPSILON = 1e-9


def parse_reveal(value: str | Reveal) -> Reveal:
    """A reveal level from text, with a clear error for anything else."""
    try:
        return Reveal(value)
    except ValueError:
        choices = ", ".join(level.value for level in Reveal)
        raise GraderError(f"unknown --reveal '{value}' (choose one of: {choices})") from None


# ---------------------------------------------------------------- rounding for people


@dataclass(frozen=True)
class Display:
    """How scores are rounded for students: to ``decimals`` places, or to multiples of ``step``."""

    decimals: int = DEFAULT_DECIMALS
    step: float | None = None

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Display:
        """From a bank's settings or a results.json's ``settings`` (absent keys: the default)."""
        decimals = settings.get("display_decimals")
        step = settings.get("display_step")
        return cls(
            DEFAULT_DECIMALS if decimals is None else int(decimals),
            None if step is None else float(step),
        )

    def round(self, value: float, limit: float | None = None) -> float:
        """``value`` as shown (half up), never above ``limit`` (the points) nor below 0."""
        if self.step:
            shown = math.floor(value / self.step + 0.5 + _EPSILON) * self.step
        else:
            exact = Decimal(repr(round(value, 9)))
            shown = float(exact.quantize(Decimal(1).scaleb(-self.decimals), ROUND_HALF_UP))
        shown = max(0.0, shown)
        if limit is not None:
            shown = min(shown, limit)
        return _clean(shown)

    def total(self, shown: Iterable[float]) -> float:
        """A sum of shown values (itself exactly as shown: no rounding noise)."""
        return _clean(sum(shown))

    def text(self, value: float) -> str:
        """A shown value for people: 3, 2.5, 0.95 (no trailing zeros)."""
        return format_number(value)


def _clean(value: float) -> float:
    cleaned = round(value, 9)
    return 0.0 if cleaned == 0 else cleaned


def format_number(value: float) -> str:
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.{MAX_DECIMALS + 4}f}".rstrip("0").rstrip(".")


def shown_question_score(question: QuestionResult, display: Display) -> float:
    """A question's score as shown: the sum of its answers' (steps') shown scores."""
    return display.total(display.round(answer.score, answer.points) for answer in question.answers)


def shown_scores(student: StudentResult, display: Display) -> tuple[dict[str, float], float]:
    """Each question's shown score and the total, which is their sum (grades.csv, LMS files)."""
    scores = {q.id: shown_question_score(q, display) for q in student.questions}
    return scores, display.total(scores.values())


# ---------------------------------------------------------------- the view


@dataclass(frozen=True)
class Policy:
    """What one output shows: the reveal level and the rounding."""

    reveal: Reveal = DEFAULT_REVEAL
    display: Display = Display()


def bank_policy(bank: Bank, reveal: str | Reveal | None = None) -> Policy:
    """The bank's rounding, and ``reveal`` or else the bank's reveal setting."""
    level = parse_reveal(reveal) if reveal is not None else bank.settings.reveal
    return Policy(level, Display(bank.settings.display_decimals, bank.settings.display_step))


@dataclass(frozen=True)
class Text:
    """A text with its language (for a ``lang`` attribute)."""

    text: str
    language: str = ""

    def __bool__(self) -> bool:
        return bool(self.text.strip())


NO_TEXT = Text("")


@dataclass(frozen=True)
class StudentCriterion:
    id: str  # "" when the reveal policy hides a missed criterion's name
    number: int  # its place in the rubric, 1-based
    met: bool
    likely: bool  # met on meaning alone ("likely met": credited, the teacher will confirm)
    feedback: Text
    key_idea: Text  # the concept sentence, where the policy shows it
    hint: Text  # the criterion's hint, after a miss

    @property
    def named(self) -> bool:
        return bool(self.id)


@dataclass(frozen=True)
class StudentMisconception:
    feedback: Text  # empty when the policy hides it
    penalty: float  # as shown; 0 under an override


@dataclass(frozen=True)
class StudentAnswer:
    """One answer (a question, or a step of a challenge) as a student sees it."""

    id: str  # "q" or "q/step"
    step: str  # the step's id; "" for a question
    answered: bool
    answer: str
    language: str
    score: float  # as shown: rounded, the override's score when overridden
    points: float
    criteria: tuple[StudentCriterion, ...]
    misconceptions: tuple[StudentMisconception, ...]
    overridden: bool
    comment: str  # the override's comment
    feedback: Text  # the question's general feedback
    hint: Text  # the question's (step's) hint, after an attempt below full marks
    model_answers: tuple[Text, ...]
    chosen: tuple[str, ...]  # the chosen options' texts (multiple choice)
    hidden: int  # missed criteria whose details the policy hides

    @property
    def full_marks(self) -> bool:
        return self.score >= self.points - _EPSILON


@dataclass(frozen=True)
class StudentQuestion:
    id: str
    type: str
    score: float  # the sum of its answers' shown scores
    points: float
    answers: tuple[StudentAnswer, ...]
    hint: Text  # a challenge's own hint, when it is not complete


@dataclass(frozen=True)
class StudentReport:
    student: str
    language: str  # the language most answers are in ("" when none)
    total: float  # the sum of the questions' shown scores
    points: float
    questions: tuple[StudentQuestion, ...]


def student_answer(
    answer: AnswerResult,
    gradable: Gradable | None,
    policy: Policy = Policy(),
    languages: Sequence[str] = (),
) -> StudentAnswer:
    """The student's view of one graded answer. ``gradable`` (from the bank) adds hints, model
    answers and the rubric's feedback of a criterion whose verdict an override turned; without it
    those are left out. ``languages``: the bank's, to fall back on."""
    fallback = tuple(languages)
    language = answer.language or (fallback[0] if fallback else "")
    verdicts = _verdicts(answer)
    criteria = tuple(
        _criterion(criterion, number, verdicts[criterion.id], gradable, policy, language, fallback)
        for number, criterion in enumerate(answer.criteria, start=1)
    )
    score = policy.display.round(answer.score, answer.points)
    show_more = policy.reveal.names_missed()
    return StudentAnswer(
        id=answer.id,
        step=answer.id.split("/", 1)[1] if "/" in answer.id else "",
        answered=answer.answered,
        answer=answer.answer,
        language=answer.language,
        score=score,
        points=answer.points,
        criteria=criteria if answer.answered else (),
        misconceptions=_misconceptions(answer, policy),
        overridden=answer.override is not None,
        comment=answer.override.comment if answer.override else "",
        feedback=Text(answer.feedback, _feedback_language(gradable, language, fallback))
        if show_more
        else NO_TEXT,
        hint=_local(gradable.hint if gradable else None, language, fallback)
        if show_more and score < answer.points - _EPSILON
        else NO_TEXT,
        model_answers=_model_answers(answer, gradable, language, fallback)
        if policy.reveal.model_answers
        else (),
        chosen=_chosen(answer, gradable, language, fallback),
        hidden=sum(1 for criterion in criteria if not criterion.named),
    )


def student_question(
    question: QuestionResult, bank: Bank | None, policy: Policy = Policy()
) -> StudentQuestion:
    gradables = bank.gradables() if bank else {}
    languages = tuple(bank.languages) if bank else ()
    answers = tuple(
        student_answer(answer, gradables.get(answer.id), policy, languages)
        for answer in question.answers
    )
    score = policy.display.total(answer.score for answer in answers)
    bank_question = bank.question(question.id) if bank else None
    hint = NO_TEXT
    if question.type == "challenge" and bank_question is not None and policy.reveal.names_missed():
        first = next((a.language for a in answers if a.answered and a.language), "")
        if score < question.points - _EPSILON and any(a.answered for a in answers):
            hint = _local(bank_question.hint, first, languages)
    return StudentQuestion(question.id, question.type, score, question.points, answers, hint)


def student_report(
    student: StudentResult, bank: Bank | None, policy: Policy = Policy()
) -> StudentReport:
    questions = tuple(student_question(q, bank, policy) for q in student.questions)
    languages = tuple(bank.languages) if bank else ()
    return StudentReport(
        student=student.id,
        language=main_language(student, languages),
        total=policy.display.total(q.score for q in questions),
        points=student.max,
        questions=questions,
    )


def main_language(student: StudentResult, languages: Sequence[str] = ()) -> str:
    """The language most of the student's answers are in (ties: the bank's order); "" if none."""
    counts = Counter(
        a.language for q in student.questions for a in q.answers if a.answered and a.language
    )
    if not counts:
        return ""
    order = {code: index for index, code in enumerate(languages)}
    return min(counts, key=lambda code: (-counts[code], order.get(code, len(order)), code))


# ---------------------------------------------------------------- the parts


def _verdicts(answer: AnswerResult) -> dict[str, bool]:
    """Met or missed per criterion, consistent with the final score.

    Without an override, the automatic verdicts. With one, starting from them: while the met
    criteria are worth more than the overridden score, the met one with the least credit becomes
    missed; then, while the missed ones are worth more than the points the override withheld, the
    missed one with the most credit becomes met, as long as the met ones stay within the score.
    So an override of 0 shows every criterion missed, full marks every one met.
    """
    met = {criterion.id: criterion.met for criterion in answer.criteria}
    if answer.override is None or not answer.criteria:
        return met
    scale = answer.points / (sum(c.points for c in answer.criteria) or 1.0)
    worth = {c.id: c.points * scale for c in answer.criteria}
    score = answer.override.score

    def total(verdict: bool) -> float:
        return sum(worth[key] for key, value in met.items() if value is verdict)

    by_credit = sorted(answer.criteria, key=lambda c: (c.credit, c.points))
    for criterion in by_credit:
        if total(True) <= score + _EPSILON:
            break
        met[criterion.id] = False
    for criterion in reversed(by_credit):
        if total(False) <= answer.points - score + _EPSILON:
            break
        if not met[criterion.id] and total(True) + worth[criterion.id] <= score + _EPSILON:
            met[criterion.id] = True
    return met


def _criterion(
    criterion: CriterionResult,
    number: int,
    met: bool,
    gradable: Gradable | None,
    policy: Policy,
    language: str,
    languages: tuple[str, ...],
) -> StudentCriterion:
    named = met or policy.reveal.names_missed()
    rubric_criterion = _rubric_criterion(gradable, criterion.id)
    if met == criterion.met:
        feedback = Text(criterion.feedback, criterion.feedback_language)
    elif rubric_criterion is not None:  # an override turned the verdict: the other feedback
        text = rubric_criterion.feedback_met if met else rubric_criterion.feedback_missed
        feedback = _local(text, language, languages)
    else:
        feedback = NO_TEXT
    key_idea = NO_TEXT
    if policy.reveal.key_idea(met) and rubric_criterion is not None:
        key_idea = _local(rubric_criterion.concept, language, languages)  # in the answer's language
    elif policy.reveal.key_idea(met) and criterion.concept is not None:
        key_idea = Text(criterion.concept.reference, criterion.concept.reference_language)
    hint = NO_TEXT
    if not met and named and rubric_criterion is not None:
        hint = _local(rubric_criterion.hint, language, languages)
    return StudentCriterion(
        id=criterion.id if named else "",
        number=number,
        met=met,
        likely=met and met == criterion.met and criterion.status == LIKELY_STATUS,
        feedback=feedback if named else NO_TEXT,
        key_idea=key_idea,
        hint=hint,
    )


def _rubric_criterion(gradable: Gradable | None, criterion_id: str) -> Any:
    if gradable is None or gradable.rubric is None:
        return None
    return next((c for c in gradable.rubric.criteria if c.id == criterion_id), None)


def _misconceptions(answer: AnswerResult, policy: Policy) -> tuple[StudentMisconception, ...]:
    """The misconceptions found; under an override their feedback only (the penalty was the
    automatic score's, which the override replaced). A known wrong answer (recorded as the
    misconception ``wrong-answer``) shows its feedback only: its criteria already say it earns
    nothing, and a penalty beside them would read as a second deduction."""
    shown = policy.reveal.names_missed()
    return tuple(
        StudentMisconception(
            Text(hit.feedback, hit.feedback_language) if shown else NO_TEXT,
            0.0
            if answer.override is not None or hit.id == WRONG_ANSWER
            else policy.display.round(hit.penalty),
        )
        for hit in answer.misconceptions
    )


def _local(text: LocalText | None, language: str, languages: tuple[str, ...]) -> Text:
    if text is None or not text:
        return NO_TEXT
    return Text(text.get(language, languages), text.language_of(language, languages))


def _feedback_language(gradable: Gradable | None, language: str, languages: tuple[str, ...]) -> str:
    if gradable is None or not gradable.feedback:
        return language
    return gradable.feedback.language_of(language, languages)


def _model_answers(
    answer: AnswerResult, gradable: Gradable | None, language: str, languages: tuple[str, ...]
) -> tuple[Text, ...]:
    if gradable is None:
        reference = answer.similarity
        return (Text(reference.reference, reference.reference_language),) if reference else ()
    closed = gradable.closed
    if closed is not None:
        if closed.options:
            return tuple(
                _local(option.text, language, languages)
                for option in closed.options
                if option.credit > 0
            )
        value = closed.value_text()
        return (Text(value),) if value is not None else ()
    for code in (language, *languages, *gradable.answers):
        if code and gradable.answers.get(code):
            return tuple(Text(text, code) for text in gradable.answers[code])
    return ()


def _chosen(
    answer: AnswerResult, gradable: Gradable | None, language: str, languages: tuple[str, ...]
) -> tuple[str, ...]:
    closed = gradable.closed if gradable else None
    if closed is None or not closed.options or not answer.answered:
        return ()

    options, unknown = chosen_options(closed, answer.answer)
    if unknown:
        return ()
    return tuple(option.text.get(language, languages) for option in options)


def feedback_remarks(view: StudentAnswer) -> list[str]:
    """The view's remarks as plain lines (LMS feedback columns): the override's comment, then
    the feedback of each criterion and misconception shown."""
    remarks = [view.comment] if view.overridden else []
    remarks.extend(criterion.feedback.text for criterion in view.criteria)
    remarks.extend(hit.feedback.text for hit in view.misconceptions)
    return [remark.strip() for remark in remarks if remark.strip()]


# ---------------------------------------------------------------- as data (check --json, the API)


def answer_document(view: StudentAnswer, gettext: Any = None) -> dict[str, Any]:
    """The view as JSON-ready data; ``gettext`` names hidden criteria ("Criterion 2")."""
    name = _namer(gettext)
    return {
        "id": view.id,
        "score": view.score,
        "points": view.points,
        "language": view.language,
        "answered": view.answered,
        "criteria": [
            {
                "id": criterion.id or None,
                "name": name(criterion),
                "met": criterion.met,
                "likely": criterion.likely,
                "feedback": criterion.feedback.text,
                **({"key_idea": criterion.key_idea.text} if criterion.key_idea else {}),
                **({"hint": criterion.hint.text} if criterion.hint else {}),
            }
            for criterion in view.criteria
        ],
        "hidden": view.hidden,
        "misconceptions": [
            {"feedback": hit.feedback.text, "penalty": hit.penalty} for hit in view.misconceptions
        ],
        "overridden": view.overridden,
        "comment": view.comment,
        "feedback": view.feedback.text,
        "hint": view.hint.text,
        "model_answers": [text.text for text in view.model_answers],
    }


def _namer(translate: Any) -> Any:
    gettext = translate or (lambda text: text)

    def name(criterion: StudentCriterion) -> str:
        if not criterion.named:
            return str(gettext("Criterion %(number)s") % {"number": criterion.number})
        if criterion.id == MODEL_ANSWER_CRITERION:
            return str(gettext("Model answer"))
        return criterion.id

    return name


def criterion_name(criterion: StudentCriterion, gettext: Any = None) -> str:
    """What a student reads as the criterion's name, in the interface language."""
    return str(_namer(gettext)(criterion))
