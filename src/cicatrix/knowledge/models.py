"""Typed, immutable models of the knowledge base.

Every clinical entry carries `sources` (ids into the source catalogue) and an
`evidence_level`, so the engine can always say why it proposed something.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# defer_build: schemas are built on first validation, so a cached knowledge base loads without
# paying for ~40 schema builds at every command start.
_FROZEN = ConfigDict(frozen=True, extra="forbid", defer_build=True)

EvidenceLevel = Literal["V", "V-low", "U", "protocol"]
Severity = Literal["mild", "moderate", "severe"]
PhototypeName = Literal["I", "II", "III", "IV", "V", "VI"]
StepKind = Literal["avoid", "do", "expect"]


class Sourced(BaseModel):
    """Base for every entry that states a clinical fact."""

    model_config = _FROZEN

    sources: tuple[str, ...] = Field(min_length=1)
    evidence_level: EvidenceLevel


class Source(BaseModel):
    model_config = _FROZEN

    id: str
    kind: Literal["seed", "paper", "page", "clinic"]
    citation: str
    url: str | None = None


class EvidenceLevelInfo(BaseModel):
    model_config = _FROZEN

    id: EvidenceLevel
    label: str
    meaning: str


# --- types of things a clinician records ---------------------------------------------------


class ScarType(Sourced):
    id: str
    name: str
    category: Literal["atrophic", "hypertrophic", "macular", "papular"]
    shape: str | None = None
    width: str
    depth: str
    definition: str


class Phototype(Sourced):
    """A Fitzpatrick phototype and its sun response, as shown to the clinician who asks."""

    id: PhototypeName
    sun_response: str


class Mark(Sourced):
    id: str
    name: str
    definition: str
    advice: str


class Lesion(Sourced):
    id: str
    name: str
    inflamed: bool
    scarring_risk: Literal["low", "moderate", "high"]
    definition: str
    advice: str


# --- contraindication and precaution codes ------------------------------------------------


class Trigger(BaseModel):
    """When a condition applies to a patient; any one part that matches is enough."""

    model_config = _FROZEN

    flags: tuple[Literal["pregnant", "breastfeeding", "recent_sunburn"], ...] = ()
    history_any: tuple[str, ...] = ()
    medications_any: tuple[str, ...] = ()
    active_lesions_any: tuple[str, ...] = ()
    scars_any: tuple[str, ...] = ()
    phototypes: tuple[PhototypeName, ...] = ()
    isotretinoin_within_months: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _not_empty(self) -> Trigger:
        if not any(
            (
                self.flags,
                self.history_any,
                self.medications_any,
                self.active_lesions_any,
                self.scars_any,
                self.phototypes,
                self.isotretinoin_within_months,
            )
        ):
            raise ValueError("a trigger needs at least one condition")
        return self


class Condition(Sourced):
    id: str
    name: str
    description: str
    triggers: Trigger
    warning: str | None = None


# --- treatments ------------------------------------------------------------------------


class Step(BaseModel):
    """A care instruction, timed in days relative to a session (negative = before)."""

    model_config = _FROZEN

    offset: int
    until: int | None = None
    kind: StepKind
    text: str
    code: str | None = None
    sources: tuple[str, ...] = ()
    evidence_level: EvidenceLevel | None = None
    first_session_only: bool = False

    @model_validator(mode="after")
    def _until_after_offset(self) -> Step:
        if self.until is not None and self.until < self.offset:
            raise ValueError(f"until ({self.until}) is before offset ({self.offset})")
        return self


def _inherit_sources(data: object, key: str) -> object:
    """Let care steps inherit sources and evidence level from the protocol or rule they sit in."""
    if not isinstance(data, dict):
        return data
    steps = data.get(key)
    if not isinstance(steps, list):
        return data
    filled = []
    for step in steps:
        if isinstance(step, dict):
            step = dict(step)
            step.setdefault("sources", data.get("sources", ()))
            step.setdefault("evidence_level", data.get("evidence_level"))
        filled.append(step)
    return {**data, key: filled}


class DayRange(BaseModel):
    model_config = _FROZEN

    min: int = Field(ge=0)
    max: int = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> DayRange:
        if self.max < self.min:
            raise ValueError(f"max ({self.max}) is below min ({self.min})")
        return self


class MaintenanceRule(Sourced):
    every_months: int = Field(ge=1)
    repeats: int = Field(default=1, ge=1)
    text: str


class Protocol(Sourced):
    sessions: DayRange
    default_sessions: int | None = Field(default=None, ge=1)
    interval_days: DayRange | None = None
    downtime_days: DayRange
    steps: tuple[Step, ...] = ()
    maintenance: MaintenanceRule | None = None
    notes: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _fill_steps(cls, data: object) -> object:
        return _inherit_sources(data, "steps")

    @model_validator(mode="after")
    def _sessions(self) -> Protocol:
        if self.sessions.min < 1:
            raise ValueError("sessions.min must be at least 1")
        if self.sessions.max > 1 and self.interval_days is None:
            raise ValueError("a protocol with more than one session needs interval_days")
        n = self.default_sessions
        if n is not None and not self.sessions.min <= n <= self.sessions.max:
            raise ValueError(f"default_sessions {n} is outside sessions {self.sessions.min}-{self.sessions.max}")
        return self

    @property
    def planned_sessions(self) -> int:
        return self.default_sessions or self.sessions.max


class Indication(Sourced):
    target: str
    severities: tuple[Severity, ...] = ()
    line: Literal["first", "second", "adjunct"]
    rationale: str


class Rule(BaseModel):
    """How one condition changes one treatment.

    exclude: the treatment never reaches the plan or the course (a contraindication).
    warn: the treatment stays, with a warning, optional extra care steps and an optional
    delay before its first session (a precaution).
    """

    model_config = _FROZEN

    code: str
    effect: Literal["exclude", "warn"]
    message: str
    add_steps: tuple[Step, ...] = ()
    delay_days: int | None = Field(default=None, ge=1)
    sources: tuple[str, ...] = Field(min_length=1)
    evidence_level: EvidenceLevel

    @model_validator(mode="before")
    @classmethod
    def _fill_steps(cls, data: object) -> object:
        return _inherit_sources(data, "add_steps")


class Contraindications(BaseModel):
    model_config = _FROZEN

    absolute: tuple[Rule, ...] = ()
    relative: tuple[Rule, ...] = ()

    @model_validator(mode="after")
    def _effects(self) -> Contraindications:
        for r in self.absolute:
            if r.effect != "exclude":
                raise ValueError(f"absolute rule {r.code!r} must have effect 'exclude'")
        for r in self.relative:
            if r.effect != "warn":
                raise ValueError(f"relative rule {r.code!r} must have effect 'warn'")
        return self


class PhototypePreference(Sourced):
    phototypes: tuple[PhototypeName, ...] = Field(min_length=1)
    bonus: float
    reason: str


class Treatment(Sourced):
    id: str
    name: str
    plain_name: str
    summary: str
    category: Literal["topical", "home_care", "procedure", "device", "injection"]
    schedule: Literal["sessions", "continuous"]
    resurfacing: bool = False
    phase: int = Field(default=2, ge=1, le=9)
    indications: tuple[Indication, ...] = Field(min_length=1)
    protocol: Protocol
    contraindications: Contraindications = Contraindications()
    phototype_cautions: tuple[Rule, ...] = ()
    preferred_for: PhototypePreference | None = None
    evidence_note: str | None = None

    def rules(self) -> tuple[Rule, ...]:
        return self.contraindications.absolute + self.contraindications.relative + self.phototype_cautions


# --- scales -----------------------------------------------------------------------------


class Matcher(BaseModel):
    """Which recorded entries feed a scale row."""

    model_config = _FROZEN

    scar: str | None = None
    mark: str | None = None
    depth: Literal["shallow", "deep", "none", "any"] = "any"
    age_months_lt: int | None = None
    age_months_gte: int | None = None
    when_age_missing: bool = False

    @model_validator(mode="after")
    def _one_kind(self) -> Matcher:
        if (self.scar is None) == (self.mark is None):
            raise ValueError("a matcher names exactly one of scar or mark")
        return self


class CountBand(BaseModel):
    model_config = _FROZEN

    max: int | None = None
    value: int


class AreaBand(BaseModel):
    model_config = _FROZEN

    upto: float | None = None
    inclusive: bool = False
    points: int


class CountRow(BaseModel):
    model_config = _FROZEN

    id: str
    grade: str
    label: str
    points: int
    match: tuple[Matcher, ...] = Field(min_length=1)


class AreaRow(BaseModel):
    model_config = _FROZEN

    id: str
    grade: str
    label: str
    match: tuple[Matcher, ...] = Field(min_length=1)
    bands: tuple[AreaBand, ...] = Field(min_length=1)
    missing_area_warning: str


class GoodmanBaronQuantitative(Sourced):
    name: str
    multipliers: tuple[CountBand, ...] = Field(min_length=1)
    rows: tuple[CountRow, ...]
    area_rows: tuple[AreaRow, ...]
    maximum: int


class EccaItem(BaseModel):
    model_config = _FROZEN

    id: str
    label: str
    weight: int
    match: tuple[Matcher, ...] = Field(min_length=1)
    missing_age_warning: str | None = None


class Ecca(Sourced):
    name: str
    count_grades: tuple[CountBand, ...] = Field(min_length=1)
    items: tuple[EccaItem, ...]
    maximum: int


class QualitativeGrade(BaseModel):
    model_config = _FROZEN

    grade: int = Field(ge=1, le=4)
    label: str
    definition: str
    severity: Severity


class GoodmanBaronQualitative(Sourced):
    name: str
    grades: tuple[QualitativeGrade, ...] = Field(min_length=4, max_length=4)


class SeverityBand(BaseModel):
    model_config = _FROZEN

    max: int | None = None
    severity: Severity


class SeverityFallback(Sourced):
    """The rule used when no qualitative grade was given; a cicatrix default, not published."""

    basis: str
    note: str
    macular_only: Severity
    quantitative_bands: tuple[SeverityBand, ...] = Field(min_length=1)
    warning: str


class Scales(BaseModel):
    model_config = _FROZEN

    goodman_baron_quantitative: GoodmanBaronQuantitative
    ecca: Ecca
    goodman_baron_qualitative: GoodmanBaronQualitative
    severity_fallback: SeverityFallback


# --- planning policy -----------------------------------------------------------------------


class SequencingRule(Sourced):
    id: str
    first: tuple[str, ...] = Field(min_length=1)
    then: tuple[str, ...] = Field(min_length=1)
    gap_days: DayRange
    text: str


class EducationTopic(Sourced):
    id: str
    title: str
    text: str
    when: Literal["always", "active_acne", "marks", "hypertrophic", "high_phototype"] = "always"


class FollowUpRule(Sourced):
    after_months: int = Field(ge=1)
    text: str


class GlobalRule(Sourced):
    """A plan-level statement tied to a condition, such as 'control the acne first'."""

    code: str
    condition: str
    message: str


class Ranking(Sourced):
    line_weights: dict[str, float]
    severity_match_bonus: float
    note: str


class CombinationRule(Sourced):
    """At these severities a default course adds resurfacing after focal treatment."""

    severities: tuple[Severity, ...]
    text: str


class Policy(BaseModel):
    model_config = _FROZEN

    notice: str
    combination: CombinationRule | None = None
    follow_up: FollowUpRule
    ranking: Ranking
    global_rules: tuple[GlobalRule, ...] = ()
    downtime_warning: str


class KnowledgeBase(BaseModel):
    """The whole knowledge base in force: bundled data plus any clinic overrides."""

    model_config = _FROZEN

    version: str
    fingerprint: str
    sources: dict[str, Source]
    evidence_levels: dict[str, EvidenceLevelInfo]
    phototypes: dict[str, Phototype]
    scar_types: dict[str, ScarType]
    marks: dict[str, Mark]
    lesions: dict[str, Lesion]
    conditions: dict[str, Condition]
    treatments: dict[str, Treatment]
    sequencing: tuple[SequencingRule, ...]
    education: dict[str, EducationTopic]
    scales: Scales
    policy: Policy
    overridden: dict[str, str] = {}

    @property
    def label(self) -> str:
        """The version string stored with every plan, so an old plan can be explained."""
        return f"{self.version}+{self.fingerprint[:12]}"
