"""The clinician's input: a patient, one assessment, and scheduling preferences.

Type names (scar, mark and lesion types, treatment ids) are plain strings checked
against the knowledge base in force, so a clinic that adds a type in its overrides
does not need a code change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

import msgspec
from msgspec import Meta
from msgspec.structs import replace

from cicatrix.engine.terms import FIELDS, read_term
from cicatrix.knowledge.frozen import Frozen, describe
from cicatrix.knowledge.models import KnowledgeBase, TermKind


class Phototype(StrEnum):
    """Fitzpatrick skin phototype."""

    I = "I"  # noqa: E741
    II = "II"
    III = "III"
    IV = "IV"
    V = "V"
    VI = "VI"


NonNegative = Annotated[int, Meta(ge=0)]

# The dates a calendar can reach: they keep absurd values (the year 9999) from entering a
# stored record, where they would break date arithmetic and every later export
# (docs/security.md). What a face and body can hold (counts, areas, a scar's age and size) is
# knowledge data, `policy.input_bounds`, checked by `_implausible` against the base in force.
MIN_DATE = dt.date(1900, 1, 1)
MAX_DATE = dt.date(2199, 12, 31)
Count = Annotated[int, Meta(ge=0)]


class Patient(Frozen, frozen=True, kw_only=True):
    id: str | None = None
    birth_date: dt.date | None = None
    sex: Literal["female", "male", "other", "unknown"] | None = None
    phototype: Phototype
    pregnant: bool = False
    breastfeeding: bool = False
    isotretinoin_last_dose: dt.date | None = None
    history: tuple[str, ...] = ()
    medications: tuple[str, ...] = ()
    recent_sunburn: bool = False


class _CountedEntry(Frozen, frozen=True, kw_only=True):
    """A counted finding whose type must exist in one knowledge-base collection."""

    collection: ClassVar[str]

    type: str
    count: Count
    regions: tuple[str, ...] = ()


class ScarEntry(_CountedEntry, frozen=True, kw_only=True):
    collection: ClassVar[str] = "scar_types"

    depth: Literal["shallow", "deep"] | None = None
    area_cm2: Annotated[float, Meta(ge=0)] | None = None
    age_months: Annotated[int, Meta(ge=0)] | None = None
    # the scars' diameter (a linear scar's width), for ECCA's size-defined atrophic items; only on
    # the scar types the scale measures (checked by parse_case).
    diameter_mm: Annotated[float, Meta(gt=0)] | None = None


class MarkEntry(_CountedEntry, frozen=True, kw_only=True):
    collection: ClassVar[str] = "marks"


class LesionEntry(_CountedEntry, frozen=True, kw_only=True):
    collection: ClassVar[str] = "lesions"


class Assessment(Frozen, frozen=True, kw_only=True):
    date: dt.date
    goodman_baron_qualitative: Annotated[int, Meta(ge=1, le=4)] | None = None
    scars: tuple[ScarEntry, ...]
    marks: tuple[MarkEntry, ...]
    active_lesions: tuple[LesionEntry, ...]
    regions: tuple[str, ...] = ()
    notes: str | None = None


class Preferences(Frozen, frozen=True, kw_only=True):
    start: dt.date | None = None
    treatments: tuple[str, ...] | None = None
    max_downtime_days: NonNegative | None = None


class Case(Frozen, frozen=True, kw_only=True):
    """One planning request: who, what was seen, and when care may start."""

    patient: Patient
    assessment: Assessment
    preferences: Preferences = msgspec.field(default_factory=Preferences)


class CaseError(ValueError):
    """Bad input, named by its field path and value so a person can fix it."""

    def __init__(self, field: str, value: Any, message: str) -> None:
        self.field = field
        self.value = value
        self.message = message
        super().__init__(self.one_line())

    def one_line(self) -> str:
        quoted = self.value is _MISSING or repr(self.value) in self.message  # the message names it already
        shown = "" if quoted else f" (got {self.value!r})"
        return f"{self.field}: {self.message}{shown}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "value": None if self.value is _MISSING else self.value,
            "message": self.message,
        }


_MISSING: Any = object()


def _strip(data: Any) -> Any:
    """Trim surrounding whitespace from every string, as typed or pasted input often has it."""
    kind = type(data)  # JSON-decoded data: exact types, and this runs on every input value
    if kind is str:
        return data.strip()
    if kind is dict:
        return {k: _strip(v) for k, v in data.items()}
    if kind is list:
        return [_strip(v) for v in data]
    return data


def _location(where: str) -> list[str | int]:
    """`assessment.scars[0].count` as ['assessment', 'scars', 0, 'count']."""
    out: list[str | int] = []
    for part in where.replace("[", ".[").split("."):
        if part.startswith("[") and part.endswith("]") and part[1:-1].isdigit():
            out.append(int(part[1:-1]))
        elif part:
            out.append(part)
    return out


def field_path(loc: list[str | int]) -> str:
    """Render a location as `assessment.scars[0].count`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "case"


def _value_at(data: Any, loc: list[str | int]) -> Any:
    for part in loc:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return _MISSING
    return data


def _first_error(exc: msgspec.ValidationError, data: Any) -> CaseError:
    """Turn msgspec's error into a CaseError naming the field and the value that was given."""
    where, message = describe(exc)
    loc = _location(where)
    if message.startswith(("Object missing required field `", "Object contains unknown field `")):
        name = message.split("`")[1]
        what = "is required" if "missing" in message else "is not a known field"
        return CaseError(field_path([*loc, name]), _MISSING, what)
    return CaseError(field_path(loc), _value_at(data, loc), message.replace("`", ""))


def _unknown_types(case: Case, kb: KnowledgeBase) -> Iterator[CaseError]:
    """Every type name the knowledge base in force does not know, in field order."""
    a = case.assessment
    groups: tuple[tuple[str, tuple[_CountedEntry, ...]], ...] = (
        ("scars", a.scars),
        ("marks", a.marks),
        ("active_lesions", a.active_lesions),
    )
    for name, entries in groups:
        for i, e in enumerate(entries):
            known: Mapping[str, object] = getattr(kb, e.collection)
            if e.type not in known:
                yield _unknown(f"assessment.{name}[{i}].type", e.type, e.collection, known)
    for t in case.preferences.treatments or ():
        if t not in kb.treatments:
            yield _unknown("preferences.treatments", t, "treatments", kb.treatments)


def _unmeasured_diameters(case: Case, kb: KnowledgeBase) -> Iterator[CaseError]:
    """A diameter on a scar type the ECCA does not size (say a keloid) would be ignored: refuse it."""
    by_diameter = kb.scales.ecca.by_diameter
    measured = by_diameter.scars if by_diameter is not None else ()
    for i, e in enumerate(case.assessment.scars):
        if e.diameter_mm is not None and e.type not in measured and e.type in kb.scar_types:
            where = ", ".join(measured) if measured else "none in this knowledge base"
            yield CaseError(
                f"assessment.scars[{i}].diameter_mm",
                e.diameter_mm,
                f"a diameter is recorded only for the atrophic scar types ECCA sizes ({where}), not {e.type}",
            )


def _dates_out_of_range(case: Case) -> Iterator[CaseError]:
    """Every date outside MIN_DATE..MAX_DATE, in field order."""
    p, a, prefs = case.patient, case.assessment, case.preferences
    for field, day in (
        ("patient.birth_date", p.birth_date),
        ("patient.isotretinoin_last_dose", p.isotretinoin_last_dose),
        ("assessment.date", a.date),
        ("preferences.start", prefs.start),
    ):
        if day is not None and not MIN_DATE <= day <= MAX_DATE:
            yield CaseError(field, day.isoformat(), f"must be between {MIN_DATE} and {MAX_DATE}")


def _implausible(case: Case, kb: KnowledgeBase) -> Iterator[CaseError]:
    """Every count, area, age or size above what a face and body can hold (`policy.input_bounds`)."""
    bounds = kb.policy.input_bounds
    limits: tuple[tuple[str, float], ...] = (
        ("count", bounds.max_count),
        ("area_cm2", bounds.max_area_cm2),
        ("age_months", bounds.max_age_months),
        ("diameter_mm", bounds.max_diameter_mm),
    )
    a = case.assessment
    for name, entries in (("scars", a.scars), ("marks", a.marks), ("active_lesions", a.active_lesions)):
        for i, e in enumerate(entries):
            for attr, most in limits:
                value = getattr(e, attr, None)
                if value is not None and not value <= most:  # `not <=`: NaN is refused too
                    shown = f"{most:,g}" if isinstance(most, float) else f"{most:,}"
                    yield CaseError(
                        f"assessment.{name}[{i}].{attr}",
                        value,
                        f"must be at most {shown}: more than a face and body can hold, probably a typing error",
                    )


def _born_after_assessment(case: Case) -> Iterator[CaseError]:
    born, seen = case.patient.birth_date, case.assessment.date
    if born is not None and seen < born:
        yield CaseError("assessment.date", seen.isoformat(), f"is before the patient's birth date ({born.isoformat()})")


def _unknown(field: str, value: str, kind: str, known: Mapping[str, object]) -> CaseError:
    choices = ", ".join(sorted(known))
    return CaseError(field, value, f"unknown {kind.rstrip('s').replace('_', ' ')} (known: {choices})")


def coded_terms(kind: TermKind, terms: Sequence[str], kb: KnowledgeBase, field: str) -> tuple[str, ...]:
    """Every term as its vocabulary code, in order, each once; the one check wherever terms enter.

    A term the vocabulary does not know is refused with a CaseError naming `field[i]` and the
    term, unless the clinic allows free text: then it is kept as typed, and the plan warns
    `unrecognised_term`. A word that belongs in a structured field (pregnant, isotretinoin) is
    always refused, naming that field.
    """
    out: list[str] = []
    for i, term in enumerate(terms):
        code, why = read_term(kind, term, kb)
        if code is None and (why is not None or not kb.policy.vocabulary.allow_free_text):
            known = ", ".join(c for c, t in kb.vocabulary.items() if t.kind == kind and t.recorded_as is None)
            raise CaseError(
                f"{field}[{i}]",
                term,
                why
                or f"unknown {kind} {term!r} (known codes: {known}; each has synonyms such as generic and "
                "brand names, listed by `cicatrix knowledge show CODE`)",
            )
        out.append(code or term)
    return tuple(dict.fromkeys(out))


def _coded_patient(p: Patient, kb: KnowledgeBase) -> Patient:
    """The patient with every history and medication term replaced by its vocabulary code."""
    changed: dict[str, tuple[str, ...]] = {}
    for kind, name in FIELDS.items():
        given: tuple[str, ...] = getattr(p, name)
        coded = coded_terms(kind, given, kb, f"patient.{name}")
        if coded != given:
            changed[name] = coded
    return replace(p, **changed) if changed else p


def parse_case(data: object, knowledge: KnowledgeBase) -> Case:
    """Validate raw JSON-like data into a Case, or raise CaseError naming the field.

    History and medication terms come back as vocabulary codes (see `_coded_patient`).
    """
    if not isinstance(data, dict):
        raise CaseError("case", _MISSING, "must be a JSON object")
    data = _strip(data)
    try:
        case = msgspec.convert(data, Case, strict=False)
    except msgspec.ValidationError as exc:
        raise _first_error(exc, data) from None
    for error in _unmeasured_diameters(case, knowledge):
        raise error
    for error in _unknown_types(case, knowledge):
        raise error
    for error in _dates_out_of_range(case):
        raise error
    for error in _implausible(case, knowledge):
        raise error
    for error in _born_after_assessment(case):
        raise error
    patient = _coded_patient(case.patient, knowledge)
    return case if patient is case.patient else replace(case, patient=patient)
