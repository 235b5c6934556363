"""The case's scar measures: `diameter_mm` is bounded and only on the scar types ECCA sizes."""

from __future__ import annotations

import pytest

from cicatrix.engine.case import CaseError, parse_case
from cicatrix.knowledge.models import KnowledgeBase
from tests.conftest import make_case


@pytest.mark.parametrize("scar", ["ice_pick", "boxcar_shallow", "boxcar_deep", "rolling", "broad_atrophic", "linear"])
def test_diameter_is_accepted_on_every_sized_atrophic_type(kb: KnowledgeBase, scar: str) -> None:
    case = parse_case(make_case(scars=[{"type": scar, "count": 1, "diameter_mm": 3.5}]), kb)
    assert case.assessment.scars[0].diameter_mm == 3.5
    assert scar in kb.scales.ecca.by_diameter.scars  # type: ignore[union-attr]


@pytest.mark.parametrize("scar", ["keloid", "hypertrophic", "macular", "papular", "elastolysis"])
def test_diameter_on_a_type_ecca_does_not_size_is_refused_naming_the_field(kb: KnowledgeBase, scar: str) -> None:
    entry = {"type": scar, "count": 1, "diameter_mm": 3.0}
    with pytest.raises(CaseError) as err:
        parse_case(make_case(scars=[{"type": "ice_pick", "count": 1}, entry]), kb)
    assert err.value.field == "assessment.scars[1].diameter_mm"
    assert err.value.value == 3.0 and scar in err.value.message and "ice_pick" in err.value.message


@pytest.mark.parametrize(
    ("value", "says"),
    [(0, "> 0"), (-2.0, "> 0"), (100.5, "at most 100"), (float("nan"), "> 0"), (float("inf"), "at most 100"), ("wide", "float")],
)
def test_out_of_range_diameter_is_refused_naming_the_field(kb: KnowledgeBase, value: object, says: str) -> None:
    with pytest.raises(CaseError) as err:
        parse_case(make_case(scars=[{"type": "rolling", "count": 2, "diameter_mm": value}]), kb)
    assert err.value.field == "assessment.scars[0].diameter_mm" and says in err.value.message


def test_an_unknown_type_is_named_before_its_diameter(kb: KnowledgeBase) -> None:
    with pytest.raises(CaseError) as err:
        parse_case(make_case(scars=[{"type": "crater", "count": 1, "diameter_mm": 3.0}]), kb)
    assert err.value.field == "assessment.scars[0].type"
