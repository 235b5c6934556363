"""Audit events: who did what to which record, when and from where. Ids only."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, insert
from sqlalchemy.orm import Session, SessionTransaction

from cicatrix.service.context import Context
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


def mark(db: Session) -> int:
    """How many events are queued now; `discard_since(db, mark)` drops the ones queued after."""
    return len(db.info.get(_PENDING, ()))


def discard_since(db: Session, mark: int) -> None:
    """Drop the events of a step that was rolled back to its savepoint (see `unit_of_work.step`)."""
    del db.info.get(_PENDING, [])[mark:]
