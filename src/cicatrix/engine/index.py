"""Lookups derived once per knowledge base, so planning a case does not rescan the whole base.

Everything here is a pure function of one immutable KnowledgeBase. The memo only saves
recomputing it: an entry is reused only for the very same knowledge base object, so it can
never change a result.
"""

from __future__ import annotations

from dataclasses import dataclass

from cicatrix.knowledge.models import Condition, KnowledgeBase, Matcher, Rule


@dataclass(frozen=True, slots=True)
class TriggerSets:
    """A condition's trigger with its lists as sets, for fast intersections with a case."""

    condition_id: str
    condition: Condition
    flags: tuple[str, ...]
    history_any: frozenset[str]
    medications_any: frozenset[str]
    active_lesions_any: frozenset[str]
    scars_any: frozenset[str]
    phototypes: frozenset[str]
    isotretinoin_within_months: int | None


@dataclass(frozen=True, slots=True)
class RowMatchers:
    """A scale row's matchers by the entry type they name (scars and marks kept apart)."""

    scars: dict[str, tuple[Matcher, ...]]
    marks: frozenset[str]


@dataclass(frozen=True, slots=True)
class KnowledgeIndex:
    kb: KnowledgeBase
    triggers: tuple[TriggerSets, ...]
    rules: dict[str, tuple[Rule, ...]]
    rule_codes: dict[str, frozenset[str]]
    indication_targets: dict[str, frozenset[str]]
    # aligned with kb.scales: goodman_baron_quantitative.rows, .area_rows and ecca.items
    gb_rows: tuple[RowMatchers, ...]
    gb_area_rows: tuple[RowMatchers, ...]
    ecca_items: tuple[RowMatchers, ...]


def _row_matchers(matchers: tuple[Matcher, ...]) -> RowMatchers:
    scars: dict[str, list[Matcher]] = {}
    marks: set[str] = set()
    for m in matchers:
        if m.scar is not None:
            scars.setdefault(m.scar, []).append(m)
        if m.mark is not None:
            marks.add(m.mark)
    return RowMatchers({k: tuple(v) for k, v in scars.items()}, frozenset(marks))


def _build(kb: KnowledgeBase) -> KnowledgeIndex:
    triggers = tuple(
        TriggerSets(
            condition_id=cid,
            condition=cond,
            flags=cond.triggers.flags,
            history_any=frozenset(cond.triggers.history_any),
            medications_any=frozenset(cond.triggers.medications_any),
            active_lesions_any=frozenset(cond.triggers.active_lesions_any),
            scars_any=frozenset(cond.triggers.scars_any),
            phototypes=frozenset(cond.triggers.phototypes),
            isotretinoin_within_months=cond.triggers.isotretinoin_within_months,
        )
        for cid, cond in kb.conditions.items()
    )
    rules = {tid: t.rules() for tid, t in kb.treatments.items()}
    gb = kb.scales.goodman_baron_quantitative
    return KnowledgeIndex(
        kb=kb,
        triggers=triggers,
        rules=rules,
        rule_codes={tid: frozenset(r.code for r in rs) for tid, rs in rules.items()},
        indication_targets={tid: frozenset(i.target for i in t.indications) for tid, t in kb.treatments.items()},
        gb_rows=tuple(_row_matchers(row.match) for row in gb.rows),
        gb_area_rows=tuple(_row_matchers(row.match) for row in gb.area_rows),
        ecca_items=tuple(_row_matchers(item.match) for item in kb.scales.ecca.items),
    )


_MEMO: dict[str, KnowledgeIndex] = {}


def index_for(kb: KnowledgeBase) -> KnowledgeIndex:
    """The index of `kb`, built on first use; reused only for the identical object."""
    cached = _MEMO.get(kb.fingerprint)
    if cached is not None and cached.kb is kb:
        return cached
    built = _build(kb)
    if len(_MEMO) >= 8:  # a process sees one or a few knowledge bases; stay bounded anyway
        _MEMO.clear()
    _MEMO[kb.fingerprint] = built
    return built
