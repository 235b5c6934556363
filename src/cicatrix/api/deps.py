"""Request dependencies shared by the API and the web pages: database, actor, context, CSRF.

Web pages use cookie sessions: `login_session()` sets the cookie, `csrf_token(request)` gives
the token to put in every form (`<input type="hidden" name="csrf_token">`) or send as the
`X-CSRF-Token` header. Unsafe requests authenticated by the cookie are refused without it.
API clients send `Authorization: Bearer <token>` from `POST /api/auth/token` instead.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from datetime import date

from fastapi import Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from cicatrix.service import auth
from cicatrix.service.context import Actor, Context
from cicatrix.service.errors import Forbidden, Unauthenticated
from cicatrix.storage.models import User

SESSION_COOKIE = "cicatrix_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
_SAFE = {"GET", "HEAD", "OPTIONS"}

bearer_scheme = HTTPBearer(auto_error=False, description="token from POST /api/auth/token")


def db_session(request: Request) -> Iterator[Session]:
    """One session per request; anything not committed by a use case is rolled back."""
    db = request.app.state.db.session()
    try:
        yield db
    finally:
        db.close()


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def _serializer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(request.app.state.secret, salt="cicatrix-session")


def _session_raw(request: Request) -> str | None:
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    try:
        raw = _serializer(request).loads(cookie, max_age=request.app.state.settings.session_max_age_s)
    except BadSignature:
        return None
    return raw if isinstance(raw, str) else None


def csrf_for(secret: str, raw_session: str) -> str:
    return hmac.new(secret.encode(), b"csrf:" + raw_session.encode(), hashlib.sha256).hexdigest()


def csrf_token(request: Request) -> str | None:
    """The CSRF token for the current cookie session (None without one); put it in forms."""
    raw = getattr(request.state, "session_raw", None) or _session_raw(request)
    return csrf_for(request.app.state.secret, raw) if raw else None


async def submitted_csrf(request: Request) -> str | None:
    """The CSRF token sent with an unsafe request: header first, else the form field."""
    if request.method in _SAFE:
        return None
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    ctype = request.headers.get("content-type", "")
    if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


def optional_actor(
    request: Request,
    db: Session = Depends(db_session),
    bearer: HTTPAuthorizationCredentials | None = Depends(bearer_scheme),
    csrf: str | None = Depends(submitted_csrf),
) -> Actor | None:
    if bearer is not None:
        actor = auth.resolve_token(db, bearer.credentials, "bearer")
        if actor is None:
            raise Unauthenticated("authorization", "the bearer token is unknown, expired or revoked")
        return actor  # the use case's transaction continues from here and commits once
    raw = _session_raw(request)
    if raw is None:
        return None
    actor = auth.resolve_token(db, raw, "session")
    if actor is None:
        return None
    request.state.session_raw = raw
    if request.method not in _SAFE:
        expected = csrf_for(request.app.state.secret, raw)
        if not csrf or not hmac.compare_digest(csrf, expected):
            raise Forbidden(CSRF_FIELD, "missing or wrong CSRF token; reload the page")
    return actor


# The two dependencies below do no I/O, so they are `async def`: FastAPI runs them on the event
# loop instead of handing each to the thread pool (two fewer thread hops per request).
async def current_actor(actor: Actor | None = Depends(optional_actor)) -> Actor:
    if actor is None:
        raise Unauthenticated("authorization", "log in, or send Authorization: Bearer <token>")
    return actor


def today(request: Request) -> date:
    return request.app.state.clock()


async def context(
    request: Request,
    db: Session = Depends(db_session),
    actor: Actor = Depends(current_actor),
) -> Context:
    """Everything a use case needs, for the authenticated caller."""
    return Context(db=db, actor=actor, kb=request.app.state.kb, ip=client_ip(request),
                   today=today(request))  # fmt: skip


def login_session(request: Request, response: Response, db: Session, username: str,
                  password: str) -> tuple[User, str]:  # fmt: skip
    """Check the password, start a cookie session on `response`; returns (user, csrf token)."""
    settings = request.app.state.settings
    user = auth.login(db, settings, username, password, client_ip(request))
    raw, _tok = auth.issue_token(db, user, "session", settings.session_max_age_s, client_ip(request))
    response.set_cookie(
        SESSION_COOKIE,
        _serializer(request).dumps(raw),
        max_age=settings.session_max_age_s,
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
        path="/",
    )
    request.state.session_raw = raw
    return user, csrf_for(request.app.state.secret, raw)


def logout_session(request: Request, response: Response, db: Session, actor: Actor | None) -> None:
    if actor is not None and actor.token_id is not None:
        auth.revoke_token(db, actor.token_id)
    response.delete_cookie(SESSION_COOKIE, path="/")
