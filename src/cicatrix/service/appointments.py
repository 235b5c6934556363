"""Appointments: a course session at a time, with a practitioner and a room.

The front desk's daily work (book, re-book, cancel, arrival, no-show) and the clinic's calendar.
Nothing here is clinical: a booking reads the session's treatment (for its duration, from the
knowledge data) and the protocol's window (`engine.booking`), never the patient's record.

**No double booking, by the database.** On PostgreSQL two exclusion constraints (migration 0007)
refuse an active appointment overlapping another of the same practitioner or room; on SQLite
every unit of work is one `BEGIN IMMEDIATE` transaction, so the overlap check below runs with no
other writer between it and the insert. Either way a booking that lost the race is answered 409
with the next free slots (`next_slots`).

**Change events** (booked, moved, cancelled) go to the listeners of `booking_events.subscribe`,
inside the booking's unit of work; a preview (`dry_run`) announces nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cicatrix.engine.booking import Window, booking_window
from cicatrix.engine.slots import Booking, ClinicCalendar, Slot, free_slots
from cicatrix.service import audit, clinic_calendar, plans
from cicatrix.service.booking_events import BookingChange, active_for_session, emit, set_status
from cicatrix.service.booking_schemas import (
    AppointmentOut,
    BookIn,
    BookingOut,
    CalendarDayOut,
    CancelIn,
    ClinicDayOut,
    PractitionerOut,
    RoomIn,
    RoomOut,
    SessionMove,
    SessionPlace,
    SlotOut,
    SlotsOut,
    StatusIn,
    WindowOut,
)
from cicatrix.service.clock import zone_of
from cicatrix.service.context import Context
from cicatrix.service.errors import Conflict, Invalid, NotFound
from cicatrix.service.policy import allowed, require, require_patient_access, visible
from cicatrix.storage.models import (
    APPOINTMENT_ACTIVE,
    NO_DOUBLE_PRACTITIONER,
    NO_DOUBLE_ROOM,
    ONE_APPOINTMENT_PER_SESSION,
    Appointment,
    Clinic,
    CourseSession,
    Patient,
    Plan,
    Room,
    User,
)

# An appointment ends on the day it starts (`_check_hours`), so one that overlaps a time began
# less than a day before it: the lower bound lets the index on start find it without a scan.
LONGEST = timedelta(days=1)
NEXT_SLOTS = 5  # how many free slots a lost race or a taken slot is answered with
MAX_DAYS = 31  # the widest calendar view and slot search, in days

# ---------- reading ----------


def _zone(ctx: Context) -> ZoneInfo:
    return zone_of(clinic_calendar.timezone(ctx))


def _label(ctx: Context, treatment: str) -> str:
    t = ctx.kb.treatments.get(treatment)
    return t.plain_name if t is not None else treatment


def _local_day(a: Appointment, zone: ZoneInfo) -> date:
    return a.start.astimezone(zone).date()


def out(ctx: Context, a: Appointment) -> AppointmentOut:
    zone = _zone(ctx)
    s = ctx.db.get(CourseSession, a.session_id)
    patient = ctx.db.get(Patient, a.patient_id)
    practitioner = ctx.db.get(User, a.practitioner_id)
    room = ctx.db.get(Room, a.room_id)
    assert s is not None and patient is not None and practitioner is not None and room is not None
    undo_until = None
    if a.status in ("arrived", "no_show") and a.status_at is not None:
        day = a.status_at.astimezone(zone).date()
        undo_until = day if day >= ctx.today else None
    return AppointmentOut(
        id=a.id,
        session_id=a.session_id,
        patient_id=a.patient_id,
        patient_name=patient.name,
        treatment=s.treatment,
        treatment_label=_label(ctx, s.treatment),
        number=s.number,
        start=a.start.astimezone(zone),
        end=a.end.astimezone(zone),
        practitioner_id=a.practitioner_id,
        practitioner=practitioner.display_name,
        room_id=a.room_id,
        room=room.name,
        status=a.status,  # type: ignore[arg-type]
        # the staff's own words (why outside the window, why cancelled): not the patient's to read
        override_reason=visible(ctx.actor, "appointment.reasons", a.override_reason),
        cancel_reason=visible(ctx.actor, "appointment.reasons", a.cancel_reason),
        arrived_at=a.arrived_at.astimezone(zone) if a.arrived_at else None,
        undo_until=undo_until,
        version=a.version,
    )


def places(db: Session, session_ids: Iterable[int]) -> dict[int, SessionPlace]:
    """Session id → when and where it is booked (aware start in the clinic's zone, practitioner,
    room), for the sessions that have an active appointment. The ICS export and the message
    outbox read appointment times through this one function; it checks no role (callers have)."""
    ids = list(session_ids)
    if not ids:
        return {}
    rows = db.execute(
        select(Appointment, User.display_name, Room.name, Clinic.timezone)
        .join(User, User.id == Appointment.practitioner_id)
        .join(Room, Room.id == Appointment.room_id)
        .join(Clinic, Clinic.id == Appointment.clinic_id)
        .where(Appointment.session_id.in_(ids), Appointment.status.in_(APPOINTMENT_ACTIVE))
    ).all()
    result = {}
    for a, practitioner, room, tz in rows:
        zone = zone_of(tz)
        result[a.session_id] = SessionPlace(
            session_id=a.session_id,
            appointment_id=a.id,
            start=a.start.astimezone(zone),
            end=a.end.astimezone(zone),
            timezone=tz,
            practitioner=practitioner,
            room=room,
        )
    return result


# ---------- rooms and practitioners ----------


def _room_out(r: Room) -> RoomOut:
    return RoomOut(id=r.id, name=r.name, active=r.active)


def rooms(ctx: Context) -> list[RoomOut]:
    """The clinic's rooms and devices: for booking, and for the admin who manages them."""
    if not allowed(ctx.actor, "clinic.manage"):
        require(ctx.actor, "appointment.read")
    rows = ctx.db.scalars(select(Room).where(Room.clinic_id == ctx.actor.clinic_id).order_by(Room.name))
    return [_room_out(r) for r in rows]


def add_room(ctx: Context, body: RoomIn) -> RoomOut:
    require(ctx.actor, "clinic.manage")
    _unique_room_name(ctx, body.name, None)
    r = Room(clinic_id=ctx.actor.clinic_id, name=body.name, active=body.active)
    ctx.db.add(r)
    ctx.db.flush()
    audit.record(ctx, "create", "room", r.id)
    return _room_out(r)


def update_room(ctx: Context, room_id: int, body: RoomIn) -> RoomOut:
    require(ctx.actor, "clinic.manage")
    r = ctx.db.get(Room, room_id)
    if r is None or r.clinic_id != ctx.actor.clinic_id:
        raise NotFound("room_id", "no such room")
    _unique_room_name(ctx, body.name, r.id)
    r.name, r.active = body.name, body.active
    audit.record(ctx, "update", "room", r.id)
    return _room_out(r)


def _unique_room_name(ctx: Context, name: str, own: int | None) -> None:
    other = ctx.db.scalar(select(Room.id).where(Room.clinic_id == ctx.actor.clinic_id, Room.name == name))
    if other is not None and other != own:
        raise Conflict("name", f"there is already a room called {name!r}")


def practitioners(ctx: Context) -> list[PractitionerOut]:
    """The clinic's active clinicians: who can be booked for a session."""
    require(ctx.actor, "appointment.read")
    rows = ctx.db.scalars(
        select(User)
        .where(User.clinic_id == ctx.actor.clinic_id, User.role == "clinician", User.active.is_(True))
        .order_by(User.display_name, User.id)
    )
    return [PractitionerOut(id=u.id, name=u.display_name) for u in rows]


def _practitioner(ctx: Context, user_id: int) -> User:
    u = ctx.db.get(User, user_id)
    if u is None or u.clinic_id != ctx.actor.clinic_id or u.role != "clinician" or not u.active:
        raise Invalid("practitioner_id", "no such practitioner: choose an active clinician of this clinic")
    return u


def _room(ctx: Context, room_id: int) -> Room:
    r = ctx.db.get(Room, room_id)
    if r is None or r.clinic_id != ctx.actor.clinic_id or not r.active:
        raise Invalid("room_id", "no such room: choose an active room of this clinic")
    return r


# ---------- the session and its window ----------


def _booking_session(ctx: Context, session_id: int) -> tuple[CourseSession, Plan]:
    s = plans.load_session(ctx, session_id, "appointment.book")
    p = ctx.db.get(Plan, s.plan_id)
    assert p is not None
    if p.status != "approved":
        raise Conflict("status", "only the sessions of an approved plan are booked; the plan is not approved")
    if s.status != "planned":
        raise Conflict("status", f"this session is already {s.status}")
    return s, p


def _duration(ctx: Context, treatment: str) -> timedelta:
    t = ctx.kb.treatments.get(treatment)
    if t is None or t.protocol.duration is None:
        raise Invalid(
            "session_id",
            f"the knowledge data gives no appointment length for {treatment}: add protocol.duration.minutes",
        )
    return timedelta(minutes=t.protocol.duration.minutes)


def window(ctx: Context, s: CourseSession) -> Window:
    """The days this session may be booked on: from the protocol's intervals and the day the
    same treatment's session before it is given or planned (`engine.booking.booking_window`)."""
    previous = None
    if s.number > 1:
        previous = ctx.db.scalar(
            select(CourseSession.date)
            .where(
                CourseSession.plan_id == s.plan_id,
                CourseSession.treatment == s.treatment,
                CourseSession.number == s.number - 1,
                CourseSession.status.in_(("planned", "done")),
            )
            .order_by(CourseSession.id.desc())
            .limit(1)
        )
    treatment = ctx.kb.treatments.get(s.treatment)
    if treatment is None:
        return Window(earliest=max(s.date, ctx.today), latest=max(s.date, ctx.today))
    return booking_window(treatment, s.date, previous, ctx.today)


# ---------- free slots ----------


def _to_utc_range(zone: ZoneInfo, first: date, last: date) -> tuple[datetime, datetime]:
    lo = datetime.combine(first, datetime.min.time(), tzinfo=zone)
    hi = datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=zone)
    return lo, hi


def _busy(
    ctx: Context, zone: ZoneInfo, first: date, last: date, ignore: int | None
) -> tuple[dict[int, list[Booking]], dict[int, list[Booking]]]:
    """The active appointments from `first` to `last`, as local wall-clock bookings per
    practitioner and per room (the engine's slot search works in the clinic's wall time)."""
    lo, hi = _to_utc_range(zone, first, last)
    rows = ctx.db.execute(
        select(
            Appointment.id, Appointment.practitioner_id, Appointment.room_id, Appointment.start, Appointment.end
        ).where(
            Appointment.clinic_id == ctx.actor.clinic_id,
            Appointment.status.in_(APPOINTMENT_ACTIVE),
            Appointment.start < hi,
            Appointment.start > lo - LONGEST,
            Appointment.end > lo,
        )
    ).all()
    by_p: dict[int, list[Booking]] = {}
    by_r: dict[int, list[Booking]] = {}
    for aid, pid, rid, start, end in rows:
        if aid == ignore:
            continue
        b = Booking(start=start.astimezone(zone).replace(tzinfo=None), end=end.astimezone(zone).replace(tzinfo=None))
        by_p.setdefault(pid, []).append(b)
        by_r.setdefault(rid, []).append(b)
    return by_p, by_r


CHUNK_DAYS = 3  # the search reads the bookings of a few days at a time and stops when it has enough


def _search(
    ctx: Context,
    calendar: ClinicCalendar,
    duration: timedelta,
    first: date,
    last: date,
    practitioner_names: dict[int, str],
    room_names: dict[int, str],
    ignore: int | None,
    limit: int,
) -> list[SlotOut]:
    """The first `limit` free slots from `first` to `last`. Appointments end on the day they
    start, so the days can be searched a few at a time: the first days usually hold enough
    slots, and the later days' bookings are then never read."""
    zone = _zone(ctx)
    key_p = {f"{pid:020d}": pid for pid in practitioner_names}
    key_r = {f"{rid:020d}": rid for rid in room_names}
    not_before = ctx.now.astimezone(zone).replace(tzinfo=None)
    found: list[Slot] = []
    lo = first
    while lo <= last and len(found) < limit:
        hi = min(lo + timedelta(days=CHUNK_DAYS - 1), last)
        if any(calendar.is_open(lo + timedelta(days=k)) for k in range((hi - lo).days + 1)):
            by_p, by_r = _busy(ctx, zone, lo, hi, ignore)
            found += free_slots(
                calendar,
                {k: by_p.get(pid, []) for k, pid in key_p.items()},
                {k: by_r.get(rid, []) for k, rid in key_r.items()},
                duration,
                lo,
                hi,
                not_before=not_before,
                limit=limit - len(found),
            )
        lo = hi + timedelta(days=1)
    return [
        SlotOut(
            start=sl.start.replace(tzinfo=zone),
            end=sl.end.replace(tzinfo=zone),
            practitioner_id=key_p[sl.practitioner],
            practitioner=practitioner_names[key_p[sl.practitioner]],
            room_id=key_r[sl.room],
            room=room_names[key_r[sl.room]],
        )
        for sl in found
    ]


def _resources(ctx: Context, practitioner_id: int | None, room_id: int | None) -> tuple[dict[int, str], dict[int, str]]:
    """The practitioners and rooms to search, by id with their names (one of each if chosen)."""
    if practitioner_id is not None:
        u = _practitioner(ctx, practitioner_id)
        pids = {u.id: u.display_name}
    else:
        pids = {p.id: p.name for p in practitioners(ctx)}
    if room_id is not None:
        r = _room(ctx, room_id)
        rids = {r.id: r.name}
    else:
        q = select(Room.id, Room.name).where(Room.clinic_id == ctx.actor.clinic_id, Room.active.is_(True))
        rids = {rid: name for rid, name in ctx.db.execute(q.order_by(Room.name))}
    return pids, rids


def slots(
    ctx: Context,
    session_id: int,
    first: date | None = None,
    last: date | None = None,
    practitioner_id: int | None = None,
    room_id: int | None = None,
    limit: int = 20,
) -> SlotsOut:
    """Free slots for a session: inside its window unless other days are asked for."""
    s, _p = _booking_session(ctx, session_id)
    if not 1 <= limit <= 200:
        raise Invalid("limit", "must be between 1 and 200", value=limit)
    w = window(ctx, s)
    first = max(first or w.earliest, ctx.today)
    last = last or w.latest
    if last < first:
        raise Invalid("last", f"must be on or after {first.isoformat()}")
    if (last - first).days >= MAX_DAYS * 3:
        raise Invalid("last", f"search at most {MAX_DAYS * 3} days at once")
    duration = _duration(ctx, s.treatment)
    pids, rids = _resources(ctx, practitioner_id, room_id)
    current = active_for_session(ctx.db, s.id)
    found = _search(
        ctx,
        clinic_calendar.calendar_for(ctx),
        duration,
        first,
        last,
        pids,
        rids,
        current.id if current else None,
        limit,
    )
    audit.record(ctx, "read", "slots", s.id, patient_id=s.patient_id)
    return SlotsOut(
        session_id=s.id,
        treatment=s.treatment,
        treatment_label=_label(ctx, s.treatment),
        number=s.number,
        planned=s.date,
        window=WindowOut(earliest=w.earliest, latest=w.latest),
        duration_minutes=int(duration.total_seconds() // 60),
        first_day=first,
        last_day=last,
        slots=found,
    )


# ---------- booking ----------


def _check_hours(calendar: ClinicCalendar, start: datetime, end: datetime) -> None:
    """The appointment lies inside one opening period of its day (local wall-clock times)."""
    day = start.date()
    if end.date() != day:
        raise Invalid("start", "an appointment must end on the day it starts")
    periods = calendar.periods(day)
    if not periods:
        raise Invalid("start", f"the clinic is closed on {day.isoformat()}")
    if not any(opens <= start.time() and end.time() <= closes for opens, closes in periods):
        hours = ", ".join(f"{o:%H:%M}-{c:%H:%M}" for o, c in periods)
        raise Invalid("start", f"{start:%H:%M}-{end:%H:%M} is outside the opening hours of that day ({hours})")


def _taken(ctx: Context, a: Appointment, ignore: int | None) -> bool:
    """Whether another active appointment overlaps `a`'s practitioner or room. On SQLite this
    runs in the booking's `BEGIN IMMEDIATE` transaction, so no booking can slip in before the
    insert; on PostgreSQL the exclusion constraints decide and this only answers early."""
    q = select(Appointment.id).where(
        Appointment.status.in_(APPOINTMENT_ACTIVE),
        or_(Appointment.practitioner_id == a.practitioner_id, Appointment.room_id == a.room_id),
        Appointment.start < a.end,
        Appointment.start > a.start - LONGEST,
        Appointment.end > a.start,
    )
    if ignore is not None:
        q = q.where(Appointment.id != ignore)
    return ctx.db.scalar(q.limit(1)) is not None


def _lost(ctx: Context, s: CourseSession, a: Appointment, ignore: int | None, w: Window) -> Conflict:
    """The 409 for a slot someone else holds, with the next free slots for the same session."""
    zone = _zone(ctx)
    day = a.start.astimezone(zone).date()
    first = max(ctx.today, day)
    calendar = clinic_calendar.calendar_for(ctx)
    pids, rids = _resources(ctx, a.practitioner_id, a.room_id)
    last = max(w.latest, first + timedelta(days=14))
    nxt = _search(ctx, calendar, a.end - a.start, first, last, pids, rids, ignore, NEXT_SLOTS)
    if not nxt:
        pids, rids = _resources(ctx, None, None)
        nxt = _search(ctx, calendar, a.end - a.start, first, last, pids, rids, ignore, NEXT_SLOTS)
    return Conflict(
        "start",
        "this time is already booked for the practitioner or the room; choose one of the next free slots",
        next_slots=[sl.model_dump(mode="json") for sl in nxt],
    )


_GUARDS = (NO_DOUBLE_PRACTITIONER, NO_DOUBLE_ROOM, ONE_APPOINTMENT_PER_SESSION, "appointment.session_id")


def _insert(ctx: Context, s: CourseSession, a: Appointment, ignore: int | None, w: Window) -> None:
    """Insert in a savepoint: when the database refuses it (a concurrent booking committed the
    same practitioner's or room's time first), answer 409 with the next free slots."""
    savepoint = ctx.db.begin_nested()
    try:
        ctx.db.add(a)
        ctx.db.flush()
    except IntegrityError as exc:
        savepoint.rollback()
        said = f"{getattr(getattr(exc.orig, 'diag', None), 'constraint_name', '')} {exc.orig}"
        if not any(g in said for g in _GUARDS):
            raise
        if ONE_APPOINTMENT_PER_SESSION in said or "appointment.session_id" in said:
            raise Conflict("session_id", "this session was booked at the same moment; reload it") from None
        raise _lost(ctx, s, a, ignore, w) from None
    savepoint.commit()


def book(ctx: Context, session_id: int, body: BookIn) -> BookingOut:
    """Book a session, or re-book it (its current appointment is replaced).

    The slot must be in the clinic's opening hours, not in the past, and free for both the
    practitioner and the room. A day outside the session's window needs `override_reason`
    (stored and audited). A day other than the session's planned one re-flows the later
    sessions by the same number of days (their appointments are cancelled to be booked again);
    `dry_run` shows all of that and saves nothing."""
    s, p = _booking_session(ctx, session_id)
    plans._stale_session(s, body.session_version)
    practitioner = _practitioner(ctx, body.practitioner_id)
    room = _room(ctx, body.room_id)
    zone = _zone(ctx)
    duration = _duration(ctx, s.treatment)
    start = body.start.astimezone(zone)
    end = start + duration
    if start < ctx.now:
        raise Invalid("start", f"{start.isoformat()} is in the past")
    calendar = clinic_calendar.calendar_for(ctx)
    _check_hours(calendar, start.replace(tzinfo=None), end.replace(tzinfo=None))
    day = start.date()
    w = window(ctx, s)
    outside = not w.holds(day)
    if outside and not body.override_reason:
        raise Invalid(
            "override_reason",
            f"{day.isoformat()} is outside this session's window ({w.earliest.isoformat()} to "
            f"{w.latest.isoformat()}); booking it needs a reason",
        )
    if day < w.earliest and not allowed(ctx.actor, "plan.approve"):
        # sooner than the protocol's minimum interval after the session before: the skin may not
        # have healed, a clinical decision (the clinician's override, with its reason, is audited)
        raise Invalid(
            "start",
            f"{day.isoformat()} is before {w.earliest.isoformat()}, the earliest this session may be given "
            "after the one before it; only a clinician can book it sooner",
        )
    old = active_for_session(ctx.db, s.id)
    old_start = old.start if old is not None else None
    now = ctx.now
    preview = ctx.db.begin_nested() if body.dry_run else None
    a = Appointment(
        clinic_id=s.clinic_id,
        patient_id=s.patient_id,
        session_id=s.id,
        practitioner_id=practitioner.id,
        room_id=room.id,
        start=start.astimezone(ZoneInfo("UTC")),
        end=end.astimezone(ZoneInfo("UTC")),
        status="booked",
        override_reason=body.override_reason if outside else None,
        booked_by=ctx.actor.user_id,
        booked_at=now,
        version=1,
    )
    if _taken(ctx, a, old.id if old is not None else None):
        raise _lost(ctx, s, a, old.id if old is not None else None, w)
    if old is not None:
        set_status(ctx, old, "cancelled", now)
        old.cancel_reason = "re-booked"
        ctx.db.flush()
    moved: list[SessionMove] = []
    unbooked: list[Appointment] = []
    if day != s.date:
        moved, unbooked = _redate(ctx, p, s, day)
    _insert(ctx, s, a, old.id if old is not None else None, w)
    result = BookingOut(
        appointment=out(ctx, a),
        moved=moved,
        unbooked=[u.id for u in unbooked],
        outside_window=outside,
        preview=body.dry_run,
    )
    if preview is not None:
        preview.rollback()
        audit.record(ctx, "preview", "appointment", None, patient_id=s.patient_id)
        return result
    audit.record(ctx, "rebook" if old is not None else "book", "appointment", a.id, patient_id=s.patient_id)
    if outside:
        audit.record(ctx, "override", "appointment", a.id, patient_id=s.patient_id, detail="outside window")
    if old is not None and old_start is not None:
        emit(ctx, BookingChange("moved", a.clinic_id, a.patient_id, s.id, a.id, a.start, old_start))
    else:
        emit(ctx, BookingChange("booked", a.clinic_id, a.patient_id, s.id, a.id, a.start))
    for u in unbooked:
        emit(ctx, BookingChange("cancelled", u.clinic_id, u.patient_id, u.session_id, u.id, u.start))
    return result


def _redate(ctx: Context, p: Plan, s: CourseSession, day: date) -> tuple[list[SessionMove], list[Appointment]]:
    """Move the session to `day` and re-flow the later ones (`plans.reflowed`), returning what
    moved and the appointments that were cancelled with them."""
    before = {
        r.id: (r.treatment, r.number, r.date)
        for r in ctx.db.scalars(
            select(CourseSession).where(CourseSession.plan_id == p.id, CourseSession.status == "planned")
        )
    }
    plan = plans.reflowed(ctx, p, s, day, earlier=True)
    active_before = {
        a.id
        for a in ctx.db.scalars(
            select(Appointment).where(Appointment.session_id.in_(before), Appointment.status.in_(APPOINTMENT_ACTIVE))
        )
    }
    plans.apply_reflow(ctx, p, plan, s, day, f"re-booked {s.treatment} session {s.number}", p.version, tell=False)
    ctx.db.flush()
    moved = []
    for r in ctx.db.scalars(select(CourseSession).where(CourseSession.id.in_(before))):
        treatment, number, was = before[r.id]
        if r.status == "planned" and r.date != was and r.id != s.id:
            moved.append(SessionMove(session_id=r.id, treatment=treatment, treatment_label=_label(ctx, treatment),
                                     number=number, from_date=was, to_date=r.date))  # fmt: skip
    unbooked = list(
        ctx.db.scalars(select(Appointment).where(Appointment.id.in_(active_before), Appointment.status == "cancelled"))
    )
    moved.sort(key=lambda m: (m.to_date, m.treatment, m.number))
    return moved, unbooked


# ---------- the front desk's day ----------


def _appointment(ctx: Context, appointment_id: int, permission: str) -> Appointment:
    """An appointment of the actor's clinic the actor may reach (404 otherwise)."""
    a = ctx.db.get(Appointment, appointment_id)
    if a is None or a.clinic_id != ctx.actor.clinic_id:
        raise NotFound("appointment_id", "no such appointment")
    try:
        require_patient_access(ctx.actor, permission, a.patient_id)
    except NotFound:
        raise NotFound("appointment_id", "no such appointment") from None
    return a


def _load(ctx: Context, appointment_id: int, version: int | None) -> Appointment:
    a = _appointment(ctx, appointment_id, "appointment.book")
    if version is not None and a.version != version:
        raise Conflict(
            "version",
            "the appointment changed since you read it; reload it and try again",
            current_version=a.version,
        )
    return a


def _need(a: Appointment, *statuses: str) -> None:
    if a.status not in statuses:
        raise Conflict("status", f"this appointment is {a.status.replace('_', ' ')}")


def cancel(ctx: Context, appointment_id: int, body: CancelIn) -> AppointmentOut:
    a = _load(ctx, appointment_id, body.version)
    _need(a, "booked")
    set_status(ctx, a, "cancelled", ctx.now)
    a.cancel_reason = body.reason
    audit.record(ctx, "cancel", "appointment", a.id, patient_id=a.patient_id)
    ctx.db.flush()
    emit(ctx, BookingChange("cancelled", a.clinic_id, a.patient_id, a.session_id, a.id, a.start))
    return out(ctx, a)


def arrive(ctx: Context, appointment_id: int, body: StatusIn) -> AppointmentOut:
    """The patient is here: only on the appointment's day (the clinic's today)."""
    a = _load(ctx, appointment_id, body.version)
    _need(a, "booked")
    if _local_day(a, _zone(ctx)) != ctx.today:
        raise Conflict(
            "status", f"arrival is recorded on the appointment's day ({_local_day(a, _zone(ctx)).isoformat()})"
        )
    now = ctx.now
    set_status(ctx, a, "arrived", now)
    a.arrived_at = now
    audit.record(ctx, "arrive", "appointment", a.id, patient_id=a.patient_id)
    ctx.db.flush()
    return out(ctx, a)


def no_show(ctx: Context, appointment_id: int, body: StatusIn) -> AppointmentOut:
    """The patient did not come: only once the appointment's time has come. The session stays
    to be given; re-booking it re-flows the course inside its window."""
    a = _load(ctx, appointment_id, body.version)
    _need(a, "booked")
    if ctx.now < a.start:
        raise Conflict("status", "a no-show is recorded once the appointment's time has come")
    set_status(ctx, a, "no_show", ctx.now)
    audit.record(ctx, "no_show", "appointment", a.id, patient_id=a.patient_id)
    ctx.db.flush()
    return out(ctx, a)


def undo(ctx: Context, appointment_id: int, body: StatusIn) -> AppointmentOut:
    """Undo an arrival or a no-show recorded today (the clinic's day), audited."""
    a = _load(ctx, appointment_id, body.version)
    _need(a, "arrived", "no_show")
    zone = _zone(ctx)
    if a.status_at is None or a.status_at.astimezone(zone).date() != ctx.today:
        raise Conflict("status", "only a change recorded today can be undone")
    undone = a.status
    a.status = a.previous_status or "booked"
    a.previous_status = None
    a.status_by = ctx.actor.user_id
    a.status_at = ctx.now
    if undone == "arrived":
        a.arrived_at = None
    audit.record(ctx, "undo", "appointment", a.id, patient_id=a.patient_id, detail=undone)
    ctx.db.flush()
    return out(ctx, a)


def get(ctx: Context, appointment_id: int) -> AppointmentOut:
    a = _appointment(ctx, appointment_id, "schedule.read")
    audit.record(ctx, "read", "appointment", a.id, patient_id=a.patient_id)
    return out(ctx, a)


def for_patient(ctx: Context, patient_id: int) -> list[AppointmentOut]:
    """A patient's appointments, newest last (the patient's own pages, the front desk)."""
    require_patient_access(ctx.actor, "schedule.read", patient_id)
    pt = ctx.db.get(Patient, patient_id)
    if pt is None or pt.clinic_id != ctx.actor.clinic_id:
        raise NotFound("patient_id", "no such patient")
    rows = list(
        ctx.db.scalars(select(Appointment).where(Appointment.patient_id == patient_id).order_by(Appointment.start))
    )
    audit.record(ctx, "list", "appointment", None, patient_id=patient_id, detail=f"results={len(rows)}")
    return [out(ctx, a) for a in rows]


def clinic_days(
    ctx: Context, first: date | None = None, days: int = 1, by: Literal["practitioner", "room"] = "practitioner"
) -> ClinicDayOut:
    """The clinic's appointments over `days` days from `first` (default today), with each day's
    opening hours, as columns per practitioner or per room (the day and week calendars)."""
    require(ctx.actor, "appointment.read")
    first = first or ctx.today
    if not 1 <= days <= MAX_DAYS:
        raise Invalid("days", f"must be between 1 and {MAX_DAYS}", value=days)
    last = first + timedelta(days=days - 1)
    zone = _zone(ctx)
    lo, hi = _to_utc_range(zone, first, last)
    rows = list(
        ctx.db.scalars(
            select(Appointment)
            .where(
                Appointment.clinic_id == ctx.actor.clinic_id,
                Appointment.start < hi,
                Appointment.start > lo - LONGEST,
                Appointment.end > lo,
                Appointment.status != "cancelled",
            )
            .order_by(Appointment.start, Appointment.id)
        )
    )
    calendar = clinic_calendar.calendar_for(ctx)
    day_list = []
    for k in range(days):
        d = first + timedelta(days=k)
        periods = list(calendar.periods(d))
        why = None if periods else clinic_calendar.closed_reason(ctx, d)
        day_list.append(CalendarDayOut(date=d, open=bool(periods), periods=periods, closed_reason=why))
    if by == "practitioner":
        columns = practitioners(ctx)
    else:
        columns = [PractitionerOut(id=r.id, name=r.name) for r in rooms(ctx) if r.active]
    for pid in sorted({a.patient_id for a in rows}):
        audit.record(ctx, "read", "appointment", None, patient_id=pid, detail="calendar")
    return ClinicDayOut(
        first=first, last=last, by=by, days=day_list, columns=columns, appointments=[out(ctx, a) for a in rows]
    )
