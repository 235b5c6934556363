"""What every web page shares: the logged-in caller, CSRF checks, and errors shown as pages.

A page is one unit of work. `WebRoute` runs the page function in one worker thread, inside
`Database.run_sync`: the cookie session is resolved, the role checked, the page's use cases
run, and all of it commits once when the page returns (or rolls back when it raises). A page
that shows a form again after a use case refused it runs that use case as a `step`, so its
writes and audit events are undone while the rest of the page's reads are kept.

Pages use the cookie session and CSRF token of `cicatrix.credentials`, shared with the API.
A page that needs a login redirects to it; a service error becomes an HTML page, never a trace.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, TypeVar
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.datastructures import FormData

from cicatrix import credentials
from cicatrix.service import auth, unit_of_work, users
from cicatrix.service.context import Actor, Context
from cicatrix.service.errors import REFUSALS, Forbidden, ServiceError, WriteConflict
from cicatrix.web import render

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from cicatrix.storage.models import Clinic, User

T = TypeVar("T")

log = logging.getLogger("cicatrix.web")

HOME_BY_ROLE = {"patient": "/me", "admin": "/admin/users"}

# Confirmation messages after a redirect, by key: the URL never carries free text to show.
FLASH = {
    "patient_created": "Patient created.",
    "patient_updated": "Patient details saved.",
    "assessed": "Assessment saved; review the proposed plan.",
    "assessed_no_plan": "Assessment saved.",
    "approved": "Plan approved; it is now the running course.",
    "withdrawn": "Proposal withdrawn; it stays in the plan history.",
    "procedure": "Procedure note saved.",
    "edited": "Plan edited; it needs approval again.",
    "edited_proposal": "Your edit is a new proposal; the running course stays as it is until you approve it.",
    "overridden": "Exclusion overridden and recorded in the audit trail; the plan needs approval.",
    "done": "Session recorded as done.",
    "missed": "Session recorded as missed; the course was re-flowed.",
    "user_added": "User added.",
    "saved": "Your choices are saved; messages already waiting follow them at once.",
    "user_updated": "User updated.",
    "settings_saved": "Settings saved.",
    "password_changed": "Password changed; your other sessions were logged out.",
    "password_reset": "Password reset; that user's sessions were logged out.",
    "second_factor_reset": "Second factor reset; that user's sessions were logged out.",
    "acknowledged": "Check-in marked as seen.",
    "event_recorded": "Adverse event recorded.",
    "event_updated": "Adverse event updated.",
}


class LoginRequired(Exception):
    """Raised by page dependencies; the route class turns it into a redirect to /login."""


class CsrfFailed(Exception):
    pass


class EnrolFirst(Exception):
    """The account needs a second factor and this session was opened without one: the only
    page it may open is the set-up (`ENROL_PAGE`)."""


ENROL_PAGE = "/account/second-factor"


@dataclass
class Page:
    """The caller of a page. Built without touching the database (`page_caller`); `WebRoute`
    opens it inside the page's unit of work, which fills in who is acting and the layout's
    user and clinic."""

    request: Request
    session_raw: str | None
    csrf_sent: str | None
    roles: frozenset[str]
    enrolment: bool = False  # the second-factor set-up: open to a session that may only enrol
    ctx: Context = field(init=False)
    user: User = field(init=False)
    clinic: Clinic = field(init=False)
    csrf: str = field(init=False, default="")

    def open(self, db: Session) -> None:
        """Resolve the cookie session in the page's transaction: LoginRequired without a live
        session, CsrfFailed for an unsafe request without the session's token, a 403 page for
        a role the page does not admit."""
        state = self.request.app.state
        raw = self.session_raw
        actor = auth.resolve_token(db, raw, "session") if raw else None
        if actor is None or raw is None:
            raise LoginRequired
        self.request.state.session_raw = raw
        if self.request.method not in credentials.SAFE_METHODS and not credentials.csrf_matches(
            state.secret, raw, self.csrf_sent
        ):
            raise CsrfFailed
        found = users.account(db, actor)
        if found is None:
            raise LoginRequired
        user, clinic = found
        if actor.role not in self.roles:
            raise Forbidden("role", "This page is not available to your role.")
        if actor.enrol_only and not self.enrolment:
            raise EnrolFirst
        self.user, self.clinic = user, clinic
        self.csrf = credentials.csrf_for(state.secret, raw)
        self.ctx = unit_of_work.context(db, actor, state.kb, state.clock(), credentials.client_ip(self.request))

    @property
    def actor(self) -> Actor:
        return self.ctx.actor

    def step(self, use_case: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run a use case whose refusal the page shows (a form with errors): when it raises,
        its writes and audit events are undone and the page's unit of work goes on."""
        with unit_of_work.step(self.ctx.db):
            return use_case(self.ctx, *args, **kwargs)

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


async def posted_form(request: Request) -> FormData:
    """The posted form, read on the event loop (Starlette keeps it for the request), so the
    page itself can be a plain `def`: FastAPI runs those in a worker thread, and their
    database work never blocks the event loop."""
    return await request.form()


Posted = Annotated[FormData, Depends(posted_form)]


def roles(*allowed: str, enrolment: bool = False) -> Callable[..., Coroutine[Any, Any, Page]]:
    """A dependency for a page that admits only these roles (others get a 403 page). It reads
    the cookie and the CSRF token sent, without touching the database: the page's unit of
    work checks them (`Page.open`). `enrolment`: the page also opens for a session that may
    only set up its second factor (every other page redirects it there)."""
    admitted = frozenset(allowed)

    async def page_caller(request: Request, csrf_sent: str | None = Depends(credentials.submitted_csrf)) -> Page:
        return Page(request, credentials.cookie_session(request), csrf_sent, admitted, enrolment)

    return page_caller


def in_unit_of_work(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """Run a plain-`def` page that takes a `Page` in one unit of work: open the page, call it,
    commit once; roll back when anything raises. Pages without a `Page` (log in, static
    files) are left as they are; an async page with a `Page` is refused when it is declared."""
    names = [n for n, prm in inspect.signature(endpoint).parameters.items() if prm.annotation in (Page, "Page")]
    if not names:
        return endpoint
    if inspect.iscoroutinefunction(endpoint):  # it would run on the event loop, outside any unit of work
        raise TypeError(f"{endpoint.__name__}: a page that takes a Page must be a plain def")
    name = names[0]

    @functools.wraps(endpoint)
    def run(**kwargs: Any) -> Any:
        page: Page = kwargs[name]

        def work(db: Session) -> Any:
            page.open(db)
            return endpoint(**kwargs)

        return page.request.app.state.db.run_sync(work)

    return run


class WebRoute(APIRoute):
    """Runs each page in one unit of work (`in_unit_of_work`) and turns login redirects, CSRF
    failures and service errors into HTML responses."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, in_unit_of_work(endpoint), **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

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
            except EnrolFirst:
                return RedirectResponse(ENROL_PAGE, status_code=303)
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
            except REFUSALS as exc:  # a use case's refusal, or a concurrent write that won (409)
                assert isinstance(exc, (ServiceError, WriteConflict))
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

        return _answer


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
