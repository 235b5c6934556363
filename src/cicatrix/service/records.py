"""The stored patient as a PatientRecord, the one input of every export format (FHIR,
iCalendar, PDF), and the clinic's de-identified outcomes.

The exports only format what these return; authorisation, the current plan
(`queries.current_plan`) and the audit trail are decided here, once.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import secrets
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import msgspec
from sqlalchemy import select

from cicatrix.engine.case import Assessment as EngineAssessment
from cicatrix.engine.case import Patient as EnginePatient
from cicatrix.engine.result import Plan as EnginePlan
from cicatrix.engine.result import Scores
from cicatrix.exports.ids import stable_uuid
from cicatrix.exports.outcomes import k_anonymise
from cicatrix.exports.record import (
    AssessmentRecord,
    ExternalId,
    PatientRecord,
    PersonName,
    PlanRecord,
    SessionRecord,
    Telecom,
)
from cicatrix.service import audit, contact, patients, procedures
from cicatrix.service.assessments import case_patient
from cicatrix.service.context import Context
from cicatrix.service.errors import Invalid, NotFound
from cicatrix.service.policy import may_see_field, require
from cicatrix.service.queries import current_plan
from cicatrix.storage.models import AdverseEvent, Assessment, Clinic, CourseSession, Patient, Plan


def _record_id(p: Patient) -> str:
    # The record number survives an export/import; the row id does not.
    return p.mrn or f"cicatrix-{p.id}"


def clinic_key(c: Clinic) -> str:
    """A key of the clinic that no other clinic, in this database or another, shares: the scope
    of its record numbers in every FHIR id and identifier system. Derived, never stored, from
    what does not change (row id and creation time), so it needs no migration and no write."""
    return str(stable_uuid("clinic", c.id, int(c.created_at.timestamp())))


def _assessment_keys(rows: list[Assessment]) -> dict[int, str]:
    keys: dict[int, str] = {}
    seen: dict[str, int] = {}
    for a in rows:
        n = seen.get(a.date.isoformat(), 0) + 1
        seen[a.date.isoformat()] = n
        keys[a.id] = f"{a.date.isoformat()}-{n}"
    return keys


def _assessment_seen(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """The assessment as the actor's role may see it: the FHIR panel carries the exact input,
    whose clinician's `notes` only clinicians see (`policy.FIELDS_SEEN`)."""
    if data.get("notes") is None or may_see_field(ctx.actor, "assessment.notes"):
        return data
    return {**data, "notes": None}


def _load(ctx: Context, patient_id: int, what: str) -> tuple[PatientRecord, Patient, Plan | None]:
    p = patients.load(ctx, patient_id, "patient.clinical.read")
    require(ctx.actor, "plan.read")
    if p.phototype is None:  # every export carries the engine's patient, which needs it
        raise Invalid("clinical.phototype", "the patient's Fitzpatrick phototype is not recorded; record it first")
    rows = list(
        ctx.db.scalars(select(Assessment).where(Assessment.patient_id == p.id).order_by(Assessment.date, Assessment.id))
    )
    keys = _assessment_keys(rows)
    assessments = tuple(
        AssessmentRecord(
            id=keys[a.id],
            assessment=msgspec.convert(_assessment_seen(ctx, a.input["assessment"]), EngineAssessment),
            scores=msgspec.convert(a.scores, Scores),
        )
        for a in rows
    )
    plan_row = current_plan(ctx, p.id)
    plan_rec = None
    sessions: tuple[SessionRecord, ...] = ()
    if plan_row is not None:
        plan_rec = PlanRecord(
            id=f"{keys.get(plan_row.assessment_id, 'plan')}/plan",
            status="approved" if plan_row.status == "approved" else "proposed",
            plan=msgspec.convert(plan_row.proposal, EnginePlan),
            assessment_id=keys.get(plan_row.assessment_id),
        )
        srows = ctx.db.scalars(
            select(CourseSession)
            .where(CourseSession.plan_id == plan_row.id)
            .order_by(CourseSession.treatment, CourseSession.number, CourseSession.id)
        ).all()
        # A missed session and its replacement share treatment and number: the occurrence, in
        # booking order (row id), tells the instances apart in every export.
        booked: dict[tuple[str, int], int] = {}
        session_list = []
        for s in srows:
            booked[(s.treatment, s.number)] = booked.get((s.treatment, s.number), 0) + 1
            session_list.append(
                SessionRecord(
                    treatment=s.treatment,
                    number=s.number,
                    date=s.date,
                    status=s.status,
                    occurrence=booked[(s.treatment, s.number)],
                    sequence=s.sequence,
                    procedure=procedures.describe(ctx.kb, s.treatment, s.procedure)
                    if s.procedure and may_see_field(ctx.actor, "session.procedure")
                    else None,
                )
            )
        sessions = tuple(session_list)
    engine_patient = case_patient(p)
    engine_patient["id"] = _record_id(p)

    record = PatientRecord(
        id=_record_id(p),
        clinic=clinic_key(_clinic(ctx)),
        name=PersonName(text=p.name) if p.name else None,
        telecom=Telecom(phone=p.phone, email=p.email),
        identifiers=tuple(msgspec.convert(x, ExternalId) for x in p.identifiers or ()),
        patient=msgspec.convert(engine_patient, EnginePatient),
        assessments=assessments,
        plan=plan_rec,
        sessions=sessions,
    )
    audit.record(ctx, "read", "patient", p.id, patient_id=p.id, detail=f"export:{what}")
    return record, p, plan_row


def load_record(ctx: Context, patient_id: int, what: str = "fhir") -> PatientRecord:
    """A stored patient with assessments, current plan and sessions; audited as a read of `what`."""
    return _load(ctx, patient_id, what)[0]


def _clinic(ctx: Context) -> Clinic:
    c = ctx.db.get(Clinic, ctx.actor.clinic_id)
    if c is None:
        raise NotFound("clinic_id", "no such clinic")
    return c


@dataclass(frozen=True)
class CalendarSource:
    """What the iCalendar export formats: the plan, its record id, the clinic, and how often
    each session instance was re-dated (the calendar's SEQUENCE floor), keyed by (treatment,
    number, occurrence) as the FHIR export numbers the instances: a missed session and its
    replacement each keep their own count."""

    plan: EnginePlan
    record_id: str
    clinic_name: str
    timezone: str
    sequences: dict[tuple[str, int, int], int]
    location: str | None = None  # the clinic's address on one line (the events' LOCATION)


def calendar_source(ctx: Context, patient_id: int) -> CalendarSource:
    record, _p, plan_row = _load(ctx, patient_id, "ics")
    if record.plan is None or plan_row is None:
        raise NotFound("plan", "this patient has no plan yet")
    clinic = _clinic(ctx)
    return CalendarSource(
        plan=record.plan.plan,
        record_id=record.id,
        clinic_name=_one_line(clinic.name),
        timezone=clinic.timezone,
        location=contact.one_line((clinic.settings or {}).get("address")),
        sequences={(s.treatment, s.number, s.occurrence): s.sequence for s in record.sessions},
    )


@dataclass(frozen=True)
class HandoutSource:
    """What the PDF handout formats."""

    plan: EnginePlan
    clinic_name: str
    patient_name: str
    clinic_phone: str | None = None  # as people read it (+44 20 7946 0000)
    clinic_address: tuple[str, ...] = ()  # its lines


def handout_source(ctx: Context, patient_id: int) -> HandoutSource:
    record, p, _plan_row = _load(ctx, patient_id, "pdf")
    if record.plan is None:
        raise NotFound("plan", "this patient has no plan yet")
    clinic = _clinic(ctx)
    settings = clinic.settings or {}
    return HandoutSource(
        plan=record.plan.plan,
        clinic_name=_one_line(clinic.name),
        patient_name=p.name,
        clinic_phone=contact.phone_display(settings.get("phone")),
        clinic_address=tuple((settings.get("address") or "").split("\n")) if settings.get("address") else (),
    )


def _one_line(name: str) -> str:
    """A clinic name as one line, whatever an older version stored: a line break broke every calendar."""
    return " ".join(name.split())


# --- de-identified outcomes ------------------------------------------------------------------


def _shift_days(secret: bytes, patient_id: int) -> int:
    """A per-patient shift of 1..180 days either way (never 0, which would publish the real dates),
    fixed for one export and unguessable without the secret."""
    digest = hmac.new(secret, f"shift:{patient_id}".encode(), hashlib.sha256).digest()
    n = int.from_bytes(digest[:4], "big") % 360
    return n - 180 if n < 180 else n - 179


def _subject(secret: bytes, patient_id: int) -> str:
    # A letter first: "12e345678901" would be read as a number by R, pandas and spreadsheets.
    return "s" + hmac.new(secret, f"subject:{patient_id}".encode(), hashlib.sha256).hexdigest()[:12]


def _age_band(birth: date | None, on: date) -> str:
    """Ten-year bands ("20-29"), the finest an outcomes table shows; "" when unknown."""
    if birth is None:
        return ""
    age = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
    low = max(0, age) // 10 * 10
    return f"{low}-{low + 9}"


def outcomes_rows(ctx: Context, secret: bytes | None = None) -> list[dict[str, Any]]:
    """One row per assessment of the actor's clinic; no names, contacts, birth dates or real dates.

    Rows are shuffled with the export's secret (row k is not the same patient in every export),
    and rows whose phototype, sex, age band and treatment set fewer than K_ANONYMITY patients
    share have those four suppressed (`exports.outcomes.k_anonymise`)."""
    require(ctx.actor, "outcomes.export")
    secret = secret or secrets.token_bytes(32)
    clinic = ctx.actor.clinic_id
    rows = ctx.db.scalars(
        select(Assessment)
        .where(Assessment.clinic_id == clinic)
        .order_by(Assessment.patient_id, Assessment.date, Assessment.id)
    ).all()
    # Three bulk reads instead of one query per assessment: clinics export years of records.
    people = {p.id: p for p in ctx.db.scalars(select(Patient).where(Patient.clinic_id == clinic))}
    newest_plan: dict[int, int] = {}
    for plan_id, assessment_id in ctx.db.execute(
        select(Plan.id, Plan.assessment_id).where(Plan.clinic_id == clinic).order_by(Plan.id)
    ):
        newest_plan[assessment_id] = plan_id
    by_plan: dict[int, list[CourseSession]] = {}
    for s in ctx.db.scalars(select(CourseSession).where(CourseSession.clinic_id == clinic)):
        by_plan.setdefault(s.plan_id, []).append(s)
    # Adverse events count against the session they happened after, so against its plan.
    events: dict[int, list[AdverseEvent]] = {}
    plan_of = {s.id: s.plan_id for ss in by_plan.values() for s in ss}
    for e in ctx.db.scalars(select(AdverseEvent).where(AdverseEvent.clinic_id == clinic)):
        events.setdefault(plan_of.get(e.session_id, -1), []).append(e)
    first: dict[int, Any] = {}
    out = []
    for a in rows:
        p = people.get(a.patient_id)
        if p is None:  # pragma: no cover - foreign key
            continue
        first.setdefault(p.id, a.date)
        plan_id = newest_plan.get(a.id, -1)
        sessions = by_plan.get(plan_id, [])
        plan_events = events.get(plan_id, []) if plan_id != -1 else []
        out.append(
            {
                "subject": _subject(secret, p.id),
                "assessment_date": (a.date + timedelta(days=_shift_days(secret, p.id))).isoformat(),
                "days_from_first_assessment": (a.date - first[p.id]).days,
                "phototype": p.phototype or "",
                "sex": p.sex or "",
                "age_band": _age_band(p.birth_date, a.date),
                "goodman_baron_quantitative": a.goodman_baron_quantitative,
                "ecca": a.ecca,
                "goodman_baron_qualitative": "" if a.goodman_baron_qualitative is None else a.goodman_baron_qualitative,
                "severity": a.severity or "",
                "treatments_planned": ";".join(sorted({s.treatment for s in sessions})),
                "sessions_done": sum(1 for s in sessions if s.status == "done"),
                "adverse_events": len(plan_events),
                "adverse_event_kinds": ";".join(sorted(f"{e.kind}:{e.severity}" for e in plan_events)),
                "knowledge_version": a.knowledge_version,
            }
        )
    out = k_anonymise(out)
    # A shuffle drawn from the secret: the same export repeats, another export orders differently.
    random.Random(hmac.new(secret, b"order", hashlib.sha256).digest()).shuffle(out)
    audit.record(ctx, "export", "outcomes", None, detail=f"rows:{len(out)}")
    return out
