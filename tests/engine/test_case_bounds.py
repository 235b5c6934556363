"""The case's plausibility bounds (issue 12 §5): absurd counts, areas and dates are refused
where the case enters, naming the field, instead of overflowing date arithmetic later."""

from __future__ import annotations

import pytest

from cicatrix.engine.case import CaseError, parse_case
from cicatrix.engine.plan import plan_case
from cicatrix.knowledge.loader import load_knowledge
from tests.conftest import make_case

MAX_COUNT = load_knowledge().policy.input_bounds.max_count  # knowledge data: policy.input_bounds


@pytest.mark.parametrize(
    ("case", "field"),
    [
        (make_case(scars=[{"type": "rolling", "count": 10**30}]), "assessment.scars[0].count"),
        (make_case(marks=[{"type": "pih", "count": MAX_COUNT + 1}]), "assessment.marks[0].count"),
        (make_case(scars=[{"type": "rolling", "count": 1, "area_cm2": 1e30}]), "assessment.scars[0].area_cm2"),
        (make_case(assessment={"date": "0001-01-01"}), "assessment.date"),
        (make_case(preferences={"start": "9999-12-01"}), "preferences.start"),
        (make_case(patient={"birth_date": "1850-01-01"}), "patient.birth_date"),
        (make_case(patient={"isotretinoin_last_dose": "9999-01-01"}), "patient.isotretinoin_last_dose"),
        (make_case(scars=[{"type": "rolling", "count": 1, "age_months": 1441}]), "assessment.scars[0].age_months"),
        (make_case(scars=[{"type": "boxcar_shallow", "count": 1, "diameter_mm": 101}]), "assessment.scars[0].diameter_mm"),
        (make_case(lesions=[{"type": "papule", "count": 10**9}]), "assessment.active_lesions[0].count"),
        (make_case(scars=[{"type": "rolling", "count": 1, "area_cm2": float("nan")}]), "assessment.scars[0].area_cm2"),
        (make_case(patient={"birth_date": "2000-05-01"}, assessment={"date": "2000-04-30"}), "assessment.date"),
    ],
)
def test_out_of_range_values_are_refused_naming_the_field(case, field: str, kb) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CaseError) as err:
        parse_case(case, kb)
    assert err.value.field == field


def test_the_largest_accepted_values_still_plan(kb) -> None:  # type: ignore[no-untyped-def]
    case = make_case(
        scars=[{"type": "rolling", "count": MAX_COUNT, "area_cm2": 25_000}],
        preferences={"start": "2199-12-31"},
    )
    plan = plan_case(parse_case(case, kb), kb)
    assert plan.course.sessions


def test_the_bounds_are_the_clinics_knowledge_data(kb) -> None:  # type: ignore[no-untyped-def]
    """A clinic's override moves the bound: it is data, not a constant in the engine."""
    from msgspec.structs import replace

    tighter = replace(kb, policy=replace(kb.policy, input_bounds=replace(kb.policy.input_bounds, max_count=40)))
    case = make_case(scars=[{"type": "rolling", "count": 41}])
    parse_case(case, kb)
    with pytest.raises(CaseError) as err:
        parse_case(case, tighter)
    assert err.value.field == "assessment.scars[0].count" and "at most 40" in err.value.message
