"""The new scar measures through the API: scored when valid, 422 naming the field when not."""

from __future__ import annotations

from tests.api.fixtures import bearer
from tests.storage.world import ASSESSMENT


def test_assessment_with_broad_linear_and_diameter_is_scored(client) -> None:  # type: ignore[no-untyped-def]
    pid = client.world.patients["P1"]
    scars = [
        {"type": "broad_atrophic", "count": 1},
        {"type": "linear", "count": 2},
        {"type": "rolling", "count": 4, "diameter_mm": 3.0},
    ]
    r = client.post(f"/api/patients/{pid}/assessments",
                    json={"assessment": {**ASSESSMENT, "scars": scars}, "generate_plan": False},
                    headers=bearer(client, "clinician"))  # fmt: skip
    assert r.status_code == 201, r.text
    scores = r.json()["assessment"]["scores"]
    assert {row["id"] for row in scores["goodman_baron_quantitative_rows"]} == {
        "A_macular",  # the fixture's PIH marks
        "B_shallow_broad_atrophic",
        "B_moderately_atrophic",
        "C_linear_troughed",
    }
    assert {i["id"]: i["count"] for i in scores["ecca_items"]} == {"u_shaped": 4, "m_shaped": 1}
    assert {w["code"] for w in scores["warnings"]} >= {"gb_area_missing", "ecca_diameter_missing"}


def test_bad_diameter_is_422_naming_the_field(client) -> None:  # type: ignore[no-untyped-def]
    pid = client.world.patients["P1"]
    for entry in ({"type": "rolling", "count": 1, "diameter_mm": 0}, {"type": "papular", "count": 1, "diameter_mm": 2}):
        r = client.post(f"/api/patients/{pid}/assessments",
                        json={"assessment": {**ASSESSMENT, "scars": [entry]}},
                        headers=bearer(client, "clinician"))  # fmt: skip
        assert r.status_code == 422, r.text
        assert r.json()["field"] == "assessment.scars[0].diameter_mm"
