"""Booking windows, the clinic's closed days and the default start (engine/booking.py).

Properties over generated courses and calendars: every window keeps the protocol's interval
from the session before and never starts in the past; a plan fitted to a calendar has every
session and the follow-up on an open day and no gap shorter than planned; the default start
puts no care step before today.
"""

from __future__ import annotations

import itertools
from datetime import date, time, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cicatrix.engine.booking import FIRST_SESSION_SLACK, booking_window, course_windows, default_start, fit_to_calendar
from cicatrix.engine.case import parse_case
from cicatrix.engine.plan import plan_case
from cicatrix.engine.slots import ClinicCalendar, OpeningHours
from cicatrix.knowledge.models import KnowledgeBase
from tests.conftest import make_case

SCARS = [{"type": "rolling", "count": 8, "depth": "shallow"}, {"type": "boxcar_shallow", "count": 6}]
MULTI = [t for t in ("microneedling", "subcision", "tca_cross", "laser_nonablative_fractional", "chemical_peel_medium")]


def _calendar(open_days: frozenset[int], closed: frozenset[date] = frozenset()) -> ClinicCalendar:
    return ClinicCalendar(hours=tuple(OpeningHours(weekday=d, opens=time(9), closes=time(17)) for d in open_days),
                          closed=closed)  # fmt: skip


days = st.dates(min_value=date(2026, 1, 1), max_value=date(2028, 12, 31))


@given(planned=days, previous=st.none() | days, today=days, treatment=st.sampled_from(MULTI))
def test_a_window_keeps_the_protocol_interval_and_is_never_in_the_past(
    kb: KnowledgeBase, planned: date, previous: date | None, today: date, treatment: str
) -> None:
    t = kb.treatments[treatment]
    w = booking_window(t, planned, previous, today)
    assert w.earliest <= w.latest and w.earliest >= today
    interval = t.protocol.interval_days
    assert interval is not None
    if previous is not None:
        assert w.earliest >= previous + timedelta(days=interval.min)
        if today <= previous + timedelta(days=interval.max):
            assert w.latest == previous + timedelta(days=interval.max)
    else:
        assert w.earliest >= planned  # a first session never moves before its pre-care
        slack = max(timedelta(days=interval.max - interval.min), FIRST_SESSION_SLACK)
        assert w.latest == max(planned + slack, w.earliest)


def test_course_windows_count_from_the_day_the_session_before_was_given(kb: KnowledgeBase) -> None:
    case = parse_case(make_case(scars=SCARS, preferences={"start": "2027-01-11", "treatments": ["microneedling"]}), kb)
    sessions = plan_case(case, kb).course.sessions
    first = sessions[0]
    given_on = first.date + timedelta(days=5)
    ws = course_windows(sessions, kb, date(2027, 1, 1), {("microneedling", 1): given_on})
    assert ws[("microneedling", 2)].earliest == given_on + timedelta(days=42)
    assert ws[("microneedling", 2)].latest == given_on + timedelta(days=56)


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    open_days=st.frozensets(st.integers(0, 6), min_size=1),
    closed=st.frozensets(st.dates(min_value=date(2027, 1, 1), max_value=date(2028, 6, 30)), max_size=40),
    treatments=st.lists(st.sampled_from(MULTI), min_size=1, max_size=2, unique=True),
    start=st.dates(min_value=date(2027, 1, 1), max_value=date(2027, 6, 30)),
)
def test_a_fitted_plan_lands_on_open_days_and_shortens_no_gap(
    kb: KnowledgeBase, open_days: frozenset[int], closed: frozenset[date], treatments: list[str], start: date
) -> None:
    cal = _calendar(open_days, closed)
    case = parse_case(make_case(scars=SCARS, preferences={"start": start.isoformat(), "treatments": treatments}), kb)
    plan = plan_case(case, kb)
    fitted = fit_to_calendar(plan, case, kb, cal)
    before, after = plan.course.sessions, fitted.course.sessions
    assert [(s.treatment, s.number) for s in before] == [(s.treatment, s.number) for s in after]
    for s in after:
        assert cal.is_open(s.date), s
    assert fitted.course.follow_up is not None and cal.is_open(fitted.course.follow_up)
    for (a0, b0), (a1, b1) in zip(itertools.pairwise(before), itertools.pairwise(after), strict=True):
        assert (b1.date - a1.date) >= (b0.date - a0.date) or b1.date - a1.date >= timedelta(0)
        if a0.treatment == b0.treatment:
            interval = kb.treatments[a0.treatment].protocol.interval_days
            assert interval is not None and (b1.date - a1.date).days >= interval.min
    assert all(s1.date >= s0.date for s0, s1 in zip(before, after, strict=True))  # only ever later


@settings(max_examples=25, deadline=None)
@given(
    assessed_days_ago=st.integers(0, 30),
    treatments=st.lists(st.sampled_from(MULTI), min_size=1, max_size=2, unique=True),
)
def test_the_default_start_puts_every_care_step_on_or_after_today(
    kb: KnowledgeBase, assessed_days_ago: int, treatments: list[str]
) -> None:
    today = date(2027, 3, 1)
    cal = _calendar(frozenset(range(5)))
    assessed = today - timedelta(days=assessed_days_ago)
    raw = make_case(scars=SCARS, assessment={"date": assessed.isoformat()}, preferences={"treatments": treatments})
    case = parse_case(raw, kb)
    start = default_start(case, kb, today, cal)
    assert start >= today and cal.is_open(start)
    raw["preferences"]["start"] = start.isoformat()
    plan = plan_case(parse_case(raw, kb), kb)
    assert min(e.date for e in plan.timeline) >= today
