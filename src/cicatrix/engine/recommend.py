"""Rank the treatments that screening kept, by the patient's targets, severity and phototype."""

from __future__ import annotations

from cicatrix.engine.case import Case
from cicatrix.engine.index import index_for
from cicatrix.engine.result import Message, Recommendation, Severity
from cicatrix.engine.screening import Screen
from cicatrix.knowledge.models import Indication, KnowledgeBase, Treatment

_EVIDENCE_ORDER = {"V": 0, "V-low": 1, "protocol": 2, "U": 3}


def present_targets(case: Case) -> tuple[str, ...]:
    """Scar types, marks and active lesions recorded with a count above zero, in input order."""
    a = case.assessment
    seen: dict[str, None] = {}
    for entries in (a.scars, a.marks, a.active_lesions):
        for e in entries:
            if e.count > 0:
                seen.setdefault(e.type, None)
    return tuple(seen)


def matched_indications(t: Treatment, targets: tuple[str, ...], severity: Severity | None) -> tuple[Indication, ...]:
    return tuple(
        ind
        for ind in t.indications
        if ind.target in targets and (not ind.severities or (severity is not None and severity in ind.severities))
    )


Merit = tuple[float, tuple[Indication, ...], tuple[Message, ...], tuple[str, ...]]


def _merit(
    t: Treatment,
    targets: tuple[str, ...],
    severity: Severity | None,
    phototype: str,
    weights: dict[str, float],
    bonus: float,
) -> Merit:
    """Score, matched indications, adjustments and cited sources of one treatment for a patient."""
    inds = matched_indications(t, targets, severity)
    score = 0.0
    for i in inds:
        score += weights.get(i.line, 0.0) + (bonus if i.severities else 0.0)
    adjustments: list[Message] = []
    sources = [s for i in inds for s in i.sources]
    pref = t.preferred_for
    if pref and phototype in pref.phototypes:
        score += pref.bonus
        adjustments.append(Message(code="phototype_preferred", message=pref.reason))
        sources += pref.sources
    return score, inds, tuple(adjustments), tuple(dict.fromkeys(sources or t.sources))


def rank(
    case: Case,
    kb: KnowledgeBase,
    screens: dict[str, Screen],
    severity: Severity | None,
    extra: dict[str, tuple[Message, ...]],
) -> tuple[Recommendation, ...]:
    """Score every non-excluded treatment that has a matching indication (or extra warnings)."""
    targets = present_targets(case)
    present = frozenset(targets)
    indicated = index_for(kb).indication_targets
    weights = kb.policy.ranking.line_weights
    bonus = kb.policy.ranking.severity_match_bonus
    phototype = case.patient.phototype.value
    scored: list[tuple[float, Treatment, tuple[Indication, ...], tuple[Message, ...], tuple[str, ...]]] = []
    for tid, screen in screens.items():
        if screen.excluded or (tid not in extra and indicated[tid].isdisjoint(present)):
            continue
        t = screen.treatment
        merit = _merit(t, targets, severity, phototype, weights, bonus)
        if not merit[1] and tid not in extra:
            continue
        scored.append((merit[0], t, *merit[1:]))
    scored.sort(key=lambda s: (-s[0], _EVIDENCE_ORDER[s[1].evidence_level], s[1].name))
    return tuple(
        Recommendation(
            treatment=t.id,
            name=t.name,
            rank=n,
            score=round(total, 3),
            targets=tuple(dict.fromkeys(i.target for i in inds)),
            rationale=" ".join(dict.fromkeys(i.rationale for i in inds)) or t.summary,
            sources=cited,
            evidence_level=t.evidence_level,
            warnings=screens[t.id].warnings + extra.get(t.id, ()),
            adjustments=adjusted,
        )
        for n, (total, t, inds, adjusted, cited) in enumerate(scored, start=1)
    )
