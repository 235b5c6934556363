"""Every safety rule of the care-engine issue, through plan_case."""

from __future__ import annotations

from typing import Any

import pytest

from cicatrix.engine.case import parse_case
from cicatrix.engine.plan import plan_case
from cicatrix.engine.result import Plan
from cicatrix.knowledge.models import KnowledgeBase
from tests.conftest import make_case

# every scar type, so every treatment is relevant and its screening shows up in the plan
ALL_SCARS = [
    {"type": "ice_pick", "count": 12},
    {"type": "boxcar_shallow", "count": 8},
    {"type": "boxcar_deep", "count": 8},
    {"type": "rolling", "count": 8},
    {"type": "hypertrophic", "count": 1, "area_cm2": 2, "age_months": 6},
    {"type": "papular", "count": 3},
    {"type": "elastolysis", "count": 2},
]
ALL_MARKS = [{"type": "pih", "count": 5}, {"type": "pie", "count": 5}]
RESURFACING = {
    "chemical_peel_superficial",
    "chemical_peel_medium",
    "chemical_peel_deep",
    "laser_nonablative_fractional",
    "laser_ablative_fractional",
    "laser_ablative_full",
    "dermabrasion",
}


def plan_for(kb: KnowledgeBase, patient: dict[str, Any] | None = None, **parts: Any) -> Plan:
    parts.setdefault("scars", ALL_SCARS)
    parts.setdefault("marks", ALL_MARKS)
    parts.setdefault("assessment", {"goodman_baron_qualitative": 4})
    return plan_case(parse_case(make_case(patient=patient, **parts), kb), kb)


def excluded(plan: Plan, code: str) -> set[str]:
    return {e.treatment for e in plan.excluded if any(r.code == code for r in e.reasons)}


def warned(plan: Plan, code: str) -> set[str]:
    return {r.treatment for r in plan.recommended if any(w.code == code for w in r.warnings)}


def scheduled(plan: Plan) -> set[str]:
    return {s.treatment for s in plan.course.sessions}


def test_baseline_patient_has_no_exclusions(kb: KnowledgeBase) -> None:
    plan = plan_for(kb)
    assert plan.excluded == ()
    assert len(plan.recommended) == len(kb.treatments)


def test_pregnancy_defers_every_elective_procedure(kb: KnowledgeBase) -> None:
    plan = plan_for(kb, {"pregnant": True})
    out = excluded(plan, "pregnancy")
    procedures = {t for t, tr in kb.treatments.items() if tr.category in ("procedure", "device", "injection")}
    assert out == (procedures - {"chemical_peel_superficial"}) | {"topical_retinoid", "pih_lightening"}
    assert "chemical_peel_superficial" in warned(plan, "pregnancy")
    assert {"sun_protection", "silicone_gel"} <= {r.treatment for r in plan.recommended}
    assert any(w.code == "pregnancy_defer_elective" for w in plan.warnings)


def test_breastfeeding_follows_the_lactation_review(kb: KnowledgeBase) -> None:
    plan = plan_for(kb, {"breastfeeding": True})
    assert excluded(plan, "breastfeeding") == {"chemical_peel_deep", "pih_lightening"}
    assert "topical_retinoid" in warned(plan, "breastfeeding")
    assert {"microneedling", "chemical_peel_medium", "laser_ablative_fractional"} <= {
        r.treatment for r in plan.recommended
    }


def test_active_inflammatory_acne_holds_every_procedure(kb: KnowledgeBase) -> None:
    for lesion in ("papule", "pustule", "nodule", "cyst"):
        plan = plan_for(kb, lesions=[{"type": lesion, "count": 1}])
        procedures = {t for t, tr in kb.treatments.items() if tr.category in ("procedure", "device", "injection")}
        assert excluded(plan, "active_inflammatory_acne") == procedures
        assert plan.course.sessions == ()
        assert any(w.code == "control_acne_first" for w in plan.warnings)
        assert lesion in {e.topic for e in plan.education}
    assert {r.treatment for r in plan.recommended} >= {"topical_retinoid", "sun_protection"}


def test_comedones_and_milia_are_not_inflammatory(kb: KnowledgeBase) -> None:
    plan = plan_for(kb, lesions=[{"type": "comedone", "count": 9}, {"type": "milia", "count": 4}])
    assert excluded(plan, "active_inflammatory_acne") == set()
    milia = next(e for e in plan.education if e.topic == "milia")
    assert "not recommended" in milia.text


def test_pustule_advice_comes_from_seed_000(kb: KnowledgeBase) -> None:
    plan = plan_for(kb, lesions=[{"type": "pustule", "count": 2}])
    advice = next(e for e in plan.education if e.topic == "pustule")
    assert "warm compress" in advice.text and "not pop" in advice.text and "seed-000" in advice.sources


def test_recent_isotretinoin_delays_only_deep_resurfacing(kb: KnowledgeBase) -> None:
    plan = plan_for(
        kb, {"isotretinoin_last_dose": "2026-10-01"}, assessment={"date": "2026-11-22", "goodman_baron_qualitative": 4}
    )
    assert excluded(plan, "recent_isotretinoin") == set()
    delayed = {
        r.treatment
        for r in plan.recommended
        if any(w.code == "recent_isotretinoin" and "on or after 2027-04-01" in w.message for w in r.warnings)
    }
    assert delayed == {"laser_ablative_full", "dermabrasion", "chemical_peel_deep"}
    kept = {r.treatment for r in plan.recommended}
    assert {"chemical_peel_superficial", "laser_nonablative_fractional", "laser_ablative_fractional"} <= kept


def test_isotretinoin_six_months_ago_no_longer_counts(kb: KnowledgeBase) -> None:
    plan = plan_for(
        kb, {"isotretinoin_last_dose": "2026-05-22"}, assessment={"date": "2026-11-22", "goodman_baron_qualitative": 4}
    )
    assert excluded(plan, "recent_isotretinoin") == set()
    assert warned(plan, "recent_isotretinoin") == set()


@pytest.mark.parametrize("source", [{"history": ["keloid"]}, {}])
def test_keloid_history_or_keloid_present(kb: KnowledgeBase, source: dict[str, Any]) -> None:
    scars = ALL_SCARS if source else [*ALL_SCARS, {"type": "keloid", "count": 1, "area_cm2": 1}]
    plan = plan_for(kb, source, scars=scars)
    out = excluded(plan, "keloid_history")
    assert {
        "microneedling",
        "rf_microneedling",
        "laser_ablative_fractional",
        "laser_ablative_full",
        "dermabrasion",
    } <= out


def test_immunosuppression_excludes_microneedling(kb: KnowledgeBase) -> None:
    plan = plan_for(kb, {"history": ["immunosuppression"]})
    assert {"microneedling", "rf_microneedling"} <= excluded(plan, "immunosuppression")


def test_herpes_simplex_adds_antiviral_steps_before_resurfacing_peels_and_needling(kb: KnowledgeBase) -> None:
    plan = plan_for(kb, {"history": ["herpes_simplex"]})
    hsv = warned(plan, "herpes_simplex_history")
    assert {"microneedling", "chemical_peel_superficial", "laser_ablative_fractional"} <= hsv
    assert RESURFACING - {"laser_ablative_full", "dermabrasion", "chemical_peel_deep"} <= hsv | RESURFACING
    for tid in hsv:
        steps = kb.decision("herpes_simplex_history", tid).add_steps + kb.treatments[tid].protocol.steps
        antiviral = [s for s in steps if "antiviral" in s.uses]
        assert antiviral and any(s.offset < 0 for s in antiviral), tid
    mn = plan_case(
        parse_case(
            make_case(
                scars=[{"type": "rolling", "count": 8}],
                patient={"history": ["herpes_simplex"]},
                assessment={"goodman_baron_qualitative": 3},
                preferences={"start": "2027-01-11", "treatments": ["microneedling"]},
            ),
            kb,
        ),
        kb,
    )
    first = mn.course.sessions[0].date
    antiviral = [e for e in mn.timeline if e.code == "hsv_prophylaxis" and e.session == 1]
    assert antiviral and antiviral[0].date < first and antiviral[0].kind == "do"


def test_high_phototype(kb: KnowledgeBase) -> None:
    for phototype in ("IV", "V", "VI"):
        plan = plan_for(kb, {"phototype": phototype})
        assert excluded(plan, "high_phototype_pih_risk") == {
            "laser_ablative_full",
            "chemical_peel_deep",
            "dermabrasion",
        }
        kept_resurfacing = RESURFACING & {r.treatment for r in plan.recommended}
        assert kept_resurfacing and kept_resurfacing <= warned(plan, "high_phototype_pih_risk")
        for tid in kept_resurfacing:
            codes = {s.code for s in kb.decision("high_phototype_pih_risk", tid).add_steps}
            assert {"test_spot", "pigment_priming"} <= codes, tid
        preferred = {
            r.treatment for r in plan.recommended if any(a.code == "phototype_preferred" for a in r.adjustments)
        }
        assert {"microneedling", "subcision", "tca_cross", "laser_nonablative_fractional"} <= preferred
    light = plan_for(kb, {"phototype": "III"})
    assert excluded(light, "high_phototype_pih_risk") == set()


@pytest.mark.parametrize(
    ("patient", "code"),
    [({"medications": ["anticoagulant"]}, "anticoagulants"), ({"history": ["bleeding_disorder"]}, "bleeding_disorder")],
)
def test_bleeding_risk_warns_on_needling_subcision_and_punch(
    kb: KnowledgeBase, patient: dict[str, Any], code: str
) -> None:
    plan = plan_for(kb, patient)
    assert {"microneedling", "subcision", "punch_excision", "punch_elevation"} <= warned(plan, code)
    assert excluded(plan, code) == set()


def test_recent_sunburn_postpones_resurfacing_peels_and_needling(kb: KnowledgeBase) -> None:
    plan = plan_for(kb, {"recent_sunburn": True})
    assert {"microneedling", "chemical_peel_superficial", "laser_nonablative_fractional"} <= warned(
        plan, "recent_sunburn"
    )
    case = make_case(
        scars=[{"type": "rolling", "count": 8}],
        patient={"recent_sunburn": True},
        assessment={"date": "2027-01-05", "goodman_baron_qualitative": 3},
        preferences={"start": "2027-01-06", "treatments": ["microneedling"]},
    )
    mn = plan_case(parse_case(case, kb), kb)
    assert str(mn.course.sessions[0].date) == "2027-01-19"
    assert any(n.code == "start_postponed" for n in mn.course.notes)


def test_requested_excluded_treatment_says_why_and_is_not_scheduled(kb: KnowledgeBase) -> None:
    case = make_case(
        scars=[{"type": "rolling", "count": 8}],
        patient={"history": ["immunosuppression"]},
        preferences={"start": "2027-01-11", "treatments": ["microneedling"]},
    )
    plan = plan_case(parse_case(case, kb), kb)
    assert plan.course.sessions == ()
    w = next(w for w in plan.warnings if w.code == "requested_treatment_excluded")
    assert "Immunosuppression" in w.message
    assert "microneedling" in {e.treatment for e in plan.excluded}


def test_every_recommendation_says_why_and_cites(kb: KnowledgeBase) -> None:
    plan = plan_for(kb, {"phototype": "V", "history": ["herpes_simplex"]})
    for r in plan.recommended:
        assert r.rationale and r.sources and all(s in kb.sources for s in r.sources)
    for e in plan.excluded:
        assert e.reasons and all(m.message for m in e.reasons)


def test_surrounding_whitespace_cannot_hide_a_contraindication(kb: KnowledgeBase) -> None:
    # typed or pasted input often carries spaces; " keloid " must screen exactly like "keloid"
    padded = plan_for(
        kb, {"history": [" keloid "], "medications": ["anticoagulant "]}, scars=[{"type": " rolling", "count": 4}]
    )
    clean = plan_for(
        kb, {"history": ["keloid"], "medications": ["anticoagulant"]}, scars=[{"type": "rolling", "count": 4}]
    )
    assert "microneedling" in excluded(padded, "keloid_history")
    assert padded == clean


def test_a_wait_the_case_cannot_date_excludes(tmp_path: Any) -> None:
    # a clinic makes micro-needling wait 3 months after the last isotretinoin dose whenever the
    # patient is sunburnt; a case without that date cannot be dated, so it is excluded, not booked
    from cicatrix.knowledge.loader import load_knowledge

    (tmp_path / "safety").mkdir()
    (tmp_path / "safety" / "recent_sunburn.yaml").write_text(
        "id: recent_sunburn\ndecisions:\n"
        "  - treatments: [microneedling]\n    decision: delay\n"
        "    wait: {after: isotretinoin_last_dose, months: 3}\n    message: Clinic rule.\n"
        "    sources: [cicatrix-default]\n    evidence_level: U\n"
    )
    clinic = load_knowledge(tmp_path, cache=False)
    data = make_case(
        scars=[{"type": "rolling", "count": 8}],
        patient={"recent_sunburn": True},
        preferences={"start": "2027-01-11", "treatments": ["microneedling"]},
    )
    plan = plan_case(parse_case(data, clinic), clinic)
    assert plan.course.sessions == ()
    (why,) = [r for e in plan.excluded if e.treatment == "microneedling" for r in e.reasons]
    assert "no isotretinoin_last_dose" in why.message
