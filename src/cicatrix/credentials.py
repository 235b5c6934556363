"""What an HTTP request presents to prove who sends it: a bearer token, or a cookie session
with its CSRF token. Shared by the two HTTP entry points, the API (`cicatrix.api`) and the
web pages (`cicatrix.web`), so both read cookies, check CSRF and start or end sessions the
same way.

Nothing here touches the database except through `actor_for`, `start_session` and
`end_session`, which run inside the caller's unit of work (`Database.run` / `run_sync`).

Web pages use cookie sessions: `start_session()` sets the cookie, `csrf_token(request)` gives
the token to put in every form (`<input type="hidden" name="csrf_token">`) or send as the
`X-CSRF-Token` header. Unsafe requests authenticated by the cookie are refused without it.
API clients send `Authorization: Bearer <token>` from `POST /api/auth/token` instead.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from itsdangerous import BadSignature, URLSafeTimedSerializer

from cicatrix.service import auth
from cicatrix.service.context import Actor
from cicatrix.service.errors import Forbidden, Unauthenticated

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from cicatrix.storage.models import User

SESSION_COOKIE = "cicatrix_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

bearer_scheme = HTTPBearer(auto_error=False, description="token from POST /api/auth/token")


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


def cookie_session(request: Request) -> str | None:
    """The cookie session's secret, its signature and age checked (None: no valid cookie)."""
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


def link_csrf(secret: str, link_token: str) -> str:
    """The CSRF token of a page opened by a signed link without a login (a check-in): bound to
    the link as `csrf_for` is bound to a cookie session, so a form posted from another site, or
    carried over from another link, is refused."""
    return hmac.new(secret.encode(), b"link-csrf:" + link_token.encode(), hashlib.sha256).hexdigest()


def link_csrf_matches(secret: str, link_token: str, sent: str | None) -> bool:
    if not sent:
        return False
    return hmac.compare_digest(sent.encode(), link_csrf(secret, link_token).encode())


def csrf_token(request: Request) -> str | None:
    """The CSRF token for the current cookie session (None without one); put it in forms."""
    raw = getattr(request.state, "session_raw", None) or cookie_session(request)
    return csrf_for(request.app.state.secret, raw) if raw else None


async def submitted_csrf(request: Request) -> str | None:
    """The CSRF token sent with an unsafe request: header first, else the form field."""
    if request.method in SAFE_METHODS:
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
        session_raw=None if bearer is not None else cookie_session(request),
        csrf=csrf,
        unsafe=request.method not in SAFE_METHODS,
    )


def actor_for(db: Session, secret: str, creds: Credentials) -> Actor | None:
    """The caller behind the credentials (None: anonymous). A bad bearer token is refused; a
    cookie session that no longer resolves is anonymous; an unsafe request by cookie needs the
    session's CSRF token. Runs inside the request's unit of work."""
    if creds.bearer is not None:
        actor = auth.resolve_token(db, creds.bearer, "bearer")
        if actor is None:
            raise Unauthenticated("authorization", "the bearer token is unknown, expired or revoked")
        return actor
    if creds.session_raw is None:
        return None
    actor = auth.resolve_token(db, creds.session_raw, "session")
    if actor is not None and creds.unsafe and not csrf_matches(secret, creds.session_raw, creds.csrf):
        raise Forbidden(CSRF_FIELD, "missing or wrong CSRF token; reload the page")
    return actor


def start_session(request: Request, response: Response, db: Session, user: User, second_factor: bool = False) -> str:
    """Issue a session token for a user whose password (and `second_factor`, when true) was
    checked and set the cookie on `response`; returns the session's CSRF token. Runs inside
    the request's unit of work."""
    settings = request.app.state.settings
    raw, _tok = auth.issue_token(
        db, user, "session", settings.session_max_age_s, client_ip(request), second_factor
    )
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
    return csrf_for(request.app.state.secret, raw)


PENDING_COOKIE = "cicatrix_pending"


def start_pending(request: Request, response: Response, raw: str, max_age_s: int) -> None:
    """Remember a half-done login (password right, code to come) in a signed, short-lived
    cookie; what it stands for is held server-side (`auth.pending_login`)."""
    signer = URLSafeTimedSerializer(request.app.state.secret, salt="cicatrix-pending")
    response.set_cookie(PENDING_COOKIE, signer.dumps(raw), max_age=max_age_s, httponly=True, samesite="strict",
                        secure=request.app.state.settings.cookie_secure, path="/login")  # fmt: skip


def pending_login(request: Request, max_age_s: int) -> str | None:
    cookie = request.cookies.get(PENDING_COOKIE)
    if not cookie:
        return None
    try:
        raw = URLSafeTimedSerializer(request.app.state.secret, salt="cicatrix-pending").loads(cookie, max_age=max_age_s)
    except BadSignature:
        return None
    return raw if isinstance(raw, str) else None


def end_pending(response: Response) -> None:
    response.delete_cookie(PENDING_COOKIE, path="/login")


def end_session(response: Response, db: Session, actor: Actor | None) -> None:
    """Revoke the caller's token (inside the unit of work) and clear the cookie."""
    if actor is not None and actor.token_id is not None:
        auth.revoke_token(db, actor.token_id)
    response.delete_cookie(SESSION_COOKIE, path="/")
