from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from icalendar import Calendar

from cicatrix.engine.result import Plan
from cicatrix.exports.errors import ExportError
from cicatrix.exports.ics import CalendarOptions, build_calendar, calendar_bytes

from .conftest import example_plan, make_plan

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
    # care blocks per session: pre-care hold, day 1, days 2-7, day 7 (the day itself is in the
    # session's description); plus follow-up and maintenance
    assert len(events) == 3 + 3 * 4 + 2
    assert len({str(e["UID"]) for e in events}) == len(events)
    by_summary = _events(raw)
    pre = by_summary["Before Medical micro-needling 1 (3 days)"]
    assert pre.decoded("DTSTART") == date(2027, 2, 26)
    assert pre.decoded("DTEND") == date(2027, 3, 1)  # exclusive: covers 26, 27, 28 Feb
    assert "Avoid retinoids" in str(pre["DESCRIPTION"])
    (pre_alarm,) = pre.walk("VALARM")  # 08:00 on the morning pre-care starts
    assert pre_alarm.decoded("TRIGGER") == timedelta(hours=8)
    d27 = by_summary["After Medical micro-needling 2: days 2–7"]
    assert (d27.decoded("DTSTART"), d27.decoded("DTEND")) == (date(2027, 4, 14), date(2027, 4, 20))
    d1 = by_summary["After Medical micro-needling 3: day 1"]
    assert d1.decoded("DTSTART") == date(2027, 5, 25)
    session = by_summary["Medical micro-needling 3/3"]
    assert "ibuprofen" in str(session["DESCRIPTION"])
    assert str(session["LOCATION"]) == "Skin Clinic"
    (follow_alarm,) = by_summary["Follow-up assessment"].walk("VALARM")
    assert follow_alarm.decoded("TRIGGER") == timedelta(days=-7)
    assert max(len(summary) for summary in by_summary) <= 40, "short enough for a month view"
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
    assert seqs["Medical micro-needling 3/3"] == 2
    assert seqs["Medical micro-needling 2/3"] == 1
    assert seqs["Medical micro-needling 1/3"] == 0


def test_sequence_floor_from_a_reschedule_count(plan: Plan) -> None:
    """A re-scheduled session raises its own events, and the follow-up and maintenance visits that
    move with it; nothing else."""
    opts = CalendarOptions(sequences={("microneedling", 2, 1): 3, ("microneedling", 3, 1): 1})
    cal = build_calendar(plan, "p-1", opts, stamp=STAMP)
    seen = {}
    for ev in cal.walk("VEVENT"):
        summary = str(ev["SUMMARY"])
        if summary.startswith("Medical micro-needling 2/") or "micro-needling 2:" in summary or "needling 2 (" in summary:
            expected = 3
        elif summary.startswith("Medical micro-needling 3/") or "micro-needling 3:" in summary or "needling 3 (" in summary:
            expected = 1
        elif summary in ("Follow-up assessment", "Medical micro-needling: maintenance"):
            expected = 4
        else:
            expected = 0
        seen[summary] = int(ev["SEQUENCE"])
        assert int(ev["SEQUENCE"]) == expected, summary
    assert seen["Follow-up assessment"] == 4 and seen["Medical micro-needling 1/3"] == 0


def test_uids_depend_on_patient_not_on_dates(plan: Plan) -> None:
    other = {str(e["UID"]) for e in build_calendar(plan, "p-2", stamp=STAMP).walk("VEVENT")}
    mine = {str(e["UID"]) for e in build_calendar(plan, "p-1", stamp=STAMP).walk("VEVENT")}
    assert not other & mine


def test_unknown_time_zone_names_the_field(plan: Plan) -> None:
    with pytest.raises(ExportError) as err:
        build_calendar(plan, "p-1", CalendarOptions(tz="Mars/Olympus"))
    assert err.value.field == "tz"


def test_real_engine_plan_has_every_session_with_an_alarm_and_the_micro_needling_blocks(kb) -> None:  # type: ignore[no-untyped-def]
    case, plan = example_plan(kb)  # moderate_mixed_phototype_iv: four treatments, herpes history
    opts = CalendarOptions(tz="Europe/London", clinic_name="Skin Clinic")
    cal = Calendar.from_ical(calendar_bytes(plan, str(case.patient.id), opts, stamp=STAMP))
    events = list(cal.walk("VEVENT"))
    assert len({str(e["UID"]) for e in events}) == len(events)
    titled: dict[str, list[Any]] = {}
    for e in events:
        titled.setdefault(str(e["SUMMARY"]), []).append(e)

    def one(summary: str) -> Any:
        (ev,) = titled[summary]
        return ev

    names = {r.treatment: r.name for r in plan.recommended}

    # every course session is one timed VEVENT at 09:00 local with a display alarm the day before
    sessions = [e for e in events if "session" in [str(c) for c in e.categories]]
    assert len(plan.course.sessions) >= 10 and len(sessions) == len(plan.course.sessions)
    totals: dict[str, int] = {}
    for x in plan.course.sessions:
        totals[x.treatment] = max(totals.get(x.treatment, 0), x.number)
    for s in plan.course.sessions:
        ev = one(f"{names[s.treatment]} {s.number}/{totals[s.treatment]}" if totals[s.treatment] > 1 else names[s.treatment])
        start = ev.decoded("DTSTART")
        assert isinstance(start, datetime) and str(start.tzinfo) == "Europe/London"
        assert (start.date(), start.time()) == (s.date, time(9, 0))
        assert ev.decoded("DTEND") - start == timedelta(hours=1)
        (alarm,) = ev.walk("VALARM")
        assert alarm.decoded("TRIGGER") == timedelta(days=-1)
        assert str(alarm["ACTION"]) == "DISPLAY"
        assert str(alarm["DESCRIPTION"]) == f"Tomorrow: {names[s.treatment]} at Skin Clinic"
    # the course crosses both 2027 clock changes: 09:00 local is 09:00 UTC in winter, 08:00 in summer
    utc_hours = {e.decoded("DTSTART").date(): e.decoded("DTSTART").astimezone(UTC).hour for e in sessions}
    assert {utc_hours[d] for d in utc_hours if date(2027, 3, 28) <= d < date(2027, 10, 31)} == {8}
    assert {utc_hours[d] for d in utc_hours if not date(2027, 3, 28) <= d < date(2027, 10, 31)} == {9}
    assert len(set(utc_hours.values())) == 2

    # micro-needling care blocks (seed 002): 3-day pre-care hold, the day, day 1, days 2-7, and
    # this patient's 7-day antiviral course; DTEND is exclusive, so ranges end the day after.
    texts = {e.code: e.text for e in plan.timeline if e.treatment == "microneedling" and e.code}
    mn = [s for s in plan.course.sessions if s.treatment == "microneedling"]
    assert [s.number for s in mn] == [1, 2, 3]
    for s in mn:
        d = s.date
        expected = {
            f"Before Medical micro-needling {s.number} (3 days)": (-3, 0, ("pre_avoid_actives", "pre_avoid_sunburn")),
            f"Before Medical micro-needling {s.number} (7 days)": (-7, 0, ("hsv_prophylaxis",)),
            f"After Medical micro-needling {s.number}: day 1": (1, 2, ("d1_usual_care", "d1_no_exfoliants", "d1_spf")),
            f"After Medical micro-needling {s.number}: days 2–7": (2, 8, ("d2_7_moisturise", "d2_7_dryness")),
        }
        for label, (first, after, codes) in expected.items():
            ev = one(label)
            got = (ev.decoded("DTSTART"), ev.decoded("DTEND"))
            assert got == (d + timedelta(days=first), d + timedelta(days=after)), (s.number, label)
            assert not isinstance(got[0], datetime)  # all-day
            assert str(ev["TRANSP"]) == "TRANSPARENT"
            for code in codes:
                assert texts[code] in str(ev["DESCRIPTION"]), (s.number, label, code)
        # the day itself is in the session's own description
        session = one(f"Medical micro-needling {s.number}/3")
        for code in ("day_arrive_clean", "day_no_antiinflammatories", "day_sun"):
            assert texts[code] in str(session["DESCRIPTION"]), (s.number, code)
    # no micro-needling care outside those blocks, the day-7 note and the yearly maintenance
    mn_care = [e for k, v in titled.items() if "micro-needling" in k and "/3" not in k for e in v]
    assert len(mn_care) == 3 * 5 + 1
    (refresher,) = [m for m in plan.course.maintenance if m.treatment == "microneedling"]
    maint = one("Medical micro-needling: maintenance")
    assert maint.decoded("DTSTART") == refresher.date


def test_a_missed_session_and_its_replacement_keep_their_own_counts(plan: Plan) -> None:
    """Issue 13 §4: the replacement is booked one above the missed instance; whichever order the
    instances come in, the session's events take the higher count, and the others stay."""
    for order in ((1, 2), (2, 1)):
        counts = {1: 0, 2: 1}
        opts = CalendarOptions(sequences={("microneedling", 2, occ): counts[occ] for occ in order})
        seqs = {str(e["SUMMARY"]): int(e["SEQUENCE"]) for e in build_calendar(plan, "p-1", opts, stamp=STAMP).walk("VEVENT")}
        assert seqs["Medical micro-needling 2/3"] == 1, order
        assert seqs["Medical micro-needling 1/3"] == seqs["Medical micro-needling 3/3"] == 0, order
        assert seqs["Follow-up assessment"] == 1, order


def test_a_booked_start_wins_over_the_appointment_time(plan: Plan) -> None:
    """What the appointments feed in: one aware start per session."""
    from zoneinfo import ZoneInfo

    booked = datetime(2027, 4, 12, 16, 45, tzinfo=ZoneInfo("Europe/London"))
    opts = CalendarOptions(appointment_time=time(9, 0), starts={("microneedling", 2): booked})
    starts = {str(e["SUMMARY"]): e.decoded("DTSTART") for e in build_calendar(plan, "p-1", opts, stamp=STAMP).walk("VEVENT")}
    assert starts["Medical micro-needling 2/3"] == booked
    assert starts["Medical micro-needling 1/3"].time() == time(9, 0)
