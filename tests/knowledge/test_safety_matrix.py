"""The safety matrix: one decision per condition x treatment, or the knowledge base does not load.

Issue 10's root cause was that rules were written per treatment and nothing asked about the
treatments nobody wrote a rule for. These tests hold the loader to refusing exactly that.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cicatrix.engine.case import parse_case
from cicatrix.engine.plan import plan_case
from cicatrix.knowledge import loader
from cicatrix.knowledge.loader import KnowledgeError, load_knowledge
from cicatrix.knowledge.models import KnowledgeBase
from tests.conftest import make_case


@pytest.fixture
def bundled_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    copy = tmp_path / "data"
    shutil.copytree(loader.bundled_dir(), copy)
    monkeypatch.setattr(loader, "bundled_dir", lambda: copy)
    return copy


def test_every_cell_has_exactly_one_decision(kb: KnowledgeBase) -> None:
    assert set(kb.matrix) == set(kb.conditions)
    for code, row in kb.matrix.items():
        assert set(row) == set(kb.treatments), code
        for tid in row:
            assert kb.decision(code, tid).decision in ("exclude", "delay", "warn", "none")


def test_an_undeclared_pair_is_refused_naming_condition_and_treatment(bundled_copy: Path) -> None:
    path = bundled_copy / "safety" / "cardiac_disease.yaml"
    text = path.read_text()
    # drop vascular laser's group from the catch-all decision: nothing decides that cell now
    path.write_text(text.replace(", light_vascular, home_care]", ", home_care]"))
    with pytest.raises(
        KnowledgeError,
        match=r"safety/cardiac_disease.yaml, entry 'cardiac_disease': no decision for condition "
        r"'cardiac_disease' x treatment 'vascular_laser'.*\(light_vascular, energy_based\)",
    ):
        load_knowledge(cache=False)


def test_a_new_condition_without_a_safety_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "conditions.yaml").write_text(
        "- id: lupus\n  name: Lupus\n  description: Systemic lupus.\n  triggers: {history_any: [immunosuppression]}\n"
        "  sources: [cicatrix-default]\n  evidence_level: U\n"
    )
    with pytest.raises(KnowledgeError, match=r"no decision for condition 'lupus' x treatment 'azelaic_acid'"):
        load_knowledge(tmp_path, cache=False)


def test_an_ambiguous_pair_is_refused(bundled_copy: Path) -> None:
    path = bundled_copy / "safety" / "cardiac_disease.yaml"
    # a second group decision that also covers vascular laser (energy_based): two answers, one cell
    path.write_text(
        path.read_text()
        + "  - groups: [energy_based]\n    decision: warn\n    message: Energy devices.\n"
        + "    sources: [cicatrix-default]\n    evidence_level: U\n"
    )
    with pytest.raises(
        KnowledgeError,
        match=r"safety/cardiac_disease.yaml, entry 'cardiac_disease': ambiguous: decisions #2 and #3 both "
        r"name its groups for condition 'cardiac_disease' x treatment 'laser_ablative_fractional'",
    ):
        load_knowledge(cache=False)


def test_two_decisions_naming_one_treatment_are_refused(bundled_copy: Path) -> None:
    path = bundled_copy / "safety" / "cardiac_disease.yaml"
    path.write_text(
        path.read_text()
        + "  - treatments: [chemical_peel_deep]\n    decision: warn\n    message: Again.\n"
        + "    sources: [cicatrix-default]\n    evidence_level: U\n"
    )
    with pytest.raises(KnowledgeError, match=r"ambiguous: decisions #1 and #3 both name the treatment"):
        load_knowledge(cache=False)


def test_a_treatment_entry_beats_a_group_entry(kb: KnowledgeBase) -> None:
    # pregnancy excludes epidermal wounding as a group but warns for the glycolic/lactic peel
    assert kb.decision("pregnancy", "chemical_peel_superficial").decision == "warn"
    assert kb.matrix["pregnancy"]["chemical_peel_superficial"].via == "treatment"
    assert kb.matrix["pregnancy"]["subcision"].via == "group:focal_dermal"


def test_a_delay_on_daily_care_is_refused(tmp_path: Path) -> None:
    (tmp_path / "safety").mkdir()
    (tmp_path / "safety" / "recent_sunburn.yaml").write_text(
        "id: recent_sunburn\ndecisions:\n"
        "  - treatments: [topical_retinoid]\n    decision: delay\n    wait: {after: assessment, days: 7}\n"
        "    message: Wait.\n    sources: [cicatrix-default]\n    evidence_level: U\n"
    )
    with pytest.raises(KnowledgeError, match=r"a delay applies to treatments booked in sessions; 'topical_retinoid'"):
        load_knowledge(tmp_path, cache=False)


def test_a_clinic_overrides_one_cell(tmp_path: Path, kb: KnowledgeBase) -> None:
    (tmp_path / "safety").mkdir()
    (tmp_path / "safety" / "keloid_history.yaml").write_text(
        "id: keloid_history\ndecisions:\n"
        "  - treatments: [tca_cross]\n    decision: exclude\n"
        "    message: Our clinic does not do TCA CROSS with a keloid history.\n"
        "    sources: [cicatrix-default]\n    evidence_level: U\n"
    )
    clinic = load_knowledge(tmp_path, cache=False)
    assert clinic.decision("keloid_history", "tca_cross").decision == "exclude"
    assert clinic.matrix["keloid_history"]["tca_cross"].file.endswith("safety/keloid_history.yaml")
    assert clinic.overridden["safety:keloid_history"] == f"{tmp_path.name}/safety/keloid_history.yaml"
    # every other cell keeps the bundled decision
    for tid in kb.treatments:
        if tid != "tca_cross":
            assert clinic.decision("keloid_history", tid) == kb.decision("keloid_history", tid), tid
    assert clinic.fingerprint != kb.fingerprint


def test_a_clinic_group_rule_cannot_weaken_a_decision_made_by_name(tmp_path: Path, kb: KnowledgeBase) -> None:
    """Keloid x micro-needling is excluded by name (ref-22). A clinic rule for the whole focal
    group must not quietly turn it into a warning; naming the treatment is the only way."""
    assert kb.matrix["keloid_history"]["microneedling"].via == "treatment"
    (tmp_path / "safety").mkdir()
    rule = "id: keloid_history\ndecisions:\n  - {which}\n    decision: warn\n    message: Our clinic warns.\n"
    rule += "    sources: [cicatrix-default]\n    evidence_level: U\n"
    (tmp_path / "safety" / "keloid_history.yaml").write_text(rule.format(which="groups: [focal_dermal]"))
    clinic = load_knowledge(tmp_path, cache=False)
    assert clinic.decision("keloid_history", "microneedling").decision == "exclude"
    (tmp_path / "safety" / "keloid_history.yaml").write_text(rule.format(which="treatments: [microneedling]"))
    clinic = load_knowledge(tmp_path, cache=False)
    assert clinic.decision("keloid_history", "microneedling").decision == "warn"


def test_a_treatment_a_clinic_adds_inherits_its_groups_decisions(tmp_path: Path) -> None:
    # the clinic adds a second fractional laser; it was never named in any safety file
    (tmp_path / "treatments").mkdir()
    base = (loader.bundled_dir() / "treatments" / "laser_nonablative_fractional.yaml").read_text()
    (tmp_path / "treatments" / "laser_thulium.yaml").write_text(
        base.replace("id: laser_nonablative_fractional", "id: laser_thulium").replace("name: ", "name: Thulium ", 1)
    )
    clinic = load_knowledge(tmp_path, cache=False)
    for code in clinic.conditions:
        cell = clinic.matrix[code]["laser_thulium"]
        assert cell.via.startswith("group:"), code
        sibling = clinic.matrix[code]["laser_nonablative_fractional"]
        if sibling.via.startswith("group:"):  # the same group decision as its bundled sibling
            assert cell.decision == sibling.decision, code
    assert clinic.decision("pregnancy", "laser_thulium").decision == "exclude"
    assert clinic.decision("keloid_history", "laser_thulium").decision == "warn"
    # and the engine applies the inherited decision: a pregnant patient is never booked for it
    case = make_case(
        scars=[{"type": "boxcar_shallow", "count": 8}],
        patient={"pregnant": True},
        preferences={"start": "2027-01-11", "treatments": ["laser_thulium"]},
    )
    plan = plan_case(parse_case(case, clinic), clinic)
    assert "laser_thulium" not in {s.treatment for s in plan.course.sessions}
    assert "laser_thulium" in {e.treatment for e in plan.excluded}


def _covers(d: dict[str, object], tid: str, groups: set[str]) -> bool:
    return tid in d.get("treatments", []) or bool(groups & set(d.get("groups", [])))  # type: ignore[call-overload]


def test_removing_any_one_decision_is_caught_or_falls_back_to_a_group() -> None:
    """Every bundled decision, removed in turn: the loader either names a cell left undecided, or
    the cells it covered fall back to a group decision. Nothing is ever silently left out."""
    raw, overridden = loader._load_raw(loader.bundled_dir(), None)
    groups = {tid: set(data["groups"]) for tid, (data, _f) in raw["treatments"].items()}
    checked = 0
    for cid, (data, label) in raw["safety"].items():
        for i in range(len(data["decisions"])):
            kept = [d for j, d in enumerate(data["decisions"]) if j != i]
            uncovered = {tid for tid in groups if not any(_covers(d, tid, groups[tid]) for d in kept)}
            edited = {**raw, "safety": {**raw["safety"], cid: ({**data, "decisions": kept}, label)}}
            if uncovered:
                with pytest.raises(
                    KnowledgeError, match=rf"no decision for condition '{cid}' x treatment '(\w+)'"
                ) as exc:
                    loader._validate(edited, overridden)
                assert str(exc.value).split("x treatment '")[1].split("'")[0] in uncovered
            else:
                kb = loader._validate(edited, overridden)
                assert set(kb.matrix[cid]) == set(groups)
            checked += 1
    assert checked >= 60
