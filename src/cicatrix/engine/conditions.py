"""Which contraindication and precaution codes apply to a patient, from the data's triggers."""

from __future__ import annotations

from cicatrix.engine.case import Case
from cicatrix.engine.dates import add_months
from cicatrix.knowledge.models import Condition, KnowledgeBase, Trigger


def _fires(trigger: Trigger, case: Case) -> str | None:
    """Return a short factual detail when the trigger matches, else None."""
    p, a = case.patient, case.assessment
    for flag in trigger.flags:
        if getattr(p, flag):
            return flag.replace("_", " ")
    if hit := sorted(set(trigger.history_any) & set(p.history)):
        return "history: " + ", ".join(hit)
    if hit := sorted(set(trigger.medications_any) & set(p.medications)):
        return "medications: " + ", ".join(hit)
    lesions = sorted({e.type for e in a.active_lesions if e.count > 0} & set(trigger.active_lesions_any))
    if lesions:
        return "active lesions: " + ", ".join(lesions)
    scars = sorted({e.type for e in a.scars if e.count > 0} & set(trigger.scars_any))
    if scars:
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
    out: dict[str, tuple[Condition, str]] = {}
    for cid, cond in kb.conditions.items():
        detail = _fires(cond.triggers, case)
        if detail is not None:
            out[cid] = (cond, detail)
    return out
