"""The web app's router: login, static files, and the clinician, patient and admin pages.

Registered in cicatrix.api.app with one `app.include_router(...)` line.
"""

from __future__ import annotations

import base64
import binascii

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from cicatrix.api import deps
from cicatrix.service import auth
from cicatrix.service.errors import RateLimited, Unauthenticated
from cicatrix.storage.models import Clinic
from cicatrix.web import admin_pages, clinician, patient_pages, render
from cicatrix.web.core import Page, Posted, WebRoute, error_page, page_caller, safe_next

router = APIRouter(route_class=WebRoute, include_in_schema=False)


def _demo_accounts(db: Session) -> list[dict[str, str]]:
    """The demo accounts, shown on the login page only when the demo clinic exists."""
    from cicatrix.service import demo

    if db.scalar(select(Clinic.id).where(Clinic.name == demo.DEMO_CLINIC)) is None:
        return []
    accounts = [(u, r) for u, r, _ in demo.DEMO_ACCOUNTS] + [(demo.PATIENT_ACCOUNT, "patient")]
    return [{"username": u, "password": demo.DEMO_PASSWORD, "role": r.replace("_", " ")} for u, r in accounts]


def _login_page(request: Request, db: Session, *, error: str = "", username: str = "", status: int = 200) -> Response:
    return render.page(
        request,
        "login.html",
        title="Log in",
        error=error,
        username=username,
        next_url=request.query_params.get("next", ""),
        demo_accounts=_demo_accounts(db),
        status_code=status,
    )


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, db: Session = Depends(deps.db_session)) -> Response:
    return _login_page(request, db)


@router.post("/login", response_class=HTMLResponse)
def login_submit(request: Request, form: Posted, db: Session = Depends(deps.db_session)) -> Response:
    """Password login. No session exists yet, so SameSite=Lax cookies and the login's own
    rate limit protect it; every later form carries the session's CSRF token."""
    username = str(form.get("username", ""))
    password = str(form.get("password", ""))
    target = str(form.get("next", ""))
    response = RedirectResponse("/", status_code=303)
    try:
        user, _csrf = deps.login_session(request, response, db, username, password)
    except RateLimited as exc:
        return _login_page(request, db, error=exc.message.capitalize() + ".", username=username, status=429)
    except Unauthenticated:
        return _login_page(request, db, error="Unknown username or wrong password.", username=username, status=401)
    response.headers["location"] = safe_next(target, user.role)
    return response


@router.post("/logout")
def logout(
    request: Request, db: Session = Depends(deps.db_session), sent: str | None = Depends(deps.submitted_csrf)
) -> Response:
    raw = deps._session_raw(request)
    response = RedirectResponse("/login", status_code=303)
    if raw:
        actor = auth.resolve_token(db, raw, "session")
        if actor is not None and deps.csrf_matches(request.app.state.secret, raw, sent):
            deps.logout_session(request, response, db, actor)
    return response


@router.get("/static/{path:path}")
async def static(path: str) -> Response:
    root = render.STATIC.resolve()
    target = (root / path).resolve()
    if not target.is_relative_to(root) or not target.is_file():
        return Response("not found", status_code=404, media_type="text/plain")
    return FileResponse(target, headers={"Cache-Control": "public, max-age=3600"})


@router.get("/clinic/logo")
def clinic_logo(page: Page = Depends(page_caller)) -> Response:
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

__all__ = ["error_page", "router"]
