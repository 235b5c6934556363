"""An independent safety oracle: what the knowledge data says a plan must never contain.

It reads the bundled YAML itself, with plain PyYAML and dicts, and never imports
`cicatrix.engine` or `cicatrix.knowledge`: a bug in how the engine reads or applies the data
cannot hide from a test that compares the engine with this oracle. Keep it small and obvious.

    from tests.safety_oracle import verdict
    v = verdict(case_dict)                                # no clinician overrides
    v = verdict(case_dict, overrides=["microneedling"])   # treatments a clinician overrode
    v.excluded        # {"microneedling": "keloid_history", ...}: treatment -> the condition excluding it
    v.not_before      # {"chemical_peel_deep": date(2027, 3, 13)}: no session of it before that day
    v.step_banned(entry.treatment, entry.code)   # the forbidden uses of a timeline entry's step

`case` is the raw JSON shape `parse_case` takes (patient, assessment, preferences). `overrides`
are the treatment ids of the plan's clinician overrides (each given with a reason); pass none when
the plan has none. An override lifts an exclusion, never a delay's date.

The rules, straight from the data:
- a condition applies when any part of its `triggers` in conditions.yaml matches the case; the
  history and medication words a clinician typed are read as the vocabulary.yaml codes they name
  (case, accents and separators folded, a trailing dose dropped);
- each condition x treatment cell is the decision in safety/<condition>.yaml naming the
  treatment, else the one naming one of the treatment's `groups`;
- `exclude` excludes; `delay` waits until the wait's anchor date (assessment or last isotretinoin
  dose) plus its months and days, and excludes when that is more than knowledge.yaml's
  `policy.delay.max_days` after the plan's start (the later of preferences.start and the
  assessment date), or when the case lacks the anchor date;
- a step may not use (`uses`) a treatment that is excluded or must wait, nor an agent one of whose
  prescribing treatments (agents.yaml `treatments`) is; a treatment's own steps may use itself and
  the agents it prescribes.
Only the bundled data is read: a clinic's knowledge overrides are out of its scope.
"""

from __future__ import annotations

import calendar
import datetime as dt
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

DATA = Path(__file__).resolve().parents[1] / "src" / "cicatrix" / "knowledge" / "data"


@dataclass(frozen=True)
class Verdict:
    """What the data forbids for one case."""

    conditions: frozenset[str]
    excluded: dict[str, str]  # treatment id -> the condition code that excludes it
    not_before: dict[str, dt.date]  # treatment id -> first day a session may be booked
    banned: frozenset[str] = field(default_factory=frozenset)  # uses no step may name

    def step_banned(self, treatment: str | None, code: str | None) -> set[str]:
        """The banned uses of the step `code` of `treatment` (protocol or added step), if any."""
        if treatment is None or code is None:
            return set()
        own = _own_uses(treatment)
        return (_step_uses(treatment, code) & self.banned) - own


def _load(name: str) -> Any:
    with (DATA / name).open("rb") as fh:
        return yaml.safe_load(fh)


@cache
def _data() -> dict[str, Any]:
    treatments = {}
    for path in sorted((DATA / "treatments").glob("*.yaml")):
        t = _load(f"treatments/{path.name}")
        treatments[t["id"]] = t
    safety = {}
    for path in sorted((DATA / "safety").glob("*.yaml")):
        s = _load(f"safety/{path.name}")
        safety[s["id"]] = s["decisions"]
    return {
        "conditions": {c["id"]: c for c in _load("conditions.yaml")},
        "agents": {a["id"]: a for a in _load("agents.yaml")},
        "words": _words(_load("vocabulary.yaml")),
        "treatments": treatments,
        "safety": safety,
        "max_delay_days": _load("knowledge.yaml")["policy"]["delay"]["max_days"],
    }


def _fold(term: str) -> str:
    """Lower case, no accents, one space between words (written apart from the engine's own)."""
    plain = unicodedata.normalize("NFKD", term).encode("ascii", "ignore").decode().lower()
    return " ".join("".join(c if c.isalnum() else " " for c in plain).split())


def _words(vocabulary: list[dict[str, Any]]) -> dict[str, str]:
    """Every code and synonym, folded, to its code."""
    out: dict[str, str] = {}
    for entry in vocabulary:
        for word in [entry["id"], *entry.get("synonyms", [])]:
            out[_fold(word)] = entry["id"]
    return out


def _code(term: str) -> str:
    """The code a typed term means: itself when unknown (the engine refuses those), a trailing dose dropped."""
    words = _data()["words"]
    folded = _fold(term)
    if folded in words:
        return words[folded]
    parts = folded.split()
    for i, part in enumerate(parts):
        if part[:1].isdigit() and " ".join(parts[:i]) in words:
            return words[" ".join(parts[:i])]
    return term


def treatments() -> list[str]:
    """Every bundled treatment id, sorted."""
    return sorted(_data()["treatments"])


def conditions(case: dict[str, Any]) -> list[str]:
    """The condition codes whose triggers match the case, in the data's order."""
    case = _strip(case)
    return [c for c, cond in _data()["conditions"].items() if _applies(cond["triggers"], case)]


def cell(condition: str, treatment: str) -> dict[str, Any]:
    """The decision for one condition x treatment: by treatment, else by group."""
    decisions = _data()["safety"][condition]
    by_treatment = [d for d in decisions if treatment in d.get("treatments", [])]
    if by_treatment:
        assert len(by_treatment) == 1, (condition, treatment)
        return dict(by_treatment[0])
    groups = set(_data()["treatments"][treatment]["groups"])
    by_group = [d for d in decisions if groups & set(d.get("groups", []))]
    assert len(by_group) == 1, (condition, treatment, by_group)
    return dict(by_group[0])


def _own_uses(treatment: str) -> set[str]:
    return {treatment} | {a for a, agent in _data()["agents"].items() if treatment in agent.get("treatments", [])}


def _step_uses(treatment: str, code: str) -> set[str]:
    data = _data()
    steps = list(data["treatments"].get(treatment, {}).get("protocol", {}).get("steps", []))
    for condition in data["safety"]:
        if treatment in data["treatments"]:
            steps += cell(condition, treatment).get("add_steps", [])
    return {u for s in steps if s.get("code") == code for u in s.get("uses", [])}


def _strip(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list):
        return [_strip(v) for v in value]
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items()}
    return value


def _day(value: Any) -> dt.date | None:
    if value is None:
        return None
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


def _plus_months(day: dt.date, months: int) -> dt.date:
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _applies(trigger: dict[str, Any], case: dict[str, Any]) -> bool:
    p, a = case["patient"], case["assessment"]
    if any(p.get(flag) for flag in trigger.get("flags", [])):
        return True
    if set(trigger.get("history_any", [])) & {_code(t) for t in p.get("history", [])}:
        return True
    if set(trigger.get("medications_any", [])) & {_code(t) for t in p.get("medications", [])}:
        return True
    lesions = {e["type"] for e in a.get("active_lesions", []) if e.get("count", 0) > 0}
    if set(trigger.get("active_lesions_any", [])) & lesions:
        return True
    scars = {e["type"] for e in a.get("scars", []) if e.get("count", 0) > 0}
    if set(trigger.get("scars_any", [])) & scars:
        return True
    if p.get("phototype") in trigger.get("phototypes", []):
        return True
    months = trigger.get("isotretinoin_within_months")
    dose = _day(p.get("isotretinoin_last_dose"))
    return bool(months and dose and _day(a["date"]) < _plus_months(dose, months))


def verdict(case: dict[str, Any], overrides: Iterable[str] = ()) -> Verdict:
    """Which treatments the data excludes for `case`, which must wait and until when."""
    case = _strip(case)
    data = _data()
    assessed = _day(case["assessment"]["date"])
    assert assessed is not None
    start = max(_day((case.get("preferences") or {}).get("start")) or assessed, assessed)
    anchors = {"assessment": assessed, "isotretinoin_last_dose": _day(case["patient"].get("isotretinoin_last_dose"))}
    active = frozenset(conditions(case))
    excluded: dict[str, str] = {}
    not_before: dict[str, dt.date] = {}
    for tid in data["treatments"]:
        for code in sorted(active):
            d = cell(code, tid)
            if d["decision"] == "exclude":
                excluded.setdefault(tid, code)
            elif d["decision"] == "delay":
                anchor = anchors[d["wait"]["after"]]
                if anchor is None:
                    excluded.setdefault(tid, code)
                    continue
                end = _plus_months(anchor, d["wait"].get("months", 0)) + dt.timedelta(days=d["wait"].get("days", 0))
                if (end - start).days > data["max_delay_days"]:
                    excluded.setdefault(tid, code)
                if end > start:
                    not_before[tid] = max(end, not_before.get(tid, end))
    for tid in overrides:
        excluded.pop(tid, None)
    banned = set(excluded) | set(not_before)
    banned |= {a for a, agent in data["agents"].items() if banned & set(agent.get("treatments", []))}
    return Verdict(conditions=active, excluded=excluded, not_before=not_before, banned=frozenset(banned))
