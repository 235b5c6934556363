"""Logging in: bearer tokens for API clients, cookie sessions for the web pages."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel

from cicatrix.api.deps import Call, EnrolCall
from cicatrix.credentials import Credentials, actor_for, client_ip, credentials, csrf_token, end_session, start_session
from cicatrix.service import auth, second_factor, users
from cicatrix.service.schemas import (
    CodeIn,
    Enrolment,
    LoginIn,
    PasswordChange,
    RecoveryCodes,
    SecondFactorStatus,
    TokenOut,
    UserOut,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

router = APIRouter(tags=["auth"])
T = TypeVar("T")


class SessionOut(BaseModel):
    user: UserOut
    csrf_token: str | None


@router.post("/auth/token", response_model=TokenOut, summary="Get a bearer token")
def token(body: LoginIn, request: Request) -> TokenOut:
    """A plain `def`: password hashing runs in a worker thread, never on the event loop."""
    settings = request.app.state.settings
    ip = client_ip(request)

    def work(db: Session) -> TokenOut | auth.SignIn | None:
        signed = _sign_in(request, db, body)
        if signed is None or signed.code_needed:
            return signed  # a failure is committed with this unit of work, then refused
        user = signed.user
        raw, tok = auth.issue_token(db, user, "bearer", settings.token_max_age_s, ip, signed.second_factor)
        return TokenOut(access_token=raw, expires_at=tok.expires_at, user=users.user_out(user))

    out: TokenOut | auth.SignIn | None = request.app.state.db.run_sync(work)
    return _answer(out)


def _sign_in(request: Request, db: Session, body: LoginIn) -> auth.SignIn | None:
    state = request.app.state
    return auth.login(db, state.settings, body.username, body.password, client_ip(request), otp=body.otp,
                      key=state.secret, now=state.clock())  # fmt: skip


def _answer(out: T | auth.SignIn | None) -> T:
    """The login's answer: 401 for a wrong password or code, 401 asking for the code when the
    account has a second factor and none came."""
    if out is None:
        raise auth.login_failed()
    if isinstance(out, auth.SignIn):
        raise auth.code_needed()
    return out


@router.post("/auth/login", response_model=SessionOut, summary="Start a cookie session (web)")
def login(body: LoginIn, request: Request, response: Response) -> SessionOut:
    def work(db: Session) -> SessionOut | auth.SignIn | None:
        signed = _sign_in(request, db, body)
        if signed is None or signed.code_needed:
            return signed
        csrf = start_session(request, response, db, signed.user, signed.second_factor)
        return SessionOut(user=users.user_out(signed.user), csrf_token=csrf)

    out: SessionOut | auth.SignIn | None = request.app.state.db.run_sync(work)
    return _answer(out)


@router.post("/auth/logout", status_code=204, summary="Revoke the current token or session")
async def logout(request: Request, creds: Credentials = Depends(credentials)) -> Response:
    out = Response(status_code=204)

    def work(db: Session) -> None:
        end_session(out, db, actor_for(db, request.app.state.secret, creds))

    await request.app.state.db.run(work)
    return out


@router.get("/auth/me", response_model=SessionOut, summary="Who am I")
async def me(request: Request, call: EnrolCall) -> SessionOut:
    return SessionOut(user=await call(users.me), csrf_token=csrf_token(request))


@router.post("/auth/password", response_model=UserOut, summary="Change my password (ends my other sessions)")
async def change_password(body: PasswordChange, call: Call) -> UserOut:
    return await call(users.change_password, body)


@router.get("/auth/second-factor", response_model=SecondFactorStatus, summary="My second factor")
async def second_factor_status(call: EnrolCall) -> SecondFactorStatus:
    return await call(second_factor.status)


@router.post(
    "/auth/second-factor", response_model=Enrolment, status_code=201, summary="Start setting up a second factor"
)
async def second_factor_start(request: Request, call: EnrolCall) -> Enrolment:
    """A new TOTP secret, as text, an otpauth:// URI and a QR code: shown now and not again.
    It becomes active once a current code is confirmed."""
    return await call(second_factor.start, request.app.state.secret)


@router.post("/auth/second-factor/confirm", response_model=RecoveryCodes, summary="Activate the second factor")
async def second_factor_confirm(body: CodeIn, request: Request, call: EnrolCall) -> RecoveryCodes:
    """Confirm with a current code: the factor is active, this token counts as verified, every
    other session and token ends, and ten recovery codes are shown once."""
    return await call(second_factor.confirm, request.app.state.secret, body.code, call.now)


@router.post("/auth/second-factor/recovery-codes", response_model=RecoveryCodes, summary="New recovery codes")
async def recovery_codes(call: Call) -> RecoveryCodes:
    return await call(second_factor.regenerate_recovery_codes)
