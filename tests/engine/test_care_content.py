"""The care the clinical review found missing (issue 10, pattern 9), each from the data."""

from __future__ import annotations

from typing import Any

import pytest

from cicatrix.engine.case import parse_case
from cicatrix.engine.plan import plan_case
from cicatrix.engine.result import Plan
from cicatrix.knowledge.models import KnowledgeBase
from tests.conftest import make_case


def plan_for(kb: KnowledgeBase, **parts: Any) -> Plan:
    return plan_case(parse_case(make_case(**parts), kb), kb)


def topics(plan: Plan) -> list[str]:
    return [e.topic for e in plan.education]


def codes(plan: Plan) -> list[str]:
    return [w.code for w in plan.warnings]


# --- nodular or cystic acne: a referral, and benzoyl peroxide ------------------------------------


@pytest.mark.parametrize("lesion", ["nodule", "cyst"])
def test_nodular_or_cystic_acne_is_referred_for_medical_treatment(kb: KnowledgeBase, lesion: str) -> None:
    plan = plan_for(kb, lesions=[{"type": lesion, "count": 2}])
    (referral,) = [w for w in plan.warnings if w.code == "refer_nodular_cystic_acne"]
    assert "does not prescribe" in referral.message and "dermatologist" in referral.message
    assert "benzoyl_peroxide" in topics(plan)


def test_papules_alone_get_benzoyl_peroxide_advice_but_no_referral(kb: KnowledgeBase) -> None:
    plan = plan_for(kb, lesions=[{"type": "papule", "count": 5}])
    assert "refer_nodular_cystic_acne" not in codes(plan)
    (bpo,) = [e for e in plan.education if e.topic == "benzoyl_peroxide"]
    assert "pregnancy" in bpo.text and "ref-52" in bpo.sources


def test_no_benzoyl_peroxide_advice_for_milia_or_comedones(kb: KnowledgeBase) -> None:
    plan = plan_for(kb, lesions=[{"type": "milia", "count": 5}, {"type": "comedone", "count": 5}])
    assert "benzoyl_peroxide" not in topics(plan)


def test_a_nodule_counted_zero_changes_nothing(kb: KnowledgeBase) -> None:
    plan = plan_for(kb, lesions=[{"type": "nodule", "count": 0}])
    assert "refer_nodular_cystic_acne" not in codes(plan)


# --- azelaic acid: a treatment, booked when it stands in for hydroquinone and retinoids ------------


def test_azelaic_acid_is_booked_for_pih_in_pregnancy(kb: KnowledgeBase) -> None:
    plan = plan_for(kb, marks=[{"type": "pih", "count": 10}], patient={"phototype": "V", "pregnant": True})
    booked = {r.treatment for r in plan.recommended if r.scheduled}
    assert "azelaic_acid" in booked
    assert {"pih_lightening", "topical_retinoid"}.isdisjoint(booked)
    assert any(e.treatment == "azelaic_acid" and e.code == "daily_azelaic_acid" for e in plan.timeline)


def test_azelaic_acid_is_booked_for_active_acne_in_pregnancy(kb: KnowledgeBase) -> None:
    # in pregnancy the retinoid is excluded, so azelaic acid stands in for it; while breastfeeding
    # the safety matrix keeps the retinoid (with a warning, ref-76), so it is not needed there
    plan = plan_for(kb, lesions=[{"type": "papule", "count": 10}], patient={"pregnant": True})
    booked = {r.treatment for r in plan.recommended if r.scheduled}
    assert "azelaic_acid" in booked and "topical_retinoid" not in booked
    feeding = plan_for(kb, lesions=[{"type": "papule", "count": 10}], patient={"breastfeeding": True})
    by_id = {r.treatment: r for r in feeding.recommended}
    assert by_id["topical_retinoid"].scheduled and by_id["topical_retinoid"].warnings


def test_azelaic_acid_waits_while_hydroquinone_is_booked(kb: KnowledgeBase) -> None:
    plan = plan_for(kb, marks=[{"type": "pih", "count": 10}], patient={"phototype": "V"})
    by_id = {r.treatment: r for r in plan.recommended}
    assert by_id["pih_lightening"].scheduled
    assert not by_id["azelaic_acid"].scheduled
    assert [w.code for w in by_id["azelaic_acid"].warnings] == ["alternative_not_scheduled"]
    assert not any(e.treatment == "azelaic_acid" for e in plan.timeline)


def test_with_treatments_requested_azelaic_acid_still_waits_unless_it_is_requested(kb: KnowledgeBase) -> None:
    """Requested sessions keep the daily care, and the same standing-in rule: no azelaic acid beside
    the hydroquinone and retinoid it replaces; requested by name, it is booked."""
    findings = {"marks": [{"type": "pih", "count": 10}], "lesions": [{"type": "comedone", "count": 6}]}
    plan = plan_for(kb, **findings, patient={"phototype": "IV"}, preferences={"treatments": ["microneedling"]})
    booked = {r.treatment for r in plan.recommended if r.scheduled}
    assert {"pih_lightening", "topical_retinoid"} <= booked and "azelaic_acid" not in booked
    asked = plan_for(kb, **findings, patient={"phototype": "IV"}, preferences={"treatments": ["azelaic_acid"]})
    assert "azelaic_acid" in {r.treatment for r in asked.recommended if r.scheduled}


def test_azelaic_acid_when_requested_is_booked(kb: KnowledgeBase) -> None:
    plan = plan_for(kb, marks=[{"type": "pih", "count": 10}], preferences={"treatments": ["azelaic_acid"]})
    assert "azelaic_acid" in {r.treatment for r in plan.recommended if r.scheduled}


# --- education -----------------------------------------------------------------------------------


def test_what_to_expect_is_shown_for_atrophic_scars_only(kb: KnowledgeBase) -> None:
    atrophic = plan_for(kb, scars=[{"type": "rolling", "count": 8}], assessment={"goodman_baron_qualitative": 3})
    (expect,) = [e for e in atrophic.education if e.topic == "what_to_expect"]
    assert "several sessions" in expect.text and "at least 3 months after the last session" in expect.text
    assert expect.sources == ("ref-22",)
    raised = plan_for(kb, scars=[{"type": "hypertrophic", "count": 2}])
    assert "what_to_expect" not in topics(raised)


def test_when_to_call_the_clinic_is_shown_whenever_a_procedure_is_booked(kb: KnowledgeBase) -> None:
    booked = plan_for(kb, scars=[{"type": "rolling", "count": 8}], assessment={"goodman_baron_qualitative": 3})
    assert booked.course.sessions
    (call,) = [e for e in booked.education if e.topic == "call_the_clinic"]
    for sign in ("pus", "fever", "cold sores", "dark or grey patches"):
        assert sign in call.text
    assert set(call.sources) == {"ref-83", "ref-84"}
    creams_only = plan_for(kb, marks=[{"type": "pih", "count": 10}])
    assert not creams_only.course.sessions
    assert "call_the_clinic" not in topics(creams_only)


@pytest.mark.parametrize(
    ("phototype", "shown"), [("II", False), ("III", False), ("IV", True), ("V", True), ("VI", True)]
)
def test_tinted_sunscreen_for_pih_in_phototypes_iv_to_vi(kb: KnowledgeBase, phototype: str, shown: bool) -> None:
    plan = plan_for(kb, marks=[{"type": "pih", "count": 10}], patient={"phototype": phototype})
    assert ("tinted_sunscreen" in topics(plan)) is shown
    no_pih = plan_for(kb, marks=[{"type": "pie", "count": 10}], patient={"phototype": phototype})
    assert "tinted_sunscreen" not in topics(no_pih)


def test_tinted_sunscreen_is_marked_as_a_cicatrix_default(kb: KnowledgeBase) -> None:
    topic = kb.education["tinted_sunscreen"]
    assert topic.sources == ("cicatrix-default",) and topic.evidence_level == "U"


# --- wording ---------------------------------------------------------------------------------------


def test_the_nsaid_step_names_paracetamol_and_never_stopping_a_prescribed_medicine(kb: KnowledgeBase) -> None:
    (step,) = [s for s in kb.treatments["microneedling"].protocol.steps if s.code == "day_no_antiinflammatories"]
    assert "ibuprofen" in step.text  # seed 002's rule is kept
    assert "paracetamol" in step.text
    assert "Never stop a medicine your doctor prescribed, such as aspirin" in step.text
    assert step.evidence_level == "U" and "cicatrix-default" in step.sources


def test_no_other_step_tells_the_patient_to_avoid_painkillers_without_the_same_safeguard(kb: KnowledgeBase) -> None:
    for t in kb.treatments.values():
        added = (s for rules in kb.safety.values() for d in rules.decisions for s in d.add_steps)
        steps = [*t.protocol.steps, *added]
        for s in steps:
            if "ibuprofen" in s.text or "anti-inflammatory" in s.text.lower():
                assert "paracetamol" in s.text and "Never stop" in s.text, (t.id, s.code)


def test_milia_are_keratin_cysts_not_trapped_sebum(kb: KnowledgeBase) -> None:
    milia = kb.lesions["milia"]
    assert "keratin" in milia.definition and "sebum" not in milia.definition
    assert milia.note is not None and "seed 000" in milia.note
    assert milia.evidence_level == "U"
