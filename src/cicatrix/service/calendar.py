"""Private calendar subscription links: a secret URL a patient's phone can poll, revocable."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from cicatrix.service import audit, patients
from cicatrix.service.auth import token_digest
from cicatrix.service.context import Actor, Context
from cicatrix.service.errors import NotFound
from cicatrix.service.schemas import CalendarTokenOut
from cicatrix.storage.db import utcnow
from cicatrix.storage.models import CalendarToken, Clinic


def _out(t: CalendarToken, raw: str | None = None) -> CalendarTokenOut:
    return CalendarTokenOut(
        id=t.id, patient_id=t.patient_id, token=raw, created_at=t.created_at, revoked_at=t.revoked_at
    )


def create(ctx: Context, patient_id: int) -> CalendarTokenOut:
    """A new secret; it is shown once and only its hash is kept. The link serves the patient's
    own view (the approved plan with its day-by-day care) whoever created it, so only the roles
    that read that view may create one (`calendar.create`)."""
    p = patients.load(ctx, patient_id, "calendar.create")
    raw = secrets.token_urlsafe(32)
    t = CalendarToken(
        clinic_id=p.clinic_id,
        patient_id=p.id,
        token_hash=token_digest(raw),
        created_by=ctx.actor.user_id,
        created_at=utcnow(),
    )
    ctx.db.add(t)
    ctx.db.flush()
    audit.record(ctx, "create", "calendar_token", t.id, patient_id=p.id)
    result = _out(t, raw)
    return result


def list_for_patient(ctx: Context, patient_id: int) -> list[CalendarTokenOut]:
    p = patients.load(ctx, patient_id, "calendar.manage")
    rows = ctx.db.scalars(
        select(CalendarToken).where(CalendarToken.patient_id == p.id).order_by(CalendarToken.id)
    ).all()
    audit.record(ctx, "list", "calendar_token", None, patient_id=p.id)
    result = [_out(t) for t in rows]
    return result


def revoke(ctx: Context, patient_id: int, token_id: int) -> CalendarTokenOut:
    p = patients.load(ctx, patient_id, "calendar.manage")
    t = ctx.db.get(CalendarToken, token_id)
    if t is None or t.patient_id != p.id:
        raise NotFound("token_id", "no such calendar link")
    if t.revoked_at is None:
        t.revoked_at = utcnow()
    audit.record(ctx, "revoke", "calendar_token", t.id, patient_id=p.id)
    result = _out(t)
    return result


def resolve(db: Session, raw: str, ip: str | None = None) -> Actor | None:
    """The patient behind a live link, as an actor confined to their own record (user id 0 in
    the audit trail), auditing the read; None when unknown or revoked. The caller (the ICS
    route) reads the plan with it."""
    t = db.scalar(select(CalendarToken).where(CalendarToken.token_hash == token_digest(raw)))
    if t is None or t.revoked_at is not None:
        return None
    if patients.reachable_by_link(db, t.patient_id) is None:
        return None
    audit.record_anonymous(
        db,
        "read",
        "calendar",
        t.id,
        clinic_id=t.clinic_id,
        patient_id=t.patient_id,
        ip=ip,
        detail="subscription",
    )
    clinic = db.get(Clinic, t.clinic_id)
    return Actor(
        user_id=0,
        clinic_id=t.clinic_id,
        role="patient",
        patient_id=t.patient_id,
        via="calendar",
        timezone=clinic.timezone if clinic else "UTC",
    )
