"""Safety screening: contraindications exclude, precautions warn and adjust.

The rules live on each treatment in the knowledge data; this module only applies them.
"""

from __future__ import annotations

from dataclasses import dataclass

from cicatrix.engine.index import index_for
from cicatrix.engine.result import Message
from cicatrix.knowledge.models import Condition, KnowledgeBase, Rule, Step, Treatment


@dataclass(frozen=True, slots=True)
class Screen:
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
    reasons: list[Message] = []
    warnings: list[Message] = []
    steps: list[Step] = []
    delay = 0
    for rule in rules:
        detail = conditions[rule.code][1]
        msg = Message(code=rule.code, message=f"{rule.message} ({detail})")
        if rule.effect == "exclude":
            if msg not in reasons:
                reasons.append(msg)
            continue
        if msg not in warnings:
            warnings.append(msg)
        steps.extend(rule.add_steps)
        delay = max(delay, rule.delay_days or 0)
    return Screen(t, tuple(reasons), tuple(warnings), tuple(steps), delay)


def screen_all(kb: KnowledgeBase, conditions: dict[str, tuple[Condition, str]]) -> dict[str, Screen]:
    index = index_for(kb)
    active = conditions.keys()
    return {
        tid: (
            Screen(t, (), (), (), 0)
            if index.rule_codes[tid].isdisjoint(active)
            else screen_treatment(t, conditions, index.rules[tid])
        )
        for tid, t in kb.treatments.items()
    }
