"""The one safety gate every stored plan passes: propose, edit, override and FHIR import.

A plan can reach the database from the engine (propose, edit) or from outside (a FHIR Bundle
written by another system or another clinic). Either way, before it is stored, its treatments
are screened again by the engine against *this* patient's clinical facts and *this* clinic's
knowledge base, and the plan is refused when it schedules

- a treatment the knowledge base does not know (it could not have been screened);
- a treatment the screening excludes, unless a clinician's override names it with a reason;
- a planned session before the earliest date a precaution allows (e.g. after a sunburn).

The gate never rewrites a plan: it either lets the plan through, with the screening result
for the caller to record, or raises `Invalid` naming the treatment and why.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from msgspec.structs import replace

from cicatrix.engine.agents import contradictions
from cicatrix.engine.case import Case
from cicatrix.engine.conditions import active_conditions
from cicatrix.engine.plan import plan_start
from cicatrix.engine.plan import screen_case as engine_screen_case
from cicatrix.engine.result import Message
from cicatrix.engine.result import Plan as EnginePlan
from cicatrix.engine.screening import Screen, banned_use
from cicatrix.service.context import Context
from cicatrix.service.errors import Invalid


class _Override(Protocol):
    @property
    def treatment(self) -> str: ...
    @property
    def reason(self) -> str: ...


class _Session(Protocol):
    """A stored or recorded session: `CourseSession` rows, or an import's `SessionRecord`s."""

    @property
    def treatment(self) -> str: ...
    @property
    def number(self) -> int: ...
    @property
    def date(self) -> date: ...
    @property
    def status(self) -> str: ...


@dataclass(frozen=True)
class Screened:
    """The engine's screening of one patient: what it excludes (before any override) and why,
    and the earliest date a precaution allows each delayed treatment's first session."""

    excluded: dict[str, tuple[Message, ...]]
    not_before: dict[str, date]
    screens: dict[str, Screen]  # the engine's screen of every treatment, before overrides


def screen_case(ctx: Context, case: Case) -> Screened:
    """Screen every treatment of the clinic's knowledge base for this patient, as plan_case does
    (the safety matrix's decisions, with every delay dated from the case; no overrides)."""
    screens = engine_screen_case(case, ctx.kb, active_conditions(case, ctx.kb), plan_start(case))
    return Screened(
        excluded={tid: s.reasons for tid, s in screens.items() if s.excluded},
        not_before={tid: s.not_before for tid, s in screens.items() if s.not_before is not None},
        screens=screens,
    )


def check_overrides(ctx: Context, screened: Screened, given: Sequence[_Override], field: str) -> None:
    """An override must name a treatment the screening actually excludes for this patient."""
    for i, o in enumerate(given):
        if o.treatment not in ctx.kb.treatments:
            raise Invalid(f"{field}[{i}].treatment", "unknown treatment", value=o.treatment)
        if o.treatment not in screened.excluded:
            raise Invalid(
                f"{field}[{i}].treatment",
                "is not excluded for this patient; no override is needed",
                value=o.treatment,
            )
        if not o.reason.strip():
            raise Invalid(f"{field}[{i}].reason", "an override needs a reason", value=o.treatment)


def scheduled_treatments(plan: EnginePlan, sessions: Iterable[_Session] = ()) -> list[str]:
    """Every treatment the plan would have the patient receive or apply, in first-seen order:
    course sessions, maintenance, timeline entries, recommendations marked scheduled, and the
    recorded sessions (`sessions`, e.g. an imported course) other than cancelled ones."""
    ids: list[str] = [s.treatment for s in plan.course.sessions]
    ids += [m.treatment for m in plan.course.maintenance]
    ids += [e.treatment for e in plan.timeline if e.treatment]
    ids += [r.treatment for r in plan.recommended if r.scheduled]
    ids += [s.treatment for s in sessions if s.status != "cancelled"]
    return list(dict.fromkeys(ids))


def _why(reasons: tuple[Message, ...]) -> str:
    return "; ".join(f"{r.code}: {r.message}" for r in reasons)


def screen_plan(
    ctx: Context,
    case: Case,
    plan: EnginePlan,
    overridden: Collection[str],
    *,
    sessions: Sequence[_Session] = (),
    field: str = "plan",
) -> Screened:
    """Refuse a plan that schedules an unknown treatment, an excluded treatment that is not in
    `overridden` (treatment ids with a clinician's override and reason), or a planned session
    before its precaution's earliest date. `sessions`: sessions stored beside the plan's own
    course (an import's recorded sessions). Returns the screening for the caller to record."""
    screened = screen_case(ctx, case)
    for tid in scheduled_treatments(plan, sessions):
        if tid not in ctx.kb.treatments:
            raise Invalid(
                field, f"schedules {tid!r}, a treatment this clinic's knowledge base does not know", value=tid
            )
        reasons = screened.excluded.get(tid)
        if reasons and tid not in overridden:
            name = ctx.kb.treatments[tid].name
            raise Invalid(
                field,
                f"schedules {tid} ({name}), which is excluded for this patient ({_why(reasons)}); "
                "scheduling it needs a clinician override with a reason",
                value=tid,
                treatment=tid,
                conditions=[r.code for r in reasons],
            )
    # Sessions still to come: the recorded ones planned, and the course's that nothing records
    # (a session already given or missed is history, not a booking).
    recorded = {(s.treatment, s.number) for s in sessions}
    planned = [(s.treatment, s.number, s.date) for s in plan.course.sessions if (s.treatment, s.number) not in recorded]
    planned += [(s.treatment, s.number, s.date) for s in sessions if s.status == "planned"]
    for tid, number, day in planned:
        earliest = screened.not_before.get(tid)
        if earliest is not None and day < earliest:
            raise Invalid(
                field,
                f"books {tid} session {number} on {day.isoformat()}, but a precaution for this patient "
                f"allows it from {earliest.isoformat()} on",
                value=tid,
                treatment=tid,
            )
    _check_instructions(ctx, case, plan, screened, overridden, field)
    return screened


def _check_instructions(
    ctx: Context, case: Case, plan: EnginePlan, screened: Screened, overridden: Collection[str], field: str
) -> None:
    """The day-by-day instructions themselves, as stored (an imported timeline comes as another
    system wrote it): none tells the patient to use what is excluded or must wait for them (a
    treatment's own steps may use it and its agents; an override lifts an exclusion), none is
    dated before the assessment, and no day both prescribes and forbids an agent."""
    kb = ctx.kb
    screens = {tid: replace(s, reasons=()) if tid in overridden else s for tid, s in screened.screens.items()}
    own: dict[str, set[str]] = {}
    for e in plan.timeline:
        if e.date < case.assessment.date:
            raise Invalid(
                field,
                f"dates an instruction ({e.code or e.kind}) on {e.date.isoformat()}, before the assessment "
                f"on {case.assessment.date.isoformat()}",
                value=e.date.isoformat(),
            )
        if not e.uses:
            continue
        mine = own.get(e.treatment or "")
        if mine is None:
            tid = e.treatment or ""
            mine = own[tid] = {tid} | {a for a, agent in kb.agents.items() if tid in agent.treatments}
        for use in e.uses:
            why = None if use in mine else banned_use(kb, screens, use)
            if why is not None:
                raise Invalid(
                    field,
                    f"tells the patient to use {use} ({e.treatment}/{e.code or e.kind}, {e.date.isoformat()}), "
                    f"but {why}",
                    value=use,
                    treatment=e.treatment,
                )
    for c in contradictions(plan.timeline, kb)[:1]:
        raise Invalid(
            field,
            f"tells the patient both to use and to avoid {c.agent} from {c.first.isoformat()} to "
            f"{c.last.isoformat()} ({c.used_by} against {c.avoided_by})",
            value=c.agent,
        )
