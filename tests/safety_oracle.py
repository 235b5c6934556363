"""An independent safety oracle: which treatments the knowledge data forbids for a raw case.

Interim version for today's data layout (per-treatment `contraindications` and
`phototype_cautions`, conditions.yaml `triggers`); the safety-matrix work replaces it with the
definitive one over the decision matrix, with the same API.

It reads the YAML files itself and shares no code with the engine: it must not import
cicatrix.engine or cicatrix.knowledge, so a bug in the engine's trigger matching or rule
lookup cannot hide itself by agreeing with its own test. It takes the raw case dict (the JSON
shape `parse_case` accepts), not the parsed model.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import yaml

DATA = Path(__file__).resolve().parents[1] / "src" / "cicatrix" / "knowledge" / "data"


@dataclass(frozen=True)
class Verdict:
    """excluded: treatment -> the condition code that excludes it (the first in the data's order).
    not_before: treatment -> the earliest date its first session may take place, where a
    precaution delays it."""

    excluded: dict[str, str] = field(default_factory=dict)
    not_before: dict[str, date] = field(default_factory=dict)


@cache
def _conditions() -> tuple[tuple[str, dict[str, Any]], ...]:
    rows = yaml.safe_load((DATA / "conditions.yaml").read_text())
    return tuple((str(r["id"]), dict(r.get("triggers") or {})) for r in rows)


@cache
def _treatments() -> dict[str, list[dict[str, Any]]]:
    """Every treatment's rules: absolute and relative contraindications and phototype cautions."""
    out: dict[str, list[dict[str, Any]]] = {}
    for path in sorted((DATA / "treatments").glob("*.yaml")):
        t = yaml.safe_load(path.read_text())
        c = t.get("contraindications") or {}
        out[str(t["id"])] = [
            *(c.get("absolute") or []),
            *(c.get("relative") or []),
            *(t.get("phototype_cautions") or []),
        ]
    return out


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value).strip())


def _months_later(day: date, months: int) -> date:
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _present(entries: list[dict[str, Any]] | None) -> set[str]:
    return {str(e["type"]).strip() for e in entries or () if int(e.get("count", 0)) > 0}


def conditions(case: dict[str, Any]) -> list[str]:
    """The condition codes whose triggers fire for this case, in the data's order."""
    patient = case.get("patient") or {}
    assessment = case.get("assessment") or {}
    assessed = _day(assessment["date"])
    history = {str(h).strip() for h in patient.get("history") or ()}
    medications = {str(m).strip() for m in patient.get("medications") or ()}
    lesions = _present(assessment.get("active_lesions"))
    scars = _present(assessment.get("scars"))
    phototype = str(patient.get("phototype", "")).strip()
    fired = []
    for code, trig in _conditions():
        hit = (
            any(bool(patient.get(flag)) for flag in trig.get("flags") or ())
            or bool(history & set(trig.get("history_any") or ()))
            or bool(medications & set(trig.get("medications_any") or ()))
            or bool(lesions & set(trig.get("active_lesions_any") or ()))
            or bool(scars & set(trig.get("scars_any") or ()))
            or phototype in set(trig.get("phototypes") or ())
        )
        months = trig.get("isotretinoin_within_months")
        last = patient.get("isotretinoin_last_dose")
        if not hit and months and last:
            hit = assessed < _months_later(_day(last), int(months))
        if hit:
            fired.append(code)
    return fired


def verdict(case: dict[str, Any]) -> Verdict:
    """What the data says about every treatment for this case."""
    assessed = _day(case["assessment"]["date"])
    fired = conditions(case)
    excluded: dict[str, str] = {}
    not_before: dict[str, date] = {}
    for tid, rules in _treatments().items():
        for code in fired:  # the data's condition order decides which code is reported
            for rule in rules:
                if rule["code"] != code:
                    continue
                if rule["effect"] == "exclude":
                    excluded.setdefault(tid, code)
                elif rule.get("delay_days"):
                    later = assessed + timedelta(days=int(rule["delay_days"]))
                    not_before[tid] = max(not_before.get(tid, later), later)
    return Verdict(excluded=excluded, not_before=not_before)
