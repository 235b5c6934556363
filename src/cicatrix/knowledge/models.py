"""Typed, immutable models of the knowledge base.

Every clinical entry carries `sources` (ids into the source catalogue) and an
`evidence_level`, so the engine can always say why it proposed something.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from cicatrix.knowledge.frozen import Frozen

EvidenceLevel = Literal["V", "V-low", "U", "protocol"]
Severity = Literal["mild", "moderate", "severe"]
PhototypeName = Literal["I", "II", "III", "IV", "V", "VI"]
StepKind = Literal["avoid", "do", "expect"]


class Sourced(Frozen, frozen=True, kw_only=True):
    """Base for every entry that states a clinical fact."""

    sources: Annotated[tuple[str, ...], Meta(min_length=1)]
    evidence_level: EvidenceLevel


class Source(Frozen, frozen=True, kw_only=True):
    id: str
    kind: Literal["seed", "paper", "page", "clinic"]
    citation: str
    url: str | None = None


class EvidenceLevelInfo(Frozen, frozen=True, kw_only=True):
    id: EvidenceLevel
    label: str
    meaning: str


# --- types of things a clinician records ---------------------------------------------------


class ScarType(Sourced, frozen=True, kw_only=True):
    id: str
    name: str
    category: Literal["atrophic", "hypertrophic", "macular", "papular"]
    shape: str | None = None
    width: str
    depth: str
    definition: str


class Phototype(Sourced, frozen=True, kw_only=True):
    """A Fitzpatrick phototype and its sun response, as shown to the clinician who asks."""

    id: PhototypeName
    sun_response: str


class Mark(Sourced, frozen=True, kw_only=True):
    id: str
    name: str
    definition: str
    advice: str


class Lesion(Sourced, frozen=True, kw_only=True):
    id: str
    name: str
    inflamed: bool
    scarring_risk: Literal["low", "moderate", "high"]
    definition: str
    advice: str


# --- contraindication and precaution codes ------------------------------------------------


class Trigger(Frozen, frozen=True, kw_only=True):
    """When a condition applies to a patient; any one part that matches is enough."""

    flags: tuple[Literal["pregnant", "breastfeeding", "recent_sunburn"], ...] = ()
    history_any: tuple[str, ...] = ()
    medications_any: tuple[str, ...] = ()
    active_lesions_any: tuple[str, ...] = ()
    scars_any: tuple[str, ...] = ()
    phototypes: tuple[PhototypeName, ...] = ()
    isotretinoin_within_months: Annotated[int, Meta(ge=1)] | None = None

    def __post_init__(self) -> None:
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


class Condition(Sourced, frozen=True, kw_only=True):
    id: str
    name: str
    description: str
    triggers: Trigger
    warning: str | None = None


# --- treatments ------------------------------------------------------------------------


class Agent(Sourced, frozen=True, kw_only=True):
    """Something a care step tells the patient to use or to keep away from (a cream, a medicine).

    `treatments` are the treatments that prescribe it: a step that uses the agent is dropped when
    one of them is excluded or delayed for the patient.
    """

    id: str
    name: str
    treatments: tuple[str, ...] = ()


class Step(Frozen, frozen=True, kw_only=True):
    """A care instruction, timed in days relative to a session (negative = before).

    `uses` names the agents or treatments the step tells the patient to apply or take; `avoids`
    those it tells the patient to keep away from. Screening and the timeline reason with both.
    """

    offset: int
    until: int | None = None
    kind: StepKind
    text: str
    code: str | None = None
    sources: tuple[str, ...] = ()
    evidence_level: EvidenceLevel | None = None
    first_session_only: bool = False
    uses: tuple[str, ...] = ()
    avoids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.until is not None and self.until < self.offset:
            raise ValueError(f"until ({self.until}) is before offset ({self.offset})")


class DayRange(Frozen, frozen=True, kw_only=True):
    min: Annotated[int, Meta(ge=0)]
    max: Annotated[int, Meta(ge=0)]

    def __post_init__(self) -> None:
        if self.max < self.min:
            raise ValueError(f"max ({self.max}) is below min ({self.min})")


class MaintenanceRule(Sourced, frozen=True, kw_only=True):
    every_months: Annotated[int, Meta(ge=1)]
    repeats: Annotated[int, Meta(ge=1)] = 1
    text: str


class Protocol(Sourced, frozen=True, kw_only=True):
    sessions: DayRange
    default_sessions: Annotated[int, Meta(ge=1)] | None = None
    interval_days: DayRange | None = None
    downtime_days: DayRange
    steps: tuple[Step, ...] = ()
    maintenance: MaintenanceRule | None = None
    notes: str | None = None

    def __post_init__(self) -> None:
        if self.sessions.min < 1:
            raise ValueError("sessions.min must be at least 1")
        if self.sessions.max > 1 and self.interval_days is None:
            raise ValueError("a protocol with more than one session needs interval_days")
        n = self.default_sessions
        if n is not None and not self.sessions.min <= n <= self.sessions.max:
            raise ValueError(f"default_sessions {n} is outside sessions {self.sessions.min}-{self.sessions.max}")

    @property
    def planned_sessions(self) -> int:
        return self.default_sessions or self.sessions.max


class Indication(Sourced, frozen=True, kw_only=True):
    target: str
    severities: tuple[Severity, ...] = ()
    line: Literal["first", "second", "adjunct"]
    rationale: str


class Rule(Frozen, frozen=True, kw_only=True):
    """How one condition changes one treatment.

    exclude: the treatment never reaches the plan or the course (a contraindication).
    warn: the treatment stays, with a warning, optional extra care steps and an optional
    delay before its first session (a precaution).
    """

    code: str
    effect: Literal["exclude", "warn"]
    message: str
    add_steps: tuple[Step, ...] = ()
    delay_days: Annotated[int, Meta(ge=1)] | None = None
    sources: Annotated[tuple[str, ...], Meta(min_length=1)]
    evidence_level: EvidenceLevel


class Contraindications(Frozen, frozen=True, kw_only=True):
    absolute: tuple[Rule, ...] = ()
    relative: tuple[Rule, ...] = ()

    def __post_init__(self) -> None:
        for r in self.absolute:
            if r.effect != "exclude":
                raise ValueError(f"absolute rule {r.code!r} must have effect 'exclude'")
        for r in self.relative:
            if r.effect != "warn":
                raise ValueError(f"relative rule {r.code!r} must have effect 'warn'")


class PhototypePreference(Sourced, frozen=True, kw_only=True):
    phototypes: Annotated[tuple[PhototypeName, ...], Meta(min_length=1)]
    bonus: float
    reason: str


class Treatment(Sourced, frozen=True, kw_only=True):
    id: str
    name: str
    plain_name: str
    summary: str
    category: Literal["topical", "home_care", "procedure", "device", "injection"]
    schedule: Literal["sessions", "continuous"]
    resurfacing: bool = False
    phase: Annotated[int, Meta(ge=1, le=9)] = 2
    indications: Annotated[tuple[Indication, ...], Meta(min_length=1)]
    protocol: Protocol
    contraindications: Contraindications = msgspec.field(default_factory=Contraindications)
    phototype_cautions: tuple[Rule, ...] = ()
    preferred_for: PhototypePreference | None = None
    evidence_note: str | None = None

    def rules(self) -> tuple[Rule, ...]:
        return self.contraindications.absolute + self.contraindications.relative + self.phototype_cautions


# --- scales -----------------------------------------------------------------------------


class Matcher(Frozen, frozen=True, kw_only=True):
    """Which recorded entries feed a scale row.

    `area_each_cm2_*` compare the area of one scar of the entry, its `area_cm2` (the entry's
    total area, as on every scar entry) divided by its count: Goodman & Baron's broad atrophic
    rows are decided by the size of each area, not by the sum.
    """

    scar: str | None = None
    mark: str | None = None
    depth: Literal["shallow", "deep", "none", "any"] = "any"
    age_months_lt: int | None = None
    age_months_gte: int | None = None
    when_age_missing: bool = False
    area_each_cm2_lt: float | None = None
    area_each_cm2_gte: float | None = None
    when_area_missing: bool = False

    def __post_init__(self) -> None:
        if (self.scar is None) == (self.mark is None):
            raise ValueError("a matcher names exactly one of scar or mark")
        if self.mark is not None and (self.by_area or self.when_area_missing):
            raise ValueError("area conditions apply to scars only")
        if self.when_area_missing and not self.by_area:
            raise ValueError("when_area_missing needs area_each_cm2_lt or area_each_cm2_gte")

    @property
    def by_area(self) -> bool:
        return self.area_each_cm2_lt is not None or self.area_each_cm2_gte is not None


class CountBand(Frozen, frozen=True, kw_only=True):
    max: int | None = None
    value: int


class AreaBand(Frozen, frozen=True, kw_only=True):
    upto: float | None = None
    inclusive: bool = False
    points: int


class CountRow(Frozen, frozen=True, kw_only=True):
    id: str
    grade: str
    label: str
    points: int
    match: Annotated[tuple[Matcher, ...], Meta(min_length=1)]
    # shown when an entry is counted here because its area was not recorded (when_area_missing)
    missing_area_warning: str | None = None

    def __post_init__(self) -> None:
        if any(m.when_area_missing for m in self.match) and not self.missing_area_warning:
            raise ValueError(f"row {self.id}: a matcher with when_area_missing needs missing_area_warning")


class AreaRow(Frozen, frozen=True, kw_only=True):
    id: str
    grade: str
    label: str
    match: Annotated[tuple[Matcher, ...], Meta(min_length=1)]
    bands: Annotated[tuple[AreaBand, ...], Meta(min_length=1)]
    missing_area_warning: str


class ScaleConvention(Sourced, frozen=True, kw_only=True):
    """How cicatrix applies a scale where the published table leaves it open, with its evidence."""

    id: str
    text: str


class GoodmanBaronQuantitative(Sourced, frozen=True, kw_only=True):
    name: str
    multipliers: Annotated[tuple[CountBand, ...], Meta(min_length=1)]
    rows: tuple[CountRow, ...]
    area_rows: tuple[AreaRow, ...]
    maximum: int
    conventions: tuple[ScaleConvention, ...] = ()


class DiameterBand(Frozen, frozen=True, kw_only=True):
    """A range of diameters in mm: at most one lower bound (gt or gte), one upper (lt or lte)."""

    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None

    def __post_init__(self) -> None:
        if self.gt is not None and self.gte is not None:
            raise ValueError("a diameter band has one lower bound: gt or gte")
        if self.lt is not None and self.lte is not None:
            raise ValueError("a diameter band has one upper bound: lt or lte")

    @property
    def lower(self) -> tuple[float, bool] | None:
        """(value, inclusive), or None when the band starts at zero."""
        if self.gte is not None:
            return self.gte, True
        return (self.gt, False) if self.gt is not None else None

    @property
    def upper(self) -> tuple[float, bool] | None:
        """(value, inclusive), or None when the band is open-ended."""
        if self.lte is not None:
            return self.lte, True
        return (self.lt, False) if self.lt is not None else None

    def contains(self, mm: float) -> bool:
        lo, hi = self.lower, self.upper
        if lo is not None and (mm < lo[0] or (mm == lo[0] and not lo[1])):
            return False
        return hi is None or mm < hi[0] or (mm == hi[0] and hi[1])


class EccaItem(Frozen, frozen=True, kw_only=True):
    id: str
    label: str
    weight: int
    match: tuple[Matcher, ...] = ()
    # the item's diameter band: a measured atrophic scar (Ecca.by_diameter) counts here by its size
    diameter_mm: DiameterBand | None = None
    missing_age_warning: str | None = None

    def __post_init__(self) -> None:
        if not self.match and self.diameter_mm is None:
            raise ValueError(f"item {self.id}: needs match, diameter_mm or both")


class MorphologyFallback(Sourced, frozen=True, kw_only=True):
    """Why a measured scar type without a diameter counts in the item its `match` names."""

    note: str


class EccaByDiameter(Sourced, frozen=True, kw_only=True):
    """ECCA defines its atrophic items by diameter: for these scar types a recorded
    `diameter_mm` decides the item; without one, the items' `match` lists (morphology) do."""

    scars: Annotated[tuple[str, ...], Meta(min_length=1)]
    fallback: MorphologyFallback
    # `{scars}` is replaced by the names of the scar types that no item counted
    missing_diameter_warning: str


class Ecca(Sourced, frozen=True, kw_only=True):
    name: str
    count_grades: Annotated[tuple[CountBand, ...], Meta(min_length=1)]
    items: tuple[EccaItem, ...]
    maximum: int
    by_diameter: EccaByDiameter | None = None

    def __post_init__(self) -> None:
        bands = [(i.id, i.diameter_mm) for i in self.items if i.diameter_mm is not None]
        if bool(bands) != (self.by_diameter is not None):
            raise ValueError("ecca: items with diameter_mm and by_diameter go together")
        _check_tiling(bands)


def _check_tiling(bands: list[tuple[str, DiameterBand]]) -> None:
    """The bands must cover every diameter from 0 up, each exactly once (no gap, no overlap)."""
    if not bands:
        return
    ordered = sorted(bands, key=lambda b: (-1.0, False) if b[1].lower is None else (b[1].lower[0], not b[1].lower[1]))
    edge: tuple[float, bool] | None = None  # the previous band's upper bound
    for n, (iid, band) in enumerate(ordered):
        lo = band.lower
        if n == 0 and lo is not None and lo != (0.0, True):
            raise ValueError(f"ecca: diameter bands leave a gap below item {iid}")
        if n > 0 and (edge is None or lo is None or lo[0] != edge[0] or lo[1] == edge[1]):
            raise ValueError(f"ecca: diameter band of item {iid} does not start where the previous one ends")
        edge = band.upper
        if edge is None and n != len(ordered) - 1:
            raise ValueError(f"ecca: only the last diameter band may be open-ended (item {iid})")
    if edge is not None:
        raise ValueError("ecca: the last diameter band must be open-ended")


class GradeCriterion(Sourced, frozen=True, kw_only=True):
    """One more test a grade names (the stretch test), with its own evidence: it is not in the
    qualitative paper's text that was read, so it is never folded into the sourced definition."""

    id: str
    text: str


class QualitativeGrade(Frozen, frozen=True, kw_only=True):
    grade: Annotated[int, Meta(ge=1, le=4)]
    label: str
    definition: str
    severity: Severity
    criteria: tuple[GradeCriterion, ...] = ()


class GoodmanBaronQualitative(Sourced, frozen=True, kw_only=True):
    name: str
    grades: Annotated[tuple[QualitativeGrade, ...], Meta(min_length=4, max_length=4)]


class SeverityBand(Frozen, frozen=True, kw_only=True):
    max: int | None = None
    severity: Severity


class SeverityFallback(Sourced, frozen=True, kw_only=True):
    """The rule used when no qualitative grade was given; a cicatrix default, not published."""

    basis: str
    note: str
    macular_only: Severity
    quantitative_bands: Annotated[tuple[SeverityBand, ...], Meta(min_length=1)]
    warning: str


class Scales(Frozen, frozen=True, kw_only=True):
    goodman_baron_quantitative: GoodmanBaronQuantitative
    ecca: Ecca
    goodman_baron_qualitative: GoodmanBaronQualitative
    severity_fallback: SeverityFallback

    def sourced(self) -> tuple[tuple[str, Sourced], ...]:
        """Every sourced entry of the scales with where it is, so the loader can check citations."""
        out: list[tuple[str, Sourced]] = [
            ("goodman_baron_quantitative", self.goodman_baron_quantitative),
            ("ecca", self.ecca),
            ("goodman_baron_qualitative", self.goodman_baron_qualitative),
            ("severity_fallback", self.severity_fallback),
        ]
        gb = self.goodman_baron_quantitative
        out += [(f"goodman_baron_quantitative.conventions.{c.id}", c) for c in gb.conventions]
        if self.ecca.by_diameter is not None:
            by_diameter = self.ecca.by_diameter
            out += [("ecca.by_diameter", by_diameter), ("ecca.by_diameter.fallback", by_diameter.fallback)]
        for g in self.goodman_baron_qualitative.grades:
            out += [(f"goodman_baron_qualitative.grades[{g.grade}].{c.id}", c) for c in g.criteria]
        return tuple(out)


# --- planning policy -----------------------------------------------------------------------


class SequencingRule(Sourced, frozen=True, kw_only=True):
    id: str
    first: Annotated[tuple[str, ...], Meta(min_length=1)]
    then: Annotated[tuple[str, ...], Meta(min_length=1)]
    gap_days: DayRange
    text: str


class EducationTopic(Sourced, frozen=True, kw_only=True):
    id: str
    title: str
    text: str
    when: Literal["always", "active_acne", "marks", "hypertrophic", "high_phototype"] = "always"


class FollowUpRule(Sourced, frozen=True, kw_only=True):
    after_months: Annotated[int, Meta(ge=1)]
    text: str


class GlobalRule(Sourced, frozen=True, kw_only=True):
    """A plan-level statement tied to a condition, such as 'control the acne first'."""

    code: str
    condition: str
    message: str


class Ranking(Sourced, frozen=True, kw_only=True):
    line_weights: dict[str, float]
    severity_match_bonus: float
    note: str


class CombinationRule(Sourced, frozen=True, kw_only=True):
    """At these severities a default course adds resurfacing after focal treatment."""

    severities: tuple[Severity, ...]
    text: str


class Policy(Frozen, frozen=True, kw_only=True):
    notice: str
    combination: CombinationRule | None = None
    follow_up: FollowUpRule
    ranking: Ranking
    global_rules: tuple[GlobalRule, ...] = ()
    downtime_warning: str


class KnowledgeBase(Frozen, frozen=True, kw_only=True):
    """The whole knowledge base in force: bundled data plus any clinic overrides."""

    version: str
    fingerprint: str
    sources: dict[str, Source]
    evidence_levels: dict[str, EvidenceLevelInfo]
    phototypes: dict[str, Phototype]
    scar_types: dict[str, ScarType]
    marks: dict[str, Mark]
    lesions: dict[str, Lesion]
    conditions: dict[str, Condition]
    agents: dict[str, Agent]
    treatments: dict[str, Treatment]
    sequencing: tuple[SequencingRule, ...]
    education: dict[str, EducationTopic]
    scales: Scales
    policy: Policy
    overridden: dict[str, str] = msgspec.field(default_factory=dict)

    @property
    def label(self) -> str:
        """The version string stored with every plan, so an old plan can be explained."""
        return f"{self.version}+{self.fingerprint[:12]}"
