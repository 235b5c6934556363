"""Booking a course into the clinic's calendar: each session's window, closed days, the start.

Pure functions, like the rest of the core: the clinic's calendar (`slots.ClinicCalendar`) and
"today" are passed in by the service.

- `booking_window`: the earliest and latest day a session may be booked, from the protocol's
  intervals and the day the session before it (of the same treatment) is booked or was given.
  The first session of a treatment may not move earlier than planned (its pre-care is dated
  from it) and may slip by the protocol's interval slack (max - min), at least a week.
- `fit_to_calendar`: a plan whose sessions and follow-up all fall on open days. A session on a
  closed day moves to the next open day and the sessions after it follow by the same number of
  days (`reschedule.reschedule_plan`), so no minimum interval is ever shortened.
- `default_start`: the first start at which every care step before the first session (test
  spot, priming, antivirals, the pause of home care) falls on or after today.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta

from msgspec.structs import replace

from cicatrix.engine.case import Case
from cicatrix.engine.plan import ClinicianOverride, plan_case
from cicatrix.engine.reschedule import reschedule_plan
from cicatrix.engine.result import Plan, Session
from cicatrix.engine.slots import ClinicCalendar
from cicatrix.knowledge.frozen import Frozen
from cicatrix.knowledge.models import KnowledgeBase, Treatment

# A first session may slip this long at least when its protocol has no interval slack.
FIRST_SESSION_SLACK = timedelta(days=7)


class Window(Frozen, frozen=True, kw_only=True):
    """The days a session may be booked on, both inclusive."""

    earliest: date
    latest: date

    def holds(self, day: date) -> bool:
        return self.earliest <= day <= self.latest


def booking_window(treatment: Treatment, planned: date, previous: date | None, today: date) -> Window:
    """The window of one session of `treatment`, planned on `planned`; `previous` is the day the
    same treatment's session before it is booked or was given (None for a first session).

    Never before today: a session is not booked in the past. When today is already past the
    protocol's latest day, the window is today alone (the course is late; booking it at once
    keeps the gap as short as it can still be)."""
    interval = treatment.protocol.interval_days
    if previous is None or interval is None:
        slack = timedelta(days=interval.max - interval.min) if interval is not None else timedelta(0)
        earliest, latest = planned, planned + max(slack, FIRST_SESSION_SLACK)
    else:
        earliest, latest = previous + timedelta(days=interval.min), previous + timedelta(days=interval.max)
    earliest = max(earliest, today)
    return Window(earliest=earliest, latest=max(latest, earliest))


def course_windows(
    sessions: Sequence[Session], kb: KnowledgeBase, today: date, given: dict[tuple[str, int], date] | None = None
) -> dict[tuple[str, int], Window]:
    """Every session's window, keyed by (treatment, number); `given` are the days sessions were
    actually given or booked, which the next session's window counts from."""
    given = given or {}
    out: dict[tuple[str, int], Window] = {}
    last: dict[str, date] = {}
    for s in sorted(sessions, key=lambda s: (s.treatment, s.number)):
        key = (s.treatment, s.number)
        out[key] = booking_window(kb.treatments[s.treatment], s.date, last.get(s.treatment), today)
        last[s.treatment] = given.get(key, s.date)
    return out


def fit_to_calendar(
    plan: Plan, case: Case, kb: KnowledgeBase, calendar: ClinicCalendar, overrides: Iterable[ClinicianOverride] = ()
) -> Plan:
    """The plan with every session, maintenance date and the follow-up on an open day.

    Sessions are moved later only: a session on a closed day goes to the next open day and the
    ones after it move with it (`reschedule_plan`), keeping every gap. A calendar with no open
    day within a year leaves the plan as it is (the service refuses to save such a calendar)."""
    overrides = tuple(overrides)
    for i in range(len(plan.course.sessions)):
        s = plan.course.sessions[i]
        day = calendar.next_open_day(s.date)
        if day is not None and day != s.date:
            plan = reschedule_plan(plan, case, kb, s.treatment, s.number, day, overrides)
    course = plan.course
    follow_up = calendar.next_open_day(course.follow_up) if course.follow_up else None
    maintenance = tuple(replace(m, date=calendar.next_open_day(m.date) or m.date) for m in course.maintenance)
    return replace(plan, course=replace(course, follow_up=follow_up or course.follow_up, maintenance=maintenance))


def default_start(
    case: Case, kb: KnowledgeBase, today: date, calendar: ClinicCalendar, overrides: Iterable[ClinicianOverride] = ()
) -> date:
    """The earliest start at which no care step before the first session is dated before today.

    The engine dates each treatment's pre-care back from its first session, and books that
    session no earlier than the start. Planning from today shows how far the earliest step
    falls before today; the first session moves later by that much (it becomes the start). The
    result is the first open day on or after it."""
    overrides = tuple(overrides)
    start = max(today, case.assessment.date)
    for _ in range(3):  # once is enough unless screening adds a longer lead to the later start
        plan = plan_case(replace(case, preferences=replace(case.preferences, start=start)), kb, overrides)
        first = min((e.date for e in plan.timeline), default=start)
        if first >= today or not plan.course.sessions:
            break
        start = max(start, plan.course.sessions[0].date + (today - first))
    return calendar.next_open_day(start) or start
