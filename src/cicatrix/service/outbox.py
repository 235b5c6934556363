"""The outbox: the messages a patient is owed, kept in step with the plan in the same transaction.

Every change that moves what a patient should be told (an approval, an edit that takes a plan
back to a proposal, a re-flow after a missed session, the patient's own choices, an archive)
calls `refresh` inside its unit of work. `refresh` asks the pure core (`engine.outbox`) for
every message still to come and compares keys with the rows that are still waiting:

- a waiting row whose key is no longer in the set is **withdrawn** (a reminder for a moved
  session is never sent);
- a key not yet stored is **inserted**; a withdrawn row whose key comes back (a session moved
  and moved back) is made pending again; a sent row is never sent twice.

Rows in `sending` are locked by the worker delivering them (`SELECT … FOR UPDATE` in
`service.delivery`); on PostgreSQL `refresh` locks the rows it may withdraw, so it waits for
a send in progress and then sees it as sent: the change and the send are ordered, and a message
the worker has not yet sent is withdrawn before the worker looks at it again.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
from sqlalchemy import select
from sqlalchemy.orm import Session

from cicatrix.engine.outbox import Choices, OutboxItem, QuietHours, event_messages, plan_messages
from cicatrix.engine.result import Plan as EnginePlan
from cicatrix.knowledge.models import KnowledgeBase
from cicatrix.service import booking_events
from cicatrix.service.context import Context
from cicatrix.storage.models import (
    APPOINTMENT_ACTIVE,
    Appointment,
    Clinic,
    CourseSession,
    Message,
    MessageChoice,
    Patient,
    Plan,
)

WAITING = ("pending", "sending")
# The appointment time when nothing else is known: the calendar export's default
# (`exports.ics.CalendarOptions.appointment_time`), or the clinic's `appointment_time` setting.
DEFAULT_TIME = time(9, 0)


def session_times(db: Session, clinic: Clinic, sessions: Iterable[CourseSession]) -> dict[tuple[str, int], time]:
    """The local start time of each planned session: THE one place the outbox reads it.

    A booked session starts at its appointment's time (in the clinic's zone); one not yet booked
    at the clinic's configured default calendar time, until the front desk books it (the booking
    refreshes the outbox, `_on_booking`)."""
    sessions = list(sessions)
    raw = (clinic.settings or {}).get("appointment_time")
    try:
        at = time.fromisoformat(raw) if isinstance(raw, str) else DEFAULT_TIME
    except ValueError:  # a malformed setting must not stop an approval: the calendar's default
        at = DEFAULT_TIME
    ids = [s.id for s in sessions if s.id is not None]
    booked = (
        {
            a.session_id: a.start
            for a in db.scalars(
                select(Appointment).where(Appointment.session_id.in_(ids), Appointment.status.in_(APPOINTMENT_ACTIVE))
            )
        }
        if ids
        else {}
    )
    zone = ZoneInfo(clinic.timezone)
    return {
        (s.treatment, s.number): booked[s.id].astimezone(zone).time().replace(tzinfo=None) if s.id in booked else at
        for s in sessions
    }


def place_of(clinic: Clinic) -> str:
    """Where sessions happen, as the messages say it: the clinic's address setting, else its name."""
    address = (clinic.settings or {}).get("address")
    return " ".join(str(address).split()) if address else " ".join(clinic.name.split())


def choices_of(db: Session, patient: Patient) -> Choices:
    """The patient's choices as the core reads them; without a stored choice, e-mail when an
    address is recorded, else SMS when a phone number is, else nothing."""
    row = db.get(MessageChoice, patient.id)
    if row is None:
        channels: tuple[str, ...] = ("email",) if patient.email else ("sms",) if patient.phone else ()
        return Choices(channels=channels)  # type: ignore[arg-type]
    quiet = None
    if row.quiet_start and row.quiet_end:
        quiet = QuietHours(start=time.fromisoformat(row.quiet_start), end=time.fromisoformat(row.quiet_end))
    return Choices(
        channels=tuple(row.channels or ()),
        quiet=quiet,
        opted_out=frozenset(row.opted_out or ()),
    )


def _addressed(db: Session, patient: Patient, clinic: Clinic, now: datetime) -> dict[str, Any]:
    """Who the messages are for and from, as the core's message functions take it."""
    return {
        "patient": str(patient.id),
        "clinic": " ".join(clinic.name.split()),
        "place": place_of(clinic),
        "tz": clinic.timezone,
        "choices": choices_of(db, patient),
        "now": now,
    }


def _approved(db: Session, patient_id: int) -> Plan | None:
    return db.scalar(select(Plan).where(Plan.patient_id == patient_id, Plan.status == "approved").limit(1))


def _planned(db: Session, plan_id: int) -> list[CourseSession]:
    return list(
        db.scalars(
            select(CourseSession)
            .where(CourseSession.plan_id == plan_id, CourseSession.status == "planned")
            .order_by(CourseSession.id)
        )
    )


def expected(
    db: Session, kb: KnowledgeBase, patient: Patient, now: datetime
) -> tuple[list[OutboxItem], dict[tuple[str, int], int]]:
    """Every plan message still to come for the patient, and the session rows they speak of."""
    plan = _approved(db, patient.id)
    if plan is None or patient.archived:
        return [], {}
    clinic = db.get(Clinic, patient.clinic_id)
    assert clinic is not None
    rows = _planned(db, plan.id)
    engine_plan = msgspec.convert(plan.proposal, EnginePlan)
    items = plan_messages(engine_plan, kb, **_addressed(db, patient, clinic, now),
                          appointment_times=session_times(db, clinic, rows))  # fmt: skip
    return list(items), {(s.treatment, s.number): s.id for s in rows}


def _row(patient: Patient, item: OutboxItem, category: str, session_id: int | None, now: datetime) -> Message:
    return Message(
        clinic_id=patient.clinic_id,
        patient_id=patient.id,
        key=item.key,
        template=item.template,
        category=category,
        channel=item.channel,
        due=item.due,
        status="pending",
        attempts=0,
        next_attempt_at=item.due,
        session_id=session_id,
        context=dict(item.context),
        created_at=now,
        updated_at=now,
    )


def _store(
    db: Session, kb: KnowledgeBase, patient: Patient, items: list[OutboxItem], sessions: dict[tuple[str, int], int],
    now: datetime,
) -> int:  # fmt: skip
    """Insert the items not yet stored; a withdrawn one that comes back is pending again."""
    if not items:
        return 0
    known = {m.key: m for m in db.scalars(select(Message).where(Message.key.in_([i.key for i in items])))}
    added = 0
    for item in items:
        session_id = sessions.get((item.treatment, item.session)) if item.treatment and item.session else None
        old = known.get(item.key)
        if old is None:
            db.add(_row(patient, item, kb.messages[item.template].category, session_id, now))
            added += 1
        elif old.status == "withdrawn":
            old.status, old.attempts, old.due, old.next_attempt_at = "pending", 0, item.due, item.due
            old.last_error, old.updated_at = None, now
            added += 1
        elif old.status == "pending" and old.due != item.due:
            # the same message at another instant: the clinic's time zone or the patient's quiet
            # hours changed (a retry keeps its backoff if that ends later)
            old.due = item.due
            old.next_attempt_at = item.due if old.attempts == 0 else max(old.next_attempt_at, item.due)
            old.updated_at = now
    return added


def refresh(db: Session, kb: KnowledgeBase, patient_id: int, now: datetime) -> tuple[int, int]:
    """Bring the patient's waiting plan messages in line with the plan as it now stands, inside
    the caller's unit of work. Returns (added, withdrawn); booking-change messages are left as
    they are (each tells of a change that happened)."""
    patient = db.get(Patient, patient_id)
    if patient is None:
        return 0, 0
    items, sessions = expected(db, kb, patient, now)
    plan_templates = [t for t, m in kb.messages.items() if m.anchor != "event"]
    waiting_q = (
        select(Message)
        .where(Message.patient_id == patient_id, Message.status.in_(WAITING), Message.template.in_(plan_templates))
        .with_for_update()
    )
    keys = {i.key for i in items}
    withdrawn = 0
    for m in db.scalars(waiting_q):
        if m.key not in keys:
            m.status, m.lease_owner, m.lease_until, m.updated_at = "withdrawn", None, None, now
            withdrawn += 1
    added = _store(db, kb, patient, items, sessions, now)
    db.flush()
    return added, withdrawn


def refresh_clinic(db: Session, kb: KnowledgeBase, clinic_id: int, now: datetime) -> tuple[int, int]:
    """`refresh` for every patient of a clinic with an approved plan or a waiting message: its
    name, time zone or address changed, and with them what and when every message says. One
    transaction, as the change it follows (a rare act of the clinic's admin)."""
    with_plans = select(Plan.patient_id).where(Plan.clinic_id == clinic_id, Plan.status == "approved")
    waiting = select(Message.patient_id).where(Message.clinic_id == clinic_id, Message.status.in_(WAITING))
    added = withdrawn = 0
    for pid in sorted(set(db.scalars(with_plans)) | set(db.scalars(waiting))):
        a, w = refresh(db, kb, pid, now)
        added, withdrawn = added + a, withdrawn + w
    return added, withdrawn


def announce(
    db: Session,
    kb: KnowledgeBase,
    session: CourseSession,
    template: str,
    now: datetime,
    *,
    start: datetime | None = None,
    ref: str = "",
) -> int:
    """A booking change told to the patient (`booked`, `moved`, `cancelled`), in the caller's
    unit of work; the session row gives the treatment, and the day and time unless `start` (the
    booking's own start: a cancelled booking's, whose session may already be re-dated) is given.
    `ref` names the booking, so booking the same slot again after a cancellation is told."""
    patient = db.get(Patient, session.patient_id)
    clinic = db.get(Clinic, session.clinic_id)
    if patient is None or clinic is None or patient.archived:
        return 0
    if start is not None:
        local = start.astimezone(ZoneInfo(clinic.timezone))
        day, at = local.date(), local.time().replace(tzinfo=None)
    else:
        day, at = session.date, session_times(db, clinic, [session])[(session.treatment, session.number)]
    treatment = kb.treatments.get(session.treatment)
    items = event_messages(
        kb.messages[template],
        **_addressed(db, patient, clinic, now),
        treatment_name=treatment.plain_name if treatment else session.treatment,
        treatment=session.treatment,
        session=session.number,
        day=day,
        at=at,
        ref=ref,
    )
    added = _store(db, kb, patient, list(items), {(session.treatment, session.number): session.id}, now)
    db.flush()
    return added


def withdraw_kind(db: Session, patient_id: int, category: str, now: datetime) -> int:
    """An opt-out honoured at once: every waiting message of that kind is withdrawn."""
    n = 0
    q = select(Message).where(
        Message.patient_id == patient_id, Message.status.in_(WAITING), Message.category == category
    )
    for m in db.scalars(q.with_for_update()):
        m.status, m.lease_owner, m.lease_until, m.updated_at = "withdrawn", None, None, now
        n += 1
    return n


def _on_booking(ctx: Context, change: booking_events.BookingChange) -> None:
    """A booking was made, moved or cancelled: the patient's messages follow its time (the
    day-before reminder says the booked hour) and the change itself is told, in the booking's
    own unit of work."""
    ctx.db.flush()
    refresh(ctx.db, ctx.kb, change.patient_id, ctx.now)
    session = ctx.db.get(CourseSession, change.session_id)
    if session is not None:
        # a cancelled booking is told with its own day and time (the re-flow may have re-dated
        # its session already); a new or moved one with the session's booked time
        start = change.start if change.kind == "cancelled" else None
        ref = f"appointment {change.appointment_id}"
        announce(ctx.db, ctx.kb, session, change.kind, ctx.now, start=start, ref=ref)


booking_events.subscribe(_on_booking)
