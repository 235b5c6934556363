"""The new scar measures at the command line: scored, and refused with exit 2 naming the field."""

from __future__ import annotations

import json

from tests.cli.test_plan_cli import cli
from tests.conftest import make_case


def test_score_counts_broad_linear_and_sized_scars() -> None:
    case = make_case(
        scars=[
            {"type": "broad_atrophic", "count": 1, "area_cm2": 2.0},
            {"type": "linear", "count": 2, "diameter_mm": 1.0},
            {"type": "boxcar_deep", "count": 3, "diameter_mm": 5.0},
        ]
    )
    r = cli("plan", "-", "--format", "json", stdin=json.dumps(case))
    assert r.returncode == 0, r.stderr
    scores = json.loads(r.stdout)["scores"]
    assert {row["id"]: row["points"] for row in scores["goodman_baron_quantitative_rows"]} == {
        "C_punched_out_deep_normal": 3,
        "C_linear_troughed": 3,
        "C_deep_broad_atrophic": 3,
    }
    # linear 1 mm: V-shaped; boxcar 5 mm and the broad area (no diameter: M) are M-shaped
    assert {i["id"]: i["count"] for i in scores["ecca_items"]} == {"v_shaped": 2, "m_shaped": 4}


def test_bad_diameter_exits_2_naming_the_field() -> None:
    case = make_case(scars=[{"type": "keloid", "count": 1, "area_cm2": 1, "diameter_mm": 3}])
    r = cli("plan", "-", stdin=json.dumps(case))
    assert r.returncode == 2 and r.stdout == "" and "Traceback" not in r.stderr
    assert "assessment.scars[0].diameter_mm" in r.stderr and "keloid" in r.stderr
