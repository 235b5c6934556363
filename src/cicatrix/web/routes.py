"""The web app's router: login, static files, and the clinician, patient and admin pages.

Composed with the API's routers by `cicatrix.api.app.create_app`.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from cicatrix import credentials
from cicatrix.service import auth, demo
from cicatrix.service.errors import RateLimited, Unauthenticated
from cicatrix.service.policy import ROLES
from cicatrix.web import (
    account_pages,
    admin_calendar,
    admin_pages,
    aftercare_pages,
    booking_pages,
    checkin_page,
    clinician,
    message_pages,
    patient_appointments,
    patient_pages,
    patient_records,
    render,
)
from cicatrix.web.core import Page, Posted, WebRoute, error_page, roles, safe_next

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

router = APIRouter(route_class=WebRoute, include_in_schema=False)


def _login_page(
    request: Request,
    accounts: list[dict[str, str]],
    *,
    error: str = "",
    username: str = "",
    status: int = 200,
    ask_code: bool = False,
) -> Response:
    return render.page(
        request,
        "login.html",
        title="Log in",
        error=error,
        username=username,
        next_url=request.query_params.get("next", ""),
        demo_accounts=accounts,
        ask_code=ask_code,
        status_code=status,
    )


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> Response:
    return _login_page(request, request.app.state.db.run_sync(demo.demo_accounts))


@router.post("/login", response_class=HTMLResponse)
def login_submit(request: Request, form: Posted) -> Response:
    """Password login, the first of two steps for an account with a second factor (the code
    comes next, at /login/code; the half-done login is held server-side for five minutes). No
    session exists yet, so SameSite=Lax cookies and the login's own rate limit protect it;
    every later form carries the session's CSRF token. One unit of work: a failed attempt is
    committed (the rate limit counts it) before the page says so. While the account is
    throttled, the form also asks for a code: password and code together still let the owner
    in (`auth.login`)."""
    username = str(form.get("username", ""))
    password = str(form.get("password", ""))
    code = str(form.get("code", "")).strip() or None
    target = str(form.get("next", ""))
    response = RedirectResponse("/", status_code=303)
    state = request.app.state

    def work(db: Session) -> tuple[str | None, list[dict[str, str]]]:
        signed = auth.login(db, state.settings, username, password, credentials.client_ip(request), otp=code,
                            key=state.secret, now=state.clock())  # fmt: skip
        if signed is None:
            return None, demo.demo_accounts(db)
        if signed.code_needed:
            raw = auth.pending_login(db, signed.user, credentials.client_ip(request))
            credentials.start_pending(request, response, raw, auth.PENDING_MAX_AGE_S)
            return "pending", []
        credentials.start_session(request, response, db, signed.user, signed.second_factor)
        return signed.user.role, []

    try:
        role, accounts = state.db.run_sync(work)
    except RateLimited as exc:
        accounts = state.db.run_sync(demo.demo_accounts)
        return _login_page(request, accounts, error=exc.message.capitalize() + ".", username=username, status=429,
                           ask_code=True)  # fmt: skip
    if role is None:
        return _login_page(
            request, accounts, error="Unknown username, wrong password or wrong code.", username=username,
            status=401, ask_code=code is not None,
        )  # fmt: skip
    if role == "pending":
        response.headers["location"] = "/login/code?" + urlencode({"next": target}) if target else "/login/code"
        return response
    response.headers["location"] = safe_next(target, role)
    return response


def _code_page(request: Request, *, error: str = "", status: int = 200) -> Response:
    return render.page(request, "login_code.html", title="Enter your code", error=error,
                       next_url=request.query_params.get("next", ""), status_code=status)  # fmt: skip


@router.get("/login/code", response_class=HTMLResponse)
def login_code_form(request: Request) -> Response:
    if credentials.pending_login(request, auth.PENDING_MAX_AGE_S) is None:
        return RedirectResponse("/login", status_code=303)
    return _code_page(request)


@router.post("/login/code", response_class=HTMLResponse)
def login_code_submit(request: Request, form: Posted) -> Response:
    """The second step: a code from the authenticator app, or a recovery code, for the login
    whose password was right. Wrong codes are throttled like passwords."""
    raw = credentials.pending_login(request, auth.PENDING_MAX_AGE_S)
    if raw is None:
        return RedirectResponse("/login", status_code=303)
    code = str(form.get("code", ""))
    target = str(form.get("next", ""))
    response = RedirectResponse("/", status_code=303)
    state = request.app.state

    def work(db: Session) -> str | None:
        user = auth.second_step(db, state.settings, raw, code, credentials.client_ip(request), state.secret,
                                state.clock())  # fmt: skip
        if user is None:
            return None
        credentials.start_session(request, response, db, user, second_factor=True)
        return user.role

    try:
        role = state.db.run_sync(work)
    except RateLimited as exc:
        return _code_page(request, error=exc.message.capitalize() + ".", status=429)
    except Unauthenticated as exc:
        out = _login_page(request, state.db.run_sync(demo.demo_accounts), error=exc.message.capitalize() + ".",
                          status=401)  # fmt: skip
        credentials.end_pending(out)
        return out
    if role is None:
        return _code_page(request, error="That code is not right. Enter the code your app shows now.", status=401)
    credentials.end_pending(response)
    response.headers["location"] = safe_next(target, role)
    return response


@router.post("/logout")
def logout(request: Request, sent: str | None = Depends(credentials.submitted_csrf)) -> Response:
    raw = credentials.cookie_session(request)
    response = RedirectResponse("/login", status_code=303)
    if raw and credentials.csrf_matches(request.app.state.secret, raw, sent):

        def work(db: Session) -> None:
            credentials.end_session(response, db, auth.resolve_token(db, raw, "session"))

        request.app.state.db.run_sync(work)
    return response


@router.get("/static/{path:path}")
async def static(path: str) -> Response:
    root = render.STATIC.resolve()
    target = (root / path).resolve()
    if not target.is_relative_to(root) or not target.is_file():
        return Response("not found", status_code=404, media_type="text/plain")
    return FileResponse(target, headers={"Cache-Control": "public, max-age=3600"})


@router.get("/clinic/logo")
def clinic_logo(page: Page = Depends(roles(*ROLES))) -> Response:
    """The clinic logo, stored as a data: URL, served as an image so pages stay small."""
    logo = (page.clinic.settings or {}).get("logo") or ""
    head, _, data = logo.partition(",")
    kind = head.removeprefix("data:").removesuffix(";base64")
    if not data or kind not in ("image/png", "image/jpeg", "image/svg+xml"):
        return Response(status_code=404)
    try:
        body = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return Response(status_code=404)
    headers = {"Cache-Control": "private, max-age=300", "Content-Security-Policy": "default-src 'none'"}
    return Response(body, media_type=kind, headers=headers)


@router.get("/favicon.ico")
async def favicon() -> Response:
    return Response(status_code=204)


router.include_router(patient_records.router)  # /patients/new before /patients/{id}
router.include_router(clinician.router)
router.include_router(booking_pages.router)
router.include_router(patient_pages.router)
router.include_router(patient_appointments.router)
router.include_router(admin_pages.router)
router.include_router(account_pages.router)
router.include_router(admin_calendar.router)
router.include_router(message_pages.router)
router.include_router(aftercare_pages.router)
router.include_router(checkin_page.router)

__all__ = ["error_page", "router"]
