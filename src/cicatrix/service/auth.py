"""Passwords (argon2id), login with a database-held rate limit, and bearer/session tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.orm import Session

from cicatrix.service import audit
from cicatrix.service.context import Actor
from cicatrix.service.errors import RateLimited, Unauthenticated
from cicatrix.storage.db import utcnow
from cicatrix.storage.models import ApiToken, LoginAttempt, User
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


def _check_rate(db: Session, keys: list[tuple[str, int]], window_s: int) -> None:
    since = utcnow() - timedelta(seconds=window_s)
    for key, limit in keys:
        n = db.scalar(
            select(func.count()).select_from(LoginAttempt).where(LoginAttempt.key == key, LoginAttempt.at > since)
        )
        if (n or 0) >= limit:
            raise RateLimited(
                "username",
                "too many failed logins; try again later",
                retry_after=window_s,
            )


def login(db: Session, settings: Settings, username: str, password: str, ip: str | None) -> User:
    """Check a password. Failures are counted per account and per address, across workers."""
    ukey = _key("user", username.strip().lower())
    ikey = _key("ip", ip or "-")
    _check_rate(
        db,
        [(ukey, settings.login_max_failures), (ikey, settings.login_max_failures_per_ip)],
        settings.login_window_s,
    )
    user = db.scalar(select(User).where(User.username == username.strip().lower()))
    ok = verify_password(user.password_hash if user else _dummy_hash(), password)
    if not (user and ok and user.active):
        now = utcnow()
        db.add_all([LoginAttempt(key=ukey, at=now), LoginAttempt(key=ikey, at=now)])
        audit.record_anonymous(
            db,
            "login_failed",
            "user",
            user.id if user else None,
            clinic_id=user.clinic_id if user else None,
            ip=ip,
        )
        db.commit()
        raise Unauthenticated("password", "unknown username or wrong password")
    if _hasher().check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    db.execute(delete(LoginAttempt).where(LoginAttempt.key == ukey))
    return user


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
    db.commit()
    return raw, tok


# Built once (runs on every request): the statement's cache key is memoised on the object. Plain
# table columns (Core, no ORM entities): the row is only read, never changed, in this request.
_T, _U = ApiToken.__table__.c, User.__table__.c
_TOKEN = (
    select(_T.id, _T.revoked_at, _T.expires_at, _U.id.label("user_id"), _U.clinic_id, _U.role,
           _U.patient_id, _U.active)
    .join_from(ApiToken.__table__, User.__table__, _U.id == _T.user_id)
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
        db.commit()
