"""The assessment form: which inputs each scar type needs, and form data to an engine case.

Which extra inputs a scar type shows (depth, area, age, diameter) is read from the scales in
the knowledge base: a scar gets a depth choice when a scale row tells depths apart, an area when
an area-scored row counts it or a row is decided by its area, an age when an ECCA item depends on
its age, a diameter when ECCA sizes it. So a clinic that changes the scales changes the form
without a code change.

Everything the clinician typed is kept as typed, so a page re-rendered with errors never loses it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from cicatrix.engine.case import CaseError, parse_case
from cicatrix.knowledge.models import KnowledgeBase, Matcher

PHOTOTYPES = ("I", "II", "III", "IV", "V", "VI")
DEPTHS = ("shallow", "deep")


@dataclass(frozen=True)
class ScarInputs:
    """One scar type's row on the form."""

    id: str
    name: str
    shape: str | None
    width: str
    depth: str
    definition: str
    ecca_label: str | None
    has_depth: bool
    has_area: bool
    has_age: bool
    has_diameter: bool = False


def _scar_matchers(kb: KnowledgeBase) -> list[tuple[str, Matcher]]:
    s = kb.scales
    out: list[tuple[str, Matcher]] = []
    for row in s.goodman_baron_quantitative.rows:
        out += [("gb", m) for m in row.match]
    for arow in s.goodman_baron_quantitative.area_rows:
        out += [("area", m) for m in arow.match]
    for item in s.ecca.items:
        out += [("ecca", m) for m in item.match]
    return out


def scar_inputs(kb: KnowledgeBase) -> tuple[ScarInputs, ...]:
    matchers = _scar_matchers(kb)
    ecca_label = {m.scar: item.label for item in kb.scales.ecca.items for m in item.match if m.scar}
    by_diameter = kb.scales.ecca.by_diameter
    sized = frozenset(by_diameter.scars) if by_diameter else frozenset()
    rows = []
    for sid, st in kb.scar_types.items():
        mine = [(kind, m) for kind, m in matchers if m.scar == sid]
        rows.append(
            ScarInputs(
                id=sid,
                name=st.name,
                shape=st.shape,
                width=st.width,
                depth=st.depth,
                definition=st.definition,
                ecca_label=ecca_label.get(sid),
                has_depth=any(m.depth != "any" for _, m in mine),
                has_area=any(kind == "area" or m.by_area for kind, m in mine),
                has_age=any(m.age_months_lt is not None or m.age_months_gte is not None for _, m in mine),
                has_diameter=sid in sized,
            )
        )
    return tuple(rows)


@dataclass
class AssessmentForm:
    """Raw values as typed, errors by input name, and the case once everything is valid."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    case: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return not self.errors and self.case is not None

    def value(self, name: str, default: str = "") -> str:
        return self.values.get(name, default)


def _int(form: AssessmentForm, name: str, *, what: str) -> int | None:
    raw = form.values.get(name, "").strip()
    if raw == "":
        return None
    if not re.fullmatch(r"\d+", raw):
        form.errors[name] = f"{what} must be a whole number, 0 or more (you typed “{raw}”)."
        return None
    return int(raw)


def _float(form: AssessmentForm, name: str, *, what: str) -> float | None:
    raw = form.values.get(name, "").strip().replace(",", ".")
    if raw == "":
        return None
    try:
        v = float(raw)
    except ValueError:
        v = -1.0
    if not v >= 0 or v != v or v == float("inf"):
        form.errors[name] = f"{what} must be a number, 0 or more (you typed “{form.values[name]}”)."
        return None
    return v


def parse_assessment_form(
    data: Mapping[str, str], kb: KnowledgeBase, *, patient: Mapping[str, Any] | None = None
) -> AssessmentForm:
    """Validate posted form fields into an engine case dict; errors are keyed by input name.

    `patient` holds the patient's stored record (without phototype, which the form sets).
    """
    form = AssessmentForm(values={k: str(v) for k, v in data.items()})
    scars: list[dict[str, Any]] = []
    where: dict[str, str] = {}  # engine field path -> input name, to place engine errors

    for si in scar_inputs(kb):
        p = f"scar-{si.id}"
        count = _int(form, f"{p}-count", what=f"{si.name} count")
        entry: dict[str, Any] = {"type": si.id, "count": count or 0}
        extras: list[str] = []
        if si.has_depth:
            d = form.values.get(f"{p}-depth", "").strip()
            if d and d not in DEPTHS:
                form.errors[f"{p}-depth"] = "Depth must be shallow, deep or not recorded."
            elif d:
                entry["depth"] = d
        if si.has_area:
            a = _float(form, f"{p}-area_cm2", what=f"{si.name} area")
            if a is not None:
                entry["area_cm2"] = a
                extras.append(f"{p}-area_cm2")
        if si.has_age:
            age = _int(form, f"{p}-age_months", what=f"{si.name} age")
            if age is not None:
                entry["age_months"] = age
                extras.append(f"{p}-age_months")
        if si.has_diameter:
            mm = _float(form, f"{p}-diameter_mm", what=f"{si.name} diameter")
            if mm is not None:
                entry["diameter_mm"] = mm
                extras.append(f"{p}-diameter_mm")
        if count:
            i = len(scars)
            scars.append(entry)
            where[f"assessment.scars[{i}].count"] = f"{p}-count"
            for key in ("depth", "area_cm2", "age_months", "diameter_mm"):
                where[f"assessment.scars[{i}].{key}"] = f"{p}-{key}"
        elif extras and f"{p}-count" not in form.errors:
            form.errors[f"{p}-count"] = (
                f"Enter how many {si.name.lower()} scars there are, or clear their area, age and diameter."
            )

    def counted(kind: str, ids: Mapping[str, Any], names: Mapping[str, str]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for tid in ids:
            name = f"{kind}-{tid}-count"
            n = _int(form, name, what=f"{names[tid]} count")
            if n:
                where[f"assessment.{'active_lesions' if kind == 'lesion' else 'marks'}[{len(out)}].count"] = name
                out.append({"type": tid, "count": n})
        return out

    marks = counted("mark", kb.marks, {k: v.name for k, v in kb.marks.items()})
    lesions = counted("lesion", kb.lesions, {k: v.name for k, v in kb.lesions.items()})

    phototype = form.values.get("phototype", "").strip()
    if phototype not in PHOTOTYPES:
        form.errors["phototype"] = "Choose the patient's Fitzpatrick phototype (I to VI)."

    grade_raw = form.values.get("goodman_baron_qualitative", "").strip()
    grade: int | None = None
    if grade_raw:
        if grade_raw in ("1", "2", "3", "4"):
            grade = int(grade_raw)
        else:
            form.errors["goodman_baron_qualitative"] = "The qualitative grade is 1, 2, 3 or 4."

    day_raw = form.values.get("date", "").strip()
    day: date | None = None
    try:
        day = date.fromisoformat(day_raw)
    except ValueError:
        form.errors["date"] = "Enter the assessment date as YYYY-MM-DD." if day_raw else "Enter the assessment date."

    if form.errors:
        return form

    assessment: dict[str, Any] = {
        "date": day.isoformat() if day else None,
        "goodman_baron_qualitative": grade,
        "scars": scars,
        "marks": marks,
        "active_lesions": lesions,
    }
    regions = [r for r in kb.regions if form.values.get(f"region-{r}")]  # the affected regions
    if regions:
        assessment["regions"] = regions
    notes = form.values.get("notes", "").strip()
    if notes:
        assessment["notes"] = notes
    case = {"patient": {**dict(patient or {}), "phototype": phototype}, "assessment": assessment}
    try:
        parse_case(case, kb)
    except CaseError as exc:
        name = where.get(exc.field) or _field_to_input(exc.field)
        form.errors[name] = exc.message
        return form
    form.case = case
    return form


def _field_to_input(path: str) -> str:
    """Best input to attach an engine error to when it is not one of the mapped counts."""
    if path.startswith("patient.phototype"):
        return "phototype"
    if path.startswith("assessment.date"):
        return "date"
    if path.startswith("assessment.goodman_baron_qualitative"):
        return "goodman_baron_qualitative"
    return "form"


def values_from_case(case: Mapping[str, Any]) -> dict[str, str]:
    """Fill the form from a stored case, for editing or repeating an assessment."""
    a = case.get("assessment", {})
    out: dict[str, str] = {
        "phototype": str(case.get("patient", {}).get("phototype") or ""),
        "date": str(a.get("date") or ""),
        "goodman_baron_qualitative": str(a.get("goodman_baron_qualitative") or ""),
        "notes": str(a.get("notes") or ""),
    }
    for r in a.get("regions", []):
        out[f"region-{r}"] = "1"
    for s in a.get("scars", []):
        p = f"scar-{s['type']}"
        out[f"{p}-count"] = str(s.get("count", ""))
        for key in ("depth", "area_cm2", "age_months", "diameter_mm"):
            if s.get(key) is not None:
                out[f"{p}-{key}"] = str(s[key])
    for kind, key in (("mark", "marks"), ("lesion", "active_lesions")):
        for e in a.get(key, []):
            out[f"{kind}-{e['type']}-count"] = str(e.get("count", ""))
    return out
