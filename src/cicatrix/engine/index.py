"""Lookups derived once per knowledge base, so planning a case does not rescan the whole base.

Everything here is a pure function of one immutable KnowledgeBase. The memo only saves
recomputing it: an entry is reused only for the very same knowledge base object, so it can
never change a result.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

import msgspec

from cicatrix.engine.result import TimelineEntry, TimelinePhase
from cicatrix.knowledge.models import Condition, Decision, KnowledgeBase, Matcher, Step
from cicatrix.knowledge.vocabulary import term_table

if TYPE_CHECKING:
    from cicatrix.engine.screening import Screen


class TriggerSets(msgspec.Struct, frozen=True):
    """A condition's trigger with its lists as sets, for fast intersections with a case."""

    condition_id: str
    condition: Condition
    flags: tuple[str, ...]
    history_any: frozenset[str]
    medications_any: frozenset[str]
    active_lesions_any: frozenset[str]
    scars_any: frozenset[str]
    phototypes: frozenset[str]
    isotretinoin_within_months: int | None


class RowMatchers(msgspec.Struct, frozen=True):
    """A scale row's matchers by the entry type they name (scars and marks kept apart)."""

    scars: dict[str, tuple[Matcher, ...]]
    marks: frozenset[str]
    types: frozenset[str]  # every scar and mark type the row names: most rows skip most cases
    by_area: bool  # some matcher is decided by the area of each scar (the broad atrophic rows)


class StepPlan(msgspec.Struct, frozen=True):
    """A protocol step ready to date: its offsets as timedeltas, and its timeline entry with
    every field but the dates and session number already filled in."""

    offset: timedelta
    until: timedelta | None
    first_session_only: bool
    uses: frozenset[str]
    entry: TimelineEntry


def step_phase(offset: int) -> TimelinePhase:
    return "pre" if offset < 0 else "day_of" if offset == 0 else "post"


def _step_plan(step: Step, treatment_id: str, phase: TimelinePhase | None = None) -> StepPlan:
    return StepPlan(
        offset=timedelta(days=step.offset),
        until=timedelta(days=step.until) if step.until is not None else None,
        first_session_only=step.first_session_only,
        uses=frozenset(step.uses),
        entry=TimelineEntry(
            date=date.min,
            treatment=treatment_id,
            kind=step.kind,
            phase=phase or step_phase(step.offset),
            text=step.text,
            code=step.code,
            sources=step.sources,
            uses=step.uses,
            avoids=step.avoids,
        ),
    )


def lead_days(steps: tuple[Step, ...]) -> int:
    """How many days before its session the earliest of these steps begins (0 if none does)."""
    return max((-s.offset for s in steps if s.offset < 0), default=0)


def _agent_keys(kb: KnowledgeBase) -> dict[str, frozenset[str]]:
    """Each agent or treatment name a step may use or avoid, with the names that mean the same
    thing for it: an agent and the treatments that prescribe it. Two steps are about the same
    agent when their key sets meet."""
    keys: dict[str, set[str]] = {tid: {tid} for tid in kb.treatments}
    for aid, agent in kb.agents.items():
        keys[aid] = {aid, *agent.treatments}
        for tid in agent.treatments:
            keys[tid].add(aid)
    return {name: frozenset(k) for name, k in keys.items()}


class KnowledgeIndex(msgspec.Struct, frozen=True):
    kb: KnowledgeBase
    triggers: tuple[TriggerSets, ...]
    # per treatment, the (condition code, decision) of every matrix cell that is not `none`
    decisions: dict[str, tuple[tuple[str, Decision], ...]]
    treatments_by_code: dict[str, tuple[str, ...]]
    # every agent or treatment a care step of the treatment may name in `uses` (protocol steps and
    # any decision's added steps), less the treatment itself and the agents it prescribes
    step_uses: dict[str, tuple[str, ...]]
    indication_targets: dict[str, frozenset[str]]
    # aligned with kb.scales: goodman_baron_quantitative.rows, .area_rows and ecca.items
    gb_rows: tuple[RowMatchers, ...]
    gb_area_rows: tuple[RowMatchers, ...]
    ecca_items: tuple[RowMatchers, ...]
    step_plans: dict[str, tuple[StepPlan, ...]]
    ongoing_plans: dict[str, tuple[StepPlan, ...]]  # the same, phase "ongoing", for daily care
    lead_days: dict[str, int]  # per treatment: how far before a session its protocol's care begins
    agent_keys: dict[str, frozenset[str]]
    agent_key_sets: dict[tuple[str, ...], frozenset[str]]  # memo of a step's uses/avoids as keys
    # screen_all's results by the conditions that applied, (code, detail) pairs: many patients share
    # them. Screening is a pure function of these and the knowledge base, so a hit is exactly the
    # result it would compute. Bounded by clearing (see screening.screen_all). The key () holds
    # every treatment as screened when no condition applies (screening._clear_screens).
    screens: dict[tuple[tuple[str, str], ...], dict[str, Screen]]
    # every vocabulary code and synonym by its normal form (knowledge.vocabulary.term_table)
    terms: dict[str, str]


def _row_matchers(matchers: tuple[Matcher, ...]) -> RowMatchers:
    scars: dict[str, list[Matcher]] = {}
    marks: set[str] = set()
    for m in matchers:
        if m.scar is not None:
            scars.setdefault(m.scar, []).append(m)
        if m.mark is not None:
            marks.add(m.mark)
    return RowMatchers(
        {k: tuple(v) for k, v in scars.items()},
        frozenset(marks),
        frozenset(scars) | marks,
        any(m.by_area for m in matchers),
    )


def _step_uses(kb: KnowledgeBase, tid: str, decisions: tuple[tuple[str, Decision], ...]) -> tuple[str, ...]:
    own = {tid, *(aid for aid, a in kb.agents.items() if tid in a.treatments)}
    steps = (*kb.treatments[tid].protocol.steps, *(s for _code, d in decisions for s in d.add_steps))
    return tuple(dict.fromkeys(u for s in steps for u in s.uses if u not in own))


def _build(kb: KnowledgeBase) -> KnowledgeIndex:
    triggers = tuple(
        TriggerSets(
            condition_id=cid,
            condition=cond,
            flags=cond.triggers.flags,
            history_any=frozenset(cond.triggers.history_any),
            medications_any=frozenset(cond.triggers.medications_any),
            active_lesions_any=frozenset(cond.triggers.active_lesions_any),
            scars_any=frozenset(cond.triggers.scars_any),
            phototypes=frozenset(cond.triggers.phototypes),
            isotretinoin_within_months=cond.triggers.isotretinoin_within_months,
        )
        for cid, cond in kb.conditions.items()
    )
    decisions = {
        tid: tuple((code, d) for code in kb.matrix if (d := kb.decision(code, tid)).decision != "none")
        for tid in kb.treatments
    }
    gb = kb.scales.goodman_baron_quantitative
    return KnowledgeIndex(
        kb=kb,
        triggers=triggers,
        decisions=decisions,
        treatments_by_code={
            code: tuple(tid for tid, ds in decisions.items() if any(c == code for c, _d in ds)) for code in kb.matrix
        },
        step_uses={tid: _step_uses(kb, tid, decisions[tid]) for tid in kb.treatments},
        indication_targets={tid: frozenset(i.target for i in t.indications) for tid, t in kb.treatments.items()},
        gb_rows=tuple(_row_matchers(row.match) for row in gb.rows),
        gb_area_rows=tuple(_row_matchers(row.match) for row in gb.area_rows),
        ecca_items=tuple(_row_matchers(item.match) for item in kb.scales.ecca.items),
        step_plans={tid: tuple(_step_plan(step, tid) for step in t.protocol.steps) for tid, t in kb.treatments.items()},
        ongoing_plans={
            tid: tuple(_step_plan(step, tid, "ongoing") for step in t.protocol.steps)
            for tid, t in kb.treatments.items()
            if t.schedule == "continuous"
        },
        lead_days={tid: lead_days(t.protocol.steps) for tid, t in kb.treatments.items()},
        agent_keys=_agent_keys(kb),
        agent_key_sets={},
        screens={},
        terms=term_table(kb.vocabulary)[0],
    )


_MEMO: dict[str, KnowledgeIndex] = {}


def index_for(kb: KnowledgeBase) -> KnowledgeIndex:
    """The index of `kb`, built on first use; reused only for the identical object."""
    cached = _MEMO.get(kb.fingerprint)
    if cached is not None and cached.kb is kb:
        return cached
    built = _build(kb)
    if len(_MEMO) >= 8:  # a process sees one or a few knowledge bases; stay bounded anyway
        _MEMO.clear()
    _MEMO[kb.fingerprint] = built
    return built
