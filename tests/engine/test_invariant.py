"""The safety invariant over generated patients: an excluded treatment never reaches the plan,
a delayed one is never booked early, and no step tells the patient to use what is forbidden.

The oracle (tests/safety_oracle.py) reads the knowledge data itself and shares no code with the
engine, so a mistake in how the engine reads the matrix or the triggers cannot hide.
"""

from __future__ import annotations

from datetime import date, timedelta
from itertools import pairwise
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cicatrix.engine.case import parse_case
from cicatrix.engine.plan import ClinicianOverride, plan_case
from cicatrix.engine.reschedule import reschedule_plan
from cicatrix.engine.result import Plan
from cicatrix.knowledge.loader import load_knowledge
from tests import strategies
from tests.safety_oracle import Verdict, verdict

KB = load_knowledge()
TREATMENTS = sorted(KB.treatments)
# codes and synonyms as typed (an unknown term is refused by parse_case: tests/engine/test_terms.py)
HISTORY = ["keloid", "herpes_simplex", "immunosuppression", "bleeding_disorder", "cardiac_disease", "Cold sores", "kidney transplant"]
MEDS = ["anticoagulant", "antiplatelet", "apixaban", "immunosuppressant", "Prograf", "aspirin 75 mg", "prednisolone"]
cases = strategies.cases(
    st.dates(date(2025, 1, 1), date(2028, 12, 31)),
    history=HISTORY,
    medications=MEDS,
    isotretinoin_after=30,
    max_scars=5,
    scar_age=True,
)


def check_against(v: Verdict, plan: Plan) -> None:
    """Everything the oracle forbids is absent from the plan; every delay holds."""
    banned = set(v.excluded)
    assert banned.isdisjoint(r.treatment for r in plan.recommended)
    assert banned.isdisjoint(s.treatment for s in plan.course.sessions)
    assert banned.isdisjoint(m.treatment for m in plan.course.maintenance)
    assert banned.isdisjoint(e.treatment for e in plan.timeline if e.treatment)
    for s in plan.course.sessions:
        if s.treatment in v.not_before:
            assert s.date >= v.not_before[s.treatment], (s, v.not_before)
    for e in plan.timeline:
        assert not v.step_banned(e.treatment, e.code), (e, v.step_banned(e.treatment, e.code))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases)
def test_excluded_never_recommended_scheduled_or_timed(data: dict[str, Any]) -> None:
    plan = plan_case(parse_case(data, KB), KB)
    v = verdict(data)
    check_against(v, plan)
    assert {e.treatment for e in plan.excluded} <= set(v.excluded)
    assert {e.treatment for e in plan.excluded}.isdisjoint(r.treatment for r in plan.recommended)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases, st.integers(1, 60))
def test_intervals_hold_and_survive_rescheduling(data: dict[str, Any], late: int) -> None:
    case = parse_case(data, KB)
    plan = plan_case(case, KB)

    def check(p: Any) -> None:
        by_t: dict[str, list[Any]] = {}
        for s in p.course.sessions:
            by_t.setdefault(s.treatment, []).append(s)
        for tid, ss in by_t.items():
            interval = KB.treatments[tid].protocol.interval_days
            for a, b in pairwise(ss):
                assert interval is not None and (b.date - a.date).days >= interval.min
        dates = [s.date for s in p.course.sessions]
        assert dates == sorted(dates)
        if dates:
            assert p.course.follow_up is not None and (p.course.follow_up - dates[-1]).days >= 89

    check(plan)
    if plan.course.sessions:
        s = plan.course.sessions[len(plan.course.sessions) // 2]
        moved = reschedule_plan(plan, case, KB, s.treatment, s.number, s.date + timedelta(days=late))
        check(moved)
        check_against(verdict(data), moved)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases, st.lists(st.sampled_from(TREATMENTS), max_size=3, unique=True))
def test_only_an_explicit_override_schedules_an_excluded_treatment(data: dict[str, Any], chosen: list[str]) -> None:
    case = parse_case(data, KB)
    plan = plan_case(
        case, KB, overrides=[ClinicianOverride(tid, "discussed risks; patient consents") for tid in chosen]
    )
    # the oracle, told of the same overrides, still forbids everything else and every delay holds
    check_against(verdict(data, overrides=chosen), plan)
    excluded_before = verdict(data).excluded
    for tid in chosen:
        rec = next((r for r in plan.recommended if r.treatment == tid), None)
        if tid in excluded_before and rec is not None:
            assert any(w.code == "clinician_override" for w in rec.warnings)
