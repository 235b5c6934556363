"""Booking change events, and the changes a course makes to its appointments.

Every booking, move and cancellation is announced to the listeners registered with
`subscribe`, inside the same unit of work (what a listener writes, e.g. a message in the
outbox, commits or rolls back with the booking); a preview (`dry_run`) announces nothing.
`plans` uses `settle` and `unbook` when a session is recorded or the course re-flows; the
booking itself lives in `appointments`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from cicatrix.service import audit
from cicatrix.service.context import Context
from cicatrix.storage.models import APPOINTMENT_ACTIVE, Appointment, CourseSession


@dataclass(frozen=True)
class BookingChange:
    """A booking changed: `booked` (new), `moved` (re-booked: `previous_start` is the old time),
    `cancelled` (cancelled, or unbooked because the course was re-flowed)."""

    kind: Literal["booked", "moved", "cancelled"]
    clinic_id: int
    patient_id: int
    session_id: int
    appointment_id: int
    start: datetime
    previous_start: datetime | None = None


Listener = Callable[[Context, BookingChange], None]
_LISTENERS: list[Listener] = []


def subscribe(listener: Listener) -> None:
    """Call `listener(ctx, change)` on every booking change, inside the change's unit of work."""
    if listener not in _LISTENERS:
        _LISTENERS.append(listener)


def unsubscribe(listener: Listener) -> None:
    if listener in _LISTENERS:
        _LISTENERS.remove(listener)


def emit(ctx: Context, change: BookingChange) -> None:
    for listener in tuple(_LISTENERS):
        listener(ctx, change)


def unbook(ctx: Context, sessions: Iterable[CourseSession], reason: str, *, tell: bool = True) -> list[Appointment]:
    """Cancel the active appointments of sessions that moved to another day (a re-flow), and
    announce each cancellation (`tell`; a caller that announces them itself passes False)."""
    ids = [s.id for s in sessions]
    if not ids:
        return []
    rows = list(
        ctx.db.scalars(
            select(Appointment).where(Appointment.session_id.in_(ids), Appointment.status.in_(APPOINTMENT_ACTIVE))
        )
    )
    now = ctx.now
    for a in rows:
        set_status(ctx, a, "cancelled", now)
        a.cancel_reason = reason
        audit.record(ctx, "unbook", "appointment", a.id, patient_id=a.patient_id)
        if tell:
            emit(ctx, BookingChange("cancelled", a.clinic_id, a.patient_id, a.session_id, a.id, a.start))
    return rows


def settle(ctx: Context, s: CourseSession, status: Literal["done", "cancelled"], reason: str | None = None) -> None:
    """The session was recorded done (or missed): its active appointment follows."""
    a = active_for_session(ctx.db, s.id)
    if a is None:
        return
    set_status(ctx, a, status, ctx.now)
    if status == "cancelled":
        a.cancel_reason = reason
        emit(ctx, BookingChange("cancelled", a.clinic_id, a.patient_id, s.id, a.id, a.start))


def reopen(ctx: Context, s: CourseSession) -> None:
    """"Done" was undone: the session's finished appointment takes back its earlier status."""
    a = ctx.db.scalar(
        select(Appointment)
        .where(Appointment.session_id == s.id, Appointment.status == "done")
        .order_by(Appointment.id.desc())
        .limit(1)
    )
    if a is not None:
        set_status(ctx, a, a.previous_status or "booked", ctx.now)


def set_status(ctx: Context, a: Appointment, status: str, at: datetime) -> None:
    a.previous_status = a.status
    a.status = status
    a.status_by = ctx.actor.user_id
    a.status_at = at


def active_for_session(db: Session, session_id: int) -> Appointment | None:
    return db.scalar(
        select(Appointment).where(Appointment.session_id == session_id, Appointment.status.in_(APPOINTMENT_ACTIVE))
    )
