"""Which contraindication and precaution codes apply to a patient, from the data's triggers."""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from cicatrix.engine.case import Case
from cicatrix.engine.dates import add_months
from cicatrix.engine.index import TriggerSets, index_for
from cicatrix.engine.terms import codes
from cicatrix.knowledge.models import Condition, KnowledgeBase


class _Facts(msgspec.Struct, frozen=True):
    """The parts of a case that triggers look at, gathered once per case."""

    case: Case
    history: frozenset[str]
    medications: frozenset[str]
    lesions: frozenset[str]
    scars: frozenset[str]


def _named(codes: frozenset[str], entries: Mapping[str, object], attr: str = "name") -> str:
    """Codes as the knowledge base names them, for the detail people read (never the code)."""
    return "; ".join(sorted(str(getattr(entries[c], attr)) if c in entries else c for c in codes))


def _fires(trigger: TriggerSets, facts: _Facts, kb: KnowledgeBase) -> str | None:
    """Return a short factual detail, in the knowledge base's words, when the trigger matches."""
    p, a = facts.case.patient, facts.case.assessment
    for flag in trigger.flags:
        if getattr(p, flag):
            return flag.replace("_", " ")  # a field of the case: pregnant, breastfeeding, recent sunburn
    if hit := trigger.history_any & facts.history:
        return "history: " + _named(hit, kb.vocabulary, "label")
    if hit := trigger.medications_any & facts.medications:
        return "medications: " + _named(hit, kb.vocabulary, "label")
    if lesions := facts.lesions & trigger.active_lesions_any:
        return "active lesions: " + _named(lesions, kb.lesions)
    if scars := facts.scars & trigger.scars_any:
        return "scars present: " + _named(scars, kb.scar_types)
    if p.phototype.value in trigger.phototypes:
        return f"Fitzpatrick phototype {p.phototype.value}"
    months = trigger.isotretinoin_within_months
    if months and p.isotretinoin_last_dose is not None:
        ends = add_months(p.isotretinoin_last_dose, months)
        if a.date < ends:
            return (
                f"last isotretinoin dose {p.isotretinoin_last_dose.isoformat()}; {months} months end {ends.isoformat()}"
            )
    return None


def active_conditions(case: Case, kb: KnowledgeBase) -> dict[str, tuple[Condition, str]]:
    """Map each condition code that applies to (its definition, why it applies)."""
    p, a = case.patient, case.assessment
    facts = _Facts(
        case=case,
        history=codes("history", p.history, kb),
        medications=codes("medication", p.medications, kb),
        lesions=frozenset(e.type for e in a.active_lesions if e.count > 0),
        scars=frozenset(e.type for e in a.scars if e.count > 0),
    )
    out: dict[str, tuple[Condition, str]] = {}
    for trigger in index_for(kb).triggers:
        detail = _fires(trigger, facts, kb)
        if detail is not None:
            out[trigger.condition_id] = (trigger.condition, detail)
    return out
