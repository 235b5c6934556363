"""Which contraindication and precaution codes apply to a patient, from the data's triggers."""

from __future__ import annotations

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


def _fires(trigger: TriggerSets, facts: _Facts) -> str | None:
    """Return a short factual detail when the trigger matches, else None."""
    p, a = facts.case.patient, facts.case.assessment
    for flag in trigger.flags:
        if getattr(p, flag):
            return flag.replace("_", " ")
    if hit := sorted(trigger.history_any & facts.history):
        return "history: " + ", ".join(hit)
    if hit := sorted(trigger.medications_any & facts.medications):
        return "medications: " + ", ".join(hit)
    if lesions := sorted(facts.lesions & trigger.active_lesions_any):
        return "active lesions: " + ", ".join(lesions)
    if scars := sorted(facts.scars & trigger.scars_any):
        return "scars present: " + ", ".join(scars)
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
        detail = _fires(trigger, facts)
        if detail is not None:
            out[trigger.condition_id] = (trigger.condition, detail)
    return out
