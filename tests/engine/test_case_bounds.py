"""The case's plausibility bounds (issue 12 §5): absurd counts, areas and dates are refused
where the case enters, naming the field, instead of overflowing date arithmetic later."""

from __future__ import annotations

import pytest

from cicatrix.engine.case import MAX_COUNT, CaseError, parse_case
from cicatrix.engine.plan import plan_case
from tests.conftest import make_case


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
