"""Safety screening: contraindications exclude, precautions warn and adjust.

The rules live on each treatment in the knowledge data; this module only applies them.
"""

from __future__ import annotations

import msgspec

from cicatrix.engine.index import index_for
from cicatrix.engine.result import Message
from cicatrix.knowledge.models import Condition, KnowledgeBase, Rule, Step, Treatment


class Screen(msgspec.Struct, frozen=True):
    """What screening decided for one treatment."""

    treatment: Treatment
    reasons: tuple[Message, ...]
    warnings: tuple[Message, ...]
    steps: tuple[Step, ...]
    delay_days: int

    @property
    def excluded(self) -> bool:
        return bool(self.reasons)


def screen_treatment(
    t: Treatment, conditions: dict[str, tuple[Condition, str]], rules_in_force: tuple[Rule, ...] | None = None
) -> Screen:
    """Apply the treatment's rules whose condition applies; `rules_in_force` is t.rules(), if known."""
    rules = [r for r in (t.rules() if rules_in_force is None else rules_in_force) if r.code in conditions]
    if not rules:
        return Screen(t, (), (), (), 0)
    # keyed by (code, text): equal messages appear once, in first-seen order
    reasons: dict[tuple[str, str], Message] = {}
    warnings: dict[tuple[str, str], Message] = {}
    steps: list[Step] = []
    delay = 0
    for rule in rules:
        key = (rule.code, f"{rule.message} ({conditions[rule.code][1]})")
        if rule.effect == "exclude":
            if key not in reasons:
                reasons[key] = Message(code=key[0], message=key[1])
            continue
        if key not in warnings:
            warnings[key] = Message(code=key[0], message=key[1])
        steps.extend(rule.add_steps)
        delay = max(delay, rule.delay_days or 0)
    return Screen(t, tuple(reasons.values()), tuple(warnings.values()), tuple(steps), delay)


def screen_all(kb: KnowledgeBase, conditions: dict[str, tuple[Condition, str]]) -> dict[str, Screen]:
    """Every treatment's screen, in the knowledge base's order; a new dict the caller may change."""
    index = index_for(kb)
    key = tuple((code, detail) for code, (_cond, detail) in conditions.items())
    known = index.screens.get(key)
    if known is not None:
        return dict(known)
    out = dict(_clear_screens(kb))  # treatments no active condition touches: shared, immutable
    for tid in dict.fromkeys(tid for code in conditions for tid in index.treatments_by_code.get(code, ())):
        out[tid] = screen_treatment(kb.treatments[tid], conditions, index.rules[tid])
    if len(index.screens) >= _MAX_REMEMBERED:
        index.screens.clear()
    index.screens[key] = out
    return dict(out)


_MAX_REMEMBERED = 4096


def _clear_screens(kb: KnowledgeBase) -> dict[str, Screen]:
    """Every treatment as screened when no condition applies, kept in the index under the key ()."""
    screens = index_for(kb).screens
    clear = screens.get(())
    if clear is None:
        clear = {tid: Screen(t, (), (), (), 0) for tid, t in kb.treatments.items()}
        screens[()] = clear
    return clear
