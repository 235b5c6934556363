"""Logging in: bearer tokens for API clients, cookie sessions for the web pages."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from cicatrix.api.deps import (
    Caller,
    caller,
    client_ip,
    csrf_token,
    db_session,
    login_session,
    logout_session,
    optional_actor,
)
from cicatrix.service import auth, users
from cicatrix.service.context import Actor
from cicatrix.service.schemas import LoginIn, TokenOut, UserOut

router = APIRouter(tags=["auth"])


class SessionOut(BaseModel):
    user: UserOut
    csrf_token: str | None


@router.post("/auth/token", response_model=TokenOut, summary="Get a bearer token")
def token(body: LoginIn, request: Request, db: Session = Depends(db_session)) -> TokenOut:
    settings = request.app.state.settings
    user = auth.login(db, settings, body.username, body.password, client_ip(request))
    raw, tok = auth.issue_token(db, user, "bearer", settings.token_max_age_s, client_ip(request))
    return TokenOut(access_token=raw, expires_at=tok.expires_at, user=users.user_out(user))


@router.post("/auth/login", response_model=SessionOut, summary="Start a cookie session (web)")
def login(body: LoginIn, request: Request, response: Response, db: Session = Depends(db_session)) -> SessionOut:
    user, csrf = login_session(request, response, db, body.username, body.password)
    return SessionOut(user=users.user_out(user), csrf_token=csrf)


@router.post("/auth/logout", status_code=204, summary="Revoke the current token or session")
def logout(
    request: Request,
    response: Response,
    db: Session = Depends(db_session),
    actor: Actor | None = Depends(optional_actor),
) -> Response:
    out = Response(status_code=204)
    logout_session(request, out, db, actor)
    return out


@router.get("/auth/me", response_model=SessionOut, summary="Who am I")
async def me(request: Request, call: Caller = Depends(caller)) -> SessionOut:
    return SessionOut(user=await call(users.me), csrf_token=csrf_token(request))
