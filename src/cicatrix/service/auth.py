"""Passwords (argon2id), login with a database-held rate limit, and bearer/session tokens."""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, delete, func, select, text, update
from sqlalchemy.orm import Session

from cicatrix.service import audit, totp
from cicatrix.service.context import Actor
from cicatrix.service.errors import RateLimited, SecondFactorRequired, Unauthenticated
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


@dataclass(frozen=True)
class SignIn:
    """A login whose password was right: with the second factor presented, or waiting for it
    (`code_needed`: ask for the code, through `pending_login` and `second_step` on the web)."""

    user: User
    second_factor: bool
    code_needed: bool = False


def _record_failure(db: Session, settings: Settings, keys: tuple[str, ...], now: datetime) -> None:
    db.add_all([LoginAttempt(key=k, at=now) for k in keys])
    forget = now - timedelta(seconds=max(settings.login_failure_memory_s, settings.login_window_s))
    db.execute(delete(LoginAttempt).where(LoginAttempt.key.in_(keys), LoginAttempt.at < forget))


def login(
    db: Session,
    settings: Settings,
    username: str,
    password: str,
    ip: str | None,
    *,
    otp: str | None = None,
    key: str = "",
    now: datetime | None = None,
) -> SignIn | None:
    """Check a password, and the second factor of an account that has one, throttled per
    account and per address (see `_wait_s`), with the counts shared by every worker through the
    database and taken one at a time (`_serialize`).

    A throttled attempt is answered 429 with `Retry-After` without checking the password,
    unless it comes from an address the account has logged in from before, or it carries a
    code (`otp`) and the account has a second factor: then the code is checked first, and
    the password only when the code is right, so the real user still gets in while someone
    guesses the password elsewhere, and this door tells a guesser nothing about passwords.
    Codes have their own throttle (`_check_code`).

    None: the password or code was wrong. The failure is recorded in this unit of work, which
    must commit it (so the count holds) before the caller answers with `login_failed()`. `key`
    is the service's secret (it unseals the TOTP secret); `now` the clock's instant, for the
    code's time step (the throttle counts in wall-clock time, shared by every worker)."""
    code_time = now
    now = utcnow()
    name = username.strip().lower()
    ukey = _key("user", name)
    ikey = _key("ip", ip or "-")
    _serialize(db, ukey, _key("otp", name), ikey)  # every caller takes otp before ip
    user = db.scalar(select(User).where(User.username == name))
    wait = _wait_s(db, settings, ukey, ikey, now)
    has_factor = user is not None and totp.enrolled(user)
    code_first = False
    if wait and not (user is not None and _known_address(db, user, ip, now)):
        if user is None or not has_factor or not otp:
            # the unit of work rolls back on the way out, which also releases the advisory locks
            raise RateLimited(
                "username",
                "too many failed logins; try again later (with a second factor, enter your password and a code)",
                retry_after=wait,
            )
        if not _check_code(db, settings, user, otp, ip, key, code_time or now):
            return None  # the password is not checked: nothing about it is learnt here
        code_first = True
    ok = verify_password(user.password_hash if user else _dummy_hash(), password)
    if not (user and ok and user.active):
        _record_failure(db, settings, (ukey, ikey), now)
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
    if not has_factor:
        return SignIn(user, second_factor=False)
    if not otp:
        return SignIn(user, second_factor=False, code_needed=True)
    ok = code_first or _check_code(db, settings, user, otp, ip, key, code_time or now)
    return SignIn(user, second_factor=True) if ok else None


def _check_code(db: Session, settings: Settings, user: User, code: str, ip: str | None, key: str,
                now: datetime) -> bool:  # fmt: skip
    """Check a second-factor code (for the time step of `now`), throttled like passwords
    under its own key (429 while waiting). Callers have taken the account's locks (`_serialize`)."""
    okey, ikey = _key("otp", user.username), _key("ip", ip or "-")
    wall = utcnow()
    wait = _wait_s(db, settings, okey, ikey, wall)
    if wait:
        raise RateLimited("code", "too many wrong codes; try again later", retry_after=wait)
    used = totp.check(db, user, key, code, now)
    if used is None:
        _record_failure(db, settings, (okey, ikey), wall)
        audit.record_anonymous(db, "second_factor_failed", "user", user.id, clinic_id=user.clinic_id, ip=ip)
        return False
    db.execute(delete(LoginAttempt).where(LoginAttempt.key == okey))
    if used == "recovery":
        audit.record_anonymous(db, "recovery_code_used", "user", user.id, clinic_id=user.clinic_id,
                               user_id=user.id, role=user.role, ip=ip)  # fmt: skip
    return True


PENDING_MAX_AGE_S = 5 * 60


def pending_login(db: Session, user: User, ip: str | None) -> str:
    """The half-done web login (password right, code to come), held server-side for five
    minutes as a token of kind "pending"; returns its secret for a signed cookie."""
    raw = secrets.token_urlsafe(32)
    now = utcnow()
    db.add(ApiToken(user_id=user.id, token_hash=token_digest(raw), kind="pending", created_at=now,
                    expires_at=now + timedelta(seconds=PENDING_MAX_AGE_S)))  # fmt: skip
    return raw


def second_step(db: Session, settings: Settings, raw: str, code: str, ip: str | None, key: str,
                now: datetime) -> User | None:  # fmt: skip
    """The web login's second step: the code for a pending login. The pending login ends when
    the code is right (a new session is issued) and lives on, until it expires, when wrong.
    Raises Unauthenticated when the pending login is unknown or expired (start again)."""
    tok = db.scalar(select(ApiToken).where(ApiToken.token_hash == token_digest(raw), ApiToken.kind == "pending"))
    if tok is None or tok.revoked_at is not None or _aware(tok.expires_at) <= utcnow():
        raise Unauthenticated("code", "this login has expired; enter your username and password again")
    user = db.get(User, tok.user_id)
    if user is None or not user.active:
        raise Unauthenticated("code", "this login has expired; enter your username and password again")
    _serialize(db, _key("otp", user.username), _key("ip", ip or "-"))
    if not _check_code(db, settings, user, code, ip, key, now):
        return None
    tok.revoked_at = utcnow()
    return user


def login_failed() -> Unauthenticated:
    """The answer to a failed login, raised once the failure is committed."""
    return Unauthenticated("password", "unknown username, wrong password or wrong code")


def code_needed() -> SecondFactorRequired:
    """The answer to a right password for an account with a second factor, sent without a code."""
    return SecondFactorRequired(
        "otp", "this account has a second factor: send the 6-digit code from the authenticator app, "
        "or a recovery code, as otp",
    )  # fmt: skip


def issue_token(
    db: Session, user: User, kind: str, max_age_s: int, ip: str | None, second_factor: bool = False
) -> tuple[str, ApiToken]:
    """A bearer token or web session for a user whose login was checked; `second_factor`
    records that the login presented it (see `resolve_token`)."""
    raw = secrets.token_urlsafe(32)
    now = utcnow()
    tok = ApiToken(
        user_id=user.id,
        token_hash=token_digest(raw),
        kind=kind,
        created_at=now,
        expires_at=now + timedelta(seconds=max_age_s),
        second_factor=second_factor,
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
        detail=kind + (" with second factor" if second_factor else ""),
    )
    return raw, tok


# Built once (runs on every request): the statement's cache key is memoised on the object. Plain
# table columns (Core, no ORM entities): the row is only read, never changed, in this request.
_T, _U, _C = ApiToken.__table__.c, User.__table__.c, Clinic.__table__.c
_TOKEN = (
    select(_T.id, _T.revoked_at, _T.expires_at, _T.second_factor, _U.id.label("user_id"), _U.clinic_id, _U.role,
           _U.patient_id, _U.active, _U.totp_confirmed_at, _C.timezone, _C.second_factor_clinicians)
    .join_from(ApiToken.__table__, User.__table__, _U.id == _T.user_id)
    .join(Clinic.__table__, _C.id == _U.clinic_id)
    .where(_T.token_hash == bindparam("digest"), _T.kind == bindparam("kind"))
)  # fmt: skip


def resolve_token(db: Session, raw: str, kind: str) -> Actor | None:
    """The actor behind a token, or None when it is unknown, expired, revoked or disabled.

    An account that needs a second factor (an admin; a clinician where the clinic asks; anyone
    enrolled) whose token was issued without one acts `enrol_only`: it may set the factor up,
    nothing else (the entry points and `policy.require` refuse the rest)."""
    row = db.execute(_TOKEN, {"digest": token_digest(raw), "kind": kind}).first()
    if row is None:
        return None
    if row.revoked_at is not None or _aware(row.expires_at) <= utcnow() or not row.active:
        return None
    needs = totp.required(row.role, row.second_factor_clinicians) or row.totp_confirmed_at is not None
    return Actor(
        user_id=row.user_id,
        clinic_id=row.clinic_id,
        role=row.role,
        patient_id=row.patient_id,
        token_id=row.id,
        via=kind,
        timezone=row.timezone,
        enrol_only=needs and not row.second_factor,
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
