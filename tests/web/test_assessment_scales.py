"""The assessment page offers the new scar types and measures, and the live panel explains them."""

from __future__ import annotations

import re

from tests.web.conftest import TODAY, Demo


def test_page_offers_broad_linear_diameter_and_stretch(demo: Demo) -> None:
    demo.login("clinician")
    html = demo.client.get("/patients/2/assessments/new").text
    for name in ("scar-broad_atrophic-area_cm2", "scar-linear-count", "scar-ice_pick-diameter_mm"):
        assert f'id="{name}"' in html
    assert 'id="scar-keloid-diameter_mm"' not in html  # ECCA does not size keloids
    assert "flattened by manual stretching" in html and "Low-grade source" in html


def test_live_score_counts_the_new_rows_and_shows_ecca_items(demo: Demo) -> None:
    demo.login("clinician")
    token = demo.csrf("/patients/2/assessments/new")
    form = {
        "csrf_token": token,
        "date": TODAY.isoformat(),
        "phototype": "II",
        "scar-broad_atrophic-count": "1",  # no area: shallow broad row (2) with a warning
        "scar-linear-count": "21",  # 3 x 3 = 9; no ECCA item without a diameter
        "scar-boxcar_deep-count": "3",
        "scar-boxcar_deep-diameter_mm": "5",  # M-shaped by size: 25
    }
    live = demo.client.post("/assess/score", data=form)
    assert live.status_code == 200
    assert re.search(r'data-score="gb">14<', live.text)  # 2 + 9 + 3
    assert re.search(r'data-score="ecca">25<', live.text)  # M-shaped: 3 boxcar + 1 broad area = 4, grade 1
    assert "How the ECCA score adds up" in live.text
    assert "has no area (cm²)" in live.text and "linear or troughed scars" in live.text
