"""Loading, validation that fails loudly with file and entry, and clinic overrides."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest

from cicatrix.engine.case import parse_case
from cicatrix.engine.plan import plan_case
from cicatrix.knowledge import loader
from cicatrix.knowledge.loader import KnowledgeError, load_knowledge
from cicatrix.knowledge.models import KnowledgeBase
from tests.conftest import make_case


def test_bundled_knowledge_has_required_ids(kb: KnowledgeBase) -> None:
    assert set(kb.lesions) >= {"comedone", "papule", "pustule", "nodule", "cyst", "milia"}
    assert set(kb.scar_types) >= {
        "ice_pick",
        "boxcar_shallow",
        "boxcar_deep",
        "rolling",
        "macular",
        "papular",
        "hypertrophic",
        "keloid",
        "elastolysis",
    }
    assert set(kb.marks) >= {"pih", "pie"}
    assert set(kb.conditions) >= {
        "pregnancy",
        "breastfeeding",
        "active_inflammatory_acne",
        "recent_isotretinoin",
        "keloid_history",
        "herpes_simplex_history",
        "high_phototype_pih_risk",
        "anticoagulants",
        "immunosuppression",
        "bleeding_disorder",
        "recent_sunburn",
    }


def test_every_entry_carries_sources_and_evidence(kb: KnowledgeBase) -> None:
    for coll in ("scar_types", "marks", "lesions", "conditions", "treatments", "education"):
        for eid, entry in getattr(kb, coll).items():
            assert entry.sources and entry.evidence_level in kb.evidence_levels, f"{coll}:{eid}"
    for t in kb.treatments.values():
        for step in t.protocol.steps:
            assert step.sources and step.evidence_level, f"{t.id}:{step.code}"
        assert t.protocol.sources


def test_lesions_carry_seed_advice(kb: KnowledgeBase) -> None:
    assert "warm compress" in kb.lesions["pustule"].advice
    assert "not inflamed" in kb.lesions["milia"].advice and "not recommended" in kb.lesions["milia"].advice
    assert {lesion.scarring_risk for lesion in kb.lesions.values()} <= {"low", "moderate", "high"}


def test_models_are_immutable(kb: KnowledgeBase) -> None:
    with pytest.raises(AttributeError, match="immutable"):
        kb.treatments["microneedling"].name = "x"  # type: ignore[misc]
    with pytest.raises(AttributeError, match="immutable"):
        kb.treatments["microneedling"].protocol.sessions.max = 99  # type: ignore[misc]


def test_override_changes_interval_and_text_without_code(tmp_path: Path, kb: KnowledgeBase) -> None:
    (tmp_path / "treatments").mkdir()
    (tmp_path / "treatments" / "microneedling.yaml").write_text(
        "id: microneedling\n"
        "protocol:\n"
        "  interval_days: {min: 28, max: 35}\n"
        "  steps:\n"
        "    - {offset: -2, until: -1, kind: avoid, code: clinic_pre, text: Our clinic asks you to avoid retinoids for 2 days.}\n"
    )
    clinic = load_knowledge(tmp_path)
    assert clinic.treatments["microneedling"].protocol.interval_days.min == 28  # type: ignore[union-attr]
    assert clinic.overridden == {"treatments:microneedling": f"{tmp_path.name}/treatments/microneedling.yaml"}
    assert clinic.fingerprint != kb.fingerprint and clinic.version == kb.version
    case = parse_case(
        make_case(
            scars=[{"type": "rolling", "count": 8}],
            assessment={"goodman_baron_qualitative": 3},
            preferences={"start": "2027-01-11", "treatments": ["microneedling"]},
        ),
        clinic,
    )
    plan = plan_case(case, clinic)
    s1, s2, _ = plan.course.sessions
    assert s2.date - s1.date == timedelta(days=28)
    assert [e.text for e in plan.timeline if e.date == date(2027, 1, 9)] == [
        "Our clinic asks you to avoid retinoids for 2 days."
    ]
    # the override's steps inherit the bundled protocol's sources
    assert all(e.sources for e in plan.timeline)


def test_override_adds_a_new_entry_and_changes_policy(tmp_path: Path) -> None:
    (tmp_path / "lesions.yaml").write_text(
        "- id: excoriation\n  name: Excoriated acne\n  inflamed: true\n  scarring_risk: high\n"
        "  definition: Picked spots.\n  advice: Please do not pick.\n  sources: [seed-001]\n  evidence_level: protocol\n"
    )
    (tmp_path / "knowledge.yaml").write_text("policy:\n  follow_up:\n    after_months: 6\n")
    clinic = load_knowledge(tmp_path)
    assert "excoriation" in clinic.lesions and clinic.policy.follow_up.after_months == 6
    assert clinic.policy.follow_up.sources == ("ref-22",)  # merged, not replaced


@pytest.mark.parametrize(
    ("file", "body", "expected"),
    [
        (
            "treatments/microneedling.yaml",
            "id: microneedling\nprotocol:\n  interval_days: {min: 50, max: 10}\n",
            r"treatments/microneedling.yaml, entry 'microneedling'.*max \(10\) is below min \(50\)",
        ),
        (
            "treatments/microneedling.yaml",
            "id: microneedling\nevidence_level: strong\n",
            r"entry 'microneedling': evidence_level",
        ),
        (
            "treatments/microneedling.yaml",
            "id: microneedling\nsources: [nowhere-1]\n",
            r"entry 'microneedling': sources: unknown source 'nowhere-1'",
        ),
        (
            "safety/moon_phase.yaml",
            "id: moon_phase\ndecisions:\n  - {groups: [home_care], decision: none, sources: [ref-22], evidence_level: V}\n",
            r"safety/moon_phase.yaml, entry 'moon_phase': unknown condition 'moon_phase'",
        ),
        (
            "treatments/microneedling.yaml",
            "id: microneedling\ncontraindications: {}\n",
            r"entry 'microneedling': .*unknown field `contraindications`",
        ),
        ("scar_types.yaml", "- id: rolling\n  category: wavy\n", r"scar_types.yaml, entry 'rolling': category"),
        (
            "conditions.yaml",
            "- id: pregnancy\n  triggers: {flags: []}\n",
            r"conditions.yaml, entry 'pregnancy'.*at least one",
        ),
        ("marks.yaml", "- name: no id here\n", r"marks.yaml, entry '#1': each entry needs a string 'id'"),
        ("lesions.yaml", "- id: [unclosed\n", r"lesions.yaml: not valid YAML"),
    ],
)
def test_broken_override_fails_loudly_naming_file_and_entry(
    tmp_path: Path, file: str, body: str, expected: str
) -> None:
    target = tmp_path / file
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(body)
    with pytest.raises(KnowledgeError, match=expected):
        load_knowledge(tmp_path)


def test_broken_bundled_file_fails_loudly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "data"
    shutil.copytree(loader.bundled_dir(), copy)
    path = copy / "treatments" / "microneedling.yaml"
    path.write_text(path.read_text().replace("schedule: sessions", "schedule: sometimes"))
    monkeypatch.setattr(loader, "bundled_dir", lambda: copy)
    with pytest.raises(KnowledgeError, match=r"treatments/microneedling.yaml, entry 'microneedling': schedule"):
        load_knowledge()


def test_duplicate_ids_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "data"
    shutil.copytree(loader.bundled_dir(), copy)
    shutil.copy(copy / "treatments" / "microneedling.yaml", copy / "treatments" / "zz_copy.yaml")
    monkeypatch.setattr(loader, "bundled_dir", lambda: copy)
    with pytest.raises(KnowledgeError, match=r"zz_copy.yaml, entry 'microneedling': duplicate id"):
        load_knowledge()


def test_missing_overrides_directory(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeError, match="does not exist"):
        load_knowledge(tmp_path / "nope")


def test_cache_sees_an_edited_override_at_the_next_load(tmp_path: Path) -> None:
    (tmp_path / "treatments").mkdir()
    path = tmp_path / "treatments" / "microneedling.yaml"
    path.write_text("id: microneedling\nprotocol:\n  interval_days: {min: 30, max: 40}\n")
    assert load_knowledge(tmp_path).treatments["microneedling"].protocol.interval_days.min == 30  # type: ignore[union-attr]
    assert load_knowledge(tmp_path).treatments["microneedling"].protocol.interval_days.min == 30  # type: ignore[union-attr]
    path.write_text("id: microneedling\nprotocol:\n  interval_days: {min: 35, max: 40}\n")
    assert load_knowledge(tmp_path).treatments["microneedling"].protocol.interval_days.min == 35  # type: ignore[union-attr]
    assert load_knowledge(tmp_path, cache=False) == load_knowledge(tmp_path)


def test_cache_key_covers_the_model_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = loader._cache_key(None)
    models = tmp_path / "models.py"
    models.write_text(Path(loader.__file__).with_name("models.py").read_text() + "\n# changed\n")
    fake_loader = tmp_path / "loader.py"
    fake_loader.write_text(Path(loader.__file__).read_text())
    frozen = tmp_path / "frozen.py"
    frozen.write_text(Path(loader.__file__).with_name("frozen.py").read_text())
    vocabulary = tmp_path / "vocabulary.py"
    vocabulary.write_text(Path(loader.__file__).with_name("vocabulary.py").read_text())
    monkeypatch.setattr(loader, "__file__", str(fake_loader))
    monkeypatch.setattr(
        loader, "bundled_dir", lambda: Path(__file__).resolve().parents[2] / "src/cicatrix/knowledge/data"
    )
    assert loader._cache_key(None) != before


def test_fitzpatrick_phototypes_are_knowledge(kb: KnowledgeBase) -> None:
    assert list(kb.phototypes) == ["I", "II", "III", "IV", "V", "VI"]
    assert kb.phototypes["VI"].sun_response == "Never burns, deeply pigmented"


def test_an_agent_daily_care_uses_and_a_procedure_avoids_needs_stop_and_resume_texts(tmp_path: Path) -> None:
    """Without them the timeline could pause a daily cream around a procedure without telling the patient."""
    (tmp_path / "agents.yaml").write_text("- id: retinoid\n  stop_text: null\n")
    with pytest.raises(KnowledgeError, match=r"agents.yaml, entry 'retinoid': stop_text and resume_text: required"):
        load_knowledge(tmp_path)


def test_a_step_that_both_uses_and_avoids_an_agent_is_refused(tmp_path: Path) -> None:
    (tmp_path / "treatments").mkdir()
    (tmp_path / "treatments" / "sun_protection.yaml").write_text(
        "id: sun_protection\nprotocol:\n  steps:\n"
        "    - {offset: 0, kind: do, code: daily_spf, text: x, uses: [sunscreen], avoids: [sunscreen]}\n"
    )
    with pytest.raises(KnowledgeError, match=r"entry 'sun_protection': step 'daily_spf' both uses and avoids 'sunscreen'"):
        load_knowledge(tmp_path)
