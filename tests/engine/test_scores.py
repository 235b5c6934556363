"""Every scale row and every count/area boundary, against the published tables."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cicatrix.engine.case import parse_case
from cicatrix.engine.scores import score_assessment
from cicatrix.knowledge.loader import load_knowledge
from cicatrix.knowledge.models import KnowledgeBase
from tests.conftest import make_case

KB = load_knowledge()


def scores(kb: KnowledgeBase, **parts: object):  # type: ignore[no-untyped-def]
    case = parse_case(make_case(**parts), kb)  # type: ignore[arg-type]
    return score_assessment(case.assessment, kb)


@pytest.mark.parametrize(
    ("entry", "row", "points"),
    [
        ({"type": "macular", "count": 3}, "A_macular", 1),
        ({"type": "rolling", "count": 3, "depth": "shallow"}, "A_mildly_atrophic", 1),
        ({"type": "rolling", "count": 3}, "B_moderately_atrophic", 2),
        ({"type": "rolling", "count": 3, "depth": "deep"}, "B_moderately_atrophic", 2),
        ({"type": "boxcar_shallow", "count": 3}, "B_punched_out_shallow", 2),
        ({"type": "broad_atrophic", "count": 1, "area_cm2": 1.0}, "B_shallow_broad_atrophic", 2),
        ({"type": "boxcar_deep", "count": 3}, "C_punched_out_deep_normal", 3),
        ({"type": "ice_pick", "count": 3}, "C_punched_out_deep_abnormal", 3),
        ({"type": "linear", "count": 3}, "C_linear_troughed", 3),
        ({"type": "broad_atrophic", "count": 1, "area_cm2": 2.0}, "C_deep_broad_atrophic", 3),
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


# The published table (Goodman & Baron 2006, as adopted in clinical-reference.md section 1b),
# written out here rather than read from scales.yaml, so the data is checked against it.
PUBLISHED_ROW_POINTS = {
    "A_macular": 1,
    "A_mildly_atrophic": 1,
    "B_moderately_atrophic": 2,
    "B_punched_out_shallow": 2,
    "B_shallow_broad_atrophic": 2,
    "C_punched_out_deep_normal": 3,
    "C_punched_out_deep_abnormal": 3,
    "C_linear_troughed": 3,
    "C_deep_broad_atrophic": 3,
    "D_papular": 2,
}


def test_gb_maximum_84_is_reached_row_by_row(kb: KnowledgeBase) -> None:
    """Every row at more than 20 lesions (x3) and hypertrophic area over 20 cm2 (18) is 84."""
    scars = [
        {"type": "macular", "count": 21},
        {"type": "rolling", "count": 21, "depth": "shallow"},
        {"type": "rolling", "count": 21, "depth": "deep"},
        {"type": "boxcar_shallow", "count": 21},
        {"type": "broad_atrophic", "count": 21, "area_cm2": 21 * 1.0},  # 1.0 cm2 each: shallow broad
        {"type": "boxcar_deep", "count": 21},
        {"type": "ice_pick", "count": 21},
        {"type": "linear", "count": 21},
        {"type": "broad_atrophic", "count": 21, "area_cm2": 21 * 2.0},  # 2.0 cm2 each: deep broad
        {"type": "papular", "count": 21},
        {"type": "keloid", "count": 1, "area_cm2": 20.5},
    ]
    s = scores(kb, scars=scars)
    got = {r.id: r.points for r in s.goodman_baron_quantitative_rows}
    expected = {rid: 3 * points for rid, points in PUBLISHED_ROW_POINTS.items()} | {"D_keloidal_hypertrophic": 18}
    assert got == expected
    assert all(r.multiplier == 3 for r in s.goodman_baron_quantitative_rows if r.id != "D_keloidal_hypertrophic")
    assert s.goodman_baron_quantitative == 84 == kb.scales.goodman_baron_quantitative.maximum
    # every row of the data is one of the published rows, and each was reached above
    data_rows = [r.id for r in kb.scales.goodman_baron_quantitative.rows]
    assert sorted(data_rows) == sorted(PUBLISHED_ROW_POINTS)
    assert {r.id: r.points for r in kb.scales.goodman_baron_quantitative.rows} == PUBLISHED_ROW_POINTS


@pytest.mark.parametrize(
    ("count", "area", "row"),
    [
        (1, 0.2, "B_shallow_broad_atrophic"),
        (1, 1.49, "B_shallow_broad_atrophic"),
        (1, 1.5, "C_deep_broad_atrophic"),  # from 1.5 cm2: the deep broad row (a cicatrix convention)
        (1, 6.0, "C_deep_broad_atrophic"),
        (2, 2.98, "B_shallow_broad_atrophic"),  # 1.49 cm2 each: the area of each area decides
        (2, 3.0, "C_deep_broad_atrophic"),  # 1.5 cm2 each
    ],
)
def test_gb_broad_atrophic_row_by_area_of_each(kb: KnowledgeBase, count: int, area: float, row: str) -> None:
    s = scores(kb, scars=[{"type": "broad_atrophic", "count": count, "area_cm2": area}])
    (r,) = s.goodman_baron_quantitative_rows
    assert (r.id, r.count, r.area_cm2) == (row, count, area)
    assert not [w for w in s.warnings if w.code == "gb_area_missing"]


def test_gb_broad_atrophic_entries_either_side_of_the_boundary_score_both_rows(kb: KnowledgeBase) -> None:
    s = scores(
        kb,
        scars=[
            {"type": "broad_atrophic", "count": 2, "area_cm2": 1.0},
            {"type": "broad_atrophic", "count": 1, "area_cm2": 4.0},
        ],
    )
    assert [(r.id, r.count, r.points) for r in s.goodman_baron_quantitative_rows] == [
        ("B_shallow_broad_atrophic", 2, 2),
        ("C_deep_broad_atrophic", 1, 3),
    ]


def test_gb_broad_atrophic_without_area_scores_the_smaller_row_and_warns(kb: KnowledgeBase) -> None:
    s = scores(kb, scars=[{"type": "broad_atrophic", "count": 2}])
    assert [(r.id, r.points) for r in s.goodman_baron_quantitative_rows] == [("B_shallow_broad_atrophic", 2)]
    (w,) = [w for w in s.warnings if w.code == "gb_area_missing"]
    assert "broad atrophic" in w.message and "area (cm²)" in w.message and "area_cm2" not in w.message


def test_gb_rolling_depth_maps_to_the_dish_like_rows(kb: KnowledgeBase) -> None:
    s = scores(
        kb,
        scars=[
            {"type": "rolling", "count": 4, "depth": "shallow"},
            {"type": "rolling", "count": 4, "depth": "deep"},
            {"type": "rolling", "count": 4},
        ],
    )
    assert [(r.id, r.count) for r in s.goodman_baron_quantitative_rows] == [
        ("A_mildly_atrophic", 4),
        ("B_moderately_atrophic", 8),
    ]
    conventions = {c.id: c for c in kb.scales.goodman_baron_quantitative.conventions}
    assert conventions["rolling_depth"].evidence_level == "U"
    assert conventions["broad_area"].evidence_level == "U"


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


SIZED = ["ice_pick", "boxcar_shallow", "boxcar_deep", "rolling", "broad_atrophic", "linear"]


def ecca_item_for(mm: float) -> str:
    """The published ECCA size bands: V <2 mm, U 2-4 mm, M >4 mm (an oracle written apart from the data)."""
    return "v_shaped" if mm < 2 else "u_shaped" if mm <= 4 else "m_shaped"


@pytest.mark.parametrize("scar", SIZED)
@pytest.mark.parametrize("mm", [0.5, 1.99, 2.0, 3.0, 4.0, 4.01, 12.0, 100.0])
def test_ecca_diameter_decides_the_item(kb: KnowledgeBase, scar: str, mm: float) -> None:
    s = scores(kb, scars=[{"type": scar, "count": 3, "diameter_mm": mm}])
    assert [(i.id, i.count) for i in s.ecca_items] == [(ecca_item_for(mm), 3)]
    assert not [w for w in s.warnings if w.code == "ecca_diameter_missing"]


@pytest.mark.parametrize(
    ("scar", "item"),
    [
        ("ice_pick", "v_shaped"),
        ("boxcar_shallow", "u_shaped"),
        ("boxcar_deep", "u_shaped"),
        ("rolling", "m_shaped"),
        ("broad_atrophic", "m_shaped"),
    ],
)
def test_ecca_without_diameter_falls_back_to_morphology(kb: KnowledgeBase, scar: str, item: str) -> None:
    s = scores(kb, scars=[{"type": scar, "count": 2}])
    assert [i.id for i in s.ecca_items] == [item]
    assert not [w for w in s.warnings if w.code == "ecca_diameter_missing"]
    fallback = kb.scales.ecca.by_diameter.fallback  # type: ignore[union-attr]
    assert fallback.evidence_level == "V-low" and "M-shaped" in fallback.note


def test_ecca_linear_without_diameter_is_not_counted_and_the_warning_names_it(kb: KnowledgeBase) -> None:
    s = scores(kb, scars=[{"type": "linear", "count": 4}, {"type": "ice_pick", "count": 1}])
    assert [i.id for i in s.ecca_items] == ["v_shaped"]
    (w,) = [w for w in s.warnings if w.code == "ecca_diameter_missing"]
    assert "linear or troughed scars" in w.message and "diameter (mm)" in w.message and "diameter_mm" not in w.message


def test_ecca_measured_and_unmeasured_entries_of_one_type_split_by_size(kb: KnowledgeBase) -> None:
    s = scores(
        kb,
        scars=[
            {"type": "ice_pick", "count": 3},  # morphology: V
            {"type": "ice_pick", "count": 2, "diameter_mm": 3.0},  # measured wider: U
            {"type": "rolling", "count": 6, "diameter_mm": 1.5},  # measured narrow: V
        ],
    )
    assert [(i.id, i.count, i.inputs) for i in s.ecca_items] == [
        ("v_shaped", 9, ("ice_pick", "rolling")),
        ("u_shaped", 2, ("ice_pick",)),
    ]


@given(
    entries=st.lists(
        st.tuples(
            st.sampled_from(SIZED),
            st.integers(1, 30),
            st.one_of(st.none(), st.floats(0.01, 100, allow_nan=False)),
        ),
        min_size=1,
        max_size=6,
    )
)
@settings(max_examples=200, deadline=None)
def test_ecca_each_sized_scar_counts_once_in_the_item_of_its_size(entries: list[tuple[str, int, float | None]]) -> None:
    """Invariant: every atrophic scar with a diameter is counted exactly once, in the item its size
    names; without one, once in its morphology's item (linear: nowhere, with a warning)."""
    kb = KB
    scars = [{"type": t, "count": n, **({"diameter_mm": d} if d is not None else {})} for t, n, d in entries]
    s = scores(kb, scars=scars)
    morphology = {
        "ice_pick": "v_shaped",
        "boxcar_shallow": "u_shaped",
        "boxcar_deep": "u_shaped",
        "rolling": "m_shaped",
        "broad_atrophic": "m_shaped",
    }
    expected: dict[str, int] = {}
    for t, n, d in entries:
        item = ecca_item_for(d) if d is not None else morphology.get(t)
        if item is not None:
            expected[item] = expected.get(item, 0) + n
    assert {i.id: i.count for i in s.ecca_items} == expected
    unsized_linear = any(t == "linear" and d is None for t, _n, d in entries)
    assert any(w.code == "ecca_diameter_missing" for w in s.warnings) == unsized_linear
    assert 0 <= s.ecca <= kb.scales.ecca.maximum


ANY_SCAR = st.fixed_dictionaries(
    {"type": st.sampled_from(sorted(KB.scar_types)), "count": st.integers(0, 60)},
    optional={
        "depth": st.sampled_from(["shallow", "deep"]),
        "area_cm2": st.floats(0, 60, allow_nan=False),
        "age_months": st.integers(0, 120),
    },
)


@given(scars=st.lists(ANY_SCAR, max_size=14), pih=st.integers(0, 60), pie=st.integers(0, 60))
@settings(max_examples=300, deadline=None)
def test_gb_never_exceeds_its_published_maximum(scars: list[dict[str, object]], pih: int, pie: int) -> None:
    """Invariant: whatever is recorded, each row scores at most points x 3 (area row 18) and the
    total at most 84; the total is the sum of the rows."""
    s = scores(KB, scars=scars, marks=[{"type": "pih", "count": pih}, {"type": "pie", "count": pie}])
    for r in s.goodman_baron_quantitative_rows:
        cap = 18 if r.id == "D_keloidal_hypertrophic" else 3 * PUBLISHED_ROW_POINTS[r.id]
        assert 0 < r.points <= cap, r
    assert s.goodman_baron_quantitative == sum(r.points for r in s.goodman_baron_quantitative_rows) <= 84


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
