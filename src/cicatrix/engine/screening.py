"""Safety screening: the matrix's decisions for the conditions that apply to a patient.

Every condition x treatment cell of the knowledge base holds one decision (exclude, delay, warn
or none; see docs/safety-matrix.md); this module only applies them. Delays are dated per case
(`date_delays`), and a care step that uses something excluded or delayed for the patient is left
out of the plan (`banned_uses`, `left_out_steps`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta

import msgspec

from cicatrix.engine.case import Case
from cicatrix.engine.dates import add_months
from cicatrix.engine.index import index_for
from cicatrix.engine.result import Message
from cicatrix.knowledge.models import Condition, Decision, DelayPolicy, KnowledgeBase, Step, Treatment, Wait


class Pending(msgspec.Struct, frozen=True):
    """A delay decision in force, not yet dated: the date depends on the case."""

    code: str
    wait: Wait
    message: str


class Screen(msgspec.Struct, frozen=True):
    """What screening decided for one treatment.

    `not_before` is the first day a session may be booked, once `date_delays` has dated the
    treatment's delays for a case; `None` when nothing makes it wait.
    """

    treatment: Treatment
    reasons: tuple[Message, ...]
    warnings: tuple[Message, ...]
    steps: tuple[Step, ...]
    waits: tuple[Pending, ...] = ()
    not_before: date | None = None

    @property
    def excluded(self) -> bool:
        return bool(self.reasons)


def screen_treatment(
    t: Treatment, conditions: dict[str, tuple[Condition, str]], decisions: tuple[tuple[str, Decision], ...]
) -> Screen:
    """Apply the treatment's decisions (code, decision; `none` cells left out) whose condition applies."""
    # keyed by (code, text): equal messages appear once, in first-seen order
    reasons: dict[tuple[str, str], Message] = {}
    warnings: dict[tuple[str, str], Message] = {}
    waits: list[Pending] = []
    steps: list[Step] = []
    for code, d in decisions:
        if code not in conditions:
            continue
        key = (code, f"{d.message} ({conditions[code][1]})")
        if d.decision == "exclude":
            reasons.setdefault(key, Message(code=key[0], message=key[1]))
            continue
        if d.decision == "delay":
            assert d.wait is not None  # the model requires it for a delay
            waits.append(Pending(code, d.wait, key[1]))
        else:
            warnings.setdefault(key, Message(code=key[0], message=key[1]))
        steps.extend(d.add_steps)
    return Screen(t, tuple(reasons.values()), tuple(warnings.values()), tuple(steps), tuple(waits))


def screen_all(kb: KnowledgeBase, conditions: dict[str, tuple[Condition, str]]) -> dict[str, Screen]:
    """Every treatment's screen, in the knowledge base's order; a new dict the caller may change."""
    index = index_for(kb)
    key = tuple((code, detail) for code, (_cond, detail) in conditions.items())
    known = index.screens.get(key)
    if known is not None:
        return dict(known)
    out = dict(_clear_screens(kb))  # treatments no active condition touches: shared, immutable
    for tid in dict.fromkeys(tid for code in conditions for tid in index.treatments_by_code.get(code, ())):
        out[tid] = screen_treatment(kb.treatments[tid], conditions, index.decisions[tid])
    if len(index.screens) >= _MAX_REMEMBERED:
        index.screens.clear()
    index.screens[key] = out
    return dict(out)


_MAX_REMEMBERED = 4096


def wait_ends(wait: Wait, case: Case) -> date | None:
    """The day a wait is over, from the date the case records; None when the case lacks it."""
    anchor = case.assessment.date if wait.after == "assessment" else case.patient.isotretinoin_last_dose
    if anchor is None:
        return None
    return add_months(anchor, wait.months) + timedelta(days=wait.days)


def date_delays(screens: dict[str, Screen], case: Case, start: date, policy: DelayPolicy) -> dict[str, Screen]:
    """Date every delay for this case: the treatment is booked on or after the latest end of its
    waits, or excluded when that is more than the policy's maximum after the plan's start."""
    out = screens
    for tid, s in screens.items():
        if not s.waits:
            continue
        ends = [(wait_ends(p.wait, case), p) for p in s.waits]
        reasons = list(s.reasons)
        warnings = list(s.warnings)
        day: date | None = None
        for end, p in ends:
            if end is None:
                reasons.append(
                    Message(code=p.code, message=f"{p.message} The case has no {p.wait.after} to date the wait.")
                )
                continue
            day = end if day is None or end > day else day
            if (end - start).days > policy.max_days:
                limit = policy.text.format(limit=policy.max_days, date=end.isoformat())
                reasons.append(Message(code=p.code, message=f"{p.message} {limit}"))
            else:
                warnings.append(Message(code=p.code, message=f"{p.message} Booked on or after {end.isoformat()}."))
        if out is screens:
            out = dict(screens)
        out[tid] = msgspec.structs.replace(
            s,
            reasons=tuple(reasons),
            warnings=tuple(warnings),
            not_before=day if day is not None and day > start else None,
        )
    return out


def banned_use(kb: KnowledgeBase, screens: Mapping[str, Screen], use: str) -> str | None:
    """Why a step may not use `use` (a treatment or agent id) for this patient, or None."""
    if use in screens:
        s = screens[use]
        if s.excluded:
            codes = ", ".join(dict.fromkeys(r.code for r in s.reasons))
            return f"{s.treatment.name} is excluded for this patient ({codes})"
        if s.not_before is not None:
            return f"{s.treatment.name} must wait until {s.not_before.isoformat()}"
        return None
    agent = kb.agents.get(use)
    for tid in agent.treatments if agent is not None else ():
        if (why := banned_use(kb, screens, tid)) is not None:
            return why
    return None


def step_skips(
    kb: KnowledgeBase, screens: Mapping[str, Screen], treatments: Iterable[str]
) -> tuple[dict[str, frozenset[str]], dict[str, str]]:
    """Per treatment in the plan, the uses that leave one of its care steps out, and why each is banned.

    A step may not use a treatment that is excluded or must wait, nor an agent that such a
    treatment prescribes. A treatment's own steps may use the treatment itself and the agents it
    prescribes: a delayed treatment's steps are dated around its own, delayed, sessions. Only the
    uses a treatment's steps can name are checked (precomputed per knowledge base), so a plan
    whose steps use nothing costs nothing.
    """
    step_uses = index_for(kb).step_uses
    skips: dict[str, frozenset[str]] = {}
    why: dict[str, str] = {}
    checked: dict[str, str | None] = {}
    for tid in treatments:
        hit = []
        for use in step_uses[tid]:
            if use not in checked:
                checked[use] = banned_use(kb, screens, use)
            reason = checked[use]
            if reason is not None:
                why[use] = reason
                hit.append(use)
        if hit:
            skips[tid] = frozenset(hit)
    return skips, why


def left_out_steps(
    kb: KnowledgeBase,
    screens: Mapping[str, Screen],
    skips: Mapping[str, frozenset[str]],
    bans: Mapping[str, str],
) -> tuple[Message, ...]:
    """One warning per care step that screening left out of the plan, naming the step and why."""
    out: dict[str, Message] = {}
    for tid, skip in skips.items():
        t = kb.treatments[tid]
        for step in (*t.protocol.steps, *screens[tid].steps):
            hit = next((u for u in step.uses if u in skip), None)
            if hit is None:
                continue
            name = kb.agents[hit].name if hit in kb.agents else kb.treatments[hit].name
            # the step as the patient's instructions word it (its `code` is for the data only)
            what = step.text.rstrip(".")
            text = f"{t.name}: the step \u201c{what}\u201d was left out: it uses {name}, and {bans[hit]}."
            out.setdefault(text, Message(code="step_left_out", message=text))
    return tuple(out.values())


def _clear_screens(kb: KnowledgeBase) -> dict[str, Screen]:
    """Every treatment as screened when no condition applies, kept in the index under the key ()."""
    screens = index_for(kb).screens
    clear = screens.get(())
    if clear is None:
        clear = {tid: Screen(t, (), (), ()) for tid, t in kb.treatments.items()}
        screens[()] = clear
    return clear
