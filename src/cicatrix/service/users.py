"""Clinics and user accounts."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cicatrix.service import audit, outbox, passwords, totp
from cicatrix.service.auth import hash_password, revoke_user_tokens, verify_password
from cicatrix.service.contact import phone_number, postal_address
from cicatrix.service.context import Actor, Context
from cicatrix.service.errors import Conflict, Invalid, NotFound
from cicatrix.service.policy import require
from cicatrix.service.schemas import ClinicOut, ClinicUpdate, PasswordChange, UserIn, UserOut, UserUpdate
from cicatrix.storage.db import utcnow
from cicatrix.storage.models import Clinic, Patient, User


def user_out(u: User) -> UserOut:
    return UserOut(
        id=u.id, clinic_id=u.clinic_id, username=u.username, display_name=u.display_name, role=u.role,
        patient_id=u.patient_id, active=u.active, created_at=u.created_at, second_factor=totp.enrolled(u),
    )  # fmt: skip


def clinic_out(c: Clinic) -> ClinicOut:
    settings = c.settings or {}
    return ClinicOut(
        id=c.id,
        name=c.name,
        timezone=c.timezone,
        logo=settings.get("logo"),
        address=settings.get("address"),
        phone=settings.get("phone"),
        second_factor_for_clinicians=bool(c.second_factor_clinicians),
    )


def create_clinic(db: Session, name: str, timezone: str = "UTC") -> Clinic:
    _check_tz(timezone)
    clinic = Clinic(name=name, timezone=timezone, settings={}, created_at=utcnow())
    db.add(clinic)
    db.flush()
    return clinic


def _check_tz(tz: str) -> None:
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid("timezone", f"unknown time zone {tz!r}", value=tz) from None


def add_user(db: Session, clinic_id: int, data: UserIn) -> User:
    """Create an account without an acting user (bootstrap and demo); callers commit."""
    username = data.username.strip().lower()
    passwords.check(data.password, username)
    if db.scalar(select(func.count()).select_from(User).where(User.username == username)):
        raise Conflict("username", "this username is taken")
    if data.role == "patient":
        if data.patient_id is None:
            raise Invalid("patient_id", "a patient account must be linked to a patient record")
        p = db.get(Patient, data.patient_id)
        if p is None or p.clinic_id != clinic_id:
            raise Invalid("patient_id", "no such patient in this clinic", value=data.patient_id)
    elif data.patient_id is not None:
        raise Invalid("patient_id", "only patient accounts are linked to a patient record")
    user = User(
        clinic_id=clinic_id,
        username=username,
        display_name=data.display_name,
        role=data.role,
        password_hash=hash_password(data.password),
        patient_id=data.patient_id,
        active=True,
        created_at=utcnow(),
    )
    db.add(user)
    db.flush()
    return user


def bootstrap_account(db: Session, clinic_name: str, timezone: str, data: UserIn) -> tuple[User, Clinic]:
    """An account in the clinic of that name, created (with `timezone`) the first time: how
    the first admin gets in (`cicatrix user create`). Callers run it in a unit of work."""
    clinic = db.scalar(select(Clinic).where(Clinic.name == clinic_name))
    if clinic is None:
        clinic = create_clinic(db, clinic_name, timezone)
    return add_user(db, clinic.id, data), clinic


def create_user(ctx: Context, data: UserIn) -> UserOut:
    require(ctx.actor, "user.manage")
    user = add_user(ctx.db, ctx.actor.clinic_id, data)
    audit.record(ctx, "create", "user", user.id, patient_id=user.patient_id)
    return user_out(user)


def list_users(ctx: Context) -> list[UserOut]:
    require(ctx.actor, "user.manage")
    rows = ctx.db.scalars(select(User).where(User.clinic_id == ctx.actor.clinic_id).order_by(User.id)).all()
    audit.record(ctx, "list", "user", None)
    return [user_out(u) for u in rows]


def update_user(ctx: Context, user_id: int, data: UserUpdate) -> UserOut:
    require(ctx.actor, "user.manage")
    u = ctx.db.get(User, user_id)
    if u is None or u.clinic_id != ctx.actor.clinic_id:
        raise NotFound("user_id", "no such user")
    if data.role is not None and data.role != u.role:
        if data.role == "patient" or u.role == "patient":
            raise Invalid("role", "patient accounts cannot change role")
        _keep_an_admin(ctx, u, "role")
        u.role = data.role
    if data.display_name is not None:
        u.display_name = data.display_name
    if data.active is not None:
        if u.id == ctx.actor.user_id and not data.active:
            raise Invalid("active", "you cannot disable your own account")
        if not data.active:
            _keep_an_admin(ctx, u, "active")
        u.active = data.active
    if data.password is not None:
        passwords.check(data.password, u.username)
        u.password_hash = hash_password(data.password)
        # A new password ends every other session and token of the account (a reset after a
        # leak must lock the leaker out); the admin's own current token survives.
        revoke_user_tokens(ctx.db, u.id, keep=ctx.actor.token_id)
    detail = "password reset; other sessions ended" if data.password is not None else None
    audit.record(ctx, "update", "user", u.id, patient_id=u.patient_id, detail=detail)
    return user_out(u)


def _keep_an_admin(ctx: Context, u: User, field: str) -> None:
    """Refuse to demote or disable a clinic's last active administrator: nobody could manage
    its accounts afterwards.

    The count is taken with the clinic row locked (`FOR NO KEY UPDATE` on PostgreSQL, until the
    unit of work ends): two admins demoting each other at once are checked one after the
    other, so the second sees the first's change and is refused. SQLite's `BEGIN IMMEDIATE`
    already runs writers one at a time."""
    if u.role != "admin" or not u.active:
        return
    ctx.db.execute(select(Clinic.id).where(Clinic.id == u.clinic_id).with_for_update(key_share=True))
    others = ctx.db.scalar(
        select(func.count())
        .select_from(User)
        .where(User.clinic_id == u.clinic_id, User.role == "admin", User.active.is_(True), User.id != u.id)
    )
    if not others:
        raise Conflict(field, "this is the clinic's last active administrator; make another user an admin first")


def change_password(ctx: Context, data: PasswordChange) -> UserOut:
    """A user changes their own password: the current one is checked (a borrowed, unlocked
    session is not enough), the new one meets the policy (`passwords.check`), and every other
    session and token of the account ends; this one stays."""
    require(ctx.actor, "account.password")
    u = ctx.db.get(User, ctx.actor.user_id)
    if u is None:
        raise NotFound("user_id", "no such user")
    if not verify_password(u.password_hash, data.current_password):
        raise Invalid("current_password", "the current password is wrong")
    why = passwords.problem(data.new_password, u.username)
    if why is not None:
        raise Invalid("new_password", why)
    u.password_hash = hash_password(data.new_password)
    ended = revoke_user_tokens(ctx.db, u.id, keep=ctx.actor.token_id)
    audit.record(ctx, "password_change", "user", u.id, patient_id=u.patient_id, detail=f"{ended} other sessions ended")
    return user_out(u)


def me(ctx: Context) -> UserOut:
    u = ctx.db.get(User, ctx.actor.user_id)
    if u is None:
        raise NotFound("user_id", "no such user")
    return user_out(u)


def get_clinic(ctx: Context) -> ClinicOut:
    c = ctx.db.get(Clinic, ctx.actor.clinic_id)
    if c is None:
        raise NotFound("clinic_id", "no such clinic")
    return clinic_out(c)


def update_clinic(ctx: Context, data: ClinicUpdate) -> ClinicOut:
    require(ctx.actor, "clinic.manage")
    c = ctx.db.get(Clinic, ctx.actor.clinic_id)
    if c is None:
        raise NotFound("clinic_id", "no such clinic")
    if data.name is not None:
        c.name = data.name
    if data.timezone is not None:
        _check_tz(data.timezone)
        c.timezone = data.timezone
    if data.logo is not None:
        if data.logo and not data.logo.startswith(("data:image/png;", "data:image/svg+xml;", "data:image/jpeg;")):
            raise Invalid("logo", "must be a data: URL of a PNG, SVG or JPEG image")
        c.settings = {**(c.settings or {}), "logo": data.logo or None}
    # a bad entry is a 422 and the unit of work keeps nothing of the request
    contact = {}
    if data.address is not None:
        contact["address"] = postal_address(data.address)
    if data.phone is not None:
        contact["phone"] = phone_number(data.phone)
    if contact:
        c.settings = {**(c.settings or {}), **contact}
    detail = None
    if (
        data.second_factor_for_clinicians is not None
        and data.second_factor_for_clinicians != c.second_factor_clinicians
    ):
        c.second_factor_clinicians = data.second_factor_for_clinicians
        detail = "second factor for clinicians " + ("required" if data.second_factor_for_clinicians else "optional")
    if data.name is not None or data.timezone is not None or contact:  # what and when the messages say
        ctx.db.flush()
        outbox.refresh_clinic(ctx.db, ctx.kb, c.id, ctx.now)
    audit.record(ctx, "update", "clinic", c.id, detail=detail)
    return clinic_out(c)


def account(db: Session, actor: Actor) -> tuple[User, Clinic] | None:
    """The actor's account and clinic, for the layout around a page (name, logo)."""
    user = db.get(User, actor.user_id)
    clinic = db.get(Clinic, actor.clinic_id)
    return (user, clinic) if user is not None and clinic is not None else None


def actor_named(db: Session, username: str, via: str = "cli") -> tuple[Actor, Clinic] | None:
    """The active account `username` as an actor (the command line's `--actor`), with its
    clinic; None when there is no such active account."""
    u = db.scalar(select(User).where(User.username == username.strip().lower(), User.active))
    clinic = db.get(Clinic, u.clinic_id) if u is not None else None
    if u is None or clinic is None:
        return None
    actor = Actor(
        user_id=u.id, clinic_id=u.clinic_id, role=u.role, patient_id=u.patient_id, via=via, timezone=clinic.timezone
    )
    return actor, clinic
