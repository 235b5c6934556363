"""The scales as data: every scar type scores somewhere, the stretch criterion carries its own
evidence, and a broken scale (diameter bands with a gap, unknown names) fails at load."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from cicatrix.knowledge import loader
from cicatrix.knowledge.loader import KnowledgeError, load_knowledge
from cicatrix.knowledge.models import KnowledgeBase


def test_every_scar_type_counts_in_a_scale(kb: KnowledgeBase) -> None:
    gb = kb.scales.goodman_baron_quantitative
    ecca = kb.scales.ecca
    named = {m.scar for row in (*gb.rows, *gb.area_rows, *ecca.items) for m in row.match}
    named |= set(ecca.by_diameter.scars if ecca.by_diameter else ())
    assert set(kb.scar_types) <= named


def test_new_scar_types_are_sourced_to_the_quantitative_paper(kb: KnowledgeBase) -> None:
    for sid in ("linear", "broad_atrophic"):
        st = kb.scar_types[sid]
        assert st.category == "atrophic" and "ref-5" in st.sources and st.evidence_level == "V"


def test_stretch_criterion_on_grades_3_and_4_with_its_evidence(kb: KnowledgeBase) -> None:
    grades = {g.grade: g for g in kb.scales.goodman_baron_qualitative.grades}
    assert not grades[1].criteria and not grades[2].criteria
    (three,) = grades[3].criteria
    (four,) = grades[4].criteria
    assert (three.id, three.evidence_level, three.sources) == ("stretch", "U", ("cicatrix-default",))
    assert "can still be flattened" in three.text.lower()
    assert (four.id, four.evidence_level, four.sources) == ("stretch", "V-low", ("ref-3",))
    assert "not flattened" in four.text.lower()
    assert kb.sources["ref-3"].kind == "page" and "AI-written" in kb.sources["ref-3"].citation
    # kept apart from the sourced definitions, so the V-level text does not absorb a U claim
    assert "stretch" not in grades[3].definition and "stretch" not in grades[4].definition


def test_indications_for_the_new_types_are_cited(kb: KnowledgeBase) -> None:
    by_target = {
        (tid, ind.target): ind for tid, t in kb.treatments.items() for ind in t.indications if ind.target in
        ("broad_atrophic", "linear")
    }  # fmt: skip
    filler = by_target[("dermal_filler", "broad_atrophic")]
    assert "ref-25" in filler.sources and filler.line == "first" and "distensible" in filler.rationale
    sub = by_target[("subcision", "broad_atrophic")]
    assert {"ref-8", "ref-24"} <= set(sub.sources) and sub.evidence_level == "U"  # an inference, marked
    # the reference cites no treatment for linear or troughed scars: only daily sun protection lists them
    assert {tid for tid, target in by_target if target == "linear"} == {"sun_protection"}


def _scales() -> dict[str, Any]:
    data = yaml.safe_load((loader.bundled_dir() / "scales.yaml").read_text())
    assert isinstance(data, dict)
    return data


def _load_with_scales(tmp_path: Path, scales: dict[str, Any]) -> KnowledgeBase:
    """The bundled knowledge with this scales.yaml in place of the bundled one."""
    copy = tmp_path / "data"
    shutil.copytree(loader.bundled_dir(), copy)
    (copy / "scales.yaml").write_text(yaml.safe_dump(scales, sort_keys=False))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(loader, "bundled_dir", lambda: copy)
        return load_knowledge(cache=False)


def _items(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {i["id"]: i for i in data["ecca"]["items"]}


@pytest.mark.parametrize(
    ("bands", "says"),
    [
        ({"v_shaped": {"lt": 2}, "u_shaped": {"gt": 2, "lte": 4}, "m_shaped": {"gt": 4}}, "u_shaped does not start"),
        ({"v_shaped": {"lte": 2}, "u_shaped": {"gte": 2, "lte": 4}, "m_shaped": {"gt": 4}}, "u_shaped does not start"),
        ({"v_shaped": {"lt": 2}, "u_shaped": {"gte": 2, "lte": 4}, "m_shaped": {"gt": 4, "lt": 50}}, "open-ended"),
        ({"v_shaped": {"gte": 0.5, "lt": 2}, "u_shaped": {"gte": 2, "lte": 4}, "m_shaped": {"gt": 4}}, "gap below"),
        ({"v_shaped": {"lt": 2, "lte": 3}, "u_shaped": {"gte": 2, "lte": 4}, "m_shaped": {"gt": 4}}, "one upper"),
    ],
)
def test_diameter_bands_must_tile_every_size(tmp_path: Path, bands: dict[str, Any], says: str) -> None:
    data = _scales()
    for iid, band in bands.items():
        _items(data)[iid]["diameter_mm"] = band
    with pytest.raises(KnowledgeError, match=rf"scales.yaml.*{says}"):
        _load_with_scales(tmp_path, data)


def test_diameter_items_without_by_diameter_are_refused(tmp_path: Path) -> None:
    data = _scales()
    del data["ecca"]["by_diameter"]
    with pytest.raises(KnowledgeError, match=r"scales.yaml.*by_diameter go together"):
        _load_with_scales(tmp_path, data)


def test_unknown_scar_type_in_by_diameter_is_refused(tmp_path: Path) -> None:
    data = _scales()
    data["ecca"]["by_diameter"]["scars"].append("crater")
    with pytest.raises(KnowledgeError, match=r"scales.yaml, entry 'ecca.by_diameter': unknown scar type 'crater'"):
        _load_with_scales(tmp_path, data)


def test_unknown_source_on_a_criterion_is_refused(tmp_path: Path) -> None:
    data = _scales()
    data["goodman_baron_qualitative"]["grades"][3]["criteria"][0]["sources"] = ["ref-999"]
    with pytest.raises(KnowledgeError, match=r"grades\[4\]\.stretch.*unknown source 'ref-999'"):
        _load_with_scales(tmp_path, data)


def test_area_fallback_without_its_warning_is_refused(tmp_path: Path) -> None:
    data = _scales()
    row = next(r for r in data["goodman_baron_quantitative"]["rows"] if r["id"] == "B_shallow_broad_atrophic")
    del row["missing_area_warning"]
    with pytest.raises(KnowledgeError, match=r"scales.yaml.*B_shallow_broad_atrophic.*missing_area_warning"):
        _load_with_scales(tmp_path, data)


def test_a_clinic_can_move_the_size_bands_without_code(tmp_path: Path) -> None:
    from cicatrix.engine.case import parse_case
    from cicatrix.engine.scores import score_assessment
    from tests.conftest import make_case

    data = _scales()
    _items(data)["v_shaped"]["diameter_mm"] = {"lt": 1.5}
    _items(data)["u_shaped"]["diameter_mm"] = {"gte": 1.5, "lte": 4}
    clinic = _load_with_scales(tmp_path, data)
    case = parse_case(make_case(scars=[{"type": "ice_pick", "count": 2, "diameter_mm": 1.7}]), clinic)
    assert [i.id for i in score_assessment(case.assessment, clinic).ecca_items] == ["u_shaped"]
