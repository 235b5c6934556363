"""The web app's router: login, static files, and the clinician, patient and admin pages.

Composed with the API's routers by `cicatrix.api.app.create_app`.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from cicatrix import credentials
from cicatrix.service import auth, demo
from cicatrix.service.errors import RateLimited
from cicatrix.service.policy import ROLES
from cicatrix.web import admin_pages, aftercare_pages, checkin_page, clinician, patient_pages, render
from cicatrix.web.core import Page, Posted, WebRoute, error_page, roles, safe_next

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

router = APIRouter(route_class=WebRoute, include_in_schema=False)


def _login_page(
    request: Request, accounts: list[dict[str, str]], *, error: str = "", username: str = "", status: int = 200
) -> Response:
    return render.page(
        request,
        "login.html",
        title="Log in",
        error=error,
        username=username,
        next_url=request.query_params.get("next", ""),
        demo_accounts=accounts,
        status_code=status,
    )


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> Response:
    return _login_page(request, request.app.state.db.run_sync(demo.demo_accounts))


@router.post("/login", response_class=HTMLResponse)
def login_submit(request: Request, form: Posted) -> Response:
    """Password login. No session exists yet, so SameSite=Lax cookies and the login's own
    rate limit protect it; every later form carries the session's CSRF token. One unit of
    work: a failed attempt is committed (the rate limit counts it) before the page says so."""
    username = str(form.get("username", ""))
    password = str(form.get("password", ""))
    target = str(form.get("next", ""))
    response = RedirectResponse("/", status_code=303)
    settings = request.app.state.settings

    def work(db: Session) -> tuple[str | None, list[dict[str, str]]]:
        user = auth.login(db, settings, username, password, credentials.client_ip(request))
        if user is None:
            return None, demo.demo_accounts(db)
        credentials.start_session(request, response, db, user)
        return user.role, []

    try:
        role, accounts = request.app.state.db.run_sync(work)
    except RateLimited as exc:
        accounts = request.app.state.db.run_sync(demo.demo_accounts)
        return _login_page(request, accounts, error=exc.message.capitalize() + ".", username=username, status=429)
    if role is None:
        return _login_page(
            request, accounts, error="Unknown username or wrong password.", username=username, status=401
        )
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


router.include_router(clinician.router)
router.include_router(patient_pages.router)
router.include_router(admin_pages.router)
router.include_router(aftercare_pages.router)
router.include_router(checkin_page.router)

__all__ = ["error_page", "router"]
