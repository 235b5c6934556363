"""Issue 10, section 1, patterns 1-3, each through plan_case: the tests that would have caught them.

Pattern 1: pregnancy deferred only some procedures, and a hydroquinone priming step still reached
a pregnant patient. Pattern 2: a deep peel was booked 10 weeks after isotretinoin, and windows were
measured at the assessment date. Pattern 3: cautions reached one treatment but not its siblings.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from cicatrix.engine.case import parse_case
from cicatrix.engine.plan import ClinicianOverride, plan_case
from cicatrix.engine.result import Plan
from cicatrix.knowledge.models import KnowledgeBase
from tests.conftest import make_case
from tests.safety_oracle import verdict

ATROPHIC = [
    {"type": "ice_pick", "count": 12},
    {"type": "boxcar_shallow", "count": 8},
    {"type": "boxcar_deep", "count": 6},
    {"type": "rolling", "count": 8},
]


def _plan(kb: KnowledgeBase, data: dict[str, Any], overrides: tuple[ClinicianOverride, ...] = ()) -> Plan:
    return plan_case(parse_case(data, kb), kb, overrides)


def _booked(plan: Plan) -> set[str]:
    return {s.treatment for s in plan.course.sessions}


def test_pattern_1_pregnancy_books_no_elective_procedure(kb: KnowledgeBase) -> None:
    requested = ["tca_cross", "subcision", "microneedling", "laser_nonablative_fractional", "vascular_laser"]
    data = make_case(
        scars=ATROPHIC,
        marks=[{"type": "pie", "count": 6}],
        patient={"pregnant": True},
        assessment={"goodman_baron_qualitative": 3},
        preferences={"start": "2027-01-11", "treatments": requested},
    )
    plan = _plan(kb, data)
    assert _booked(plan) == set()
    reasons = {e.treatment: {r.code for r in e.reasons} for e in plan.excluded}
    for tid in requested:
        assert "pregnancy" in reasons[tid], tid
    said = [w.message for w in plan.warnings if w.code == "requested_treatment_excluded"]
    assert len(said) == len(requested)


def test_pattern_1_no_hydroquinone_step_for_a_pregnant_patient(kb: KnowledgeBase) -> None:
    # phototype V adds pigment priming with hydroquinone to a peel; pregnancy excludes the lightening
    # treatment, so the step that would tell her to apply it is left out, with a warning saying so
    data = make_case(
        scars=[{"type": "boxcar_shallow", "count": 8}],
        patient={"pregnant": True, "phototype": "V"},
        assessment={"goodman_baron_qualitative": 2},
        preferences={"start": "2027-01-11", "treatments": ["chemical_peel_superficial", "sun_protection"]},
    )
    plan = _plan(kb, data)
    assert "chemical_peel_superficial" in _booked(plan)
    assert not [e for e in plan.timeline if e.code == "pigment_priming"]
    assert [e for e in plan.timeline if e.code == "test_spot"]  # the rest of the caution stays
    left_out = [w.message for w in plan.warnings if w.code == "step_left_out"]
    assert left_out and "hydroquinone" in left_out[0].lower() and "pregnancy" in left_out[0]
    assert "pigment_priming" not in left_out[0]  # people read the step, not its code
    # the same patient, not pregnant: the step is there
    data["patient"]["pregnant"] = False
    assert [e for e in _plan(kb, data).timeline if e.code == "pigment_priming"]


def test_pattern_1_an_override_of_the_lightening_treatment_brings_the_step_back(kb: KnowledgeBase) -> None:
    data = make_case(
        scars=[{"type": "boxcar_shallow", "count": 8}],
        patient={"pregnant": True, "phototype": "V"},
        preferences={"start": "2027-01-11", "treatments": ["chemical_peel_superficial"]},
    )
    plan = _plan(kb, data, (ClinicianOverride("pih_lightening", "dermatologist reviewed; short course"),))
    assert [e for e in plan.timeline if e.code == "pigment_priming"]


def _isotretinoin_case(dose: str, start: str, treatment: str = "chemical_peel_deep") -> dict[str, Any]:
    return make_case(
        scars=[{"type": "boxcar_shallow", "count": 25}],
        patient={"phototype": "II", "isotretinoin_last_dose": dose},
        assessment={"date": "2026-11-22", "goodman_baron_qualitative": 4},
        preferences={"start": start, "treatments": [treatment]},
    )


def test_pattern_2_deep_peel_waits_six_months_after_isotretinoin(kb: KnowledgeBase) -> None:
    # last dose 10 weeks before the assessment: the deep peel is booked once 6 months have passed
    data = _isotretinoin_case("2026-09-13", "2026-11-22")
    plan = _plan(kb, data)
    (session,) = [s for s in plan.course.sessions if s.treatment == "chemical_peel_deep"]
    assert session.date == date(2027, 3, 13)
    assert any(n.code == "start_postponed" for n in plan.course.notes)
    rec = next(r for r in plan.recommended if r.treatment == "chemical_peel_deep")
    assert any(w.code == "recent_isotretinoin" and "2027-03-13" in w.message for w in rec.warnings)
    assert verdict(data).not_before["chemical_peel_deep"] == date(2027, 3, 13)


def test_pattern_2_the_window_is_measured_at_the_session_not_the_assessment(kb: KnowledgeBase) -> None:
    # within 6 months at the assessment, but the course starts after the window: nothing waits or is excluded
    data = _isotretinoin_case("2026-07-01", "2027-02-01", "laser_ablative_full")
    plan = _plan(kb, data)
    assert "laser_ablative_full" not in {e.treatment for e in plan.excluded}
    (first, *_rest) = [s for s in plan.course.sessions if s.treatment == "laser_ablative_full"]
    assert first.date == date(2027, 2, 1)


def test_pattern_2_a_wait_beyond_the_policy_maximum_excludes_with_the_date(kb: KnowledgeBase) -> None:
    # last dose on the assessment day: a 6-month wait is more than the 120 days a plan may wait
    data = _isotretinoin_case("2026-11-22", "2026-11-22", "dermabrasion")
    plan = _plan(kb, data)
    assert "dermabrasion" not in _booked(plan)
    (why,) = [r for e in plan.excluded if e.treatment == "dermabrasion" for r in e.reasons]
    assert why.code == "recent_isotretinoin" and "2027-05-22" in why.message and "120 days" in why.message
    # an override books it, but still not before the date
    over = _plan(kb, data, (ClinicianOverride("dermabrasion", "patient cannot return later; consented"),))
    (s,) = [s for s in over.course.sessions if s.treatment == "dermabrasion"]
    assert s.date >= date(2027, 5, 22)


def _decided(kb: KnowledgeBase, patient: dict[str, Any], code: str) -> dict[str, str]:
    """The decision each requested treatment got for `code`, as the plan shows it."""
    procedures = sorted(t for t, tr in kb.treatments.items() if tr.category != "topical" and tr.schedule == "sessions")
    data = make_case(
        scars=[*ATROPHIC, {"type": "hypertrophic", "count": 1, "area_cm2": 2, "age_months": 6}],
        marks=[{"type": "pie", "count": 4}, {"type": "pih", "count": 4}],
        patient=patient,
        assessment={"goodman_baron_qualitative": 4},
        preferences={"start": "2027-01-11", "treatments": procedures},
    )
    plan = _plan(kb, data)
    out = {e.treatment: "exclude" for e in plan.excluded if any(r.code == code for r in e.reasons)}
    out |= {r.treatment: "warn" for r in plan.recommended if any(w.code == code for w in r.warnings)}
    return out


def test_pattern_3_siblings_get_the_caution_too(kb: KnowledgeBase) -> None:
    immuno = _decided(kb, {"history": ["immunosuppression"]}, "immunosuppression")
    assert {immuno[t] for t in ("laser_ablative_full", "chemical_peel_deep", "dermabrasion")} == {"exclude"}
    assert immuno["microneedling"] == "exclude" and immuno["subcision"] == "warn"
    keloid = _decided(kb, {"history": ["keloid"]}, "keloid_history")
    assert {keloid[t] for t in ("tca_cross", "subcision", "laser_nonablative_fractional")} == {"warn"}
    assert keloid["laser_ablative_fractional"] == "exclude"
    bleeding = _decided(kb, {"history": ["bleeding_disorder"]}, "bleeding_disorder")
    assert bleeding["dermabrasion"] == "warn"
    vi = _decided(kb, {"phototype": "VI"}, "phototype_v_vi")
    assert vi["vascular_laser"] == "warn" and vi["chemical_peel_medium"] == "exclude"


def test_pattern_3_every_wounding_or_energy_cell_is_decided_with_a_source(kb: KnowledgeBase) -> None:
    # the mechanism: the loader refuses an undeclared cell (tests/knowledge/test_safety_matrix.py);
    # here, each of the conditions has a sourced decision for every wounding or energy treatment
    wounding = {t for t, tr in kb.treatments.items() if "home_care" not in tr.groups}
    for code in ("immunosuppression", "keloid_history", "bleeding_disorder", "anticoagulants", "phototype_v_vi"):
        for tid in wounding:
            d = kb.decision(code, tid)
            assert d.sources and d.evidence_level, (code, tid)


def test_rescheduling_keeps_what_an_override_allowed(kb: KnowledgeBase) -> None:
    from cicatrix.engine.reschedule import reschedule_plan

    data = make_case(
        scars=[{"type": "boxcar_shallow", "count": 8}],
        patient={"pregnant": True, "phototype": "V"},
        preferences={"start": "2027-01-11", "treatments": ["chemical_peel_superficial"]},
    )
    case = parse_case(data, kb)
    overrides = (ClinicianOverride("pih_lightening", "dermatologist reviewed; short course"),)
    plan = plan_case(case, kb, overrides)
    s = plan.course.sessions[1]
    moved = reschedule_plan(plan, case, kb, s.treatment, s.number, s.date + timedelta(days=5), overrides)
    assert [e for e in moved.timeline if e.code == "pigment_priming" and e.session == 2]
    # without the override, the step stays out after rescheduling too
    bare = plan_case(case, kb)
    s = bare.course.sessions[1]
    moved = reschedule_plan(bare, case, kb, s.treatment, s.number, s.date + timedelta(days=5))
    assert not [e for e in moved.timeline if e.code == "pigment_priming"]
