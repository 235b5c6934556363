"""The coded vocabularies: one normal form, the loader's checks, and the words the review named."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cicatrix.engine.terms import lookup
from cicatrix.knowledge.loader import KnowledgeError, load_knowledge
from cicatrix.knowledge.models import KnowledgeBase
from cicatrix.knowledge.vocabulary import normal_form, without_dose


@pytest.mark.parametrize(
    ("typed", "normal"),
    [
        ("Kidney transplant", "kidney_transplant"),
        ("kidney-transplant", "kidney_transplant"),
        ("  KIDNEY__Transplant ", "kidney_transplant"),
        ("Ciclosporin", "ciclosporin"),
        ("Sandimmún", "sandimmun"),
        ("HSV-1", "hsv_1"),
        ("St John's wort", "st_john_s_wort"),
        ("---", ""),
    ],
)
def test_normal_form_folds_case_accents_and_separators(typed: str, normal: str) -> None:
    assert normal_form(typed) == normal


def test_a_trailing_dose_is_dropped_only_when_something_is_left() -> None:
    assert without_dose("aspirin_75_mg") == "aspirin"
    assert without_dose("prograf_1mg_twice_daily") == "prograf"
    assert without_dose("aspirin") is None
    assert without_dose("5_fu") is None


@given(st.text(max_size=40))
def test_normal_form_is_idempotent(text: str) -> None:
    assert normal_form(normal_form(text)) == normal_form(text)


# The words the clinical review (issue 10 §3) and the matrix's condition triggers rely on.
REQUIRED = {
    "immunosuppressant": [
        "tacrolimus", "methotrexate", "ciclosporin", "cyclosporine", "azathioprine", "mycophenolate",
        "prednisolone", "prednisone", "methylprednisolone", "systemic steroids",
    ],
    "immunosuppression": ["kidney_transplant", "renal transplant", "organ transplant"],
    "anticoagulant": ["warfarin", "apixaban", "rivaroxaban", "dabigatran", "edoxaban", "heparin", "Eliquis"],
    "antiplatelet": ["clopidogrel", "aspirin", "ticagrelor", "prasugrel", "Plavix"],
    "herpes_simplex": ["cold sores", "cold sore", "HSV-1"],
    "keloid": ["keloids"],
    "bleeding_disorder": ["haemophilia", "hemophilia", "von Willebrand disease"],
    "cardiac_disease": ["arrhythmia", "heart disease", "atrial fibrillation"],
}  # fmt: skip


@pytest.mark.parametrize(("code", "word"), [(c, w) for c, words in REQUIRED.items() for w in words])
def test_required_words_mean_their_code(kb: KnowledgeBase, code: str, word: str) -> None:
    entry = lookup(word, kb)
    assert entry is not None and entry.id == code


def test_codes_the_triggers_use_exist_with_their_kind(kb: KnowledgeBase) -> None:
    kinds = {c: t.kind for c, t in kb.vocabulary.items()}
    for code in ("keloid", "herpes_simplex", "immunosuppression", "bleeding_disorder", "cardiac_disease"):
        assert kinds[code] == "history"
    for code in ("anticoagulant", "antiplatelet", "immunosuppressant"):
        assert kinds[code] == "medication"


def test_every_screening_code_is_used_by_a_trigger(kb: KnowledgeBase) -> None:
    """A recognised code that no condition reads would change nothing: silent again. Only
    cardiac_disease waits for the safety matrix's deep-peel condition."""
    used = {c for cond in kb.conditions.values() for c in (*cond.triggers.history_any, *cond.triggers.medications_any)}
    screening = {c for c, t in kb.vocabulary.items() if t.recorded_as is None}
    assert screening - used <= {"cardiac_disease"}


def test_ambiguous_words_are_not_mapped(kb: KnowledgeBase) -> None:
    # topical forms and words with two meanings: the clinician records the code instead
    for word in ("herpes", "blood thinner", "hydrocortisone", "Protopic", "HIV"):
        assert lookup(word, kb) is None, word


def test_every_entry_is_sourced(kb: KnowledgeBase) -> None:
    for code, term in kb.vocabulary.items():
        assert term.sources and term.evidence_level in kb.evidence_levels, code
        assert term.label


def _override(tmp_path: Path, body: str) -> Path:
    (tmp_path / "vocabulary.yaml").write_text(body)
    return tmp_path


def test_a_synonym_meaning_two_codes_is_refused(tmp_path: Path) -> None:
    over = _override(
        tmp_path,
        "- {id: antiplatelet, synonyms: [Warfarin]}\n",  # warfarin is already an anticoagulant
    )
    with pytest.raises(
        KnowledgeError, match=r"vocabulary.yaml, entry 'antiplatelet'.*'Warfarin' already means 'anticoagulant'"
    ):
        load_knowledge(over, cache=False)


def test_a_synonym_clash_after_normalisation_is_refused(tmp_path: Path) -> None:
    over = _override(
        tmp_path,
        "- {id: statin, kind: medication, label: Statin, synonyms: [Cold-Sores], sources: [cicatrix-default],"
        " evidence_level: U}\n",
    )
    with pytest.raises(KnowledgeError, match="'Cold-Sores' already means 'herpes_simplex'"):
        load_knowledge(over, cache=False)


def test_a_code_must_be_written_as_its_normal_form(tmp_path: Path) -> None:
    over = _override(
        tmp_path,
        "- {id: Statin-Use, kind: medication, label: Statin, sources: [cicatrix-default], evidence_level: U}\n",
    )
    with pytest.raises(KnowledgeError, match="normal form 'statin_use'"):
        load_knowledge(over, cache=False)


def test_a_trigger_naming_an_unknown_code_is_refused(tmp_path: Path) -> None:
    (tmp_path / "conditions.yaml").write_text("- {id: anticoagulants, triggers: {medications_any: [warfarin]}}\n")
    with pytest.raises(KnowledgeError, match=r"'warfarin' is not a medication code of vocabulary\.yaml"):
        load_knowledge(tmp_path, cache=False)


def test_a_trigger_naming_a_code_of_the_other_kind_is_refused(tmp_path: Path) -> None:
    (tmp_path / "conditions.yaml").write_text(
        "- {id: immunosuppression, triggers: {history_any: [immunosuppressant]}}\n"
    )
    with pytest.raises(KnowledgeError, match=r"triggers\.history_any: 'immunosuppressant' is not a history code"):
        load_knowledge(tmp_path, cache=False)


def test_a_clinic_adds_a_brand_name(tmp_path: Path, kb: KnowledgeBase) -> None:
    words = [*kb.vocabulary["anticoagulant"].synonyms, "Warfant"]
    over = _override(tmp_path, f"- {{id: anticoagulant, synonyms: [{', '.join(words)}]}}\n")
    clinic = load_knowledge(over, cache=False)
    found = lookup("warfant 3 mg", clinic)
    assert found is not None and found.id == "anticoagulant"
    assert clinic.overridden["vocabulary:anticoagulant"].endswith("vocabulary.yaml")


def test_the_cache_key_covers_the_normal_form(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A change to how words are matched re-runs the loader's clash check: no stale cache."""
    from cicatrix.knowledge import loader

    here = Path(loader.__file__)
    data = loader.bundled_dir()
    before = loader._cache_key(None)
    for name in ("loader.py", "models.py", "frozen.py", "vocabulary.py"):
        (tmp_path / name).write_text(here.with_name(name).read_text())
    monkeypatch.setattr(loader, "__file__", str(tmp_path / "loader.py"))
    monkeypatch.setattr(loader, "bundled_dir", lambda: data)
    assert loader._cache_key(None) == before  # identical copies: the same key
    (tmp_path / "vocabulary.py").write_text(here.with_name("vocabulary.py").read_text() + "\n# changed\n")
    assert loader._cache_key(None) != before
