"""The web application of ``grader serve`` (FastAPI), imported only when a server starts.

Routes: ``/`` (the banks and their questions), ``/b/BANK/QUESTION`` and ``/b/BANK/QUESTION/STEP``
(a question or a challenge's step: the form, the feedback after a check, the learner's own
attempts), ``/access`` (the access code), ``/name`` (the learner's name), ``POST /api/check`` and
``GET /api/banks`` (JSON; OpenAPI at ``/api/openapi.json``), ``/static/grader.css``, ``/healthz``.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from grader.i18n import gettext_for, label_language
from grader.output.student_view import answer_document
from grader.serve.handlers import add_error_handlers, add_guards
from grader.serve.server import (
    COOKIE_ACCESS,
    COOKIE_AGE_S,
    COOKIE_LEARNER,
    COOKIE_NAME,
    Service,
)
from grader.serve.web import (
    LOCAL_PATH,
    Result,
    Web,
    bank_entry,
    clean_name,
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


def build_app(service: Service) -> FastAPI:
    """The FastAPI application over ``service``."""
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
    web = Web(service)
    add_guards(app, web)
    add_error_handlers(app, web)

    # ---- routes

    @app.get("/static/grader.css", include_in_schema=False)
    def stylesheet() -> Response:
        css = (
            web.templates.get_template("_style.css.j2").render()
            + web.templates.get_template("serve_style.css.j2").render()
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
            "banks": list(web.service.banks),
            "references_embedded": web.service.references_embedded.is_set(),
        }

    @app.get("/access", response_class=HTMLResponse, include_in_schema=False)
    def access_form(request: Request) -> Response:
        who = web.visitor(request)
        return web.remember(web.page("serve_access.html.j2", who, wrong=False), who, request)

    @app.post("/access", include_in_schema=False)
    async def access_submit(request: Request) -> Response:
        web.limit(request)
        who = web.visitor(request)
        fields = await web.form_fields(request)
        web.check_csrf(who, fields["csrf"])
        if not web.service.access_ok(None, fields["code"]):
            return web.remember(
                web.page("serve_access.html.j2", who, 403, wrong=True), who, request
            )
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            COOKIE_ACCESS, web.service.access_token(), httponly=True, samesite="strict"
        )
        return web.remember(response, who, request)

    @app.post("/name", include_in_schema=False)
    async def set_name(request: Request) -> Response:
        who = web.visitor(request)
        fields = await web.form_fields(request)
        web.check_csrf(who, fields["csrf"])
        back = fields["back"]
        local = LOCAL_PATH.fullmatch(back) is not None  # never a redirect to another site
        response = RedirectResponse(back if local else "/", status_code=303)
        response.set_cookie(
            COOKIE_NAME,
            clean_name(fields["name"]),
            max_age=COOKIE_AGE_S,
            httponly=True,
            samesite="strict",
        )
        return web.remember(response, who, request)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index(request: Request) -> Response:
        who = web.visitor(request)
        banks = [bank_entry(bank, who.language) for bank in web.service.banks.values()]
        return web.remember(web.page("serve_index.html.j2", who, banks=banks), who, request)

    @app.get("/b/{bank_id}/{question_id}", response_class=HTMLResponse, include_in_schema=False)
    def question_page(request: Request, bank_id: str, question_id: str) -> Response:
        who = web.visitor(request)
        bank = web.service.bank(bank_id)
        question = web.service.question(bank, question_id)
        return web.remember(web.question_response(who, bank, question, None), who, request)

    @app.get(
        "/b/{bank_id}/{question_id}/{step_id}",
        response_class=HTMLResponse,
        include_in_schema=False,
    )
    def step_page(request: Request, bank_id: str, question_id: str, step_id: str) -> Response:
        who = web.visitor(request)
        bank = web.service.bank(bank_id)
        gradable = web.service.gradable(bank, f"{question_id}/{step_id}")
        return web.remember(web.step_response(who, bank, gradable, None), who, request)

    @app.post("/b/{bank_id}/{question_id}", include_in_schema=False)
    async def question_submit(request: Request, bank_id: str, question_id: str) -> Response:
        return await _submit(request, bank_id, question_id)

    @app.post("/b/{bank_id}/{question_id}/{step_id}", include_in_schema=False)
    async def step_submit(
        request: Request, bank_id: str, question_id: str, step_id: str
    ) -> Response:
        return await _submit(request, bank_id, f"{question_id}/{step_id}")

    async def _submit(request: Request, bank_id: str, answer_id: str) -> Response:
        who = web.visitor(request)
        fields = await web.form_fields(request)
        web.check_csrf(who, fields["csrf"])
        bank = web.service.bank(bank_id)
        gradable = web.service.gradable(bank, answer_id)
        web.limit(request)
        language = fields["language"] if fields["language"] in bank.languages else None
        view, attempt = await run_in_threadpool(
            web.service.check, bank, gradable, fields["answer"], language, who.learner, who.name
        )
        result = Result(view, attempt, fields["answer"], language or "")
        if "/" in answer_id:
            response = web.step_response(who, bank, gradable, result)
        else:
            response = web.question_response(
                who, bank, web.service.question(bank, answer_id), result
            )
        return web.remember(response, who, request)

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
        bank = web.service.bank(body.bank)
        gradable = web.service.gradable(bank, body.question)
        started = time.perf_counter()
        web.limit(request)
        timings = {"limit": time.perf_counter() - started}
        learner = web.service.learner_of(request.cookies.get(COOKIE_LEARNER)) or "api"
        name = clean_name(request.headers.get("x-learner", "")) or clean_name(
            request.cookies.get(COOKIE_NAME, "")
        )
        language = body.language.strip().lower() if body.language else None
        view, attempt = web.service.check(
            bank, gradable, body.answer, language, learner, name, timings
        )
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
                for bank in web.service.banks.values()
            ]
        }

    return app
