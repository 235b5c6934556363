from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from icalendar import Calendar

from cicatrix.engine.result import Plan
from cicatrix.exports.errors import ExportError
from cicatrix.exports.ics import CalendarOptions, build_calendar, calendar_bytes

from .conftest import make_plan

STAMP = datetime(2027, 1, 1, 12, 0, tzinfo=UTC)


def _events(raw: bytes) -> dict[str, object]:
    cal = Calendar.from_ical(raw)
    return {str(ev["SUMMARY"]): ev for ev in cal.walk("VEVENT")}


def test_parses_back_with_sessions_alarms_and_care_steps(plan: Plan) -> None:
    raw = calendar_bytes(plan, "p-1", CalendarOptions(clinic_name="Skin Clinic"), stamp=STAMP)
    cal = Calendar.from_ical(raw)
    events = list(cal.walk("VEVENT"))
    sessions = [e for e in events if "session" in [str(c) for c in e.categories]]
    assert len(sessions) == 3
    for ev in sessions:
        (alarm,) = ev.walk("VALARM")
        assert alarm.decoded("TRIGGER") == timedelta(days=-1)
        assert str(alarm["ACTION"]) == "DISPLAY"
    # care blocks per session: pre-care hold, day of, day 1, days 2-7, day 7; plus follow-up
    # and maintenance
    assert len(events) == 3 + 3 * 5 + 2
    assert len({str(e["UID"]) for e in events}) == len(events)
    by_summary = _events(raw)
    pre = by_summary["Medical micro-needling 1: prepare (3 days before)"]
    assert pre.decoded("DTSTART") == date(2027, 2, 26)
    assert pre.decoded("DTEND") == date(2027, 3, 1)  # exclusive: covers 26, 27, 28 Feb
    assert "Avoid retinoids" in str(pre["DESCRIPTION"])
    d27 = by_summary["Medical micro-needling 2: days 2–7 after"]
    assert (d27.decoded("DTSTART"), d27.decoded("DTEND")) == (date(2027, 4, 14), date(2027, 4, 20))
    d1 = by_summary["Medical micro-needling 3: day 1 after"]
    assert d1.decoded("DTSTART") == date(2027, 5, 25)
    day_of = by_summary["Medical micro-needling 3: on the day"]
    assert "ibuprofen" in str(day_of["DESCRIPTION"])
    assert cal.walk("VTIMEZONE"), "the clinic's time zone must be embedded"


def test_session_times_are_right_across_a_dst_change(plan: Plan) -> None:
    opts = CalendarOptions(tz="Europe/London", appointment_time=time(10, 30))
    cal = Calendar.from_ical(calendar_bytes(plan, "p-1", opts, stamp=STAMP))
    starts = sorted(ev.decoded("DTSTART") for ev in cal.walk("VEVENT") if "session" in [str(c) for c in ev.categories])
    # 1 March is GMT (UTC+0), 12 April and 24 May are BST (UTC+1): 10:30 local each time
    assert [s.astimezone(UTC).time() for s in starts] == [time(10, 30), time(9, 30), time(9, 30)]
    assert all(s.tzinfo is not None and str(s.tzinfo) == "Europe/London" for s in starts)
    assert [s.replace(tzinfo=None).time() for s in starts] == [time(10, 30)] * 3
    assert b"TZID=Europe/London" in cal.to_ical()


def test_other_time_zone_and_per_session_time() -> None:
    plan = make_plan([date(2027, 3, 8), date(2027, 4, 19)])  # US DST starts 14 March 2027
    opts = CalendarOptions(tz="America/New_York", appointment_times={("microneedling", 2): time(15, 0)})
    cal = build_calendar(plan, "p-1", opts, stamp=STAMP)
    starts = sorted(ev.decoded("DTSTART") for ev in cal.walk("VEVENT") if isinstance(ev.decoded("DTSTART"), datetime))
    assert [s.astimezone(UTC) for s in starts] == [
        datetime(2027, 3, 8, 14, 0, tzinfo=UTC),  # 09:00 EST
        datetime(2027, 4, 19, 19, 0, tzinfo=UTC),  # 15:00 EDT
    ]


def test_rescheduling_keeps_uids_and_bumps_sequence(plan: Plan) -> None:
    first = calendar_bytes(plan, "p-1", stamp=STAMP)
    moved = make_plan([date(2027, 3, 1), date(2027, 4, 26), date(2027, 6, 7)])
    second = calendar_bytes(moved, "p-1", previous=first, stamp=STAMP)
    a = {str(e["UID"]): e for e in Calendar.from_ical(first).walk("VEVENT")}
    b = {str(e["UID"]): e for e in Calendar.from_ical(second).walk("VEVENT")}
    assert a.keys() == b.keys()
    assert all(int(e["SEQUENCE"]) == 0 for e in a.values())
    for uid, ev in b.items():
        unchanged = ev.decoded("DTSTART") == a[uid].decoded("DTSTART")
        assert int(ev["SEQUENCE"]) == (0 if unchanged else 1), ev["SUMMARY"]
    assert sum(int(e["SEQUENCE"]) for e in b.values()) > 0
    # moving session 3 again bumps only what moved, from where it was
    again = make_plan([date(2027, 3, 1), date(2027, 4, 26), date(2027, 6, 14)])
    third = Calendar.from_ical(calendar_bytes(again, "p-1", previous=second, stamp=STAMP))
    seqs = {str(e["SUMMARY"]): int(e["SEQUENCE"]) for e in third.walk("VEVENT")}
    assert seqs["Medical micro-needling: session 3 at Your clinic"] == 2
    assert seqs["Medical micro-needling: session 2 at Your clinic"] == 1
    assert seqs["Medical micro-needling: session 1 at Your clinic"] == 0


def test_sequence_floor_from_a_reschedule_count(plan: Plan) -> None:
    opts = CalendarOptions(sequences={("microneedling", 2): 3})
    cal = build_calendar(plan, "p-1", opts, stamp=STAMP)
    for ev in cal.walk("VEVENT"):
        summary = str(ev["SUMMARY"])
        second = summary.startswith(("Medical micro-needling 2:", "Medical micro-needling: session 2"))
        assert int(ev["SEQUENCE"]) == (3 if second else 0), summary


def test_uids_depend_on_patient_not_on_dates(plan: Plan) -> None:
    other = {str(e["UID"]) for e in build_calendar(plan, "p-2", stamp=STAMP).walk("VEVENT")}
    mine = {str(e["UID"]) for e in build_calendar(plan, "p-1", stamp=STAMP).walk("VEVENT")}
    assert not other & mine


def test_unknown_time_zone_names_the_field(plan: Plan) -> None:
    with pytest.raises(ExportError) as err:
        build_calendar(plan, "p-1", CalendarOptions(tz="Mars/Olympus"))
    assert err.value.field == "tz"
