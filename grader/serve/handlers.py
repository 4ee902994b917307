"""The guards of every request of ``grader serve`` (body size, access code, security headers)
and its error responses: a clear message in JSON or a page, never a stack trace."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from grader.serve.server import (
    COOKIE_ACCESS,
    MAX_BODY_BYTES,
    SECURITY_HEADERS,
    AnswerTooLong,
    NotFound,
    RateLimited,
)
from grader.serve.web import Web, problem_text


def add_guards(app: FastAPI, web: Web) -> None:
    """The middleware: body size, access code, security headers."""

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
        if web.wants_json(request):
            return JSONResponse({"error": message}, status_code=413)
        return HTMLResponse(f"<!DOCTYPE html><title>413</title><p>{message}</p>", 413)

    def _access_granted(request: Request) -> bool:
        if not web.config.access_code or request.url.path in ("/access", "/static/grader.css"):
            return True
        return web.service.access_ok(
            request.cookies.get(COOKIE_ACCESS), request.headers.get("x-access-code")
        )

    def _access_required(request: Request) -> Response:
        if web.wants_json(request):
            return JSONResponse(
                {"error": "this server needs the access code: send it as X-Access-Code"},
                status_code=401,
            )
        return RedirectResponse("/access", status_code=303)


def add_error_handlers(app: FastAPI, web: Web) -> None:
    """Clear messages for every error, in JSON for /api/ and as a page elsewhere."""

    @app.exception_handler(NotFound)
    async def not_found(request: Request, error: NotFound) -> Response:
        if web.wants_json(request):
            return JSONResponse({"error": str(error), error.key: error.known}, status_code=404)
        return web.error_page(
            request, 404, lambda _: _("There is no such question here."), str(error)
        )

    @app.exception_handler(AnswerTooLong)
    async def too_long(request: Request, error: AnswerTooLong) -> Response:
        if web.wants_json(request):
            return JSONResponse(
                {"error": str(error), "length": error.length, "limit": error.limit},
                status_code=413,
            )
        return web.error_page(
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
        if web.wants_json(request):
            return JSONResponse(
                {"error": str(error), "retry_after": error.wait}, status_code=429, headers=headers
            )
        response = web.error_page(
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
        problems = "; ".join(problem_text(item) for item in error.errors()[:5])
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
        if web.wants_json(request):
            return JSONResponse({"error": message}, status_code=error.status_code)
        if error.status_code == 403:
            return web.error_page(
                request,
                403,
                lambda _: _("This form has expired. Reload the page and try again."),
                "",
            )
        if error.status_code == 404:
            return web.error_page(request, 404, lambda _: _("There is no such page here."), "")
        return web.error_page(request, error.status_code, lambda _: message, "")

    @app.exception_handler(Exception)
    async def internal(request: Request, error: Exception) -> Response:
        import logging

        logging.getLogger("grader.serve").exception("internal error on %s", request.url.path)
        message = "internal error: the server could not do this (it has been logged)"
        response: Response
        if web.wants_json(request):
            response = JSONResponse({"error": message}, status_code=500)
        else:
            response = HTMLResponse(f"<!DOCTYPE html><title>500</title><p>{message}</p>", 500)
        response.headers.update(SECURITY_HEADERS)
        return response
