"""The patient's day-by-day instructions around each session, from the protocols' steps."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from cicatrix.engine.index import index_for, step_phase
from cicatrix.engine.result import Course, TimelineEntry, TimelinePhase
from cicatrix.knowledge.models import KnowledgeBase, Step, Treatment

_KIND_ORDER = {"session": 0, "avoid": 1, "do": 2, "expect": 3, "maintenance": 4, "follow_up": 5}


def _step_row(
    step: Step,
    anchor: date,
    t: Treatment,
    session: int | None,
    phase: TimelinePhase | None = None,
    extend_to: date | None = None,
) -> dict[str, Any]:
    """The fields of one step's dated entry, in declared order; an ongoing step lasts until
    `extend_to` when that is later."""
    day = anchor + timedelta(days=step.offset)
    until = anchor + timedelta(days=step.until) if step.until is not None else None
    return {
        "date": day,
        "until": extend_to if extend_to and extend_to > day else until,
        "session": session,
        "treatment": t.id,
        "kind": step.kind,
        "phase": phase or step_phase(step.offset),
        "text": step.text,
        "code": step.code,
        "sources": step.sources,
    }


def _order(row: dict[str, Any]) -> tuple[date, int, str, int, str]:
    return (
        row["date"],
        _KIND_ORDER[row["kind"]],
        row.get("treatment") or "",
        row.get("session") or 0,
        row.get("code") or "",
    )


def build_timeline(
    course: Course,
    kb: KnowledgeBase,
    extra_steps: Mapping[str, Sequence[Step]],
    continuous: Iterable[Treatment],
    start: date,
) -> tuple[TimelineEntry, ...]:
    """Every dated instruction; `extra_steps` are the precautions screening added per treatment."""
    # Rows are plain dicts, sorted before the entries are built.
    rows: list[dict[str, Any]] = []
    totals: dict[str, int] = {}
    for s in course.sessions:
        totals[s.treatment] = max(totals.get(s.treatment, 0), s.number)
    for s in course.sessions:
        t = kb.treatments[s.treatment]
        rows.append(
            {
                "date": s.date,
                "session": s.number,
                "treatment": t.id,
                "kind": "session",
                "phase": "day_of",
                "text": f"{t.plain_name}: session {s.number} of {totals[t.id]}.",
                "code": "session",
                "sources": t.protocol.sources,
            }
        )
        day, n = s.date, s.number
        for plan in index_for(kb).step_plans[t.id]:
            if plan.first_session_only and n != 1:
                continue
            row = plan.row.copy()
            row["date"] = day + plan.offset
            row["until"] = day + plan.until if plan.until is not None else None
            row["session"] = n
            rows.append(row)
        for step in extra_steps.get(t.id, ()):
            if step.first_session_only and n != 1:
                continue
            rows.append(_step_row(step, day, t, n))
    end = course.follow_up
    for t in continuous:
        for step in (*t.protocol.steps, *extra_steps.get(t.id, ())):
            rows.append(_step_row(step, start, t, None, "ongoing", extend_to=end))
    for m in course.maintenance:
        t = kb.treatments[m.treatment]
        rows.append(
            {
                "date": m.date,
                "treatment": t.id,
                "kind": "maintenance",
                "text": f"{t.plain_name}: {m.text}",
                "code": "maintenance",
                "sources": t.protocol.maintenance.sources if t.protocol.maintenance else (),
            }
        )
    if course.follow_up:
        fu = kb.policy.follow_up
        rows.append(
            {"date": course.follow_up, "kind": "follow_up", "text": fu.text, "code": "follow_up", "sources": fu.sources}
        )
    rows.sort(key=_order)
    return tuple([TimelineEntry(**row) for row in rows])


def instructions_for(timeline: Iterable[TimelineEntry], day: date) -> tuple[TimelineEntry, ...]:
    """What the patient should do, avoid or expect on `day`."""
    return tuple(e for e in timeline if e.applies_on(day))
