"""Audit events: who did what to which record, when and from where. Ids only."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, event, func, insert, or_, select
from sqlalchemy.orm import Session, SessionTransaction

from cicatrix.service.context import Context
from cicatrix.service.errors import Invalid
from cicatrix.service.policy import require
from cicatrix.service.schemas import AuditOut, AuditPage
from cicatrix.storage.db import utcnow
from cicatrix.storage.models import AuditEvent

_PENDING = "cicatrix.audit.pending"
_INSERT = insert(AuditEvent.__table__)


def _add(db: Session, row: dict[str, Any]) -> None:
    """Queue the row on the session; it is inserted by the commit itself (see below)."""
    db.info.setdefault(_PENDING, []).append(row)


@event.listens_for(Session, "before_commit")
def _write_pending(db: Session) -> None:
    """Insert the queued events in the committing transaction: one Core executemany instead of
    an ORM unit of work per event, and still all-or-nothing with the change it records."""
    rows = db.info.pop(_PENDING, None)
    if rows:
        db.execute(_INSERT, rows)


@event.listens_for(Session, "after_transaction_end")
def _drop_pending(db: Session, transaction: SessionTransaction) -> None:
    """A transaction that ends without commit (rollback, close) took its events with it: they
    describe nothing that happened."""
    if transaction.parent is None:
        db.info.pop(_PENDING, None)


def record(
    ctx: Context,
    action: str,
    entity: str,
    entity_id: int | str | None,
    patient_id: int | None = None,
    detail: str | None = None,
) -> None:
    """Add the event to the current transaction, so it commits or rolls back with the change."""
    _add(
        ctx.db,
        {
            "at": utcnow(),
            "clinic_id": ctx.actor.clinic_id,
            "user_id": ctx.actor.user_id,
            "role": ctx.actor.role,
            "action": action,
            "entity": entity,
            "entity_id": None if entity_id is None else str(entity_id),
            "patient_id": patient_id,
            "ip": ctx.ip,
            "detail": detail,
        },
    )


def record_anonymous(
    db: Session,
    action: str,
    entity: str,
    entity_id: int | str | None,
    *,
    clinic_id: int | None = None,
    user_id: int | None = None,
    role: str | None = None,
    patient_id: int | None = None,
    ip: str | None = None,
    detail: str | None = None,
) -> None:
    """For events without a logged-in actor: logins, calendar-token reads."""
    _add(
        db,
        {
            "at": utcnow(),
            "clinic_id": clinic_id,
            "user_id": user_id,
            "role": role,
            "action": action,
            "entity": entity,
            "entity_id": None if entity_id is None else str(entity_id),
            "patient_id": patient_id,
            "ip": ip,
            "detail": detail,
        },
    )


def page(ctx: Context, patient_id: int | None = None, limit: int = 100, offset: int = 0) -> AuditPage:
    """The clinic's audit trail, newest first (admins only)."""
    require(ctx.actor, "audit.read")
    if not 1 <= limit <= 500:
        raise Invalid("limit", "must be between 1 and 500", value=limit)
    if offset < 0:
        raise Invalid("offset", "must be 0 or more", value=offset)
    # The clinic's events, and failed logins for usernames that exist nowhere (no clinic):
    # attacks on the service show in every clinic's trail.
    unknown_user = and_(AuditEvent.clinic_id.is_(None), AuditEvent.action == "login_failed")
    where = [or_(AuditEvent.clinic_id == ctx.actor.clinic_id, unknown_user)]
    if patient_id is not None:
        where.append(AuditEvent.patient_id == patient_id)
    total = ctx.db.scalar(select(func.count()).select_from(AuditEvent).where(*where)) or 0
    rows = ctx.db.scalars(select(AuditEvent).where(*where).order_by(AuditEvent.id.desc()).limit(limit).offset(offset))
    items = [AuditOut.model_validate(e, from_attributes=True) for e in rows]
    return AuditPage(items=items, total=total, limit=limit, offset=offset)


def mark(db: Session) -> int:
    """How many events are queued now; `discard_since(db, mark)` drops the ones queued after."""
    return len(db.info.get(_PENDING, ()))


def discard_since(db: Session, mark: int) -> None:
    """Drop the events of a step that was rolled back to its savepoint (see `unit_of_work.step`)."""
    del db.info.get(_PENDING, [])[mark:]
