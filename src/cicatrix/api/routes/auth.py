"""Logging in: bearer tokens for API clients, cookie sessions for the web pages."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel

from cicatrix.api.deps import Call
from cicatrix.credentials import Credentials, actor_for, client_ip, credentials, csrf_token, end_session, start_session
from cicatrix.service import auth, users
from cicatrix.service.schemas import LoginIn, TokenOut, UserOut

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

router = APIRouter(tags=["auth"])


class SessionOut(BaseModel):
    user: UserOut
    csrf_token: str | None


@router.post("/auth/token", response_model=TokenOut, summary="Get a bearer token")
def token(body: LoginIn, request: Request) -> TokenOut:
    """A plain `def`: password hashing runs in a worker thread, never on the event loop."""
    settings = request.app.state.settings
    ip = client_ip(request)

    def work(db: Session) -> TokenOut | None:
        user = auth.login(db, settings, body.username, body.password, ip)
        if user is None:
            return None  # the failure is committed with this unit of work, then refused
        raw, tok = auth.issue_token(db, user, "bearer", settings.token_max_age_s, ip)
        return TokenOut(access_token=raw, expires_at=tok.expires_at, user=users.user_out(user))

    out: TokenOut | None = request.app.state.db.run_sync(work)
    if out is None:
        raise auth.login_failed()
    return out


@router.post("/auth/login", response_model=SessionOut, summary="Start a cookie session (web)")
def login(body: LoginIn, request: Request, response: Response) -> SessionOut:
    settings = request.app.state.settings

    def work(db: Session) -> SessionOut | None:
        user = auth.login(db, settings, body.username, body.password, client_ip(request))
        if user is None:
            return None
        csrf = start_session(request, response, db, user)
        return SessionOut(user=users.user_out(user), csrf_token=csrf)

    out: SessionOut | None = request.app.state.db.run_sync(work)
    if out is None:
        raise auth.login_failed()
    return out


@router.post("/auth/logout", status_code=204, summary="Revoke the current token or session")
async def logout(request: Request, creds: Credentials = Depends(credentials)) -> Response:
    out = Response(status_code=204)

    def work(db: Session) -> None:
        end_session(out, db, actor_for(db, request.app.state.secret, creds))

    await request.app.state.db.run(work)
    return out


@router.get("/auth/me", response_model=SessionOut, summary="Who am I")
async def me(request: Request, call: Call) -> SessionOut:
    return SessionOut(user=await call(users.me), csrf_token=csrf_token(request))
