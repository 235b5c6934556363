"""Passwords (argon2id), login with a database-held rate limit, and bearer/session tokens."""

from __future__ import annotations

import hashlib
import math
import secrets
from datetime import datetime, timedelta
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, delete, func, select, text, update
from sqlalchemy.orm import Session

from cicatrix.service import audit
from cicatrix.service.context import Actor
from cicatrix.service.errors import RateLimited, Unauthenticated
from cicatrix.storage.db import utcnow
from cicatrix.storage.models import ApiToken, AuditEvent, Clinic, LoginAttempt, User
from cicatrix.storage.settings import Settings


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    return PasswordHasher()  # argon2id, RFC 9106 low-memory profile


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher().hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(stored: str, password: str) -> bool:
    try:
        return _hasher().verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _key(kind: str, value: str) -> str:
    return f"{kind}:{hashlib.sha256(value.encode()).hexdigest()[:64]}"


def _aware(dt: datetime) -> datetime:
    """SQLite returns naive datetimes; everything we store is UTC."""
    from datetime import UTC

    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _serialize(db: Session, *keys: str) -> None:
    """Count each account's and address's attempts one at a time, across workers: on
    PostgreSQL a transaction-scoped advisory lock per key (always user key first, so two logins
    never wait for each other in a cycle); SQLite transactions begin IMMEDIATE and are already
    one at a time. Without this, 20 of 60 concurrent guesses were checked against a limit of 5."""
    if db.get_bind().dialect.name != "postgresql":
        return
    for key in keys:
        lock_id = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
        db.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_id})


def _wait_s(db: Session, settings: Settings, ukey: str, ikey: str, now: datetime) -> int:
    """Seconds the caller must wait before this attempt is checked (0: check it now).

    Per account, a progressive delay: `login_max_failures` failures are free, then each one
    doubles the wait after the last failure (30 s, 1 min, 2 min, ... up to 15 min), counted
    over a day. Blocked attempts are not counted, so an attacker cannot push the wait beyond
    the cap. Per address, `login_max_failures_per_ip` failures in `login_window_s`."""
    n, last = db.execute(
        select(func.count(), func.max(LoginAttempt.at)).where(
            LoginAttempt.key == ukey, LoginAttempt.at > now - timedelta(seconds=settings.login_failure_memory_s)
        )
    ).one()
    wait = 0.0
    if n >= settings.login_max_failures and last is not None:
        step = min(n - settings.login_max_failures, 20)
        delay = min(settings.login_delay_s * 2**step, settings.login_max_delay_s)
        wait = (_aware(last) + timedelta(seconds=delay) - now).total_seconds()
    since = now - timedelta(seconds=settings.login_window_s)
    per_ip, oldest = db.execute(
        select(func.count(), func.min(LoginAttempt.at)).where(LoginAttempt.key == ikey, LoginAttempt.at > since)
    ).one()
    if per_ip >= settings.login_max_failures_per_ip and oldest is not None:
        wait = max(wait, (_aware(oldest) - since).total_seconds())
    return max(0, math.ceil(wait))


def _known_address(db: Session, user: User, ip: str | None, now: datetime) -> bool:
    """Whether this account logged in from this address in the last 90 days: its owner, most
    likely, who then gets past the throttle with the right password (still counted if wrong)."""
    if not ip:
        return False
    found = db.scalar(
        select(AuditEvent.id).where(
            AuditEvent.clinic_id == user.clinic_id, AuditEvent.action == "login", AuditEvent.user_id == user.id,
            AuditEvent.ip == ip, AuditEvent.at > now - timedelta(days=90),
        ).limit(1)
    )  # fmt: skip
    return found is not None


def login(db: Session, settings: Settings, username: str, password: str, ip: str | None) -> User | None:
    """Check a password, throttled per account and per address (see `_wait_s`), with the
    counts shared by every worker through the database and taken one at a time (`_serialize`).
    A throttled attempt is answered 429 with `Retry-After` without checking the password,
    unless it comes from an address the account has logged in from before.

    None: the password was wrong. The failure is recorded in this unit of work, which must
    commit it (so the count holds) before the caller answers with `login_failed()`."""
    name = username.strip().lower()
    ukey = _key("user", name)
    ikey = _key("ip", ip or "-")
    _serialize(db, ukey, ikey)
    now = utcnow()
    user = db.scalar(select(User).where(User.username == name))
    wait = _wait_s(db, settings, ukey, ikey, now)
    if wait and not (user is not None and _known_address(db, user, ip, now)):
        # the unit of work rolls back on the way out, which also releases the advisory locks
        raise RateLimited("username", "too many failed logins; try again later", retry_after=wait)
    ok = verify_password(user.password_hash if user else _dummy_hash(), password)
    if not (user and ok and user.active):
        db.add_all([LoginAttempt(key=ukey, at=now), LoginAttempt(key=ikey, at=now)])
        forget = now - timedelta(seconds=max(settings.login_failure_memory_s, settings.login_window_s))
        db.execute(delete(LoginAttempt).where(LoginAttempt.key.in_((ukey, ikey)), LoginAttempt.at < forget))
        # Unknown usernames are recorded too (without the name, which may be a mistyped
        # password); every clinic's admins see them in the audit trail.
        audit.record_anonymous(
            db,
            "login_failed",
            "user",
            user.id if user else None,
            clinic_id=user.clinic_id if user else None,
            ip=ip,
            detail=None if user else "unknown username",
        )
        return None
    if _hasher().check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    db.execute(delete(LoginAttempt).where(LoginAttempt.key == ukey))
    return user


def login_failed() -> Unauthenticated:
    """The answer to a failed login, raised once the failure is committed."""
    return Unauthenticated("password", "unknown username or wrong password")


def issue_token(db: Session, user: User, kind: str, max_age_s: int, ip: str | None) -> tuple[str, ApiToken]:
    raw = secrets.token_urlsafe(32)
    now = utcnow()
    tok = ApiToken(
        user_id=user.id,
        token_hash=token_digest(raw),
        kind=kind,
        created_at=now,
        expires_at=now + timedelta(seconds=max_age_s),
    )
    db.add(tok)
    db.flush()
    audit.record_anonymous(
        db,
        "login",
        "user",
        user.id,
        clinic_id=user.clinic_id,
        user_id=user.id,
        role=user.role,
        ip=ip,
        detail=kind,
    )
    return raw, tok


# Built once (runs on every request): the statement's cache key is memoised on the object. Plain
# table columns (Core, no ORM entities): the row is only read, never changed, in this request.
_T, _U, _C = ApiToken.__table__.c, User.__table__.c, Clinic.__table__.c
_TOKEN = (
    select(_T.id, _T.revoked_at, _T.expires_at, _U.id.label("user_id"), _U.clinic_id, _U.role,
           _U.patient_id, _U.active, _C.timezone)
    .join_from(ApiToken.__table__, User.__table__, _U.id == _T.user_id)
    .join(Clinic.__table__, _C.id == _U.clinic_id)
    .where(_T.token_hash == bindparam("digest"), _T.kind == bindparam("kind"))
)  # fmt: skip


def resolve_token(db: Session, raw: str, kind: str) -> Actor | None:
    """The actor behind a token, or None when it is unknown, expired, revoked or disabled."""
    row = db.execute(_TOKEN, {"digest": token_digest(raw), "kind": kind}).first()
    if row is None:
        return None
    if row.revoked_at is not None or _aware(row.expires_at) <= utcnow() or not row.active:
        return None
    return Actor(
        user_id=row.user_id,
        clinic_id=row.clinic_id,
        role=row.role,
        patient_id=row.patient_id,
        token_id=row.id,
        via=kind,
        timezone=row.timezone,
    )


def revoke_user_tokens(db: Session, user_id: int, keep: int | None = None) -> int:
    """Revoke every live bearer token and web session of a user except `keep`; callers commit."""
    q = update(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
    if keep is not None:
        q = q.where(ApiToken.id != keep)
    return db.execute(q.values(revoked_at=utcnow())).rowcount or 0  # type: ignore[attr-defined]


def revoke_token(db: Session, token_id: int) -> None:
    tok = db.get(ApiToken, token_id)
    if tok is not None and tok.revoked_at is None:
        tok.revoked_at = utcnow()
