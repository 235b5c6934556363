"""Error bodies: every 4xx names the field; a 5xx never shows a trace. Logs carry no personal data."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cicatrix.service.errors import REFUSALS, ServiceError, WriteConflict, jsonable
from cicatrix.service.schemas import ErrorBody

log = logging.getLogger("cicatrix.api")

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in (
        (401, "Not logged in"),
        (403, "Role not allowed, or CSRF token missing"),
        (404, "No such record (or not yours)"),
        (409, "Stale version or wrong state; nothing was changed"),
        (413, "Request body too large; `field` is body"),
        (422, "Bad input; `field` names it"),
        (429, "Login throttled; see Retry-After"),
    )
}

_CODES = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
          405: "method_not_allowed", 406: "not_acceptable", 413: "too_large",
          415: "unsupported_media_type"}  # fmt: skip


# A 422 never echoes these back (a mistyped password is still a password).
_SECRET_PARTS = ("password", "token", "secret")


def _field(loc: tuple[Any, ...]) -> str:
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:]
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else ("." if out else "") + str(p)
    return out or "body"


# OperationOutcome.issue.code (FHIR's issue-type value set) for each status.
_ISSUE_TYPES = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported",
                409: "conflict", 413: "too-costly", 415: "not-supported", 422: "invalid",
                429: "throttled"}  # fmt: skip
FHIR_JSON = "application/fhir+json"


def _wants_fhir(request: Request) -> bool:
    """A FHIR client on a FHIR route (`.../fhir`): it asks for, or sends, application/fhir+json."""
    if not request.url.path.rstrip("/").endswith("/fhir"):
        return False
    return FHIR_JSON in request.headers.get("accept", "") or FHIR_JSON in request.headers.get("content-type", "")


def _respond(
    request: Request, body: dict[str, Any], status: int, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The error body; for a FHIR client on a FHIR route, the same as an OperationOutcome (the
    field in `expression`, the message in `diagnostics`), which is what FHIR clients read."""
    if not _wants_fhir(request):
        return JSONResponse(body, status_code=status, headers=headers)
    issue: dict[str, Any] = {
        "severity": "error",
        "code": _ISSUE_TYPES.get(status, "exception"),
        "details": {"coding": [{"system": "https://cicatrix.org/fhir/CodeSystem/error", "code": str(body.get("code"))}],
                    "text": str(body.get("message"))},
        "diagnostics": str(body.get("message")),
    }  # fmt: skip
    if body.get("field"):
        issue["expression"] = [str(body["field"])]
    outcome = {"resourceType": "OperationOutcome", "issue": [issue]}
    return JSONResponse(outcome, status_code=status, headers=headers, media_type=FHIR_JSON)


async def _service_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, REFUSALS)
    headers = {}
    if exc.status == 429:
        headers["Retry-After"] = str(exc.extra.get("retry_after", 60))
    if exc.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return _respond(request, exc.as_dict(), exc.status, headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    first = errors[0] if errors else {"loc": ("body",), "msg": "invalid request"}
    field = _field(tuple(first.get("loc", ())))
    secret = any(part in field.lower() for part in _SECRET_PARTS) or first.get("type") == "missing"
    body = {
        "code": "invalid",
        "field": jsonable(field),
        "message": jsonable(str(first.get("msg", "invalid")).removeprefix("Value error, ")),
        "value": None if secret else jsonable(first.get("input")),
        "errors": [
            {"field": jsonable(_field(tuple(e.get("loc", ())))), "message": jsonable(str(e.get("msg")))}
            for e in errors[:20]
        ],
    }
    return _respond(request, body, 422)


def wants_html(scope: Scope) -> bool:
    """A browser asking for a page, not an API client: it accepts HTML and the path is not
    under /api/ (the API answers JSON whatever the Accept header says)."""
    if str(scope.get("path", "")).startswith("/api/"):
        return False
    accept = next((v for k, v in scope.get("headers", ()) if k == b"accept"), b"").decode("latin-1")
    return "text/html" in accept


_PAGES = {
    404: ("Not found", "There is no such page or record, or you may not see it."),
    405: ("Not allowed", "This page cannot be used that way. Go back and use its links and buttons."),
    500: ("Something went wrong", "The server could not show this page. Nothing you sent was half-saved; "
          "try again, and if it happens again, tell your administrator the reference below."),
}  # fmt: skip


def _html_error(request: Request, status: int, extra: str = "") -> Response:
    from cicatrix.web.core import error_page

    heading, message = _PAGES.get(status, ("Cannot do that", "The request could not be handled."))
    return error_page(request, status, heading, message + extra)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if wants_html(request.scope):
        return _html_error(request, exc.status_code)
    field = "path" if exc.status_code in (404, 405) else None
    body = {"code": _CODES.get(exc.status_code, "error"), "field": field, "message": str(exc.detail)}
    return _respond(request, body, exc.status_code, getattr(exc, "headers", None))


def install(app: FastAPI) -> None:
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(WriteConflict, _service_error)  # a concurrent write won: 409
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)


class GuardMiddleware:
    """Outermost layer: logs method, route template, status and time (never the URL, which can
    carry a search term), and turns any unhandled exception into a bare 500 with a reference."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        status = 500
        t0 = time.perf_counter()

        async def _send(message: Message) -> None:
            nonlocal started, status
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, _send)
        except Exception as exc:
            ref = uuid.uuid4().hex[:12]
            log.error("unhandled %s (ref %s) on %s %s", type(exc).__name__, ref,
                      scope.get("method"), _route(scope))  # fmt: skip
            if not started:
                resp: Response = JSONResponse(
                    {"code": "internal", "field": None,
                     "message": f"internal error; reference {ref}"},
                    status_code=500,
                )  # fmt: skip
                if wants_html(scope):
                    resp = _html_error(Request(scope), 500, f" Reference: {ref}.")
                await resp(scope, receive, send)
        finally:
            if log.isEnabledFor(logging.INFO):
                log.info("%s %s %d %.1fms", scope.get("method"), _route(scope), status,
                         (time.perf_counter() - t0) * 1000)  # fmt: skip


def _route(scope: Scope) -> str:
    route = scope.get("route")
    return getattr(route, "path", None) or "<unmatched>"
