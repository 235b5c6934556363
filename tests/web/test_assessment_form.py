"""The assessment form: inputs derived from the scales, parsing that keeps what was typed."""

from __future__ import annotations

from datetime import date

from cicatrix.engine import parse_case
from cicatrix.engine.scores import score_assessment
from cicatrix.knowledge.models import KnowledgeBase
from cicatrix.web.assessment_form import parse_assessment_form, scar_inputs, values_from_case
from cicatrix.web.chart import series


def test_extra_inputs_follow_the_scales(kb: KnowledgeBase) -> None:
    rows = {s.id: s for s in scar_inputs(kb)}
    assert set(rows) == set(kb.scar_types)
    assert rows["rolling"].has_depth and not rows["ice_pick"].has_depth
    assert rows["hypertrophic"].has_area and rows["hypertrophic"].has_age
    assert rows["keloid"].has_area and not rows["keloid"].has_age
    assert {rows[i].shape for i in ("ice_pick", "boxcar_shallow", "rolling")} == {"V", "U", "M"}


def test_valid_form_gives_the_engine_case_and_scores(kb: KnowledgeBase) -> None:
    form = parse_assessment_form(
        {
            "date": "2026-11-22",
            "phototype": "IV",
            "goodman_baron_qualitative": "3",
            "scar-rolling-count": "8",
            "scar-rolling-depth": "shallow",
            "scar-keloid-count": "1",
            "scar-keloid-area_cm2": "1,5",
            "mark-pih-count": "10",
            "lesion-pustule-count": "3",
            "scar-ice_pick-count": "0",
        },
        kb,
    )
    assert form.ok, form.errors
    assert form.case is not None
    a = form.case["assessment"]
    assert a["scars"] == [
        {"type": "rolling", "count": 8, "depth": "shallow"},
        {"type": "keloid", "count": 1, "area_cm2": 1.5},
    ]
    assert a["marks"] == [{"type": "pih", "count": 10}]
    assert a["active_lesions"] == [{"type": "pustule", "count": 3}]
    scores = score_assessment(parse_case(form.case, kb).assessment, kb)
    assert scores.goodman_baron_quantitative == 1 + 6 + 1  # shallow rolling, keloid <5 cm2, PIH
    assert values_from_case(form.case)["scar-keloid-area_cm2"] == "1.5"


def test_every_bad_entry_is_named_and_kept(kb: KnowledgeBase) -> None:
    data = {
        "date": "22/11/2026",
        "phototype": "VII",
        "goodman_baron_qualitative": "5",
        "scar-ice_pick-count": "-4",
        "scar-boxcar_deep-count": "2.5",
        "scar-rolling-depth": "medium",
        "scar-hypertrophic-area_cm2": "nan",
        "mark-pie-count": "lots",
    }
    form = parse_assessment_form(data, kb)
    assert not form.ok and form.case is None
    assert set(form.errors) == {
        "date",
        "phototype",
        "goodman_baron_qualitative",
        "scar-ice_pick-count",
        "scar-boxcar_deep-count",
        "scar-rolling-depth",
        "scar-hypertrophic-area_cm2",
        "mark-pie-count",
    }
    assert all(form.value(k) == v for k, v in data.items())
    assert "-4" in form.errors["scar-ice_pick-count"]


def test_chart_places_points_on_a_shared_time_axis() -> None:
    s = series("G&B", "#000", [(date(2026, 1, 1), 20), (date(2026, 7, 1), 10), (date(2026, 4, 1), 15)], 84)
    xs = [p.x for p in s.points]
    assert xs == sorted(xs) and xs[0] == 40 and xs[-1] == 308
    assert [p.value for p in s.points] == [20, 15, 10]
    assert s.points[0].y < s.points[-1].y  # higher score, higher on the chart
    assert s.maximum <= 84 and s.path.startswith("M40.0 ")
    single = series("ECCA", "#000", [(date(2026, 1, 1), 0)], 540)
    assert single.points[0].x == (40 + 308) / 2


def test_new_scar_measures_follow_the_scales(kb: KnowledgeBase) -> None:
    rows = {s.id: s for s in scar_inputs(kb)}
    sized = {"ice_pick", "boxcar_shallow", "boxcar_deep", "rolling", "broad_atrophic", "linear"}
    assert {sid for sid, r in rows.items() if r.has_diameter} == sized
    assert rows["broad_atrophic"].has_area and not rows["broad_atrophic"].has_depth
    assert not rows["linear"].has_area and not rows["linear"].has_depth
    assert rows["linear"].ecca_label is None and rows["broad_atrophic"].ecca_label is not None


def test_form_records_broad_area_and_diameter(kb: KnowledgeBase) -> None:
    form = parse_assessment_form(
        {
            "date": "2026-11-22",
            "phototype": "III",
            "scar-broad_atrophic-count": "1",
            "scar-broad_atrophic-area_cm2": "2,5",
            "scar-linear-count": "2",
            "scar-linear-diameter_mm": "1.5",
        },
        kb,
    )
    assert form.ok, form.errors
    assert form.case is not None
    assert form.case["assessment"]["scars"] == [
        {"type": "broad_atrophic", "count": 1, "area_cm2": 2.5},
        {"type": "linear", "count": 2, "diameter_mm": 1.5},
    ]
    scores = score_assessment(parse_case(form.case, kb).assessment, kb)
    assert [(r.id, r.points) for r in scores.goodman_baron_quantitative_rows] == [
        ("C_linear_troughed", 3),
        ("C_deep_broad_atrophic", 3),
    ]
    assert {i.id: i.count for i in scores.ecca_items} == {"v_shaped": 2, "m_shaped": 1}
    assert values_from_case(form.case)["scar-linear-diameter_mm"] == "1.5"


def test_bad_diameter_is_named_on_its_input(kb: KnowledgeBase) -> None:
    base = {"date": "2026-11-22", "phototype": "III", "scar-rolling-count": "3"}
    typed = parse_assessment_form({**base, "scar-rolling-diameter_mm": "wide"}, kb)
    assert "scar-rolling-diameter_mm" in typed.errors and "wide" in typed.errors["scar-rolling-diameter_mm"]
    too_big = parse_assessment_form({**base, "scar-rolling-diameter_mm": "250"}, kb)
    assert "100" in too_big.errors["scar-rolling-diameter_mm"] and too_big.case is None
    orphan = parse_assessment_form({"date": "2026-11-22", "phototype": "III", "scar-linear-diameter_mm": "2"}, kb)
    assert "scar-linear-count" in orphan.errors
