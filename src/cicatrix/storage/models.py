"""The clinic's tables.

Rows that people edit concurrently (patients, plans, course sessions) carry a ``version`` column used
for optimistic concurrency: an UPDATE only succeeds against the version the editor saw.
Audit events deliberately hold ids only, never names or dates of birth.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ROLES = ("admin", "clinician", "front_desk", "patient")
PLAN_STATUSES = ("proposed", "approved", "superseded", "withdrawn")
SESSION_STATUSES = ("planned", "done", "missed", "cancelled")
# An appointment holds its practitioner and room while booked or arrived; a no-show, a
# cancellation or a finished visit frees them (the exclusion constraints cover only these).
APPOINTMENT_STATUSES = ("booked", "arrived", "no_show", "cancelled", "done")
APPOINTMENT_ACTIVE = ("booked", "arrived")

class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on every back end (SQLite hands back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


# BIGINT on PostgreSQL, INTEGER (rowid alias, autoincrement) on SQLite.
Id = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Clinic(Base):
    __tablename__ = "clinic"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Whether the clinic's clinicians must log in with a second factor (admins always must).
    second_factor_clinicians: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))


# A record number names one patient of a clinic (issue 14 §4): held by the database, so two
# desks registering the same number at once cannot both commit (the loser is answered 409).
ONE_MRN_PER_CLINIC = "uq_patient_clinic_mrn"
_HAS_MRN = text("mrn IS NOT NULL")


class Patient(Base):
    __tablename__ = "patient"
    __table_args__ = (
        Index("ix_patient_clinic_name", "clinic_id", "name_key"),
        Index(ONE_MRN_PER_CLINIC, "clinic_id", "mrn", unique=True, sqlite_where=_HAS_MRN, postgresql_where=_HAS_MRN),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200))  # storage.keys.name_key: case and accents folded
    mrn: Mapped[str | None] = mapped_column(String(64))  # unique per clinic (ONE_MRN_PER_CLINIC)
    # phone as E.164 ("+447700900123") and email as normalised (service/contact.py)
    birth_date: Mapped[date | None] = mapped_column(Date)
    sex: Mapped[str | None] = mapped_column(String(16))
    phone: Mapped[str | None] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(200))
    # identifiers other systems gave the patient: [{"system", "value", "type"}], from a FHIR import
    identifiers: Mapped[list[Any] | None] = mapped_column(JSON, default=list)
    # clinical record (not shown to front desk)
    phototype: Mapped[str | None] = mapped_column(String(4))
    pregnant: Mapped[bool] = mapped_column(Boolean, default=False)
    breastfeeding: Mapped[bool] = mapped_column(Boolean, default=False)
    isotretinoin_last_dose: Mapped[date | None] = mapped_column(Date)
    history: Mapped[list[Any]] = mapped_column(JSON, default=list)
    medications: Mapped[list[Any]] = mapped_column(JSON, default=list)
    recent_sunburn: Mapped[bool] = mapped_column(Boolean, default=False)
    notes: Mapped[str | None] = mapped_column(Text)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__: ClassVar[dict[str, Any]] = {"version_id_col": version}


class User(Base):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"), index=True)
    username: Mapped[str] = mapped_column(String(200), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patient.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The TOTP second factor (service/second_factor.py): the shared secret, encrypted; when it
    # was confirmed with a code (None: enrolment started, not active); the last time step a
    # code was accepted for, so a code is never accepted twice.
    totp_secret: Mapped[str | None] = mapped_column(String(255))
    totp_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)


class Assessment(Base):
    __tablename__ = "assessment"
    __table_args__ = (Index("ix_assessment_patient_date", "patient_id", "date"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"))
    date: Mapped[date] = mapped_column(Date)
    input: Mapped[dict[str, Any]] = mapped_column(JSON)  # the full engine case
    scores: Mapped[dict[str, Any]] = mapped_column(JSON)
    goodman_baron_quantitative: Mapped[int] = mapped_column(Integer)
    ecca: Mapped[int] = mapped_column(Integer)
    goodman_baron_qualitative: Mapped[int | None] = mapped_column(Integer)
    severity: Mapped[str | None] = mapped_column(String(16))
    knowledge_version: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


# At most one approved plan per patient, held by the database itself: two approvals that race
# cannot both commit (the loser's INSERT/UPDATE fails on this index and is answered 409).
ONE_APPROVED_PLAN = "uq_plan_one_approved"
_APPROVED = text("status = 'approved'")


class Plan(Base):
    __tablename__ = "plan"
    __table_args__ = (
        Index("ix_plan_patient", "patient_id", "id"),
        Index(ONE_APPROVED_PLAN, "patient_id", unique=True, sqlite_where=_APPROVED, postgresql_where=_APPROVED),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"))
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessment.id"), index=True)
    # The engine's Plan JSON (timeline included) as it currently stands after edits.
    proposal: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Inputs that produced it besides the assessment: preferences and clinician overrides.
    preferences: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    overrides: Mapped[list[Any]] = mapped_column(JSON, default=list)
    knowledge_version: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="proposed")
    created_by: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__: ClassVar[dict[str, Any]] = {"version_id_col": version}


class PlanEdit(Base):
    __tablename__ = "plan_edit"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(32))  # edit | override | reschedule | approve
    reason: Mapped[str] = mapped_column(Text)
    override: Mapped[bool] = mapped_column(Boolean, default=False)
    change: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    from_version: Mapped[int] = mapped_column(Integer)


class CourseSession(Base):
    __tablename__ = "course_session"
    __table_args__ = (
        Index("ix_course_session_plan", "plan_id", "treatment", "number"),
        Index("ix_course_session_clinic_date", "clinic_id", "date"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id"))
    treatment: Mapped[str] = mapped_column(String(64))
    number: Mapped[int] = mapped_column(Integer)
    date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="planned")
    sequence: Mapped[int] = mapped_column(Integer, default=0)  # bumps on each re-schedule
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(Text)
    # The structured procedure note (fields from knowledge `procedure_notes.yaml`), migration 0008.
    procedure: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Optimistic concurrency as for plans: marking a session done or missed only succeeds
    # against the version read, so of two clinicians recording it at once one gets a 409.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    __mapper_args__: ClassVar[dict[str, Any]] = {"version_id_col": version}


class Outcome(Base):
    __tablename__ = "outcome"
    __table_args__ = (Index("ix_outcome_patient_measure", "patient_id", "measure", "date"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"))
    assessment_id: Mapped[int | None] = mapped_column(ForeignKey("assessment.id"))
    date: Mapped[date] = mapped_column(Date)
    measure: Mapped[str] = mapped_column(String(64))
    value: Mapped[float] = mapped_column(Float)
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuditEvent(Base):
    """Who did what to which record, when and from where; ids only, no personal data."""

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_entity", "entity", "entity_id"),
        Index("ix_audit_clinic_at", "clinic_id", "at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    clinic_id: Mapped[int | None] = mapped_column(Id)
    user_id: Mapped[int | None] = mapped_column(Id)
    role: Mapped[str | None] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(32))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    patient_id: Mapped[int | None] = mapped_column(Id, index=True)
    ip: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(String(200))


class ApiToken(Base):
    """Bearer tokens and web sessions; only a SHA-256 of the secret is stored."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # bearer | session | pending (a login waiting for its code)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Whether the login that issued it presented a second factor (or enrolled one).
    second_factor: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))


class RecoveryCode(Base):
    """One-time codes that stand in for the second factor (a lost phone); SHA-256 of a
    high-entropy code, each used once."""

    __tablename__ = "recovery_code"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LoginAttempt(Base):
    """Failed logins, kept in the database so every worker shares the rate limit."""

    __tablename__ = "login_attempt"
    __table_args__ = (Index("ix_login_attempt_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    key: Mapped[str] = mapped_column(String(80))  # "user:<sha256>" or "ip:<sha256>"
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class CalendarToken(Base):
    """A patient's private, revocable calendar subscription (the URL holds the secret)."""

    __tablename__ = "calendar_token"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ClinicCalendar(Base):
    """When the clinic sees patients: weekly hours, its own closures, and the country whose public
    holidays it keeps (from the `holidays` package). One row per clinic; none means the defaults
    of `service.clinic_calendar`."""

    __tablename__ = "clinic_calendar"

    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"), primary_key=True)
    # [{"weekday": 0..6, "opens": "09:00", "closes": "17:00"}, ...]
    hours: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # [{"date": "2026-12-24", "reason": "staff training"}, ...]
    closures: Mapped[list[Any]] = mapped_column(JSON, default=list)
    country: Mapped[str | None] = mapped_column(String(2))
    subdivision: Mapped[str | None] = mapped_column(String(10))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__: ClassVar[dict[str, Any]] = {"version_id_col": version}


class Room(Base):
    """A treatment room or a device that only one patient can use at a time."""

    __tablename__ = "room"
    __table_args__ = (Index("uq_room_clinic_name", "clinic_id", "name", unique=True),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


# The database itself refuses a double booking: on PostgreSQL two exclusion constraints
# (`btree_gist`) over the practitioner's and the room's time ranges of active appointments, made by
# migration 0007 (SQLAlchemy's metadata does not carry them, so SQLite's schema matches); on SQLite
# the booking checks inside its `BEGIN IMMEDIATE` transaction. One active appointment per session is
# a partial unique index on both.
NO_DOUBLE_PRACTITIONER = "ex_appointment_practitioner"
NO_DOUBLE_ROOM = "ex_appointment_room"
ONE_APPOINTMENT_PER_SESSION = "uq_appointment_one_active"
_ACTIVE = text("status IN ('booked', 'arrived')")


class Appointment(Base):
    """A course session at a time, with a practitioner and a room; start and end stored in UTC."""

    __tablename__ = "appointment"
    __table_args__ = (
        Index("ix_appointment_clinic_start", "clinic_id", "start"),
        Index("ix_appointment_practitioner_start", "practitioner_id", "start"),
        Index("ix_appointment_room_start", "room_id", "start"),
        Index(ONE_APPOINTMENT_PER_SESSION, "session_id", unique=True, sqlite_where=_ACTIVE, postgresql_where=_ACTIVE),
        CheckConstraint('"end" > start', name="end_after_start"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("course_session.id"), index=True)
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    room_id: Mapped[int] = mapped_column(ForeignKey("room.id"))
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="booked")
    # set when booked outside the protocol's window: the person's reason (also audited)
    override_reason: Mapped[str | None] = mapped_column(Text)
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    booked_by: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    booked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    arrived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # who set the current status and when, for the same-day undo
    status_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    status_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    previous_status: Mapped[str | None] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__: ClassVar[dict[str, Any]] = {"version_id_col": version}


MESSAGE_STATUSES = ("pending", "sending", "sent", "failed", "withdrawn", "skipped")


class Message(Base):
    """One message of the outbox: the source of truth for what is sent to a patient.

    Rows are written in the same unit of work as the change that causes them (an approval, a
    re-flow, a booking change, a patient's choice) and recomputed on every such change; `key` is
    the idempotency key the provider sees. No address and no rendered text is stored: delivery
    reads the patient's current contact and renders from `template` and `context`, so a
    corrected e-mail address or a withdrawn consent applies at once. `last_error` is a class of
    failure ("smtp 451", "timeout"), never a message body or an address."""

    __tablename__ = "message"
    __table_args__ = (
        Index("ix_message_due", "status", "next_attempt_at"),
        Index("ix_message_patient", "patient_id", "due"),
        Index("ix_message_clinic_status", "clinic_id", "status", "due"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"))
    key: Mapped[str] = mapped_column(String(64), unique=True)
    template: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(32))  # reminders | check_ins | recalls | changes
    channel: Mapped[str] = mapped_column(String(16))  # email | sms
    due: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    provider_id: Mapped[str | None] = mapped_column(String(200))
    last_error: Mapped[str | None] = mapped_column(String(200))
    session_id: Mapped[int | None] = mapped_column(ForeignKey("course_session.id"))
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MessageChoice(Base):
    """A patient's say over messages: channels, quiet hours (clinic's local time) and the kinds
    opted out of. No row: the default (e-mail when an address is recorded, else SMS)."""

    __tablename__ = "message_choice"

    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"))
    channels: Mapped[list[Any]] = mapped_column(JSON, default=list)
    quiet_start: Mapped[str | None] = mapped_column(String(5))
    quiet_end: Mapped[str | None] = mapped_column(String(5))
    opted_out: Mapped[list[Any]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


CHECK_IN_ONCE = "uq_check_in_session_day"


class CheckIn(Base):
    """A patient's answer to a check-in after a session (day 1, 3 or 7), given through a signed
    link without a login. One row per session and day: a changed answer updates it.

    `answer` and `signs` are ids of the knowledge base's after-care words (aftercare.yaml and the
    education topic's signs). An answer that needs attention stays on the clinicians' dashboard
    until `acknowledged_at` is set."""

    __tablename__ = "check_in"
    __table_args__ = (
        Index(CHECK_IN_ONCE, "session_id", "day", unique=True),
        Index("ix_check_in_clinic_attention", "clinic_id", "needs_attention", "acknowledged_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("course_session.id"))
    day: Mapped[int] = mapped_column(Integer)  # days after the session
    answer: Mapped[str] = mapped_column(String(64))
    signs: Mapped[list[Any]] = mapped_column(JSON, default=list)
    note: Mapped[str | None] = mapped_column(Text)
    needs_attention: Mapped[bool] = mapped_column(Boolean, default=False)
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime)  # first answer: changes allowed that day
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    changes: Mapped[int] = mapped_column(Integer, default=0)
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__: ClassVar[dict[str, Any]] = {"version_id_col": version}


class AdverseEvent(Base):
    """An adverse event a clinician records against a session: kind, severity and outcome are ids
    of aftercare.yaml. Edited with optimistic concurrency like plans and sessions."""

    __tablename__ = "adverse_event"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("course_session.id"), index=True)
    check_in_id: Mapped[int | None] = mapped_column(ForeignKey("check_in.id"))
    kind: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(32))
    onset: Mapped[date] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__: ClassVar[dict[str, Any]] = {"version_id_col": version}
