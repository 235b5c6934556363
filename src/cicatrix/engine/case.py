"""The clinician's input: a patient, one assessment, and scheduling preferences.

Type names (scar, mark and lesion types, treatment ids) are plain strings checked
against the knowledge base in force, so a clinic that adds a type in its overrides
does not need a code change.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from enum import StrEnum
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from cicatrix.knowledge.models import KnowledgeBase


class Phototype(StrEnum):
    """Fitzpatrick skin phototype."""

    I = "I"  # noqa: E741
    II = "II"
    III = "III"
    IV = "IV"
    V = "V"
    VI = "VI"


_FROZEN = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


def _known(info: ValidationInfo, kind: str, value: str) -> str:
    """Check a type name against the knowledge base passed as validation context."""
    kb = (info.context or {}).get("knowledge")
    if kb is None:
        return value
    known: Mapping[str, object] = getattr(kb, kind)
    if value not in known:
        choices = ", ".join(sorted(known))
        raise ValueError(f"unknown {kind.rstrip('s').replace('_', ' ')} {value!r} (known: {choices})")
    return value


class Patient(BaseModel):
    model_config = _FROZEN

    id: str | None = None
    birth_date: date | None = None
    sex: Literal["female", "male", "other", "unknown"] | None = None
    phototype: Phototype
    pregnant: bool = False
    breastfeeding: bool = False
    isotretinoin_last_dose: date | None = None
    history: tuple[str, ...] = ()
    medications: tuple[str, ...] = ()
    recent_sunburn: bool = False


class _CountedEntry(BaseModel):
    """A counted finding whose type must exist in one knowledge-base collection."""

    model_config = _FROZEN
    _collection: ClassVar[str]

    type: str
    count: int = Field(ge=0)
    regions: tuple[str, ...] = ()

    @field_validator("type")
    @classmethod
    def _type_known(cls, v: str, info: ValidationInfo) -> str:
        return _known(info, cls._collection, v)


class ScarEntry(_CountedEntry):
    _collection = "scar_types"

    depth: Literal["shallow", "deep"] | None = None
    area_cm2: float | None = Field(default=None, ge=0)
    age_months: int | None = Field(default=None, ge=0)


class MarkEntry(_CountedEntry):
    _collection = "marks"


class LesionEntry(_CountedEntry):
    _collection = "lesions"


class Assessment(BaseModel):
    model_config = _FROZEN

    date: date
    goodman_baron_qualitative: int | None = Field(default=None, ge=1, le=4)
    scars: tuple[ScarEntry, ...]
    marks: tuple[MarkEntry, ...]
    active_lesions: tuple[LesionEntry, ...]
    regions: tuple[str, ...] = ()
    notes: str | None = None


class Preferences(BaseModel):
    model_config = _FROZEN

    start: date | None = None
    treatments: tuple[str, ...] | None = None
    max_downtime_days: int | None = Field(default=None, ge=0)

    @field_validator("treatments")
    @classmethod
    def _treatments_known(cls, v: tuple[str, ...] | None, info: ValidationInfo) -> tuple[str, ...] | None:
        if v is not None:
            for t in v:
                _known(info, "treatments", t)
        return v


class Case(BaseModel):
    """One planning request: who, what was seen, and when care may start."""

    model_config = _FROZEN

    patient: Patient
    assessment: Assessment
    preferences: Preferences = Preferences()


class CaseError(ValueError):
    """Bad input, named by its field path and value so a person can fix it."""

    def __init__(self, field: str, value: Any, message: str) -> None:
        self.field = field
        self.value = value
        self.message = message
        super().__init__(self.one_line())

    def one_line(self) -> str:
        shown = "" if self.value is _MISSING else f" (got {self.value!r})"
        return f"{self.field}: {self.message}{shown}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "value": None if self.value is _MISSING else self.value,
            "message": self.message,
        }


_MISSING: Any = object()


def field_path(loc: tuple[int | str, ...]) -> str:
    """Render a pydantic location as `assessment.scars[0].count`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "case"


def first_error(exc: ValidationError) -> CaseError:
    """Turn pydantic's first error into a CaseError; one clear line beats a list."""
    err = exc.errors(include_url=False)[0]
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "missing":
        return CaseError(field_path(loc), _MISSING, "is required")
    if err["type"] == "extra_forbidden":
        return CaseError(field_path(loc), _MISSING, "is not a known field")
    return CaseError(field_path(loc), err.get("input", _MISSING), msg)


def parse_case(data: object, knowledge: KnowledgeBase) -> Case:
    """Validate raw JSON-like data into a Case, or raise CaseError naming the field."""
    if not isinstance(data, dict):
        raise CaseError("case", _MISSING, "must be a JSON object")
    try:
        return Case.model_validate(data, context={"knowledge": knowledge})
    except ValidationError as exc:
        raise first_error(exc) from None
