"""Turn the chosen treatments into dated sessions that keep every protocol interval.

Treatments run one after another, ordered by phase (surgical and focal first, then
resurfacing, then volume) and rank; the gap between two treatments is the longest of the
first one's minimum interval, its downtime, and any sequencing rule in the data.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import msgspec

from cicatrix.engine.dates import add_months
from cicatrix.engine.index import index_for, lead_days
from cicatrix.engine.result import Course, Maintenance, Message, Session
from cicatrix.knowledge.models import KnowledgeBase, Step, Treatment


class Scheduled(msgspec.Struct, frozen=True):
    """A treatment to book; `not_before` is the first day screening allows its sessions, `steps`
    the care steps screening added to them."""

    treatment: Treatment
    not_before: date | None = None
    steps: tuple[Step, ...] = ()


def _gap_after(prev: Treatment, nxt: Treatment, kb: KnowledgeBase) -> int:
    p = prev.protocol
    gap = max(p.interval_days.min if p.interval_days else 0, p.downtime_days.max)
    for rule in kb.sequencing:
        if prev.id in rule.first and nxt.id in rule.then:
            gap = max(gap, rule.gap_days.min)
    return gap


def build_course(
    chosen: Sequence[Scheduled],
    start: date,
    assessed: date,
    kb: KnowledgeBase,
    more_notes: Sequence[Message] = (),
    *,
    start_requested: bool = True,
) -> Course:
    """`more_notes` (why treatments were left out) follow the course's own notes.

    Nothing is dated before the assessment: a treatment's first session is no earlier than the
    day on which every care step before it (test spot, priming, antivirals, pre-care, including
    the steps screening added) falls on or after the assessment date. A requested start that is
    too early for that is postponed with a note (`start_requested`); a default start just is."""
    sessions: list[Session] = []
    maintenance: list[Maintenance] = []
    notes: list[Message] = []
    cursor = start
    prev: Treatment | None = None
    leads = index_for(kb).lead_days
    for item in chosen:
        t = item.treatment
        if t.schedule != "sessions":
            continue
        lead = max(leads[t.id], lead_days(item.steps))
        ready = assessed + timedelta(days=lead)
        earliest = max(cursor, assessed, item.not_before or cursor, ready)
        if prev is not None:
            earliest = max(earliest, sessions[-1].date + timedelta(days=_gap_after(prev, t, kb)))
        if item.not_before is not None and earliest > cursor:
            notes.append(
                Message(code="start_postponed", message=f"{t.name}: first session postponed to {earliest.isoformat()}.")
            )
        elif earliest == ready > cursor and (start_requested or prev is not None):
            notes.append(
                Message(
                    code="start_postponed",
                    message=(
                        f"{t.name}: first session postponed to {earliest.isoformat()}, so that its care "
                        f"{lead} days before it starts on or after the assessment date."
                    ),
                )
            )
        proto = t.protocol
        day = earliest
        for n in range(1, proto.planned_sessions + 1):
            if n == 1:
                sessions.append(Session(treatment=t.id, number=1, date=day, earliest=earliest))
            else:
                assert proto.interval_days is not None  # the model requires it for >1 session
                prev_day = day
                day = prev_day + timedelta(days=proto.interval_days.min)
                sessions.append(
                    Session(
                        treatment=t.id,
                        number=n,
                        date=day,
                        earliest=day,
                        latest=prev_day + timedelta(days=proto.interval_days.max),
                    )
                )
        if proto.maintenance:
            for r in range(1, proto.maintenance.repeats + 1):
                maintenance.append(
                    Maintenance(
                        treatment=t.id,
                        date=add_months(day, proto.maintenance.every_months * r),
                        text=proto.maintenance.text,
                    )
                )
        cursor = day
        prev = t
    last = sessions[-1].date if sessions else start
    return Course(
        sessions=tuple(sessions),
        maintenance=tuple(maintenance),
        follow_up=add_months(last, kb.policy.follow_up.after_months),
        notes=(*notes, *more_notes),
    )
