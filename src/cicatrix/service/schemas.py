"""Request and response shapes shared by the API, the web pages and the exports."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from cicatrix.engine.case import Phototype
from cicatrix.service.bounds import Day, RecordId, Version, one_line

Role = Literal["admin", "clinician", "front_desk", "patient"]
Sex = Literal["female", "male", "other", "unknown"]
ShortText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), AfterValidator(one_line)
]
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64), AfterValidator(one_line)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=2000)]

_IN = ConfigDict(extra="forbid")


class ErrorBody(BaseModel):
    """Every 4xx and 5xx body: what went wrong and which field to fix."""

    code: str
    field: str | None
    message: str
    value: Any = None


# ---------- patients ----------


class PatientClinical(BaseModel):
    model_config = _IN

    phototype: Phototype | None = None
    pregnant: bool = False
    breastfeeding: bool = False
    isotretinoin_last_dose: Day | None = None
    history: list[Code] = Field(default_factory=list, max_length=50)
    medications: list[Code] = Field(default_factory=list, max_length=50)
    recent_sunburn: bool = False
    notes: str | None = Field(default=None, max_length=10000)


class PatientClinicalUpdate(BaseModel):
    model_config = _IN

    phototype: Phototype | None = None
    pregnant: bool | None = None
    breastfeeding: bool | None = None
    isotretinoin_last_dose: Day | None = None
    history: list[Code] | None = Field(default=None, max_length=50)
    medications: list[Code] | None = Field(default=None, max_length=50)
    recent_sunburn: bool | None = None
    notes: str | None = Field(default=None, max_length=10000)


class PatientIn(BaseModel):
    model_config = _IN

    name: ShortText
    mrn: Code | None = None
    birth_date: Day | None = None
    sex: Sex | None = None
    phone: Annotated[str, StringConstraints(max_length=64)] | None = None
    email: Annotated[str, StringConstraints(max_length=200)] | None = None
    clinical: PatientClinical | None = None


class PatientUpdate(BaseModel):
    """Only the fields given change. `version` is the one you read (optimistic concurrency)."""

    model_config = _IN

    version: Version
    name: ShortText | None = None
    mrn: Code | None = None
    birth_date: Day | None = None
    sex: Sex | None = None
    phone: Annotated[str, StringConstraints(max_length=64)] | None = None
    email: Annotated[str, StringConstraints(max_length=200)] | None = None
    clinical: PatientClinicalUpdate | None = None


class PatientOut(BaseModel):
    id: int
    name: str
    mrn: str | None
    birth_date: date | None
    sex: str | None
    phone: str | None = Field(description="E.164, e.g. +447400123456")
    phone_display: str | None = Field(
        default=None, description="the phone as shown: national format in the clinic's country, else international"
    )
    email: str | None
    archived: bool
    version: int
    created_at: datetime
    updated_at: datetime
    clinical: PatientClinical | None = Field(
        description="null when the caller's role may not see clinical data (front desk)"
    )


class Page(BaseModel):
    total: int
    limit: int
    offset: int


class PatientPage(Page):
    items: list[PatientOut]


# ---------- assessments ----------


class AssessmentIn(BaseModel):
    """An assessment in the engine's case format; the patient's record fills in the rest."""

    model_config = _IN

    assessment: dict[str, Any] = Field(
        description="The case's `assessment` object (date, scars, marks, active_lesions, ...)",
        examples=[
            {
                "date": "2026-11-22",
                "goodman_baron_qualitative": 3,
                "scars": [
                    {"type": "rolling", "count": 8, "depth": "shallow"},
                    {"type": "boxcar_shallow", "count": 4, "diameter_mm": 3},
                    {"type": "broad_atrophic", "count": 1, "area_cm2": 2.0},
                ],
                "marks": [{"type": "pih", "count": 10}],
                "active_lesions": [],
            }
        ],
    )
    patient: dict[str, Any] | None = Field(
        default=None,
        description="Case `patient` fields that differ today from the record (e.g. pregnant)",
    )
    preferences: dict[str, Any] | None = Field(default=None, description="Case `preferences`")
    generate_plan: bool = Field(default=True, description="Also propose a plan from it")


class AssessmentOut(BaseModel):
    id: int
    patient_id: int
    date: date
    input: dict[str, Any]
    scores: dict[str, Any]
    goodman_baron_quantitative: int
    ecca: int
    goodman_baron_qualitative: int | None
    severity: str | None
    knowledge_version: str
    created_by: int
    created_at: datetime


class AssessmentPage(Page):
    items: list[AssessmentOut]


# ---------- plans ----------


class OverrideIn(BaseModel):
    model_config = _IN

    treatment: Code
    reason: Reason


class OverrideOut(BaseModel):
    treatment: str
    reason: str
    by: int | None = None
    at: datetime | None = None


class PlanCreate(BaseModel):
    model_config = _IN

    preferences: dict[str, Any] | None = None
    overrides: list[OverrideIn] = Field(default_factory=list, max_length=20)


class PlanEditIn(BaseModel):
    """Change the course; the engine re-plans so every safety rule still applies."""

    model_config = _IN

    version: Version
    reason: Reason
    treatments: list[Code] | None = Field(default=None, max_length=30)
    start: Day | None = None
    max_downtime_days: int | None = Field(default=None, ge=0, le=365)
    overrides: list[OverrideIn] = Field(default_factory=list, max_length=20)


class ApproveIn(BaseModel):
    model_config = _IN

    version: Version
    start: Day | None = Field(default=None, description="a preferred start chosen at approval (re-plans first)")
    dry_run: bool = Field(
        default=False,
        description="answer what approving would do to each booked session (PlanChangeOut), change nothing",
    )
    expected_change: str | None = Field(
        default=None,
        max_length=64,
        description="the `token` of the dry run that was shown: 409 if the bookings changed since",
    )


class WithdrawIn(BaseModel):
    """Discard a proposal (it stays in the history as `withdrawn`)."""

    model_config = _IN

    version: Version
    reason: Reason


class BookingEffectOut(BaseModel):
    """What approving a new plan does to one session: a booking of the running course is
    `kept` (same date), `moved` (old and new date) or `cancelled`; a session only the new plan
    has is `added`. A booking keeps its row (and so anything attached to it) when kept or moved."""

    effect: Literal["kept", "moved", "cancelled", "added"]
    treatment: str
    number: int = Field(description="the session's number in the new plan (in the old one when cancelled)")
    old_date: date | None
    new_date: date | None
    session_id: int | None = Field(description="the booked session (course_session), null for an added one")


class PlanChangeOut(BaseModel):
    """A proposal beside the running course: what approving it would change."""

    plan_id: int = Field(description="the proposal")
    running_plan_id: int | None = Field(description="the approved plan it would replace")
    treatments_added: list[str]
    treatments_removed: list[str]
    bookings: list[BookingEffectOut]
    done: int = Field(description="sessions already given; they stay in the running course's history")
    token: str = Field(description="send back as `expected_change` to approve exactly this change")


class ProcedureIn(BaseModel):
    """A session's procedure note: the values of the treatment's fields (`procedure_notes.yaml`)."""

    model_config = _IN

    session_version: Version = Field(description="the session's version as read (SessionOut.version)")
    values: dict[str, Any] = Field(
        max_length=40,
        description="field id -> value; numbers in the field's unit, `treated_areas` a list of region ids",
    )


class SessionOut(BaseModel):
    id: int
    patient_id: int
    plan_id: int
    treatment: str
    number: int
    date: date
    status: Literal["planned", "done", "missed", "cancelled"]
    sequence: int
    recorded_by: int | None
    recorded_at: datetime | None
    note: str | None
    procedure: dict[str, Any] | None = Field(
        default=None, description="the procedure note (clinicians only): field id -> value"
    )
    version: int = Field(description="the session's own version: send it back as session_version")


class PlanEditOut(BaseModel):
    id: int
    user_id: int
    at: datetime
    kind: str
    reason: str
    override: bool
    change: dict[str, Any]
    from_version: int


class PlanOut(BaseModel):
    id: int
    patient_id: int
    assessment_id: int
    status: Literal["proposed", "approved", "superseded", "withdrawn"]
    version: int
    knowledge_version: str
    created_by: int
    created_at: datetime
    approved_by: int | None
    approved_at: datetime | None
    preferences: dict[str, Any]
    overrides: list[OverrideOut]
    plan: dict[str, Any] = Field(description="The engine's plan JSON (see `cicatrix plan`)")
    sessions: list[SessionOut]
    edits: list[PlanEditOut]
    preview: bool = False


class PlanSummary(BaseModel):
    id: int
    assessment_id: int
    status: str
    version: int
    knowledge_version: str
    created_at: datetime
    approved_at: datetime | None


class SessionDoneIn(BaseModel):
    model_config = _IN

    version: Version | None = Field(default=None, description="plan version, if checked")
    session_version: Version | None = Field(
        default=None, description="the session's version as read (SessionOut.version), if checked; stale is 409"
    )
    note: str | None = Field(default=None, max_length=2000)


class SessionMissedIn(BaseModel):
    model_config = _IN

    version: Version | None = Field(default=None, description="plan version, if checked")
    session_version: Version | None = Field(
        default=None, description="the session's version as read (SessionOut.version), if checked; stale is 409"
    )
    new_date: Day | None = Field(default=None, description="when to give it instead; default the next day")
    note: str | None = Field(default=None, max_length=2000)
    dry_run: bool = Field(default=False, description="show the re-flowed course, save nothing")


class ScheduleOut(BaseModel):
    patient_id: int
    plan_id: int | None
    sessions: list[SessionOut]


class MovedSessionOut(BaseModel):
    treatment: str
    number: int
    old_date: date
    new_date: date | None = Field(description="null when the re-flow cancelled the session")


class RescheduleOut(BaseModel):
    """A missed session's re-flow as a role that may not read plans (front desk) sees it: which
    sessions move to which dates, and the schedule after; no plan, no clinical content."""

    patient_id: int
    plan_id: int
    preview: bool
    moved: list[MovedSessionOut]
    sessions: list[SessionOut]


class DayOut(BaseModel):
    date: date
    entries: list[dict[str, Any]]


class TodayOut(BaseModel):
    patient_id: int
    plan_id: int
    days: list[DayOut]
    next_session: SessionOut | None


# ---------- outcomes ----------


class OutcomeIn(BaseModel):
    model_config = _IN

    date: Day
    measure: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
    value: float = Field(ge=-1e6, le=1e6, allow_inf_nan=False)
    note: str | None = Field(default=None, max_length=2000)


class OutcomePoint(BaseModel):
    date: date
    value: float
    assessment_id: int | None = None
    outcome_id: int | None = None


class OutcomeSeries(BaseModel):
    measure: str
    points: list[OutcomePoint]
    baseline: float | None
    latest: float | None
    change: float | None
    change_percent: float | None


class OutcomesOut(BaseModel):
    patient_id: int
    series: list[OutcomeSeries]


# ---------- users, clinic, audit, tokens ----------


class UserIn(BaseModel):
    model_config = _IN

    username: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=200)]
    display_name: ShortText
    role: Role
    password: Annotated[str, StringConstraints(min_length=12, max_length=1000)]
    patient_id: RecordId | None = None


class UserUpdate(BaseModel):
    model_config = _IN

    display_name: ShortText | None = None
    role: Role | None = None
    active: bool | None = None
    password: Annotated[str, StringConstraints(min_length=12, max_length=1000)] | None = None


class UserOut(BaseModel):
    id: int
    clinic_id: int
    username: str
    display_name: str
    role: Role
    patient_id: int | None
    active: bool
    created_at: datetime
    second_factor: bool = Field(default=False, description="a TOTP second factor is set up")


class PatientPick(BaseModel):
    """A patient as an admin sees one when linking a login: who, not anything clinical."""

    id: int
    name: str
    mrn: str | None
    birth_date: date | None


class AuditFilter(BaseModel):
    """Which events of the clinic's audit trail to show; every field optional."""

    model_config = _IN

    patient_id: RecordId | None = None
    user_id: RecordId | None = None
    action: Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)] | None = None
    since: Day | None = Field(default=None, description="first day, in the clinic's time zone")
    until: Day | None = Field(default=None, description="last day, in the clinic's time zone")


class PasswordChange(BaseModel):
    """A user changes their own password: the current one proves it is them."""

    model_config = _IN

    current_password: Annotated[str, StringConstraints(min_length=1, max_length=1000)]
    new_password: Annotated[str, StringConstraints(min_length=12, max_length=1000)]


class SecondFactorStatus(BaseModel):
    enrolled: bool
    required: bool = Field(description="the account's role (and clinic) require a second factor")
    enrolling: bool = Field(description="a secret was issued and awaits confirmation with a code")
    recovery_codes_left: int
    this_login_verified: bool = Field(description="this session or token was opened with the second factor")


class Enrolment(BaseModel):
    """Shown once, while enrolling: never again after the code is confirmed."""

    secret: str = Field(description="base32 TOTP secret, to type into an authenticator app")
    provisioning_uri: str = Field(description="otpauth:// URI, as encoded in the QR code")
    qr_svg: str = Field(description="the QR code as an SVG document")


class CodeIn(BaseModel):
    model_config = _IN

    code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class RecoveryCodes(BaseModel):
    codes: list[str] = Field(description="ten one-time codes, shown once; each replaces a TOTP code once")


class ClinicOut(BaseModel):
    id: int
    name: str
    timezone: str
    logo: str | None = None
    second_factor_for_clinicians: bool = False
    address: str | None = Field(default=None, description="postal address, lines separated by a line feed")
    phone: str | None = Field(default=None, description="phone number in E.164, e.g. +442079460000")


class ClinicUpdate(BaseModel):
    model_config = _IN

    name: ShortText | None = None
    timezone: Annotated[str, StringConstraints(max_length=64)] | None = None
    logo: Annotated[str, StringConstraints(max_length=300_000)] | None = Field(
        default=None, description="data: URL of a PNG/SVG/JPEG logo"
    )
    second_factor_for_clinicians: bool | None = Field(
        default=None, description="require a second factor of the clinic's clinicians (admins always need one)"
    )
    address: Annotated[str, StringConstraints(max_length=1000)] | None = Field(
        default=None, description="postal address (up to 6 lines, 300 characters); empty clears it"
    )
    phone: Annotated[str, StringConstraints(max_length=64)] | None = Field(
        default=None, description="phone number with its country code (+44 20 7946 0000); empty clears it"
    )


class AuditOut(BaseModel):
    id: int
    at: datetime
    user_id: int | None
    username: str | None = Field(default=None, description="the acting account, when it is in this clinic")
    role: str | None
    action: str
    entity: str
    entity_id: str | None
    patient_id: int | None
    ip: str | None
    detail: str | None


class AuditPage(Page):
    items: list[AuditOut]


class LoginIn(BaseModel):
    model_config = _IN

    username: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=1000)]
    otp: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)] | None = Field(
        default=None, description="the second factor: a 6-digit TOTP code or a recovery code"
    )


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime
    user: UserOut


class CalendarTokenOut(BaseModel):
    id: int
    patient_id: int
    token: str | None = Field(description="shown once, at creation")
    created_at: datetime
    revoked_at: datetime | None


class AssessmentCreated(BaseModel):
    assessment: AssessmentOut
    plan: PlanOut | None


MessageChannel = Literal["email", "sms"]
MessageKind = Literal["reminders", "check_ins", "recalls"]
ClockTime = Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]


class MessageOut(BaseModel):
    """One message of the outbox as the clinic and the patient see it: what, when, how, and
    what became of it. No text: it is rendered at delivery, from the plan."""

    id: int
    patient_id: int
    template: str
    label: str
    category: str
    channel: MessageChannel
    due: datetime
    status: Literal["pending", "sending", "sent", "failed", "withdrawn", "skipped"]
    attempts: int
    sent_at: datetime | None
    last_error: str | None  # a class of failure ("smtp 451"), never personal data


class MessagePage(Page):
    items: list[MessageOut]


class MessageChoicesIn(BaseModel):
    """The patient's say: which channels (none is an empty list), quiet hours in the clinic's
    time zone (both or neither), and the kinds of message they do not want."""

    model_config = _IN
    channels: list[MessageChannel] = Field(max_length=2)
    quiet_start: ClockTime | None = None
    quiet_end: ClockTime | None = None
    opted_out: list[MessageKind] = Field(default_factory=list, max_length=3)


class MessageChoicesOut(BaseModel):
    patient_id: int
    channels: list[MessageChannel]
    quiet_start: str | None
    quiet_end: str | None
    opted_out: list[MessageKind]
    stored: bool  # False: the default (e-mail when an address is recorded, else SMS)
# ---------- check-ins and adverse events ----------

AftercareId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]


class CheckInAnswerIn(BaseModel):
    """A patient's answer through the check-in link. `answer` and `signs` are ids of the
    knowledge base (aftercare.yaml, the education topic's signs); the service checks them."""

    model_config = _IN

    answer: AftercareId
    signs: list[AftercareId] = Field(default_factory=list, max_length=20)
    note: str | None = Field(default=None, max_length=2000)


class CheckInOut(BaseModel):
    id: int
    patient_id: int
    session_id: int
    session_date: date
    treatment: str
    day: int = Field(description="days after the session")
    answer: str
    answer_label: str
    signs: list[str]
    sign_labels: list[str]
    note: str | None
    needs_attention: bool
    answered_at: datetime
    changed_at: datetime
    acknowledged_by: int | None
    acknowledged_at: datetime | None
    version: int


class AcknowledgeIn(BaseModel):
    model_config = _IN

    version: Version


class AdverseEventIn(BaseModel):
    """An adverse event against a session; `check_in_id` when it was started from a check-in
    (which it then acknowledges)."""

    model_config = _IN

    kind: AftercareId
    severity: AftercareId
    outcome: AftercareId
    onset: Day
    note: str | None = Field(default=None, max_length=4000)
    check_in_id: RecordId | None = None


class AdverseEventUpdate(BaseModel):
    """A change to a recorded adverse event (typically its outcome); `version` as read, stale is 409."""

    model_config = _IN

    version: Version
    kind: AftercareId | None = None
    severity: AftercareId | None = None
    outcome: AftercareId | None = None
    onset: Day | None = None
    note: str | None = Field(default=None, max_length=4000)


class AdverseEventOut(BaseModel):
    id: int
    patient_id: int
    session_id: int
    session_date: date
    treatment: str
    check_in_id: int | None
    kind: str
    kind_label: str
    severity: str
    severity_label: str
    outcome: str
    outcome_label: str
    onset: date
    note: str | None
    recorded_by: int
    recorded_at: datetime
    updated_by: int | None
    updated_at: datetime | None
    version: int
