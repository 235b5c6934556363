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
PLAN_STATUSES = ("proposed", "approved", "superseded")
SESSION_STATUSES = ("planned", "done", "missed", "cancelled")

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


class Patient(Base):
    __tablename__ = "patient"
    __table_args__ = (
        Index("ix_patient_clinic_name", "clinic_id", "name_key"),
        Index("ix_patient_clinic_mrn", "clinic_id", "mrn"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200))  # lower-cased, for search
    mrn: Mapped[str | None] = mapped_column(String(64))
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
    kind: Mapped[str] = mapped_column(String(16))  # bearer | session
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


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
