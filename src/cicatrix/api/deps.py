"""Request dependencies shared by the API and the web pages: credentials, the caller, CSRF.

API routes take `call: Caller = Depends(caller)` and run a use case with
`await call(use_case, *args)`: the caller is looked up and the use case runs in one unit of
work (`Database.run`).

Web pages use cookie sessions: `login_session()` sets the cookie, `csrf_token(request)` gives
the token to put in every form (`<input type="hidden" name="csrf_token">`) or send as the
`X-CSRF-Token` header. Unsafe requests authenticated by the cookie are refused without it.
API clients send `Authorization: Bearer <token>` from `POST /api/auth/token` instead.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Concatenate, ParamSpec, TypeVar

from fastapi import Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from cicatrix.service import auth
from cicatrix.service.context import Actor, Context
from cicatrix.service.errors import Forbidden, Unauthenticated
from cicatrix.storage.models import User

P = ParamSpec("P")
T = TypeVar("T")

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
    """The caller's address, for the audit trail and the login limits. `X-Forwarded-For` is
    believed only when the connection comes from a proxy listed in `Settings.trusted_proxies`
    (anyone else can write that header): then the nearest address that is not one of those
    proxies is the client's."""
    peer = request.client.host if request.client else None
    trusted = request.app.state.settings.trusted_proxies
    if peer is None or peer not in trusted:
        return peer
    hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",")]
    for hop in reversed(hops):
        if hop in trusted:
            continue
        try:
            return str(ipaddress.ip_address(hop))
        except ValueError:
            return peer  # a malformed chain: fall back to what the connection shows
    return peer


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


def csrf_matches(secret: str, raw_session: str, sent: str | None) -> bool:
    """Whether `sent` is the cookie session's CSRF token (compared in constant time, as bytes:
    a forged token may hold any characters)."""
    if not sent:
        return False
    return hmac.compare_digest(sent.encode(), csrf_for(secret, raw_session).encode())


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


@dataclass(frozen=True)
class Credentials:
    """What a request presents to prove who sends it, gathered without touching the database."""

    bearer: str | None
    session_raw: str | None  # the cookie session's secret, signature already checked
    csrf: str | None  # the CSRF token sent with an unsafe request
    unsafe: bool  # POST, PATCH, DELETE...


async def credentials(
    request: Request,
    bearer: HTTPAuthorizationCredentials | None = Depends(bearer_scheme),
    csrf: str | None = Depends(submitted_csrf),
) -> Credentials:
    return Credentials(
        bearer=bearer.credentials if bearer is not None else None,
        session_raw=None if bearer is not None else _session_raw(request),
        csrf=csrf,
        unsafe=request.method not in _SAFE,
    )


def actor_for(db: Session, secret: str, creds: Credentials) -> Actor | None:
    """The caller behind the credentials (None: anonymous). A bad bearer token is refused; a
    cookie session that no longer resolves is anonymous; an unsafe request by cookie needs the
    session's CSRF token."""
    if creds.bearer is not None:
        actor = auth.resolve_token(db, creds.bearer, "bearer")
        if actor is None:
            raise Unauthenticated("authorization", "the bearer token is unknown, expired or revoked")
        return actor  # the use case's transaction continues from here and commits once
    if creds.session_raw is None:
        return None
    actor = auth.resolve_token(db, creds.session_raw, "session")
    if actor is not None and creds.unsafe and not csrf_matches(secret, creds.session_raw, creds.csrf):
        raise Forbidden(CSRF_FIELD, "missing or wrong CSRF token; reload the page")
    return actor


def optional_actor(
    request: Request, db: Session = Depends(db_session), creds: Credentials = Depends(credentials)
) -> Actor | None:
    """For the few routes that take a database session of their own (log in, log out)."""
    actor = actor_for(db, request.app.state.secret, creds)
    if actor is not None and creds.session_raw is not None:
        request.state.session_raw = creds.session_raw
    return actor


class Caller:
    """The authenticated caller of an API route, as a way to run use cases.

    `await call(use_case, *args)` looks up the caller and runs `use_case(ctx, *args)` in one
    unit of work (`Database.run`): the token look-up, the use case's queries and its audit
    events share one transaction, which the use case commits; anything else is rolled back.
    The credentials are checked on every call: nothing about the caller is kept between
    requests."""

    def __init__(self, request: Request, creds: Credentials) -> None:
        self._state = request.app.state
        self._creds = creds
        self._ip = client_ip(request)
        self._today = today(request)

    async def __call__(self, use_case: Callable[Concatenate[Context, P], T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        state = self._state

        def work(db: Session) -> T:
            actor = actor_for(db, state.secret, self._creds)
            if actor is None:
                raise Unauthenticated("authorization", "log in, or send Authorization: Bearer <token>")
            ctx = Context(db=db, actor=actor, kb=state.kb, ip=self._ip, today=self._today)
            return use_case(ctx, *args, **kwargs)

        result: T = await state.db.run(work)
        return result


async def caller(request: Request, creds: Credentials = Depends(credentials)) -> Caller:
    return Caller(request, creds)


def today(request: Request) -> date:
    clock: Callable[[], date] = request.app.state.clock  # the clinic's "today" (tests pin it)
    return clock()


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
