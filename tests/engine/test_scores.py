"""Every scale row and every count/area boundary, against the published tables."""

from __future__ import annotations

import pytest

from cicatrix.engine.case import parse_case
from cicatrix.engine.scores import score_assessment
from cicatrix.knowledge.models import KnowledgeBase
from tests.conftest import make_case


def scores(kb: KnowledgeBase, **parts: object):  # type: ignore[no-untyped-def]
    case = parse_case(make_case(**parts), kb)  # type: ignore[arg-type]
    return score_assessment(case.assessment, kb)


@pytest.mark.parametrize(
    ("entry", "row", "points"),
    [
        ({"type": "macular", "count": 3}, "A_macular", 1),
        ({"type": "rolling", "count": 3, "depth": "shallow"}, "A_mildly_atrophic", 1),
        ({"type": "rolling", "count": 3}, "B_moderately_atrophic", 2),
        ({"type": "rolling", "count": 3, "depth": "deep"}, "C_deep_broad_atrophic", 3),
        ({"type": "boxcar_shallow", "count": 3}, "B_punched_out_shallow", 2),
        ({"type": "boxcar_deep", "count": 3}, "C_punched_out_deep_normal", 3),
        ({"type": "ice_pick", "count": 3}, "C_punched_out_deep_abnormal", 3),
        ({"type": "papular", "count": 3}, "D_papular", 2),
    ],
)
def test_gb_each_row_maps_to_its_points(kb: KnowledgeBase, entry: dict, row: str, points: int) -> None:
    s = scores(kb, scars=[entry])
    assert [(r.id, r.points) for r in s.goodman_baron_quantitative_rows] == [(row, points)]
    assert s.goodman_baron_quantitative == points


@pytest.mark.parametrize(("count", "multiplier"), [(1, 1), (10, 1), (11, 2), (20, 2), (21, 3), (500, 3)])
def test_gb_count_multiplier_boundaries(kb: KnowledgeBase, count: int, multiplier: int) -> None:
    s = scores(kb, scars=[{"type": "ice_pick", "count": count}])
    assert s.goodman_baron_quantitative_rows[0].multiplier == multiplier
    assert s.goodman_baron_quantitative == 3 * multiplier


def test_gb_marks_count_together_with_macular_scars(kb: KnowledgeBase) -> None:
    s = scores(
        kb, scars=[{"type": "macular", "count": 4}], marks=[{"type": "pih", "count": 4}, {"type": "pie", "count": 3}]
    )
    (row,) = s.goodman_baron_quantitative_rows
    assert (row.id, row.count, row.multiplier, row.points) == ("A_macular", 11, 2, 2)


def test_gb_zero_counts_score_nothing(kb: KnowledgeBase) -> None:
    s = scores(kb, scars=[{"type": "ice_pick", "count": 0}])
    assert s.goodman_baron_quantitative == 0 and s.goodman_baron_quantitative_rows == ()


@pytest.mark.parametrize(
    ("areas", "points"),
    [([4.99], 6), ([5.0], 12), ([2.5, 2.5], 12), ([20.0], 12), ([20.01], 18), ([15.0, 6.0], 18), ([0.5], 6)],
)
def test_gb_hypertrophic_keloid_area_bands(kb: KnowledgeBase, areas: list[float], points: int) -> None:
    scars = [
        {"type": "hypertrophic" if i % 2 == 0 else "keloid", "count": 1, "area_cm2": a, "age_months": 1}
        for i, a in enumerate(areas)
    ]
    s = scores(kb, scars=scars)
    (row,) = s.goodman_baron_quantitative_rows
    assert row.id == "D_keloidal_hypertrophic" and row.points == points
    assert not [w for w in s.warnings if w.code == "gb_area_missing"]


def test_gb_missing_area_uses_smallest_band_and_warns(kb: KnowledgeBase) -> None:
    s = scores(kb, scars=[{"type": "keloid", "count": 2}])
    assert s.goodman_baron_quantitative == 6
    assert any(w.code == "gb_area_missing" for w in s.warnings)


def test_gb_maximum_is_84(kb: KnowledgeBase) -> None:
    scars = [
        {"type": "macular", "count": 30},
        {"type": "rolling", "count": 30, "depth": "shallow"},
        {"type": "rolling", "count": 30},
        {"type": "boxcar_shallow", "count": 30},
        {"type": "boxcar_deep", "count": 30},
        {"type": "ice_pick", "count": 30},
        {"type": "rolling", "count": 30, "depth": "deep"},
        {"type": "papular", "count": 30},
        {"type": "keloid", "count": 1, "area_cm2": 30},
    ]
    # the adopted table has one row fewer than the paper's (linear troughed, shallow broad are not
    # separate inputs), so the reachable maximum is 84 minus those rows: 2*3 + 3 (linear) = 9 less
    s = scores(kb, scars=scars)
    assert s.goodman_baron_quantitative == 84 - 2 * 3 - 3 * 3
    assert kb.scales.goodman_baron_quantitative.maximum == 84


@pytest.mark.parametrize(("count", "grade"), [(1, 1), (4, 1), (5, 2), (20, 2), (21, 3)])
def test_ecca_count_grade_boundaries(kb: KnowledgeBase, count: int, grade: int) -> None:
    s = scores(kb, scars=[{"type": "ice_pick", "count": count}])
    (item,) = s.ecca_items
    assert (item.grade, item.points, s.ecca) == (grade, 15 * grade, 15 * grade)


@pytest.mark.parametrize(
    ("entry", "item", "weight"),
    [
        ({"type": "ice_pick", "count": 1}, "v_shaped", 15),
        ({"type": "boxcar_shallow", "count": 1}, "u_shaped", 20),
        ({"type": "boxcar_deep", "count": 1}, "u_shaped", 20),
        ({"type": "rolling", "count": 1, "depth": "deep"}, "m_shaped", 25),
        ({"type": "elastolysis", "count": 1}, "superficial_elastolysis", 30),
        ({"type": "hypertrophic", "count": 1, "age_months": 23, "area_cm2": 1}, "hypertrophic_recent", 40),
        ({"type": "hypertrophic", "count": 1, "age_months": 24, "area_cm2": 1}, "keloid_old_hypertrophic", 50),
        ({"type": "keloid", "count": 1, "age_months": 2, "area_cm2": 1}, "keloid_old_hypertrophic", 50),
    ],
)
def test_ecca_each_item_weight(kb: KnowledgeBase, entry: dict, item: str, weight: int) -> None:
    s = scores(kb, scars=[entry])
    assert [(i.id, i.points) for i in s.ecca_items] == [(item, weight)]


def test_ecca_boxcar_counts_are_added(kb: KnowledgeBase) -> None:
    s = scores(kb, scars=[{"type": "boxcar_shallow", "count": 3}, {"type": "boxcar_deep", "count": 2}])
    (item,) = s.ecca_items
    assert (item.count, item.grade, item.points) == (5, 2, 40)


def test_ecca_hypertrophic_without_age_scores_recent_and_warns(kb: KnowledgeBase) -> None:
    s = scores(kb, scars=[{"type": "hypertrophic", "count": 2, "area_cm2": 1}])
    assert [i.id for i in s.ecca_items] == ["hypertrophic_recent"]
    assert any(w.code == "ecca_age_missing" for w in s.warnings)


def test_ecca_maximum_is_540(kb: KnowledgeBase) -> None:
    scars = [
        {"type": "ice_pick", "count": 21},
        {"type": "boxcar_deep", "count": 21},
        {"type": "rolling", "count": 21},
        {"type": "elastolysis", "count": 21},
        {"type": "hypertrophic", "count": 21, "age_months": 3, "area_cm2": 1},
        {"type": "keloid", "count": 21, "area_cm2": 1},
    ]
    assert scores(kb, scars=scars).ecca == 540 == kb.scales.ecca.maximum


@pytest.mark.parametrize(("grade", "severity"), [(1, "mild"), (2, "mild"), (3, "moderate"), (4, "severe")])
def test_severity_follows_qualitative_grade(kb: KnowledgeBase, grade: int, severity: str) -> None:
    s = scores(kb, scars=[{"type": "ice_pick", "count": 30}], assessment={"goodman_baron_qualitative": grade})
    assert (s.goodman_baron_qualitative, s.severity, s.severity_basis) == (grade, severity, "goodman_baron_qualitative")
    assert not [w for w in s.warnings if w.code == "severity_estimated"]


@pytest.mark.parametrize(
    ("scars", "severity"),
    [
        ([{"type": "ice_pick", "count": 10}], "mild"),  # 3 points
        ([{"type": "ice_pick", "count": 21}], "mild"),  # 9 points: top of the mild band
        ([{"type": "ice_pick", "count": 21}, {"type": "rolling", "count": 1}], "moderate"),  # 11
        (
            [
                {"type": "ice_pick", "count": 21},
                {"type": "boxcar_deep", "count": 21},
                {"type": "rolling", "count": 3, "depth": "deep"},
            ],
            "severe",
        ),  # 21
        ([{"type": "macular", "count": 40}], "mild"),  # flat marks only
    ],
)
def test_severity_fallback_is_labelled_not_published(kb: KnowledgeBase, scars: list, severity: str) -> None:
    s = scores(kb, scars=scars)
    assert s.severity == severity
    assert s.severity_basis == "cicatrix_default_rule"
    assert any(w.code == "severity_estimated" for w in s.warnings)
    assert kb.scales.severity_fallback.evidence_level == "U"


def test_nothing_recorded_has_no_severity(kb: KnowledgeBase) -> None:
    s = scores(kb)
    assert (s.goodman_baron_quantitative, s.ecca, s.severity) == (0, 0, None)
