"""codes.yaml: standard codes only with a source, each naming a concept that exists."""

from __future__ import annotations

from pathlib import Path

import pytest

from cicatrix.knowledge.loader import KnowledgeError, load_knowledge
from cicatrix.knowledge.models import KnowledgeBase

# anchors.md section 3: the only codes a source gives; a code outside this list needs one first
SOURCED = {
    ("snomed", "11381005"), ("snomed", "275322007"),
    ("icd10", "L70.0"), ("icd10", "L90.5"), ("icd10", "L81.0"), ("icd10", "L91.0"),
    ("cpt", "15788"), ("cpt", "15789"), ("cpt", "15792"), ("cpt", "15793"),
    ("cpt", "15780"), ("cpt", "15781"), ("cpt", "15782"), ("cpt", "15783"),
}  # fmt: skip


def test_every_bundled_code_is_one_a_source_gives(kb: KnowledgeBase) -> None:
    used = {(c.system, c.code) for m in kb.codes.values() for c in m.codings}
    assert used and used <= SOURCED
    for m in kb.codes.values():
        assert all(s in kb.sources for s in m.sources)


def test_the_record_gets_the_codes_that_hold_everywhere(kb: KnowledgeBase) -> None:
    scarring = kb.standard_codes("problem", "acne-scarring")
    assert scarring is not None and {c.code for c in scarring.on_records()} == {"L90.5", "275322007"}
    peel = kb.standard_codes("treatment", "chemical_peel_superficial")
    assert peel is not None and peel.on_records() == ()  # facial or not: the site decides
    assert kb.standard_codes("treatment", "microneedling") is None  # no code found: none invented


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("- {id: 'treatment:warp', of: treatment, concept: warp, sources: [code-icd10],"
         " codings: [{system: icd10, code: L90.5, display: x, equivalence: wider}]}",
         "concept: unknown treatment 'warp'"),
        ("- {id: 'peel', of: treatment, concept: dermabrasion, sources: [code-icd10],"
         " codings: [{system: icd10, code: L90.5, display: x, equivalence: wider}]}",
         "id must be 'treatment:dermabrasion'"),
        ("- {id: 'mark:pie', of: mark, concept: pie, sources: [nowhere],"
         " codings: [{system: icd10, code: L90.5, display: x, equivalence: wider}]}",
         "nowhere"),
        ("- {id: 'mark:pie', of: mark, concept: pie, sources: [code-icd10],"
         " codings: [{system: icd10, code: L90.5, display: x, equivalence: wider},"
         " {system: icd10, code: L90.5, display: y, equivalence: wider}]}",
         "listed twice"),
        ("- {id: 'mark:pie', of: mark, concept: pie, sources: [code-icd10],"
         " codings: [{system: loinc, code: '1-8', display: x, equivalence: wider}]}",
         "system"),
        ("- {id: 'mark:pie', of: mark, concept: pie, codings: [{system: icd10, code: L90.5, display: x,"
         " equivalence: wider}]}",
         "sources"),
    ],
)
def test_a_bad_mapping_is_refused_naming_the_entry(tmp_path: Path, body: str, message: str) -> None:
    (tmp_path / "codes.yaml").write_text(body + "\n")
    with pytest.raises(KnowledgeError, match=r"codes\.yaml") as err:
        load_knowledge(tmp_path, cache=False)
    assert message in str(err.value)
