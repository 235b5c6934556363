"""Safety screening: contraindications exclude, precautions warn and adjust.

The rules live on each treatment in the knowledge data; this module only applies them.
"""

from __future__ import annotations

from dataclasses import dataclass

from cicatrix.engine.result import Message
from cicatrix.knowledge.models import Condition, KnowledgeBase, Step, Treatment


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


def screen_treatment(t: Treatment, conditions: dict[str, tuple[Condition, str]]) -> Screen:
    rules = [r for r in t.rules() if r.code in conditions]
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
    return {tid: screen_treatment(t, conditions) for tid, t in kb.treatments.items()}
