"""Appointments through the service, on both back ends: windows, free slots, no double booking,
re-booking with a re-flow, arrival, no-show, undo, cancellation, and the change events."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from cicatrix.service import appointments, booking_events, clinic_calendar, plans
from cicatrix.service.booking_schemas import (
    BookIn,
    CancelIn,
    ClinicCalendarIn,
    Closure,
    OpeningPeriod,
    RoomIn,
    SessionUndoIn,
    StatusIn,
)
from cicatrix.service.errors import Conflict, Forbidden, Invalid
from cicatrix.service.schemas import AssessmentIn, SessionDoneIn
from cicatrix.storage.models import AuditEvent, CourseSession
from tests.storage.world import ASSESSMENT
from tests.today import NOW, TODAY

LONDON = ZoneInfo("Europe/London")


def _rooms(world: Any) -> list[int]:
    with world.database.transaction() as db:
        ctx = world.ctx("admin", db)
        return [appointments.add_room(ctx, RoomIn(name=n)).id for n in ("Room 1", "Laser room")]


def _sessions(world: Any, patient: str = "P1") -> list[CourseSession]:
    with world.database.transaction() as db:
        rows = db.scalars(
            select(CourseSession)
            .where(CourseSession.plan_id == world.plans[patient], CourseSession.status == "planned")
            .order_by(CourseSession.number)
        )
        return list(rows)


def _book(world: Any, session_id: int, start: datetime, room: int, who: str = "front_desk", **kw: Any) -> Any:
    with world.database.transaction() as db:
        body = BookIn(start=start, practitioner_id=world.users["clinician"], room_id=room, **kw)
        return appointments.book(world.ctx(who, db), session_id, body)


@pytest.fixture
def rooms(world: Any) -> list[int]:
    return _rooms(world)


def test_slots_lie_in_the_window_and_opening_hours_and_not_in_the_past(world: Any, rooms: list[int]) -> None:
    first = _sessions(world)[0]
    with world.database.transaction() as db:
        found = appointments.slots(world.ctx("front_desk", db), first.id, limit=50)
    assert found.window.earliest == TODAY == first.date
    assert found.window.latest == TODAY + timedelta(days=14)  # micro-needling: 42-56 days, 14 of slack
    assert found.duration_minutes == 60
    assert found.slots, "an empty clinic has free slots"
    for sl in found.slots:
        assert sl.start.tzinfo is not None and sl.start >= NOW
        local = sl.start.astimezone(LONDON)
        assert local.weekday() < 5 and time(9) <= local.time() and sl.end.astimezone(LONDON).time() <= time(17)
        assert found.window.earliest <= local.date() <= found.window.latest


def test_one_slot_is_booked_once_and_the_loser_gets_the_next_free_ones(world: Any, rooms: list[int]) -> None:
    p1, p2 = _sessions(world, "P1")[0], _sessions(world, "P2")[0]
    start = datetime(2026, 11, 24, 10, 0, tzinfo=LONDON)
    made = _book(world, p1.id, start, rooms[0])
    assert made.appointment.status == "booked" and made.appointment.start == start
    assert made.appointment.end - made.appointment.start == timedelta(minutes=60)
    with pytest.raises(Conflict) as lost:
        _book(world, p2.id, start + timedelta(minutes=30), rooms[0])
    nxt = lost.value.extra["next_slots"]
    assert nxt
    for sl in nxt:  # none overlaps the booked hour
        s_start, s_end = datetime.fromisoformat(sl["start"]), datetime.fromisoformat(sl["end"])
        assert s_end <= start or s_start >= start + timedelta(minutes=60)
    # the other room is free, but the practitioner is not
    with pytest.raises(Conflict):
        _book(world, p2.id, start, rooms[1])
    with world.database.transaction() as db:
        assert appointments.places(db, [p1.id, p2.id]).keys() == {p1.id}
        place = appointments.places(db, [p1.id])[p1.id]
    assert (place.start, place.room, place.timezone) == (start, "Room 1", "Europe/London")


def test_closed_days_hours_and_the_past_are_refused_naming_the_field(world: Any, rooms: list[int]) -> None:
    s = _sessions(world)[0]
    for start, says in (
        (datetime(2026, 11, 28, 10, tzinfo=LONDON), "closed"),  # a Saturday
        (datetime(2026, 11, 24, 16, 30, tzinfo=LONDON), "opening hours"),  # ends 17:30
        (datetime(2026, 11, 23, 9, tzinfo=LONDON), "past"),
    ):
        with pytest.raises(Invalid, match=says) as bad:
            _book(world, s.id, start, rooms[0])
        assert bad.value.field == "start"


def test_outside_the_window_needs_a_reason_which_is_audited(world: Any, rooms: list[int]) -> None:
    s = _sessions(world)[0]
    late = datetime(2026, 12, 14, 10, tzinfo=LONDON)  # the window ends on 7 December
    with pytest.raises(Invalid) as bad:
        _book(world, s.id, late, rooms[0])
    assert bad.value.field == "override_reason"
    made = _book(world, s.id, late, rooms[0], override_reason="patient travelling until the 12th")
    assert made.outside_window and made.appointment.override_reason == "patient travelling until the 12th"
    with world.database.transaction() as db:
        actions = {e.action for e in db.scalars(select(AuditEvent).where(AuditEvent.entity == "appointment"))}
    assert {"book", "override"} <= actions


def test_sooner_than_the_minimum_interval_is_a_clinicians_decision(world: Any, rooms: list[int]) -> None:
    """A session pulled before its window (sooner than the protocol's minimum interval after the
    one before it) is refused to front desk whatever the reason; a clinician may, with a reason."""
    one, two, _three = _sessions(world)
    soon = datetime.combine(one.date + timedelta(days=14), datetime.min.time(), LONDON).replace(hour=10)
    while soon.weekday() >= 5:
        soon += timedelta(days=1)
    with pytest.raises(Invalid) as bad:
        _book(world, two.id, soon, rooms[0], override_reason="patient asked")
    assert bad.value.field == "start" and "only a clinician" in bad.value.message
    assert [s.date for s in _sessions(world)][1] == two.date  # nothing moved
    made = _book(world, two.id, soon, rooms[0], who="clinician", override_reason="healed well, reviewed today")
    assert made.outside_window


def test_rebooking_to_another_day_previews_then_reflows_the_later_sessions(world: Any, rooms: list[int]) -> None:
    one, two, three = _sessions(world)
    booked3 = _book(world, three.id, datetime(2027, 2, 15, 11, tzinfo=LONDON), rooms[0])
    later = datetime(2027, 1, 11, 10, tzinfo=LONDON)  # session 2 a week later, inside 42-56 days of session 1
    preview = _book(world, two.id, later, rooms[0], dry_run=True)
    assert preview.preview
    assert [(m.session_id, m.from_date, m.to_date) for m in preview.moved] == [
        (three.id, date(2027, 2, 15), date(2027, 2, 22))
    ]
    assert preview.unbooked == [booked3.appointment.id]
    assert [s.date for s in _sessions(world)] == [one.date, two.date, three.date]  # nothing saved
    seen: list[booking_events.BookingChange] = []
    listen = lambda _ctx, change: seen.append(change)  # noqa: E731
    booking_events.subscribe(listen)
    try:
        done = _book(world, two.id, later, rooms[0])
    finally:
        booking_events.unsubscribe(listen)  # the outbox's own listener stays
    assert not done.preview
    assert [s.date for s in _sessions(world)] == [one.date, date(2027, 1, 11), date(2027, 2, 22)]
    assert [c.kind for c in seen] == ["booked", "cancelled"]
    assert seen[1].appointment_id == booked3.appointment.id
    with world.database.transaction() as db:
        plan = plans.get(world.ctx("clinician", db), world.plans["P1"])
    assert plan.edits[-1].kind == "reschedule" and plan.edits[-1].change["to"] == "2027-01-11"
    # moving it again (same session, other time) is a "moved" event on the same session
    listen = lambda _ctx, change: seen.append(change)  # noqa: E731
    booking_events.subscribe(listen)
    try:
        _book(world, two.id, later + timedelta(hours=2), rooms[1])
    finally:
        booking_events.unsubscribe(listen)  # the outbox's own listener stays
    assert seen[-1].kind == "moved" and seen[-1].previous_start == later


def test_arrival_no_show_undo_and_cancel_follow_the_clinics_day(world: Any, rooms: list[int]) -> None:
    s1 = _sessions(world, "P1")[0]
    s2 = _sessions(world, "P2")[0]
    today_at_3 = datetime(2026, 11, 23, 15, tzinfo=LONDON)
    a = _book(world, s1.id, today_at_3, rooms[0]).appointment
    b = _book(world, s2.id, datetime(2026, 11, 24, 9, 30, tzinfo=LONDON), rooms[0]).appointment
    with world.database.transaction() as db:
        ctx = world.ctx("front_desk", db)
        with pytest.raises(Conflict, match="appointment's day"):
            appointments.arrive(ctx, b.id, StatusIn())
        with pytest.raises(Conflict, match="time has come"):
            appointments.no_show(ctx, a.id, StatusIn())
        arrived = appointments.arrive(ctx, a.id, StatusIn(version=a.version))
    assert arrived.status == "arrived" and arrived.undo_until == TODAY
    with world.database.transaction() as db:
        undone = appointments.undo(world.ctx("front_desk", db), a.id, StatusIn(version=arrived.version))
    assert undone.status == "booked" and undone.arrived_at is None
    with world.database.transaction() as db:
        later = replace(world.ctx("front_desk", db), now=datetime(2026, 11, 23, 16, tzinfo=UTC))
        gone = appointments.no_show(later, a.id, StatusIn(version=undone.version))
        assert gone.status == "no_show"
        with pytest.raises(Conflict):
            appointments.no_show(later, a.id, StatusIn())
    with world.database.transaction() as db:
        next_day = replace(world.ctx("front_desk", db), today=TODAY + timedelta(days=1))
        with pytest.raises(Conflict, match="recorded today"):
            appointments.undo(next_day, a.id, StatusIn())
        cancelled = appointments.cancel(world.ctx("front_desk", db), b.id, CancelIn(reason="patient unwell"))
    assert cancelled.status == "cancelled" and cancelled.cancel_reason == "patient unwell"
    with world.database.transaction() as db:
        actions = [e.action for e in db.scalars(select(AuditEvent).where(AuditEvent.entity == "appointment"))]
    assert {"arrive", "undo", "no_show", "cancel"} <= set(actions)


def test_a_no_show_is_rebooked_inside_its_window_and_moves_the_course(world: Any, rooms: list[int]) -> None:
    one, two, _three = _sessions(world)
    a = _book(world, one.id, datetime(2026, 11, 23, 15, tzinfo=LONDON), rooms[0]).appointment
    with world.database.transaction() as db:
        later = replace(world.ctx("front_desk", db), now=datetime(2026, 11, 23, 16, tzinfo=UTC))
        appointments.no_show(later, a.id, StatusIn())
    with world.database.transaction() as db:
        ctx = replace(world.ctx("front_desk", db), today=TODAY + timedelta(days=1),
                      now=datetime(2026, 11, 24, 8, tzinfo=UTC))  # fmt: skip
        found = appointments.slots(ctx, one.id)
        assert found.window.earliest == TODAY + timedelta(days=1)  # never in the past
        slot = found.slots[0]
        made = appointments.book(ctx, one.id, BookIn(start=slot.start, practitioner_id=slot.practitioner_id,
                                                     room_id=slot.room_id))  # fmt: skip
    assert not made.outside_window
    days = [s.date for s in _sessions(world)]
    assert days[0] == slot.start.date() and days[1] - days[0] == two.date - one.date


def test_roles(world: Any, rooms: list[int]) -> None:
    s = _sessions(world)[0]
    start = datetime(2026, 11, 25, 10, tzinfo=LONDON)
    for who in ("admin", "patient"):
        with pytest.raises((Forbidden, Exception)) as refused, world.database.transaction() as db:
            appointments.book(world.ctx(who, db), s.id, BookIn(start=start, practitioner_id=world.users["clinician"],
                                                              room_id=rooms[0]))  # fmt: skip
        assert getattr(refused.value, "status", None) in (403, 404)
    with pytest.raises(Forbidden), world.database.transaction() as db:
        appointments.add_room(world.ctx("front_desk", db), RoomIn(name="Broom cupboard"))
    with pytest.raises(Invalid) as bad, world.database.transaction() as db:
        appointments.book(world.ctx("front_desk", db), s.id, BookIn(start=start, practitioner_id=world.users["front_desk"],
                                                                        room_id=rooms[0]))  # fmt: skip
    assert bad.value.field == "practitioner_id"
    with world.database.transaction() as db:  # clinic B cannot see clinic A's session
        with pytest.raises(Exception) as other:
            appointments.slots(world.ctx("clinician_b", db), s.id)
        assert getattr(other.value, "status", None) == 404


def test_the_clinic_calendar_closes_days_and_plans_avoid_them(world: Any) -> None:
    hours = [OpeningPeriod(weekday=d, opens=time(9), closes=time(18)) for d in range(6)]  # Mon-Sat
    with world.database.transaction() as db:
        ctx = world.ctx("admin", db)
        with pytest.raises(Invalid) as bad:
            clinic_calendar.update(ctx, ClinicCalendarIn(hours=hours, country="XX"))
        assert bad.value.field == "country"
    with world.database.transaction() as db:
        cal = clinic_calendar.update(world.ctx("admin", db), ClinicCalendarIn(
            hours=hours, country="GB", subdivision="ENG",
            closures=[Closure(date=date(2027, 1, 4), reason="staff training")]))  # fmt: skip
    assert cal.version == 1 and any(h.date == date(2026, 12, 25) for h in cal.holidays)
    with world.database.transaction() as db:
        engine_cal = clinic_calendar.calendar_for(world.ctx("clinician", db))
        assert not engine_cal.is_open(date(2026, 12, 25)) and not engine_cal.is_open(date(2027, 1, 4))
        assert engine_cal.is_open(date(2026, 11, 28))  # Saturday now open
        assert clinic_calendar.closed_reason(world.ctx("clinician", db), date(2027, 1, 4)) == "staff training"
    # the world's plan has session 2 on Monday 4 January 2027: a new plan avoids it
    made = world.new_plan("P1")
    with world.database.transaction() as db:
        plan = plans.get(world.ctx("clinician", db), made["plan_id"])
    days = [s.date for s in plan.sessions]
    assert date(2027, 1, 4) not in days and all(engine_cal.is_open(d) for d in days)
    assert engine_cal.is_open(date.fromisoformat(plan.plan["course"]["follow_up"]))
    gaps = [(b - a).days for a, b in itertools.pairwise(days)]
    assert all(g >= 42 for g in gaps)  # no interval shortened


def test_the_default_start_keeps_every_pre_care_step_on_or_after_today(world: Any) -> None:
    # assessed three days ago, no preferred start: the course starts so pre-care begins today or later
    body = AssessmentIn(assessment=ASSESSMENT, preferences={"treatments": ["microneedling"]})
    with world.database.transaction() as db:
        made = plans.assess(world.ctx("clinician", db), world.patients["P1"], body)
    assert made.plan is not None
    timeline = made.plan.plan["timeline"]
    assert min(date.fromisoformat(e["date"]) for e in timeline) >= TODAY
    assert made.plan.preferences["start"] >= TODAY.isoformat()
    assert made.plan.sessions[0].date.weekday() < 5


def test_approval_takes_a_preferred_start(world: Any) -> None:
    made = world.new_plan("P2")
    with world.database.transaction() as db:
        ctx = world.ctx("clinician", db)
        with pytest.raises(Invalid):
            plans.approve(ctx, made["plan_id"], made["version"], start=TODAY - timedelta(days=1))
    with world.database.transaction() as db:
        approved = plans.approve(world.ctx("clinician", db), made["plan_id"], made["version"], start=date(2026, 12, 7))
    assert approved.status == "approved" and approved.preferences["start"] == "2026-12-07"
    assert min(s.date for s in approved.sessions) >= date(2026, 12, 7)
    assert any(e.reason == "start chosen at approval" for e in approved.edits)


def test_a_session_is_done_only_on_or_after_its_day_and_its_appointment_follows(world: Any, rooms: list[int]) -> None:
    one, two, _three = _sessions(world)
    a = _book(world, one.id, datetime(2026, 11, 23, 15, tzinfo=LONDON), rooms[0]).appointment
    with world.database.transaction() as db, pytest.raises(Conflict):
        plans.record_done(world.ctx("clinician", db), two.id, SessionDoneIn())
    with world.database.transaction() as db:
        plans.record_done(world.ctx("clinician", db), one.id, SessionDoneIn(note="given"))
        assert appointments.get(world.ctx("front_desk", db), a.id).status == "done"


def test_done_is_undone_the_same_day_only_and_the_appointment_follows(world: Any, rooms: list[int]) -> None:
    one = _sessions(world)[0]
    a = _book(world, one.id, datetime(2026, 11, 23, 15, tzinfo=LONDON), rooms[0]).appointment
    with world.database.transaction() as db:
        done = plans.record_done(world.ctx("clinician", db), one.id, SessionDoneIn())
    with world.database.transaction() as db:
        tomorrow = replace(world.ctx("front_desk", db), today=TODAY + timedelta(days=1))
        with pytest.raises(Conflict, match="today"):
            plans.undo_done(tomorrow, one.id, SessionUndoIn())
    with world.database.transaction() as db:
        undone = plans.undo_done(world.ctx("front_desk", db), one.id, SessionUndoIn(session_version=done.version))
        assert undone.status == "planned" and undone.recorded_at is None
        assert appointments.get(world.ctx("front_desk", db), a.id).status == "booked"
    with world.database.transaction() as db, pytest.raises(Conflict):
        plans.undo_done(world.ctx("front_desk", db), one.id, SessionUndoIn())
    with world.database.transaction() as db:
        assert db.scalar(select(AuditEvent.id).where(AuditEvent.action == "undo", AuditEvent.detail == "done"))
