"""History and medication terms: read through the vocabulary, refused when unknown, or kept
with an `unrecognised_term` warning where the clinic allows free text. Never silently ignored
(issue 10, pattern 4)."""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cicatrix.engine.case import CaseError, parse_case
from cicatrix.engine.conditions import active_conditions
from cicatrix.engine.plan import plan_case
from cicatrix.engine.terms import lookup
from cicatrix.knowledge.loader import load_knowledge
from cicatrix.knowledge.models import KnowledgeBase
from tests.conftest import make_case

ROLLING = [{"type": "rolling", "count": 8}]


@pytest.fixture(scope="module")
def free_text_kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    over: Path = tmp_path_factory.mktemp("free-text")
    (over / "knowledge.yaml").write_text("policy:\n  vocabulary:\n    allow_free_text: true\n")
    return load_knowledge(over)


def _plan(kb: KnowledgeBase, patient: dict[str, Any]) -> Any:
    data = make_case(scars=ROLLING, patient=patient, assessment={"goodman_baron_qualitative": 3}, preferences={})
    return plan_case(parse_case(data, kb), kb)


def test_the_reviews_case_tacrolimus_and_prednisolone_mean_immunosuppression(kb: KnowledgeBase) -> None:
    before = _plan(kb, {})
    after = _plan(kb, {"medications": ["tacrolimus", "prednisolone"]})
    case = parse_case(make_case(patient={"medications": ["tacrolimus", "prednisolone"]}), kb)
    assert case.patient.medications == ("immunosuppressant",)  # both map to one code, once
    assert "immunosuppression" in active_conditions(case, kb)
    assert "microneedling" in {r.treatment for r in before.recommended}
    assert "microneedling" in {e.treatment for e in after.excluded}
    assert "microneedling" not in {r.treatment for r in after.recommended}


def test_the_reviews_case_kidney_transplant_means_immunosuppression(kb: KnowledgeBase) -> None:
    for typed in ("kidney_transplant", "Kidney transplant", "kidney-transplant"):
        case = parse_case(make_case(patient={"history": [typed]}), kb)
        assert case.patient.history == ("immunosuppression",)
        assert "immunosuppression" in active_conditions(case, kb)
    plan = _plan(kb, {"history": ["kidney_transplant"]})
    assert "microneedling" in {e.treatment for e in plan.excluded}


def test_brand_names_and_doses_map_to_their_class(kb: KnowledgeBase) -> None:
    case = parse_case(make_case(patient={"medications": ["Eliquis 5 mg", "Plavix"], "history": ["Cold Sores"]}), kb)
    assert case.patient.medications == ("anticoagulant", "antiplatelet")
    assert case.patient.history == ("herpes_simplex",)
    assert {"anticoagulants", "herpes_simplex_history"} <= set(active_conditions(case, kb))


def test_an_unknown_medication_names_the_field_and_the_term(kb: KnowledgeBase) -> None:
    with pytest.raises(CaseError) as err:
        parse_case(make_case(patient={"medications": ["warfarin", "foo"]}), kb)
    e = err.value
    assert e.field == "patient.medications[1]"
    assert e.value == "foo"
    assert str(e).startswith("patient.medications[1]: unknown medication 'foo' (known codes: anticoagulant, ")
    assert str(e).count("'foo'") == 1  # the term is named once, not repeated as "(got 'foo')"


def test_an_unknown_history_term_names_the_field_and_the_term(kb: KnowledgeBase) -> None:
    with pytest.raises(CaseError, match=r"patient.history\[0\]: unknown history 'asthma'"):
        parse_case(make_case(patient={"history": ["asthma"]}), kb)


def test_a_term_in_the_wrong_field_says_where_it_belongs(kb: KnowledgeBase) -> None:
    with pytest.raises(CaseError, match=r"patient.history\[0\]: 'warfarin' is a medication code \(anticoagulant\)"):
        parse_case(make_case(patient={"history": ["warfarin"]}), kb)


@pytest.mark.parametrize(
    ("field", "typed", "where"),
    [
        ("medications", "Roaccutane", "isotretinoin_last_dose"),
        ("history", "pregnant", "pregnant"),
        ("history", "breastfeeding", "breastfeeding"),
        ("history", "sunburn", "recent_sunburn"),
    ],
)
def test_a_word_for_a_structured_field_is_refused_even_as_free_text(
    kb: KnowledgeBase, free_text_kb: KnowledgeBase, field: str, typed: str, where: str
) -> None:
    for base in (kb, free_text_kb):
        with pytest.raises(
            CaseError, match=rf"patient.{field}\[0\]: '{typed}' is not a .* term: record it in patient.{where}"
        ):
            parse_case(make_case(patient={field: [typed]}), base)


def test_free_text_is_kept_and_warned_about(free_text_kb: KnowledgeBase) -> None:
    case = parse_case(
        make_case(patient={"medications": ["St John's wort", "warfarin"], "history": ["asthma"]}), free_text_kb
    )
    assert case.patient.medications == ("St John's wort", "anticoagulant")
    plan = plan_case(case, free_text_kb)
    warned = [w.message for w in plan.warnings if w.code == "unrecognised_term"]
    assert len(warned) == 2
    assert any("patient.medications: 'St John's wort'" in w for w in warned)
    assert any("patient.history: 'asthma'" in w for w in warned)
    assert "anticoagulants" in active_conditions(case, free_text_kb)  # the known term still screens


def test_a_case_built_in_code_is_read_the_same_way(kb: KnowledgeBase) -> None:
    """plan_case does not rely on parse_case having coded the terms."""
    from msgspec.structs import replace

    case = parse_case(make_case(scars=ROLLING, preferences={}), kb)
    typed = replace(case, patient=replace(case.patient, medications=("Prograf",), history=("bad knee",)))
    assert "immunosuppression" in active_conditions(typed, kb)
    plan = plan_case(typed, kb)
    assert [w.code for w in plan.warnings].count("unrecognised_term") == 1


def _variants(word: str) -> st.SearchStrategy[str]:
    """The same word as a clinician might type it: any case, spaces, hyphens or underscores, accents."""
    letters = st.lists(st.sampled_from([str.upper, str.lower, lambda c: c]), min_size=len(word), max_size=len(word))
    seps = st.sampled_from([" ", "-", "_", "  ", " - "])
    accent = st.booleans()

    def build(cases: list[Any], sep: str, acc: bool) -> str:
        out = "".join(f(c) for f, c in zip(cases, word, strict=True)).replace(" ", sep)
        if acc and out and out[0].isalpha():
            out = unicodedata.normalize("NFC", out[0] + "\u0301") + out[1:]  # e.g. é
        return f"  {out} "

    return st.tuples(letters, seps, accent).map(lambda t: build(*t))


KB = load_knowledge()
WORDS = sorted((w, c) for c, t in KB.vocabulary.items() if t.recorded_as is None for w in (c, *t.synonyms))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(WORDS).flatmap(lambda wc: st.tuples(_variants(wc[0]), st.just(wc[1]))))
def test_any_spelling_of_a_known_word_means_its_code(typed_code: tuple[str, str]) -> None:
    typed, code = typed_code
    field = "history" if KB.vocabulary[code].kind == "history" else "medications"
    case = parse_case(make_case(patient={field: [typed]}), KB)
    assert getattr(case.patient, field) == (code,)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=20).filter(lambda s: s.strip()), min_size=1, max_size=3))
def test_no_term_is_ever_silently_ignored(terms: list[str]) -> None:
    """Strict: a term is a code or an error. Free text: a code or a warning naming it."""
    data = make_case(scars=ROLLING, patient={"medications": terms}, preferences={})
    try:
        case = parse_case(data, KB)
    except CaseError as exc:
        assert exc.field.startswith("patient.medications[")
        return
    assert all(lookup(t, KB) is not None for t in terms)
    assert all(m in KB.vocabulary for m in case.patient.medications)


def _free_text_kb() -> KnowledgeBase:
    import tempfile

    over = Path(tempfile.mkdtemp(prefix="cicatrix-free-text-"))
    (over / "knowledge.yaml").write_text("policy:\n  vocabulary:\n    allow_free_text: true\n")
    return load_knowledge(over)


FREE = _free_text_kb()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=20).filter(lambda s: s.strip()), min_size=1, max_size=3))
def test_free_text_is_never_silently_ignored(terms: list[str]) -> None:
    """Free text allowed: every term is a code, or a plan warning names it (or, for a word that
    belongs in a structured field, an error names the field)."""
    data = make_case(scars=ROLLING, patient={"history": terms}, preferences={})
    try:
        case = parse_case(data, FREE)
    except CaseError as exc:
        assert exc.field.startswith("patient.history[") and "record it in patient." in exc.message
        return
    plan = plan_case(case, FREE)
    warned = " ".join(w.message for w in plan.warnings if w.code == "unrecognised_term")
    for term in case.patient.history:
        assert term in FREE.vocabulary or f"'{term}'" in warned
