"""The patient's day-by-day instructions around each session, from the protocols' steps."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from operator import itemgetter

from msgspec.structs import replace

from cicatrix.engine.agents import pause_conflicts
from cicatrix.engine.index import index_for, step_phase
from cicatrix.engine.result import Course, TimelineEntry, TimelinePhase
from cicatrix.knowledge.models import KnowledgeBase, Step, Treatment

_KIND_ORDER = {"session": 0, "avoid": 1, "do": 2, "expect": 3, "maintenance": 4, "follow_up": 5}

# Entries are sorted by day, then kind, treatment, session and code; equal keys keep the order
# they were added in (sessions, then continuous care, maintenance, follow-up).
_SortKey = tuple[date, int, str, int, str]


def _key(e: TimelineEntry) -> _SortKey:
    return (e.date, _KIND_ORDER[e.kind], e.treatment or "", e.session or 0, e.code or "")


def _step_entry(
    step: Step,
    anchor: date,
    t: Treatment,
    session: int | None,
    phase: TimelinePhase | None = None,
    extend_to: date | None = None,
) -> TimelineEntry:
    """One step's dated entry. An ongoing step without an `until` of its own lasts until
    `extend_to` (the follow-up); one with an `until` keeps it, so a limited course (hydroquinone,
    reviewed at 8-12 weeks) is never stretched into months of daily use."""
    day = anchor + timedelta(days=step.offset)
    until = anchor + timedelta(days=step.until) if step.until is not None else None
    if until is None and extend_to is not None and extend_to > day:
        until = extend_to
    return TimelineEntry(
        date=day,
        until=until,
        session=session,
        treatment=t.id,
        kind=step.kind,
        phase=phase or step_phase(step.offset),
        text=step.text,
        code=step.code,
        sources=step.sources,
        uses=step.uses,
        avoids=step.avoids,
    )


def build_timeline(
    course: Course,
    kb: KnowledgeBase,
    extra_steps: Mapping[str, Sequence[Step]],
    continuous: Iterable[Treatment],
    start: date,
) -> tuple[TimelineEntry, ...]:
    """Every dated instruction; `extra_steps` are the precautions screening added per treatment.

    Where a procedure's care avoids an agent that other care uses (a retinoid, a lightening
    cream), the use is cut out of those days and daily care gets dated stop/resume entries
    (engine/agents.py), so no day both prescribes and forbids it."""
    keyed: list[tuple[_SortKey, TimelineEntry]] = []
    add = keyed.append
    step_plans = index_for(kb).step_plans
    totals: dict[str, int] = {}
    for s in course.sessions:
        totals[s.treatment] = max(totals.get(s.treatment, 0), s.number)
    for s in course.sessions:
        t = kb.treatments[s.treatment]
        day, n = s.date, s.number
        add(
            (
                (day, 0, t.id, n, "session"),
                TimelineEntry(
                    date=day,
                    session=n,
                    treatment=t.id,
                    kind="session",
                    phase="day_of",
                    text=f"{t.plain_name}: session {n} of {totals[t.id]}.",
                    code="session",
                    sources=t.protocol.sources,
                ),
            )
        )
        for plan in step_plans[t.id]:
            if plan.first_session_only and n != 1:
                continue
            e = replace(
                plan.entry,
                date=day + plan.offset,
                until=day + plan.until if plan.until is not None else None,
                session=n,
            )
            add((_key(e), e))
        for step in extra_steps.get(t.id, ()):
            if step.first_session_only and n != 1:
                continue
            e = _step_entry(step, day, t, n)
            add((_key(e), e))
    end = course.follow_up
    for t in continuous:
        for step in (*t.protocol.steps, *extra_steps.get(t.id, ())):
            e = _step_entry(step, start, t, None, "ongoing", extend_to=end)
            add((_key(e), e))
    for m in course.maintenance:
        t = kb.treatments[m.treatment]
        e = TimelineEntry(
            date=m.date,
            treatment=t.id,
            kind="maintenance",
            text=f"{t.plain_name}: {m.text}",
            code="maintenance",
            sources=t.protocol.maintenance.sources if t.protocol.maintenance else (),
        )
        add((_key(e), e))
    if course.follow_up:
        fu = kb.policy.follow_up
        e = TimelineEntry(date=course.follow_up, kind="follow_up", text=fu.text, code="follow_up", sources=fu.sources)
        add((_key(e), e))
    entries = [e for _k, e in keyed]
    if any(e.avoids for e in entries):
        keyed = [(_key(e), e) for e in pause_conflicts(entries, kb)]
    keyed.sort(key=itemgetter(0))
    return tuple([e for _k, e in keyed])


def instructions_for(timeline: Iterable[TimelineEntry], day: date) -> tuple[TimelineEntry, ...]:
    """What the patient should do, avoid or expect on `day`."""
    return tuple(e for e in timeline if e.applies_on(day))
