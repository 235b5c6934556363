"""The staff's second factor, as use cases: status, enrolment (start, confirm), recovery
codes, and an admin's reset. The mechanism (sealed secret, code checks) is `service/totp.py`;
logging in with a code is `service/auth.py`."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pyotp
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from cicatrix.service import audit, totp
from cicatrix.service.auth import revoke_user_tokens
from cicatrix.service.context import Context
from cicatrix.service.errors import Conflict, Forbidden, Invalid, NotFound
from cicatrix.service.policy import require
from cicatrix.service.schemas import Enrolment, RecoveryCodes, SecondFactorStatus
from cicatrix.storage.db import utcnow
from cicatrix.storage.models import ApiToken, Clinic, RecoveryCode, User


def _me(ctx: Context) -> User:
    require(ctx.actor, "account.second_factor")
    user = ctx.db.get(User, ctx.actor.user_id)
    if user is None:
        raise NotFound("user_id", "no such user")
    return user


def _clinic_requires(ctx: Context, user: User) -> bool:
    clinic = ctx.db.get(Clinic, user.clinic_id)
    return totp.required(user.role, bool(clinic and clinic.second_factor_clinicians))


def status(ctx: Context) -> SecondFactorStatus:
    user = _me(ctx)
    left = ctx.db.scalar(
        select(func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    )
    return SecondFactorStatus(
        enrolled=totp.enrolled(user),
        required=_clinic_requires(ctx, user),
        enrolling=user.totp_secret is not None and user.totp_confirmed_at is None,
        recovery_codes_left=int(left or 0) if totp.enrolled(user) else 0,
        this_login_verified=not ctx.actor.enrol_only and totp.enrolled(user),
    )


def _enrolment(secret: str, username: str) -> Enrolment:
    uri = pyotp.TOTP(secret, digits=totp.DIGITS, interval=totp.STEP_S).provisioning_uri(
        name=username, issuer_name=totp.ISSUER
    )
    return Enrolment(secret=secret, provisioning_uri=uri, qr_svg=totp.qr_svg(uri))


def start(ctx: Context, key: str) -> Enrolment:
    """Begin enrolment: a new secret, shown now as text and as a QR code, active only once a
    code from it is confirmed (`confirm`). Starting again replaces an unconfirmed secret."""
    user = _me(ctx)
    if totp.enrolled(user):
        raise Conflict("second_factor", "a second factor is already set up; an administrator can reset it")
    secret = pyotp.random_base32(32)  # 160 bits, RFC 4226's recommended length
    user.totp_secret = totp.seal(key, secret)
    user.totp_last_step = None
    audit.record(ctx, "second_factor_start", "user", user.id)
    return _enrolment(secret, user.username)


def pending_secret(ctx: Context, key: str) -> Enrolment | None:
    """The enrolment under way (for showing the page again after a wrong code), or None."""
    user = _me(ctx)
    if user.totp_secret is None or user.totp_confirmed_at is not None:
        return None
    secret = totp.unseal(key, user.totp_secret)
    if secret is None:
        return None
    return _enrolment(secret, user.username)


def confirm(ctx: Context, key: str, code: str, now: datetime) -> RecoveryCodes:
    """Activate the enrolment with a current code: the ten recovery codes are made and shown
    once; this login counts as verified and every other session and token of the account
    ends (they were opened without the factor)."""
    user = _me(ctx)
    if totp.enrolled(user):
        raise Conflict("second_factor", "a second factor is already set up")
    if user.totp_secret is None:
        raise Conflict("second_factor", "start the set-up first")
    code = totp.normal(code)
    if not (len(code) == totp.DIGITS and code.isdigit() and totp.totp_ok(ctx.db, user, key, code, now)):
        raise Invalid("code", "that code is not the current one; enter the 6 digits the app shows now")
    user.totp_confirmed_at = now
    codes = totp.new_recovery_codes(ctx.db, user, now)
    if ctx.actor.token_id is not None:
        ctx.db.execute(update(ApiToken).where(ApiToken.id == ctx.actor.token_id).values(second_factor=True))
    revoke_user_tokens(ctx.db, user.id, keep=ctx.actor.token_id)
    ctx.actor = replace(ctx.actor, enrol_only=False)  # this login is now verified
    audit.record(ctx, "second_factor_enrol", "user", user.id, detail="other sessions ended")
    return RecoveryCodes(codes=codes)


def regenerate_recovery_codes(ctx: Context) -> RecoveryCodes:
    """Ten new codes replace the old ones (all of them, used or not); audited."""
    user = _me(ctx)
    if not totp.enrolled(user):
        raise Conflict("second_factor", "set up a second factor first")
    if ctx.actor.enrol_only:
        raise Forbidden("second_factor", "log in with your second factor first")
    codes = totp.new_recovery_codes(ctx.db, user, utcnow())
    audit.record(ctx, "recovery_codes_regenerate", "user", user.id)
    return RecoveryCodes(codes=codes)


def reset(ctx: Context, user_id: int) -> None:
    """An admin removes another account's second factor (a lost phone without its recovery
    codes): the secret and codes go, and every session and token of that account ends, so the
    next login is by password and, where required, enrols again. Audited."""
    require(ctx.actor, "user.manage")
    user = ctx.db.get(User, user_id)
    if user is None or user.clinic_id != ctx.actor.clinic_id:
        raise NotFound("user_id", "no such user")
    if user.id == ctx.actor.user_id:
        raise Invalid("user_id", "you cannot reset your own second factor; ask another administrator")
    ended = _clear(ctx.db, user)
    audit.record(ctx, "second_factor_reset", "user", user.id, patient_id=user.patient_id,
                 detail=f"{ended} sessions ended")  # fmt: skip


def _clear(db: Session, user: User) -> int:
    """Remove the account's secret and recovery codes and end its sessions; how many ended."""
    user.totp_secret = None
    user.totp_confirmed_at = None
    user.totp_last_step = None
    db.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    return revoke_user_tokens(db, user.id)


def reset_from_host(db: Session, username: str) -> User:
    """The command line's reset (`cicatrix user reset-second-factor`), for a clinic whose only
    admin lost both the phone and the recovery codes: whoever runs it holds the server (and
    its database) already. Audited as done from the command line."""
    user = db.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        raise NotFound("username", "no such account")
    ended = _clear(db, user)
    detail = f"from the command line; {ended} sessions ended"
    audit.record_anonymous(db, "second_factor_reset", "user", user.id, clinic_id=user.clinic_id,
                           patient_id=user.patient_id, detail=detail)  # fmt: skip
    return user
