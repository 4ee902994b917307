"""What every page and answer of ``grader serve`` shares: who is asking (``Visitor``), the page
renderer, cookies, rate limits and form checks, and the question and step pages."""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from grader.bank import Bank, Gradable, Question
from grader.i18n import accept_language, gettext_for, label_language, template_globals
from grader.output.pages import environment, lang_attr
from grader.output.student_view import StudentAnswer, criterion_name, format_number
from grader.serve.attempts import Attempt
from grader.serve.server import (
    COOKIE_AGE_S,
    COOKIE_LANGUAGE,
    COOKIE_LEARNER,
    COOKIE_NAME,
    MAX_NAME_CHARS,
    RATE_WINDOW_S,
    RateLimited,
    Service,
)

LOCAL_PATH = re.compile(r"/(?:b/[\w.-]+/[\w.-]+(?:/[\w.-]+)?)?")
_HIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def clean_name(name: str) -> str:
    return " ".join(_HIDDEN.sub("", name).split())[:MAX_NAME_CHARS]


def _time_text(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")


@dataclass(frozen=True)
class Visitor:
    """Who is asking, in which language, with which tokens."""

    learner: str  # the id (unsigned part of the cookie)
    cookie: str  # the signed cookie value
    new: bool  # the cookie must be set on the response
    name: str
    language: str  # the interface language chosen (may lack a catalogue)
    labels: str  # the catalogue language used
    csrf: str
    path: str  # the page's own path (where the name form returns to)


class Web:
    """The helpers of one application over ``service``."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.config = service.config
        self.templates = environment()

    def visitor(self, request: Request) -> Visitor:
        cookie = request.cookies.get(COOKIE_LEARNER)
        learner = self.service.learner_of(cookie)
        new = learner is None
        if learner is None:
            cookie = self.service.new_learner()
            learner = cookie.rpartition(".")[0]
        assert cookie is not None
        offered = self.offered_languages()
        chosen = request.query_params.get("lang") or request.cookies.get(COOKIE_LANGUAGE) or ""
        if chosen not in offered:
            chosen = accept_language(request.headers.get("accept-language"), offered)
        language = chosen or offered[0]
        return Visitor(
            learner=learner,
            cookie=cookie,
            new=new,
            name=clean_name(request.cookies.get(COOKIE_NAME, "")),
            language=language,
            labels=label_language(language),
            csrf=self.service.sign("csrf", learner),
            path=request.url.path,
        )

    def offered_languages(self) -> list[str]:
        seen: dict[str, None] = {}
        for bank in self.service.banks.values():
            seen.update((code, None) for code in bank.languages)
        return list(seen)

    def remember(self, response: Response, who: Visitor, request: Request) -> Response:
        if who.new:
            response.set_cookie(
                COOKIE_LEARNER, who.cookie, max_age=COOKIE_AGE_S, httponly=True, samesite="strict"
            )
        if request.query_params.get("lang") == who.language:
            response.set_cookie(
                COOKIE_LANGUAGE,
                who.language,
                max_age=COOKIE_AGE_S,
                httponly=True,
                samesite="strict",
            )
        return response

    def page(self, template: str, who: Visitor, status: int = 200, **context: Any) -> HTMLResponse:
        _ = gettext_for(who.labels)
        html = self.templates.get_template(template).render(
            **template_globals(who.labels),
            page_lang=lang_attr(who.language) or "en",
            page_dir="ltr",
            who=who,
            languages=self.offered_languages(),
            language_names=_language_names(),
            access=bool(self.config.access_code),
            name=lambda criterion: criterion_name(criterion, _),
            lang_attr=lang_attr,
            number=format_number,
            max_answer=self.config.max_answer,
            **context,
        )
        return HTMLResponse(html, status_code=status)

    def error_page(
        self,
        request: Request,
        status: int,
        message: Callable[[Callable[[str], str]], str],
        detail: str,
    ) -> HTMLResponse:
        """An error page: ``message`` (given the learner's gettext) and the English detail."""
        who = self.visitor(request)
        text = message(gettext_for(who.labels))
        return self.page(
            "serve_error.html.j2", who, status, code=status, message=text, detail=detail
        )

    def wants_json(self, request: Request) -> bool:
        return request.url.path.startswith("/api/")

    def limit(self, request: Request) -> None:
        client = request.client.host if request.client else "unknown"
        wait = self.service.store.hit(client, RATE_WINDOW_S, self.config.rate_limit)
        if wait:
            raise RateLimited(self.config.rate_limit, int(wait + 0.999))

    async def form_fields(self, request: Request) -> dict[str, Any]:
        form = await request.form()
        fields: dict[str, Any] = {}
        for key in ("csrf", "answer", "language", "name", "code", "back"):
            values = [value for value in form.getlist(key) if isinstance(value, str)]
            fields[key] = ",".join(values) if key == "answer" else (values[0] if values else "")
        return fields

    def check_csrf(self, who: Visitor, token: str) -> None:
        if who.new or not hmac.compare_digest(token or "", who.csrf):
            raise StarletteHTTPException(
                403, "this form has expired or was not sent from this site: reload the page"
            )

    def question_response(
        self, who: Visitor, bank: Bank, question: Question, result: Result | None
    ) -> HTMLResponse:
        if question.type.value == "challenge":
            steps = self.step_entries(who, bank, question)
            return self.page(
                "serve_question.html.j2",
                who,
                bank=bank_entry(bank, who.language),
                question=_question_entry(bank, question, who.language),
                challenge=True,
                steps=steps,
                total=_challenge_total(steps, question.points),
                gradable=None,
                result=None,
                attempts=[],
                next_step=None,
            )
        gradable = question.gradables[0]
        return self.page(
            "serve_question.html.j2",
            who,
            bank=bank_entry(bank, who.language),
            question=_question_entry(bank, question, who.language),
            challenge=False,
            gradable=_gradable_entry(bank, gradable, who.language),
            result=result,
            attempts=_attempt_entries(self.service.attempts(who.learner, bank, [gradable.id])),
            steps=[],
            total=None,
            next_step=None,
        )

    def step_response(
        self, who: Visitor, bank: Bank, gradable: Gradable, result: Result | None
    ) -> HTMLResponse:
        question = self.service.question(bank, gradable.id.split("/", 1)[0])
        steps = self.step_entries(who, bank, question)
        index = next(i for i, step in enumerate(steps) if step.id == gradable.id)
        current = steps[index]
        next_step = steps[index + 1] if index + 1 < len(steps) and current.tried else None
        last = index + 1 == len(steps)
        return self.page(
            "serve_question.html.j2",
            who,
            bank=bank_entry(bank, who.language),
            question=_question_entry(bank, question, who.language),
            challenge=True,
            gradable=_gradable_entry(bank, gradable, who.language),
            step_number=index + 1,
            result=result,
            attempts=_attempt_entries(self.service.attempts(who.learner, bank, [gradable.id])),
            steps=steps,
            total=_challenge_total(steps, question.points) if last else None,
            next_step=next_step,
        )

    def step_entries(self, who: Visitor, bank: Bank, question: Question) -> list[StepEntry]:
        ids = [step.id for step in question.steps]
        latest: dict[str, Attempt] = {}
        for attempt in self.service.attempts(who.learner, bank, ids):  # newest first
            latest.setdefault(attempt.question, attempt)
        return [
            StepEntry(
                id=step.id,
                step=step.id.split("/", 1)[1],
                number=number,
                href=f"/b/{bank.id}/{step.id}",
                prompt=step.prompt.get(who.language, bank.languages),
                points=step.points,
                tried=step.id in latest,
                score=latest[step.id].score if step.id in latest else None,
            )
            for number, step in enumerate(question.steps, start=1)
        ]


def problem_text(item: Any) -> str:
    if item.get("type") == "json_invalid":
        position = item.get("loc", ("", "?"))[-1]
        return f"the body is not valid JSON (at character {position})"
    where = ".".join(str(part) for part in item.get("loc", ()) if part != "body") or "the body"
    return f"{where}: {item.get('msg', 'invalid')}"


@dataclass(frozen=True)
class Result:
    """A check just made, for the page that shows it."""

    view: StudentAnswer
    attempt: int
    answer: str
    language: str


@dataclass(frozen=True)
class StepEntry:
    id: str
    step: str
    number: int
    href: str
    prompt: str
    points: float
    tried: bool
    score: float | None  # the latest attempt's


@dataclass(frozen=True)
class AttemptEntry:
    number: int
    time: str
    score: float
    points: float
    answer: str


def _attempt_entries(attempts: Sequence[Attempt]) -> list[AttemptEntry]:
    return [
        AttemptEntry(
            attempt.id, _time_text(attempt.at), attempt.score, attempt.points, attempt.answer
        )
        for attempt in attempts
    ]


def _challenge_total(steps: Sequence[StepEntry], points: float) -> tuple[float, float] | None:
    """The challenge's total (the latest score of each step), once every step was tried."""
    if not steps or not all(step.tried for step in steps):
        return None
    return round(sum(step.score or 0.0 for step in steps), 9), points


def _language_names() -> dict[str, str]:
    return {
        "en": "English",
        "ko": "한국어",
        "ja": "日本語",
        "ru": "Русский",
        "de": "Deutsch",
        "es": "Español",
        "fr": "Français",
        "zh": "中文",
    }


def bank_entry(bank: Bank, language: str) -> dict[str, Any]:
    return {
        "id": bank.id,
        "title": bank.title.get(language, bank.languages),
        "title_lang": bank.title.language_of(language, bank.languages),
        "description": bank.description.get(language, bank.languages) if bank.description else "",
        "questions": [_question_entry(bank, question, language) for question in bank.questions],
    }


def _question_entry(bank: Bank, question: Question, language: str) -> dict[str, Any]:
    return {
        "id": question.id,
        "href": f"/b/{bank.id}/{question.id}",
        "type": question.type.value,
        "points": question.points,
        "prompt": question.prompt.get(language, bank.languages),
        "prompt_lang": question.prompt.language_of(language, bank.languages),
        "steps": len(question.steps),
    }


def _gradable_entry(bank: Bank, gradable: Gradable, language: str) -> dict[str, Any]:
    closed = gradable.closed
    options = []
    if closed is not None and closed.options:
        options = [
            {"id": option.id, "text": option.text.get(language, bank.languages)}
            for option in closed.options
        ]
    return {
        "id": gradable.id,
        "href": f"/b/{bank.id}/{gradable.id}",
        "prompt": gradable.prompt.get(language, bank.languages),
        "prompt_lang": gradable.prompt.language_of(language, bank.languages),
        "points": gradable.points,
        "options": options,
        "multiple": bool(closed and closed.multiple),
        "numeric": bool(closed and not closed.options),
        "languages": list(bank.languages),
    }
