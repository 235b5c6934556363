"""Re-flow a course after a missed session, keeping every interval."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from msgspec.structs import replace

from cicatrix.engine.case import Case, CaseError
from cicatrix.engine.conditions import active_conditions
from cicatrix.engine.dates import add_months
from cicatrix.engine.plan import ClinicianOverride, plan_start, screen_case
from cicatrix.engine.result import Message, Plan, Session
from cicatrix.engine.screening import step_skips
from cicatrix.engine.timeline import build_timeline
from cicatrix.knowledge.models import KnowledgeBase


def reschedule_plan(
    plan: Plan,
    case: Case,
    kb: KnowledgeBase,
    treatment: str,
    number: int,
    new_date: date,
    overrides: Iterable[ClinicianOverride] = (),
    *,
    earlier: bool = False,
) -> Plan:
    """Move a missed session to `new_date` and everything after it by the same number of days.

    `overrides` are the plan's clinician overrides: the rewritten timeline keeps the care steps
    they allowed (a step that uses an excluded treatment is left out unless it was overridden).

    Shifting the rest together keeps every gap between later sessions exactly as planned; the
    gap before the moved session only grows, so no minimum interval is ever broken.

    `earlier=True` (re-booking a session inside its booking window, `engine.booking`) also lets
    it move to an earlier day; the caller has checked the gap before it against the protocol.
    """
    sessions = list(plan.course.sessions)
    idx = next((i for i, s in enumerate(sessions) if s.treatment == treatment and s.number == number), None)
    if idx is None:
        raise CaseError("session", f"{treatment} #{number}", "no such session in this plan's course")
    old = sessions[idx]
    if new_date == old.date or (new_date < old.date and not earlier):
        raise CaseError(
            "new_date", new_date.isoformat(), f"must be after the missed session's date {old.date.isoformat()}"
        )
    delta = new_date - old.date
    notes = list(plan.course.notes)
    moved: list[Session] = sessions[:idx]
    for s in sessions[idx:]:
        moved.append(
            replace(
                s,
                date=s.date + delta,
                earliest=s.earliest + delta if s.earliest else None,
                latest=s.latest + delta if s.latest and s is not old else s.latest,
            )
        )
    prev = next((s for s in reversed(moved[:idx]) if s.treatment == treatment), None)
    interval = kb.treatments[treatment].protocol.interval_days
    if prev is not None and interval is not None and (new_date - prev.date) > timedelta(days=interval.max):
        notes.append(
            Message(
                code="interval_exceeds_maximum",
                message=(
                    f"{kb.treatments[treatment].name} session {number} is now {(new_date - prev.date).days} days after "
                    f"session {prev.number}, more than the protocol's {interval.max}-day maximum; review the course."
                ),
            )
        )
    shifted = {s.treatment for s in sessions[idx:]}
    maintenance = tuple(
        replace(m, date=m.date + delta) if m.treatment in shifted else m for m in plan.course.maintenance
    )
    last = max(s.date for s in moved)
    course = replace(
        plan.course,
        sessions=tuple(moved),
        maintenance=maintenance,
        follow_up=add_months(last, kb.policy.follow_up.after_months),
        notes=tuple(notes),
    )
    start = plan_start(case)
    screens = screen_case(case, kb, active_conditions(case, kb), start, overrides)
    continuous = [
        kb.treatments[r.treatment]
        for r in plan.recommended
        if r.scheduled and kb.treatments[r.treatment].schedule == "continuous"
    ]
    skips, _why = step_skips(kb, screens, {*(s.treatment for s in moved), *(t.id for t in continuous)})
    steps = {tid: s.steps for tid, s in screens.items()}
    timeline = build_timeline(course, kb, steps, continuous, start, skips)
    return replace(plan, course=course, timeline=timeline)
