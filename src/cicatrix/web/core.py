"""What every web page shares: the logged-in caller, CSRF checks, and errors shown as pages.

Pages use the service's cookie session and CSRF token (cicatrix.api.deps). A page that
needs a login redirects to it; a service error becomes an HTML page, never a trace.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from cicatrix.api import deps
from cicatrix.service import auth
from cicatrix.service.context import Actor, Context
from cicatrix.service.errors import Forbidden, ServiceError
from cicatrix.storage.models import Clinic, User
from cicatrix.web import render

log = logging.getLogger("cicatrix.web")

HOME_BY_ROLE = {"patient": "/me", "admin": "/admin/users"}

# Confirmation messages after a redirect, by key: the URL never carries free text to show.
FLASH = {
    "patient_created": "Patient created.",
    "assessed": "Assessment saved; review the proposed plan.",
    "assessed_no_plan": "Assessment saved.",
    "approved": "Plan approved.",
    "edited": "Plan edited; it needs approval again.",
    "overridden": "Exclusion overridden and recorded in the audit trail; the plan needs approval again.",
    "done": "Session recorded as done.",
    "missed": "Session recorded as missed; the course was re-flowed.",
    "user_added": "User added.",
    "user_updated": "User updated.",
    "settings_saved": "Settings saved.",
}


class LoginRequired(Exception):
    """Raised by page dependencies; the route class turns it into a redirect to /login."""


class CsrfFailed(Exception):
    pass


@dataclass
class Page:
    """The caller of a page, with what the layout needs to render around the content."""

    request: Request
    ctx: Context
    user: User
    clinic: Clinic
    csrf: str

    @property
    def actor(self) -> Actor:
        return self.ctx.actor

    def render(self, template: str, *, title: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        logo = "/clinic/logo" if (self.clinic.settings or {}).get("logo") else None
        return render.page(
            self.request,
            template,
            title=title,
            user=self.user,
            clinic_name=self.clinic.name,
            clinic_logo=logo,
            csrf_token=self.csrf,
            status_code=status_code,
            today=self.ctx.today,
            kb=self.ctx.kb,
            flash=FLASH.get(self.request.query_params.get("done", "")),
            **context,
        )


def error_page(request: Request, status: int, heading: str, message: str) -> HTMLResponse:
    return render.page(
        request,
        "error.html",
        title=heading,
        status_code=status,
        heading=heading,
        message=message,
        back_href="/",
        back_label="Go to the start page",
    )


def _check_csrf(request: Request, raw_session: str, sent: str | None) -> None:
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    if not deps.csrf_matches(request.app.state.secret, raw_session, sent):
        raise CsrfFailed


async def posted_form(request: Request) -> FormData:
    """The posted form, read on the event loop (Starlette keeps it for the request), so the
    page itself can be a plain `def`: FastAPI runs those in a worker thread, and their
    database work never blocks the event loop."""
    return await request.form()


Posted = Annotated[FormData, Depends(posted_form)]


def page_caller(
    request: Request,
    db: Session = Depends(deps.db_session),
    csrf_sent: str | None = Depends(deps.submitted_csrf),
) -> Page:
    """The logged-in caller from the session cookie, or LoginRequired; checks CSRF on posts.
    A plain `def`, like the pages: it queries the database, so it runs in a worker thread."""
    raw = deps._session_raw(request)
    actor = auth.resolve_token(db, raw, "session") if raw else None
    db.commit()
    if actor is None or raw is None:
        raise LoginRequired
    request.state.session_raw = raw
    _check_csrf(request, raw, csrf_sent)
    user = db.get(User, actor.user_id)
    clinic = db.get(Clinic, actor.clinic_id)
    db.commit()  # end the read: no transaction stays open while the page waits for anything else
    request.state.db = db
    if user is None or clinic is None:
        raise LoginRequired
    ctx = Context(db=db, actor=actor, kb=request.app.state.kb, ip=deps.client_ip(request), today=deps.today(request))
    return Page(request, ctx, user, clinic, deps.csrf_for(request.app.state.secret, raw))


def roles(*allowed: str) -> Callable[..., Coroutine[Any, Any, Page]]:
    """A dependency that admits only these roles; others get a 403 page."""

    async def dep(page: Page = Depends(page_caller)) -> Page:
        if page.actor.role not in allowed:
            raise Forbidden("role", "This page is not available to your role.")
        return page

    return dep


class WebRoute(APIRoute):
    """Turns login redirects, CSRF failures and service errors into HTML responses."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def run(request: Request) -> Response:
            try:
                return await _answer(request)
            finally:
                # SQLite transactions begin IMMEDIATE (they take the write lock). A transaction
                # left open until the session's clean-up, which runs later, would make every
                # other page that writes wait for it. So whatever a page did not commit ends here
                # (in a worker thread: a rollback is a database call).
                db = getattr(request.state, "db", None)
                if db is not None and db.in_transaction():
                    await run_in_threadpool(db.rollback)

        async def _answer(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired:
                target = request.url.path
                if request.url.query:
                    target += "?" + request.url.query
                if request.method != "GET":
                    target = "/"
                return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
            except CsrfFailed:
                return error_page(
                    request,
                    403,
                    "Form expired",
                    "This form has expired or came from elsewhere. Go back, reload the page and try again.",
                )
            except RequestValidationError:
                return error_page(request, 422, "Bad request", "The request was not understood.")
            except ValidationError as exc:  # a page built a request schema from form values
                err = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid"}
                field = ".".join(str(p) for p in err.get("loc", ())) or "form"
                message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
                return error_page(request, 422, "Bad request", f"{field}: {message}.")
            except ServiceError as exc:
                status = exc.status if exc.status != 400 else 403
                if status == 404:
                    return error_page(
                        request, 404, "Not found", "There is no such page or record, or you may not see it."
                    )
                if status == 403:
                    return error_page(request, 403, "Not allowed", exc.message)
                if status == 409:
                    return error_page(
                        request, 409, "Changed meanwhile", exc.message + " Reload the page to see the latest version."
                    )
                if status == 429:
                    return error_page(request, 429, "Too many attempts", exc.message)
                return error_page(request, status, "Cannot do that", exc.message)

        return run


def home_for(role: str) -> str:
    return HOME_BY_ROLE.get(role, "/")


def safe_next(target: str | None, role: str) -> str:
    """Where to go after login: only a path on this site, parsed and rebuilt, never the text as
    sent. Browsers drop tabs and line breaks inside URLs, so `/<TAB>/evil.example` would become
    `//evil.example` (another site): any control character or space sends the caller home."""
    home = home_for(role)
    if not target or len(target) > 2000 or any(ch.isspace() or not ch.isprintable() for ch in target):
        return home
    parts = urlsplit(target)
    path = parts.path
    if parts.scheme or parts.netloc or not path.startswith("/") or path.startswith("//") or "\\" in target:
        return home
    if role == "patient" and not (path == "/me" or path.startswith("/me/")):
        return "/me"
    rebuilt = quote(path, safe=_URL_SAFE)
    if parts.query:
        rebuilt += "?" + quote(parts.query, safe=_URL_SAFE + "?")
    return rebuilt


_URL_SAFE = "/%-._~!$&'()*+,;=:@"


@dataclass
class FormState:
    """A simple form's values as typed, its list fields, and errors keyed by input name."""

    values: dict[str, str]
    lists: dict[str, list[str]]
    errors: dict[str, str]

    def value(self, name: str, default: str = "") -> str:
        return self.values.get(name, default)


def read_form(form: FormData, list_fields: Iterable[str] = ()) -> FormState:
    lists = {name: [str(v) for v in form.getlist(name) if str(v)] for name in list_fields}
    values = {k: str(v) for k, v in form.items() if isinstance(v, str) and k not in lists}
    return FormState(values=values, lists=lists, errors={})


def empty_form(**values: str) -> FormState:
    return FormState(values=dict(values), lists={}, errors={})
