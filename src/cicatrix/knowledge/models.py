"""Typed, immutable models of the knowledge base.

Every clinical entry carries `sources` (ids into the source catalogue) and an
`evidence_level`, so the engine can always say why it proposed something.
"""

from __future__ import annotations

import string
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
    note: str | None = None  # for reviewers: why the text departs from its source, if it does


# --- coded vocabularies: what a clinician records in history and medications ------------------

TermKind = Literal["history", "medication"]


class Term(Sourced, frozen=True, kw_only=True):
    """One code of a vocabulary, with the words clinicians use for it.

    A term's `id` is the code that condition triggers name; `synonyms` are generic and brand
    names and spelling variants, matched after `vocabulary.normal_form`. `recorded_as` marks a
    word that belongs in a structured field of the case instead (pregnancy is the `pregnant`
    flag, isotretinoin the date of the last dose): entering it as a term is always an error
    that names that field, because as a term it would change nothing.
    """

    id: str
    kind: TermKind
    label: str
    synonyms: tuple[str, ...] = ()
    recorded_as: Literal["pregnant", "breastfeeding", "isotretinoin_last_dose", "recent_sunburn"] | None = None
    note: str | None = None


# --- contraindication and precaution codes ------------------------------------------------


# --- standard codes -------------------------------------------------------------------------

CodeSystemName = Literal["snomed", "icd10", "cpt"]


class StandardCoding(Frozen, frozen=True, kw_only=True):
    """One code of a standard terminology for a cicatrix concept, and how the two relate."""

    system: CodeSystemName
    code: Annotated[str, Meta(min_length=1, pattern=r"^[0-9A-Z][0-9A-Z.]*$")]
    display: Annotated[str, Meta(min_length=1)]
    # FHIR ConceptMap equivalence: "wider" when the standard concept is broader than cicatrix's
    equivalence: Literal["equivalent", "wider", "narrower"]
    # a code for one site only (CPT's facial and other peels): published, never put on a record
    site: Literal["face", "other"] | None = None


class CodeMapping(Frozen, frozen=True, kw_only=True):
    """The standard codes a source gives for one cicatrix concept (codes.yaml). Not a clinical
    fact, so no evidence level; the sources say where each code was found."""

    id: str
    of: Literal["problem", "condition", "treatment", "mark", "scar_type"]
    concept: str
    codings: Annotated[tuple[StandardCoding, ...], Meta(min_length=1)]
    note: str | None = None
    sources: Annotated[tuple[str, ...], Meta(min_length=1)]

    def on_records(self) -> tuple[StandardCoding, ...]:
        """The codings that hold wherever the concept is used (no site), for a patient's resources."""
        return tuple(c for c in self.codings if c.site is None)


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
    one of them is excluded or delayed for the patient. `stop_text` and `resume_text` are what the
    patient reads when the timeline pauses the agent's daily use around a procedure.
    """

    id: str
    name: str
    treatments: tuple[str, ...] = ()
    # When a continuous treatment's step uses the agent and a procedure's step avoids it, the
    # timeline pauses the daily use on those days and dates these two instructions (required then).
    stop_text: str | None = None
    resume_text: str | None = None


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


class Duration(Sourced, frozen=True, kw_only=True):
    """How long one session is booked for (the chair time an appointment holds)."""

    minutes: Annotated[int, Meta(ge=5, le=480)]


class Protocol(Sourced, frozen=True, kw_only=True):
    sessions: DayRange
    duration: Duration | None = None
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


DecisionKind = Literal["exclude", "delay", "warn", "none"]


class Wait(Frozen, frozen=True, kw_only=True):
    """How long a `delay` lasts: from a date the case records, plus months and days."""

    after: Literal["assessment", "isotretinoin_last_dose"]
    months: Annotated[int, Meta(ge=0)] = 0
    days: Annotated[int, Meta(ge=0)] = 0

    def __post_init__(self) -> None:
        if not self.months and not self.days:
            raise ValueError("a wait needs months or days")


class Decision(Sourced, frozen=True, kw_only=True):
    """How one condition changes the treatments (and treatment groups) it names.

    exclude: the treatment never reaches the plan or the course (a contraindication).
    delay: every session waits until the date `wait` derives from the case.
    warn: the treatment stays, with a warning and optional extra care steps (a precaution).
    none: no known interaction; `sources` and `evidence_level` say how that is known.
    """

    treatments: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    decision: DecisionKind
    message: str | None = None
    note: str | None = None
    add_steps: tuple[Step, ...] = ()
    wait: Wait | None = None

    def __post_init__(self) -> None:
        if not self.treatments and not self.groups:
            raise ValueError("a decision names at least one treatment or group")
        if self.decision != "none" and not self.message:
            raise ValueError(f"a {self.decision!r} decision needs a message")
        if (self.decision == "delay") != (self.wait is not None):
            raise ValueError("a 'delay' decision needs a wait, and only a delay has one")
        if self.add_steps and self.decision not in ("warn", "delay"):
            raise ValueError(f"a {self.decision!r} decision cannot add steps")


class SafetyRules(Frozen, frozen=True, kw_only=True):
    """One condition's row of the safety matrix (`safety/<condition>.yaml`)."""

    id: str
    decisions: Annotated[tuple[Decision, ...], Meta(min_length=1)]


class MatrixCell(Frozen, frozen=True, kw_only=True):
    """The decision in force for one condition and one treatment, and where it was declared.

    `decision` indexes the condition's `SafetyRules.decisions` (clinic layer first, see the
    loader); `via` is `treatment` or `group:<id>`; `file` is the file that declared it.
    """

    decision: int
    via: str
    file: str


class TreatmentGroup(Sourced, frozen=True, kw_only=True):
    """Treatments that share a property (wounding depth, energy, injection, home care), so one
    safety decision can cover them all."""

    id: str
    name: str
    description: str


class PhototypePreference(Sourced, frozen=True, kw_only=True):
    phototypes: Annotated[tuple[PhototypeName, ...], Meta(min_length=1)]
    bonus: float
    reason: str


class Alternative(Sourced, frozen=True, kw_only=True):
    """A daily treatment that stands in for others (azelaic acid for hydroquinone or a retinoid).

    Planning books it only when none of `to` is booked, for instance when pregnancy excludes
    them all; otherwise it stays in the recommendations, unscheduled, with `note`.
    """

    to: Annotated[tuple[str, ...], Meta(min_length=1)]
    note: str


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
    groups: Annotated[tuple[str, ...], Meta(min_length=1)]
    preferred_for: PhototypePreference | None = None
    evidence_note: str | None = None
    alternative: Alternative | None = None


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


EducationWhen = Literal[
    "always",
    "active_acne",  # any active lesion recorded
    "inflamed_acne",  # an inflamed active lesion (papule, pustule, nodule, cyst: `Lesion.inflamed`)
    "marks",
    "pih",  # post-inflammatory hyperpigmentation recorded
    "atrophic",  # an atrophic scar recorded (scar type category `atrophic`)
    "hypertrophic",
    "high_phototype",
    "procedure",  # the course books at least one session
]


class WarningSign(Frozen, frozen=True, kw_only=True):
    """One sign of an education topic that a patient can tick (a check-in's "I have one of these")."""

    id: str
    label: Annotated[str, Meta(min_length=1, max_length=200)]


class EducationTopic(Sourced, frozen=True, kw_only=True):
    """A topic shown with a plan when its `when` applies; a list of `when`s must all apply.

    `signs`: the topic's text as a list the patient can pick from (the check-in page offers
    "when to call the clinic" this way); the text stays what the plan and handout show."""

    id: str
    title: str
    text: str
    when: EducationWhen | tuple[EducationWhen, ...] = "always"
    signs: tuple[WarningSign, ...] = ()

    def __post_init__(self) -> None:
        ids = [s.id for s in self.signs]
        if len(ids) != len(set(ids)):
            raise ValueError("signs: duplicate id")

    @property
    def when_all(self) -> tuple[EducationWhen, ...]:
        return self.when if isinstance(self.when, tuple) else (self.when,)


MessageCategory = Literal["reminders", "check_ins", "recalls", "changes"]
MESSAGE_PLACEHOLDERS = frozenset({"clinic", "treatment", "day", "time", "place", "instructions", "link", "elapsed"})


class MessageTemplate(Sourced, frozen=True, kw_only=True):
    """A message to the patient, dated relative to its anchor in the plan (engine/outbox.py).

    anchor: pre_care_start (each day a session's pre-care instructions start), post_care_start
    (each day its after-care instructions start), session, follow_up, maintenance, or event
    (sent when a booking changes, not from the plan's dates).
    """

    id: str
    label: str  # what people see in message lists ("Reminder the day before")
    category: MessageCategory
    anchor: Literal["pre_care_start", "post_care_start", "session", "follow_up", "maintenance", "event"]
    days: tuple[int, ...] = (0,)
    send_at: Annotated[str, Meta(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]
    subject: str
    text: str
    sms: str

    def __post_init__(self) -> None:
        for field in ("subject", "text", "sms"):
            for _lit, name, _spec, _conv in string.Formatter().parse(getattr(self, field)):
                if name is not None and name not in MESSAGE_PLACEHOLDERS:
                    known = ", ".join(sorted(MESSAGE_PLACEHOLDERS))
                    raise ValueError(f"{field}: unknown placeholder {{{name}}} (known: {known})")


AftercareGroup = Literal["check_in_answer", "adverse_event", "severity", "outcome"]


class AftercareTerm(Sourced, frozen=True, kw_only=True):
    """A word of the after-care record (aftercare.yaml): a check-in answer the patient taps, or
    the kind, severity or outcome of an adverse event a clinician records. The id is stored;
    the label is what people read.

    check_in_answer: `needs_attention` puts the patient on the clinicians' dashboard until one
    acknowledges it; `signs_from` names the education topic whose `signs` the patient picks from.
    """

    id: str
    group: AftercareGroup
    label: Annotated[str, Meta(min_length=1, max_length=200)]
    needs_attention: bool = False
    signs_from: str | None = None

    def __post_init__(self) -> None:
        if self.group != "check_in_answer" and (self.needs_attention or self.signs_from):
            raise ValueError("needs_attention and signs_from belong to check_in_answer entries only")


class FollowUpRule(Sourced, frozen=True, kw_only=True):
    after_months: Annotated[int, Meta(ge=1)]
    text: str


class GlobalRule(Sourced, frozen=True, kw_only=True):
    """A plan-level statement tied to a condition ('control the acne first') or to recorded
    active lesions ('nodular acne: refer for medical treatment'); exactly one of the two."""

    code: str
    condition: str | None = None
    lesions_any: tuple[str, ...] = ()
    message: str

    def __post_init__(self) -> None:
        if (self.condition is None) == (not self.lesions_any):
            raise ValueError(f"global rule {self.code!r} names exactly one of condition or lesions_any")


class VocabularyPolicy(Frozen, frozen=True, kw_only=True):
    """What happens to a history or medication term that is not in the vocabulary.

    By default it is refused, naming the field and the term. A clinic that must record free
    text sets `allow_free_text: true`: the term is kept, never screened, and every plan shows
    `unrecognised_warning` (formatted with `field` and `term`) so it is checked by hand.
    """

    allow_free_text: bool = False
    unrecognised_warning: str


class Ranking(Sourced, frozen=True, kw_only=True):
    line_weights: dict[str, float]
    severity_match_bonus: float
    note: str


class CombinationRule(Sourced, frozen=True, kw_only=True):
    """At these severities a default course adds resurfacing after focal treatment."""

    severities: tuple[Severity, ...]
    text: str


class DelayPolicy(Sourced, frozen=True, kw_only=True):
    """The longest wait a delayed treatment may impose on a plan before it is excluded instead."""

    max_days: Annotated[int, Meta(ge=0)]
    text: str


# --- what a clinician records about a session ---------------------------------------------


class Region(Frozen, frozen=True, kw_only=True):
    """A body region an assessment finds scars in and a session treats (`regions.yaml`)."""

    id: Annotated[str, Meta(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
    label: str


class Choice(Frozen, frozen=True, kw_only=True):
    id: Annotated[str, Meta(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
    label: str


ProcedureFieldKind = Literal["text", "number", "integer", "choice", "regions"]


class ProcedureField(Frozen, frozen=True, kw_only=True):
    """One field of a session's procedure note (`procedure_notes.yaml`).

    `treatments` lists the treatments whose note has the field; empty means every treatment
    booked in sessions. Numbers carry a unit and bounds: the bounds reject typing errors (a
    depth of 25 mm for 2.5 mm), they are not dosing advice, and `bounds_basis` says where they
    come from."""

    id: Annotated[str, Meta(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
    label: str
    kind: ProcedureFieldKind
    treatments: tuple[str, ...] = ()
    unit: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    max_length: Annotated[int, Meta(ge=1, le=10000)] = 200
    choices: tuple[Choice, ...] = ()
    help: str | None = None
    bounds_basis: str | None = None
    sources: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        numeric = self.kind in ("number", "integer")
        if numeric and (self.minimum is None or self.maximum is None or self.unit is None):
            raise ValueError(f"a {self.kind} field needs a unit, a minimum and a maximum")
        if numeric and self.minimum is not None and self.maximum is not None and self.minimum >= self.maximum:
            raise ValueError("minimum must be below maximum")
        if numeric and not self.bounds_basis:
            raise ValueError("a number field says where its bounds come from (bounds_basis)")
        if not numeric and (self.minimum is not None or self.maximum is not None or self.unit is not None):
            raise ValueError(f"a {self.kind} field has no unit or bounds")
        if (self.kind == "choice") != bool(self.choices):
            raise ValueError("choices are given exactly for a choice field")

    def applies_to(self, treatment: str) -> bool:
        return not self.treatments or treatment in self.treatments
class InputBounds(Sourced, frozen=True, kw_only=True):
    """The most one assessment can plausibly record: what a face and body can hold.

    Plausibility, not medicine: a value above them is a typing error (10^9 lesions), refused
    where the case enters (`engine.case.parse_case`) naming the field, before it reaches a
    stored record, a score or a calendar. A clinic may change them in its overrides.
    """

    max_count: Annotated[int, Meta(ge=1)]  # scars, marks or lesions of one type
    max_area_cm2: Annotated[float, Meta(gt=0)]  # one finding's area
    max_age_months: Annotated[int, Meta(ge=1)]  # a scar's age
    max_diameter_mm: Annotated[float, Meta(gt=0)]  # a scar's diameter or width
    note: str


class Policy(Frozen, frozen=True, kw_only=True):
    notice: str
    input_bounds: InputBounds
    delay: DelayPolicy
    combination: CombinationRule | None = None
    follow_up: FollowUpRule
    ranking: Ranking
    global_rules: tuple[GlobalRule, ...] = ()
    downtime_warning: str
    vocabulary: VocabularyPolicy


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
    vocabulary: dict[str, Term]
    agents: dict[str, Agent]
    treatments: dict[str, Treatment]
    groups: dict[str, TreatmentGroup]
    # safety[condition].decisions: the clinic's decisions first, then the bundled ones
    safety: dict[str, SafetyRules]
    # matrix[condition][treatment]: the one decision in force for that cell
    matrix: dict[str, dict[str, MatrixCell]]
    sequencing: tuple[SequencingRule, ...]
    education: dict[str, EducationTopic]
    messages: dict[str, MessageTemplate]
    aftercare: dict[str, AftercareTerm]
    scales: Scales
    policy: Policy
    # standard codes by "<of>:<concept>" (codes.yaml)
    codes: dict[str, CodeMapping] = msgspec.field(default_factory=dict)
    # labels[group][code]: the words people read for the service's and engine's codes
    # (statuses, severity, its basis, sex); knowledge.yaml `labels`, checked by the loader
    labels: dict[str, dict[str, str]] = msgspec.field(default_factory=dict)
    overridden: dict[str, str] = msgspec.field(default_factory=dict)
    regions: dict[str, Region] = msgspec.field(default_factory=dict)
    procedure_fields: dict[str, ProcedureField] = msgspec.field(default_factory=dict)

    def procedure_fields_for(self, treatment: str) -> tuple[ProcedureField, ...]:
        """The fields of a session's procedure note for one treatment, in file order."""
        return tuple(f for f in self.procedure_fields.values() if f.applies_to(treatment))

    def standard_codes(self, of: str, concept: str) -> CodeMapping | None:
        """The standard codes a source gives for a concept, if any."""
        return self.codes.get(f"{of}:{concept}")

    def decision(self, condition: str, treatment: str) -> Decision:
        """The decision in force for one cell of the safety matrix."""
        return self.safety[condition].decisions[self.matrix[condition][treatment].decision]

    def aftercare_terms(self, group: AftercareGroup) -> tuple[AftercareTerm, ...]:
        """The after-care words of one group, in file order (the order forms offer them)."""
        return tuple(t for t in self.aftercare.values() if t.group == group)

    @property
    def label(self) -> str:
        """The version string stored with every plan, so an old plan can be explained."""
        return f"{self.version}+{self.fingerprint[:12]}"
