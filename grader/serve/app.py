"""The web application of ``grader serve`` (FastAPI), imported only when a server starts.

Routes: ``/`` (the banks and their questions), ``/b/BANK/QUESTION`` and ``/b/BANK/QUESTION/STEP``
(a question or a challenge's step: the form, the feedback after a check, the learner's own
attempts), ``/access`` (the access code), ``/name`` (the learner's name), ``POST /api/check`` and
``GET /api/banks`` (JSON; OpenAPI at ``/api/openapi.json``), ``/static/grader.css``, ``/healthz``.
"""

from __future__ import annotations

import hmac
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from grader.bank import Bank, Gradable, Question
from grader.output.i18n import accept_language, gettext_for, label_language, template_globals
from grader.output.pages import environment, lang_attr
from grader.output.student_view import StudentAnswer, answer_document, criterion_name, format_number
from grader.serve.attempts import Attempt
from grader.serve.server import (
    COOKIE_ACCESS,
    COOKIE_AGE_S,
    COOKIE_LANGUAGE,
    COOKIE_LEARNER,
    COOKIE_NAME,
    MAX_BODY_BYTES,
    MAX_NAME_CHARS,
    RATE_WINDOW_S,
    SECURITY_HEADERS,
    AnswerTooLong,
    NotFound,
    RateLimited,
    Service,
)


class CheckRequest(BaseModel):
    bank: str = Field(description="The bank's id.", examples=["transformer-triad"])
    question: str = Field(
        description="The question's id; a challenge step is question/step.",
        examples=["text-to-text"],
    )
    answer: str = Field(description="The answer text.", examples=["T5, an encoder-decoder."])
    language: str | None = Field(
        default=None,
        description="The answer's language (ISO 639-1); detected when absent.",
        examples=["en"],
    )


class CriterionOut(BaseModel):
    id: str | None = Field(description="The criterion's id; null when the policy hides it.")
    name: str = Field(description="What the learner reads as the criterion's name.")
    met: bool
    likely: bool = Field(
        default=False, description="Met on meaning alone: credited, the teacher will confirm."
    )
    feedback: str = Field(description="The rubric's feedback, in the answer's language.")
    key_idea: str | None = None
    hint: str | None = None


class MisconceptionOut(BaseModel):
    feedback: str
    penalty: float


class CheckResponse(BaseModel):
    bank: str
    question: str
    attempt: int = Field(description="The stored attempt's number.")
    score: float = Field(description="The score, rounded as the bank's display setting says.")
    points: float
    language: str = Field(description="The answer's language, given or detected.")
    answered: bool
    criteria: list[CriterionOut]
    hidden: int = Field(description="Missed criteria whose details the reveal policy hides.")
    misconceptions: list[MisconceptionOut]
    overridden: bool
    comment: str
    feedback: str = Field(description="The question's general feedback, where allowed.")
    hint: str = Field(description="The question's hint, after an attempt below full marks.")
    model_answers: list[str] = Field(description="Only where the reveal policy allows.")


# ---------------------------------------------------------------- pages


_LOCAL_PATH = re.compile(r"/(?:b/[\w.-]+/[\w.-]+(?:/[\w.-]+)?)?")
_HIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _clean_name(name: str) -> str:
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


def build_app(service: Service) -> FastAPI:
    """The FastAPI application over ``service``."""
    config = service.config

    app = FastAPI(
        title="grader serve",
        version="1",
        description=(
            "Learners' self-check of free-text answers. POST /api/check grades one answer and "
            "answers what a student may see: the score, each criterion met or missing with the "
            "rubric's feedback, and what the bank's reveal policy allows (never the rubric's "
            "keywords). Send Content-Type: application/json, and X-Access-Code when the server "
            "has an access code."
        ),
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    templates = environment()

    # ---- visitors

    def visitor(request: Request) -> Visitor:
        cookie = request.cookies.get(COOKIE_LEARNER)
        learner = service.learner_of(cookie)
        new = learner is None
        if learner is None:
            cookie = service.new_learner()
            learner = cookie.rpartition(".")[0]
        assert cookie is not None
        offered = _offered_languages()
        chosen = request.query_params.get("lang") or request.cookies.get(COOKIE_LANGUAGE) or ""
        if chosen not in offered:
            chosen = accept_language(request.headers.get("accept-language"), offered)
        language = chosen or offered[0]
        return Visitor(
            learner=learner,
            cookie=cookie,
            new=new,
            name=_clean_name(request.cookies.get(COOKIE_NAME, "")),
            language=language,
            labels=label_language(language),
            csrf=service.sign("csrf", learner),
            path=request.url.path,
        )

    def _offered_languages() -> list[str]:
        seen: dict[str, None] = {}
        for bank in service.banks.values():
            seen.update((code, None) for code in bank.languages)
        return list(seen)

    def remember(response: Response, who: Visitor, request: Request) -> Response:
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

    def page(template: str, who: Visitor, status: int = 200, **context: Any) -> HTMLResponse:
        _ = gettext_for(who.labels)
        html = templates.get_template(template).render(
            **template_globals(who.labels),
            page_lang=lang_attr(who.language) or "en",
            page_dir="ltr",
            who=who,
            languages=_offered_languages(),
            language_names=_language_names(),
            access=bool(config.access_code),
            name=lambda criterion: criterion_name(criterion, _),
            lang_attr=lang_attr,
            number=format_number,
            max_answer=config.max_answer,
            **context,
        )
        return HTMLResponse(html, status_code=status)

    def error_page(
        request: Request, status: int, message: Callable[[Callable[[str], str]], str], detail: str
    ) -> HTMLResponse:
        """An error page: ``message`` (given the learner's gettext) and the English detail."""
        who = visitor(request)
        text = message(gettext_for(who.labels))
        return page("serve_error.html.j2", who, status, code=status, message=text, detail=detail)

    def wants_json(request: Request) -> bool:
        return request.url.path.startswith("/api/")

    # ---- middleware: headers, body size, access code

    @app.middleware("http")
    async def guard(request: Request, call_next: Callable[[Request], Any]) -> Any:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            response: Response = _too_large(request)
        elif not _access_granted(request):
            response = _access_required(request)
        else:
            response = await call_next(request)
        for header, value in SECURITY_HEADERS.items():
            response.headers.setdefault(header, value)
        return response

    def _too_large(request: Request) -> Response:
        message = f"the request is larger than {MAX_BODY_BYTES // 1024} KiB"
        if wants_json(request):
            return JSONResponse({"error": message}, status_code=413)
        return HTMLResponse(f"<!DOCTYPE html><title>413</title><p>{message}</p>", 413)

    def _access_granted(request: Request) -> bool:
        if not config.access_code or request.url.path in ("/access", "/static/grader.css"):
            return True
        return service.access_ok(
            request.cookies.get(COOKIE_ACCESS), request.headers.get("x-access-code")
        )

    def _access_required(request: Request) -> Response:
        if wants_json(request):
            return JSONResponse(
                {"error": "this server needs the access code: send it as X-Access-Code"},
                status_code=401,
            )
        return RedirectResponse("/access", status_code=303)

    # ---- errors: clear messages, never a stack trace

    @app.exception_handler(NotFound)
    async def not_found(request: Request, error: NotFound) -> Response:
        if wants_json(request):
            return JSONResponse({"error": str(error), error.key: error.known}, status_code=404)
        return error_page(request, 404, lambda _: _("There is no such question here."), str(error))

    @app.exception_handler(AnswerTooLong)
    async def too_long(request: Request, error: AnswerTooLong) -> Response:
        if wants_json(request):
            return JSONResponse(
                {"error": str(error), "length": error.length, "limit": error.limit},
                status_code=413,
            )
        return error_page(
            request,
            413,
            lambda _: (
                _(
                    "Your answer has %(length)s characters; at most %(limit)s can be checked. "
                    "Shorten it and try again."
                )
                % {"length": error.length, "limit": error.limit}
            ),
            "",
        )

    @app.exception_handler(RateLimited)
    async def rate_limited(request: Request, error: RateLimited) -> Response:
        headers = {"Retry-After": str(error.wait)}
        if wants_json(request):
            return JSONResponse(
                {"error": str(error), "retry_after": error.wait}, status_code=429, headers=headers
            )
        response = error_page(
            request,
            429,
            lambda _: (
                _("Too many checks: at most %(limit)s a minute. Try again in %(wait)s seconds.")
                % {"limit": error.limit, "wait": error.wait}
            ),
            "",
        )
        response.headers.update(headers)
        return response

    @app.exception_handler(RequestValidationError)
    async def malformed(request: Request, error: RequestValidationError) -> Response:
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return JSONResponse({"error": "send the request as application/json"}, 415)
        problems = "; ".join(_problem_text(item) for item in error.errors()[:5])
        return JSONResponse(
            {
                "error": f"malformed request: {problems}",
                "expected": {
                    "bank": "ID",
                    "question": "ID or question/step",
                    "answer": "TEXT",
                    "language": "optional code",
                },
            },
            status_code=400,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        message = str(error.detail) if error.detail else "error"
        if wants_json(request):
            return JSONResponse({"error": message}, status_code=error.status_code)
        if error.status_code == 403:
            return error_page(
                request,
                403,
                lambda _: _("This form has expired. Reload the page and try again."),
                "",
            )
        if error.status_code == 404:
            return error_page(request, 404, lambda _: _("There is no such page here."), "")
        return error_page(request, error.status_code, lambda _: message, "")

    @app.exception_handler(Exception)
    async def internal(request: Request, error: Exception) -> Response:
        import logging

        logging.getLogger("grader.serve").exception("internal error on %s", request.url.path)
        message = "internal error: the server could not do this (it has been logged)"
        response: Response
        if wants_json(request):
            response = JSONResponse({"error": message}, status_code=500)
        else:
            response = HTMLResponse(f"<!DOCTYPE html><title>500</title><p>{message}</p>", 500)
        response.headers.update(SECURITY_HEADERS)
        return response

    # ---- checks

    def limit(request: Request) -> None:
        client = request.client.host if request.client else "unknown"
        wait = service.store.hit(client, RATE_WINDOW_S, config.rate_limit)
        if wait:
            raise RateLimited(config.rate_limit, int(wait + 0.999))

    async def form_fields(request: Request) -> dict[str, Any]:
        form = await request.form()
        fields: dict[str, Any] = {}
        for key in ("csrf", "answer", "language", "name", "code", "back"):
            values = [value for value in form.getlist(key) if isinstance(value, str)]
            fields[key] = ",".join(values) if key == "answer" else (values[0] if values else "")
        return fields

    def check_csrf(who: Visitor, token: str) -> None:
        if who.new or not hmac.compare_digest(token or "", who.csrf):
            raise StarletteHTTPException(
                403, "this form has expired or was not sent from this site: reload the page"
            )

    # ---- routes

    @app.get("/static/grader.css", include_in_schema=False)
    def stylesheet() -> Response:
        css = (
            templates.get_template("_style.css.j2").render()
            + templates.get_template("serve_style.css.j2").render()
        )
        return Response(
            css,
            media_type="text/css",
            headers={"Cache-Control": "public, max-age=3600"},
        )

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(status_code=204)

    @app.get("/healthz", include_in_schema=False)
    def health() -> dict[str, Any]:
        return {
            "ok": True,
            "banks": list(service.banks),
            "references_embedded": service.references_embedded.is_set(),
        }

    @app.get("/access", response_class=HTMLResponse, include_in_schema=False)
    def access_form(request: Request) -> Response:
        who = visitor(request)
        return remember(page("serve_access.html.j2", who, wrong=False), who, request)

    @app.post("/access", include_in_schema=False)
    async def access_submit(request: Request) -> Response:
        limit(request)
        who = visitor(request)
        fields = await form_fields(request)
        check_csrf(who, fields["csrf"])
        if not service.access_ok(None, fields["code"]):
            return remember(page("serve_access.html.j2", who, 403, wrong=True), who, request)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(COOKIE_ACCESS, service.access_token(), httponly=True, samesite="strict")
        return remember(response, who, request)

    @app.post("/name", include_in_schema=False)
    async def set_name(request: Request) -> Response:
        who = visitor(request)
        fields = await form_fields(request)
        check_csrf(who, fields["csrf"])
        back = fields["back"]
        local = _LOCAL_PATH.fullmatch(back) is not None  # never a redirect to another site
        response = RedirectResponse(back if local else "/", status_code=303)
        response.set_cookie(
            COOKIE_NAME,
            _clean_name(fields["name"]),
            max_age=COOKIE_AGE_S,
            httponly=True,
            samesite="strict",
        )
        return remember(response, who, request)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index(request: Request) -> Response:
        who = visitor(request)
        banks = [_bank_entry(bank, who.language) for bank in service.banks.values()]
        return remember(page("serve_index.html.j2", who, banks=banks), who, request)

    @app.get("/b/{bank_id}/{question_id}", response_class=HTMLResponse, include_in_schema=False)
    def question_page(request: Request, bank_id: str, question_id: str) -> Response:
        who = visitor(request)
        bank = service.bank(bank_id)
        question = service.question(bank, question_id)
        return remember(_question_response(who, bank, question, None), who, request)

    @app.get(
        "/b/{bank_id}/{question_id}/{step_id}",
        response_class=HTMLResponse,
        include_in_schema=False,
    )
    def step_page(request: Request, bank_id: str, question_id: str, step_id: str) -> Response:
        who = visitor(request)
        bank = service.bank(bank_id)
        gradable = service.gradable(bank, f"{question_id}/{step_id}")
        return remember(_step_response(who, bank, gradable, None), who, request)

    @app.post("/b/{bank_id}/{question_id}", include_in_schema=False)
    async def question_submit(request: Request, bank_id: str, question_id: str) -> Response:
        return await _submit(request, bank_id, question_id)

    @app.post("/b/{bank_id}/{question_id}/{step_id}", include_in_schema=False)
    async def step_submit(
        request: Request, bank_id: str, question_id: str, step_id: str
    ) -> Response:
        return await _submit(request, bank_id, f"{question_id}/{step_id}")

    async def _submit(request: Request, bank_id: str, answer_id: str) -> Response:
        who = visitor(request)
        fields = await form_fields(request)
        check_csrf(who, fields["csrf"])
        bank = service.bank(bank_id)
        gradable = service.gradable(bank, answer_id)
        limit(request)
        language = fields["language"] if fields["language"] in bank.languages else None
        view, attempt = await run_in_threadpool(
            service.check, bank, gradable, fields["answer"], language, who.learner, who.name
        )
        result = Result(view, attempt, fields["answer"], language or "")
        if "/" in answer_id:
            response = _step_response(who, bank, gradable, result)
        else:
            response = _question_response(who, bank, service.question(bank, answer_id), result)
        return remember(response, who, request)

    @app.post(
        "/api/check",
        response_model=CheckResponse,
        summary="Check one answer",
        responses={
            400: {"description": "A malformed request (not JSON, a field missing or mistyped)."},
            401: {"description": "The server has an access code and it was not sent."},
            404: {"description": "An unknown bank or question; the ids that exist are listed."},
            413: {"description": "The answer (or the request) is too long."},
            415: {"description": "The request is not application/json."},
            429: {"description": "Too many checks from this client in a minute."},
        },
    )
    def api_check(body: CheckRequest, request: Request, response: Response) -> Any:
        """Grade one answer; the response shows what a student may see (the bank's reveal
        policy), never the rubric's keywords. The attempt is stored under the learner id of the
        cookie (or X-Learner, else "api")."""
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            raise StarletteHTTPException(415, "send the request as application/json")
        bank = service.bank(body.bank)
        gradable = service.gradable(bank, body.question)
        started = time.perf_counter()
        limit(request)
        timings = {"limit": time.perf_counter() - started}
        learner = service.learner_of(request.cookies.get(COOKIE_LEARNER)) or "api"
        name = _clean_name(request.headers.get("x-learner", "")) or _clean_name(
            request.cookies.get(COOKIE_NAME, "")
        )
        language = body.language.strip().lower() if body.language else None
        view, attempt = service.check(bank, gradable, body.answer, language, learner, name, timings)
        response.headers["Server-Timing"] = ", ".join(
            f"{stage};dur={seconds * 1000:.1f}" for stage, seconds in timings.items()
        )
        who_labels = label_language(view.language, *bank.languages[:1])
        return {
            "bank": bank.id,
            "question": gradable.id,
            "attempt": attempt,
            **answer_document(view, gettext_for(who_labels)),
        }

    @app.get("/api/banks", summary="The banks and their questions")
    def api_banks() -> dict[str, Any]:
        """Every bank with its languages and the ids a check can address."""
        return {
            "banks": [
                {
                    "id": bank.id,
                    "title": bank.title.get(None, bank.languages),
                    "languages": list(bank.languages),
                    "questions": [
                        {"id": gradable.id, "points": gradable.points, "type": gradable.kind.value}
                        for gradable in bank.gradables().values()
                    ],
                }
                for bank in service.banks.values()
            ]
        }

    # ---- page models

    def _question_response(
        who: Visitor, bank: Bank, question: Question, result: Result | None
    ) -> HTMLResponse:
        if question.type.value == "challenge":
            steps = _step_entries(who, bank, question)
            return page(
                "serve_question.html.j2",
                who,
                bank=_bank_entry(bank, who.language),
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
        return page(
            "serve_question.html.j2",
            who,
            bank=_bank_entry(bank, who.language),
            question=_question_entry(bank, question, who.language),
            challenge=False,
            gradable=_gradable_entry(bank, gradable, who.language),
            result=result,
            attempts=_attempt_entries(service.attempts(who.learner, bank, [gradable.id])),
            steps=[],
            total=None,
            next_step=None,
        )

    def _step_response(
        who: Visitor, bank: Bank, gradable: Gradable, result: Result | None
    ) -> HTMLResponse:
        question = service.question(bank, gradable.id.split("/", 1)[0])
        steps = _step_entries(who, bank, question)
        index = next(i for i, step in enumerate(steps) if step.id == gradable.id)
        current = steps[index]
        next_step = steps[index + 1] if index + 1 < len(steps) and current.tried else None
        last = index + 1 == len(steps)
        return page(
            "serve_question.html.j2",
            who,
            bank=_bank_entry(bank, who.language),
            question=_question_entry(bank, question, who.language),
            challenge=True,
            gradable=_gradable_entry(bank, gradable, who.language),
            step_number=index + 1,
            result=result,
            attempts=_attempt_entries(service.attempts(who.learner, bank, [gradable.id])),
            steps=steps,
            total=_challenge_total(steps, question.points) if last else None,
            next_step=next_step,
        )

    def _step_entries(who: Visitor, bank: Bank, question: Question) -> list[StepEntry]:
        ids = [step.id for step in question.steps]
        latest: dict[str, Attempt] = {}
        for attempt in service.attempts(who.learner, bank, ids):  # newest first
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

    return app


def _problem_text(item: Any) -> str:
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


def _bank_entry(bank: Bank, language: str) -> dict[str, Any]:
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
