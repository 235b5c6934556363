"""The patient's day-by-day instructions around each session, from the protocols' steps."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta

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
    skips: Mapping[str, frozenset[str]] | None = None,
) -> tuple[TimelineEntry, ...]:
    """Every dated instruction; `extra_steps` are the precautions screening added per treatment.

    `skips` names, per treatment, the agents and treatments a step must not use for this patient
    (screening.step_skips): such a step is left out. Where a procedure's care avoids an agent that
    other care uses (a retinoid, a lightening cream), the use is cut out of those days and daily
    care gets dated stop/resume entries (engine/agents.py), so no day both prescribes and forbids it.
    """
    skips = skips or {}
    entries: list[TimelineEntry] = []
    add = entries.append
    step_plans = index_for(kb).step_plans
    totals: dict[str, int] = {}
    for s in course.sessions:
        totals[s.treatment] = max(totals.get(s.treatment, 0), s.number)
    for s in course.sessions:
        t = kb.treatments[s.treatment]
        day, n = s.date, s.number
        add(
            TimelineEntry(
                date=day,
                session=n,
                treatment=t.id,
                kind="session",
                phase="day_of",
                text=f"{t.plain_name}: session {n} of {totals[t.id]}.",
                code="session",
                sources=t.protocol.sources,
            )
        )
        skip = skips.get(t.id)
        for plan in step_plans[t.id]:
            if (plan.first_session_only and n != 1) or (skip and not skip.isdisjoint(plan.uses)):
                continue
            e = replace(
                plan.entry,
                date=day + plan.offset,
                until=day + plan.until if plan.until is not None else None,
                session=n,
            )
            add(e)
        for step in extra_steps.get(t.id, ()):
            if (step.first_session_only and n != 1) or (skip and not skip.isdisjoint(step.uses)):
                continue
            e = _step_entry(step, day, t, n)
            add(e)
    end = course.follow_up
    ongoing = index_for(kb).ongoing_plans
    for t in continuous:
        skip = skips.get(t.id)
        for plan in ongoing[t.id]:  # as _step_entry below, from the entries prepared once
            if skip and not skip.isdisjoint(plan.uses):
                continue
            day = start + plan.offset
            if plan.until is not None:
                until: date | None = start + plan.until
            else:
                until = end if end is not None and end > day else None
            add(replace(plan.entry, date=day, until=until))
        for step in extra_steps.get(t.id, ()):
            if skip and not skip.isdisjoint(step.uses):
                continue
            add(_step_entry(step, start, t, None, "ongoing", extend_to=end))
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
        add(e)
    if course.follow_up:
        fu = kb.policy.follow_up
        e = TimelineEntry(date=course.follow_up, kind="follow_up", text=fu.text, code="follow_up", sources=fu.sources)
        add(e)
    entries = pause_conflicts(entries, kb)
    entries.sort(key=_key)
    return tuple(entries)


def instructions_for(timeline: Iterable[TimelineEntry], day: date) -> tuple[TimelineEntry, ...]:
    """What the patient should do, avoid or expect on `day`."""
    return tuple(e for e in timeline if e.applies_on(day))
