"""The exports' bridge to the clinic service: read a stored patient as a PatientRecord, import one,
and list de-identified outcomes. Every read and write is authorised and audited via the service layer.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import secrets
from datetime import timedelta
from typing import Any

import msgspec
from sqlalchemy import select

from cicatrix.engine.case import Assessment as EngineAssessment
from cicatrix.engine.result import Plan as EnginePlan
from cicatrix.engine.result import Scores
from cicatrix.exports.record import AssessmentRecord, PatientRecord, PersonName, PlanRecord, SessionRecord
from cicatrix.knowledge.frozen import to_data
from cicatrix.service import audit, patients
from cicatrix.service.assessments import case_patient
from cicatrix.service.context import Context
from cicatrix.service.errors import Forbidden, Invalid, NotFound
from cicatrix.service.policy import require
from cicatrix.storage.db import utcnow
from cicatrix.storage.models import Assessment, CourseSession, Patient, Plan


def _record_id(p: Patient) -> str:
    # The record number survives an export/import; the row id does not.
    return p.mrn or f"cicatrix-{p.id}"


def _assessment_keys(rows: list[Assessment]) -> dict[int, str]:
    keys: dict[int, str] = {}
    seen: dict[str, int] = {}
    for a in rows:
        n = seen.get(a.date.isoformat(), 0) + 1
        seen[a.date.isoformat()] = n
        keys[a.id] = f"{a.date.isoformat()}-{n}"
    return keys


def current_plan(ctx: Context, patient_id: int) -> Plan | None:
    """The approved plan if there is one, else the newest proposal."""
    rows = ctx.db.scalars(select(Plan).where(Plan.patient_id == patient_id).order_by(Plan.id.desc())).all()
    return next((p for p in rows if p.status == "approved"), rows[0] if rows else None)


def load_record(ctx: Context, patient_id: int, what: str = "fhir") -> tuple[PatientRecord, Patient]:
    """A stored patient with assessments, current plan and sessions; audited as a read of `what`."""
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
            assessment=msgspec.convert(a.input["assessment"], EngineAssessment),
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
        sessions = tuple(
            SessionRecord(treatment=s.treatment, number=s.number, date=s.date, status=s.status) for s in srows
        )
    engine_patient = case_patient(p)
    engine_patient["id"] = _record_id(p)
    from cicatrix.engine.case import Patient as EnginePatient

    record = PatientRecord(
        id=_record_id(p),
        name=PersonName(text=p.name) if p.name else None,
        patient=msgspec.convert(engine_patient, EnginePatient),
        assessments=assessments,
        plan=plan_rec,
        sessions=sessions,
    )
    audit.record(ctx, "read", "patient", p.id, patient_id=p.id, detail=f"export:{what}")
    ctx.db.commit()
    return record, p


def session_sequences(ctx: Context, patient_id: int) -> dict[tuple[str, int], int]:
    """How often each session of the current plan was re-scheduled: the calendar's SEQUENCE floor."""
    plan_row = current_plan(ctx, patient_id)
    if plan_row is None:
        return {}
    rows = ctx.db.scalars(select(CourseSession).where(CourseSession.plan_id == plan_row.id)).all()
    return {(s.treatment, s.number): s.sequence for s in rows}


def import_record(ctx: Context, record: PatientRecord) -> int:
    """Create the patient and, when the record carries them, assessments, plan and sessions; one transaction."""
    from cicatrix.service.schemas import PatientClinical, PatientIn

    require(ctx.actor, "patient.create")
    p = record.patient
    name = (record.name.text if record.name else "") or record.id
    try:
        data = PatientIn(
            name=name,
            mrn=record.id,
            birth_date=p.birth_date,
            sex=p.sex,
            clinical=PatientClinical(
                phototype=p.phototype,
                pregnant=p.pregnant,
                breastfeeding=p.breastfeeding,
                isotretinoin_last_dose=p.isotretinoin_last_dose,
                history=list(p.history),
                medications=list(p.medications),
                recent_sunburn=p.recent_sunburn,
            ),
        )
    except Exception as exc:  # pydantic ValidationError: name the first field
        errors = getattr(exc, "errors", None)
        if errors is None:
            raise
        err = errors()[0]
        raise Invalid(f"Patient.{'.'.join(map(str, err['loc']))}", str(err["msg"])) from None
    existing = ctx.db.scalar(select(Patient).where(Patient.clinic_id == ctx.actor.clinic_id, Patient.mrn == record.id))
    if existing is not None:
        raise Invalid("Patient.identifier", f"a patient with record number {record.id!r} already exists")
    created = patients.create(ctx, data) if not (record.assessments or record.plan) else None
    if created is not None:
        return int(created.id)
    # A full record: everything in one transaction, so nothing is stored half-written.
    now = utcnow()
    row = Patient(
        clinic_id=ctx.actor.clinic_id, name=data.name, name_key=data.name.lower(), mrn=data.mrn,
        birth_date=data.birth_date, sex=data.sex, phototype=p.phototype.value, pregnant=p.pregnant,
        breastfeeding=p.breastfeeding, isotretinoin_last_dose=p.isotretinoin_last_dose,
        history=list(p.history), medications=list(p.medications), recent_sunburn=p.recent_sunburn,
        archived=False, created_at=now, updated_at=now,
    )  # fmt: skip
    ctx.db.add(row)
    ctx.db.flush()
    require(ctx.actor, "assessment.create")
    ids: dict[str, int] = {}
    for a in record.assessments:
        case = {"patient": case_patient(row), "assessment": to_data(a.assessment), "preferences": {}}
        s = a.scores
        arow = Assessment(
            clinic_id=row.clinic_id, patient_id=row.id, date=a.assessment.date, input=case,
            scores=to_data(s), goodman_baron_quantitative=s.goodman_baron_quantitative,
            ecca=s.ecca, goodman_baron_qualitative=s.goodman_baron_qualitative, severity=s.severity,
            knowledge_version=record.plan.plan.knowledge_version if record.plan else ctx.kb.label,
            created_by=ctx.actor.user_id, created_at=now,
        )  # fmt: skip
        ctx.db.add(arow)
        ctx.db.flush()
        ids[a.id] = arow.id
        audit.record(ctx, "create", "assessment", arow.id, patient_id=row.id, detail="import:fhir")
    if record.plan is not None:
        require(ctx.actor, "plan.create")
        pr = record.plan
        aid = ids.get(pr.assessment_id or "")
        if aid is None:
            raise Invalid("CarePlan.supportingInfo", "the plan must point to an assessment in the Bundle")
        approved = pr.status == "approved"
        if approved:
            require(ctx.actor, "plan.approve")
        prow = Plan(
            clinic_id=row.clinic_id, patient_id=row.id, assessment_id=aid, proposal=to_data(pr.plan),
            preferences={}, overrides=[], knowledge_version=pr.plan.knowledge_version, status=pr.status,
            created_by=ctx.actor.user_id, created_at=now, approved_by=ctx.actor.user_id if approved else None,
            approved_at=now if approved else None,
        )  # fmt: skip
        ctx.db.add(prow)
        ctx.db.flush()
        audit.record(ctx, "create", "plan", prow.id, patient_id=row.id, detail="import:fhir")
        for cs in record.course_sessions():
            ctx.db.add(
                CourseSession(
                    clinic_id=row.clinic_id, patient_id=row.id, plan_id=prow.id, treatment=cs.treatment,
                    number=cs.number, date=cs.date, status=cs.status, sequence=0,
                )
            )  # fmt: skip
    audit.record(ctx, "create", "patient", row.id, patient_id=row.id, detail="import:fhir")
    ctx.db.commit()
    return row.id


# --- de-identified outcomes ------------------------------------------------------------------

OUTCOME_COLUMNS = (
    "subject", "assessment_date", "days_from_first_assessment", "phototype", "sex",
    "goodman_baron_quantitative", "ecca", "goodman_baron_qualitative", "severity",
    "treatments_planned", "sessions_done", "knowledge_version",
)  # fmt: skip


# The clinic's admins audit results and clinicians review their own; patients and front desk never
# see clinic-wide data. Kept beside the export until the service's policy table names it.
OUTCOMES_ROLES = frozenset({"admin", "clinician"})


def _shift_days(secret: bytes, patient_id: int) -> int:
    """A per-patient shift of 1..180 days either way (never 0, which would publish the real dates),
    fixed for one export and unguessable without the secret."""
    digest = hmac.new(secret, f"shift:{patient_id}".encode(), hashlib.sha256).digest()
    n = int.from_bytes(digest[:4], "big") % 360
    return n - 180 if n < 180 else n - 179


def _subject(secret: bytes, patient_id: int) -> str:
    return hmac.new(secret, f"subject:{patient_id}".encode(), hashlib.sha256).hexdigest()[:12]


def outcomes_rows(ctx: Context, secret: bytes | None = None) -> list[dict[str, Any]]:
    """One row per assessment of the actor's clinic; no names, contacts, birth dates or real dates."""
    if ctx.actor.role not in OUTCOMES_ROLES:
        raise Forbidden("role", f"the role {ctx.actor.role!r} may not export the clinic's outcomes")
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
    first: dict[int, Any] = {}
    out = []
    for a in rows:
        p = people.get(a.patient_id)
        if p is None:  # pragma: no cover - foreign key
            continue
        first.setdefault(p.id, a.date)
        sessions = by_plan.get(newest_plan.get(a.id, -1), [])
        out.append(
            {
                "subject": _subject(secret, p.id),
                "assessment_date": (a.date + timedelta(days=_shift_days(secret, p.id))).isoformat(),
                "days_from_first_assessment": (a.date - first[p.id]).days,
                "phototype": p.phototype or "",
                "sex": p.sex or "",
                "goodman_baron_quantitative": a.goodman_baron_quantitative,
                "ecca": a.ecca,
                "goodman_baron_qualitative": "" if a.goodman_baron_qualitative is None else a.goodman_baron_qualitative,
                "severity": a.severity or "",
                "treatments_planned": ";".join(sorted({s.treatment for s in sessions})),
                "sessions_done": sum(1 for s in sessions if s.status == "done"),
                "knowledge_version": a.knowledge_version,
            }
        )
    audit.record(ctx, "export", "outcomes", None, detail=f"rows:{len(out)}")
    ctx.db.commit()
    return out


def outcomes_csv(ctx: Context, secret: bytes | None = None) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=OUTCOME_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(outcomes_rows(ctx, secret))
    return buf.getvalue()


# --- CLI entry points: the operator acts as the clinic's system account -------------------------


def _cli_context(clinic_id: int | None, knowledge_dir: str | None) -> Context:
    from cicatrix.cli.io import fail, knowledge
    from cicatrix.service.context import Actor
    from cicatrix.storage.db import Database
    from cicatrix.storage.models import Clinic
    from cicatrix.storage.settings import Settings

    db = Database(Settings.from_env()).session()
    clinics = db.scalars(select(Clinic).order_by(Clinic.id)).all()
    if clinic_id is None:
        if len(clinics) != 1:
            fail(f"--clinic-id: is required when the database has {len(clinics)} clinics")
        clinic_id = clinics[0].id
    elif clinic_id not in {c.id for c in clinics}:
        fail(f"--clinic-id: no clinic {clinic_id}")
    from cicatrix.storage.models import User

    # The command line acts as the clinic's first active clinician, so records have an author.
    user = db.scalar(
        select(User).where(User.clinic_id == clinic_id, User.role == "clinician", User.active).order_by(User.id)
    )
    if user is None:
        fail("clinic: has no active clinician account to act as (cicatrix user create --role clinician)")
    actor = Actor(user_id=user.id, clinic_id=clinic_id, role="clinician", via="cli")
    return Context(db=db, actor=actor, kb=knowledge(knowledge_dir))


def load_record_cli(patient_id: str, knowledge_dir: str | None) -> PatientRecord:
    from cicatrix.cli.io import fail
    from cicatrix.storage.models import Patient as Row

    if not patient_id.isdigit():
        fail(f"patient: {patient_id!r} is neither a readable CASE.json nor a stored patient id")
    from cicatrix.storage.db import Database
    from cicatrix.storage.settings import Settings

    with Database(Settings.from_env()).session() as db:
        row = db.get(Row, int(patient_id))
        clinic = row.clinic_id if row else None
    if clinic is None:
        fail(f"patient: no stored patient {patient_id}")
    ctx = _cli_context(clinic, knowledge_dir)
    try:
        return load_record(ctx, int(patient_id))[0]
    except NotFound:
        fail(f"patient: no stored patient {patient_id}")


def outcomes_csv_cli(seed: str | None) -> str:
    ctx = _cli_context(None, None)
    return outcomes_csv(ctx, seed.encode() if seed else None)


def import_fhir_cli(data: Any, clinic_id: int | None, knowledge_dir: str | None) -> int:
    from cicatrix.cli.io import fail
    from cicatrix.exports.errors import ExportError
    from cicatrix.exports.fhir import record_from_fhir
    from cicatrix.service.errors import ServiceError

    try:
        record = record_from_fhir(data)
    except ExportError as exc:
        fail(str(exc))
    ctx = _cli_context(clinic_id, knowledge_dir)
    try:
        return import_record(ctx, record)
    except ServiceError as exc:
        ctx.db.rollback()
        fail(f"{exc.field}: {exc.message}" if exc.field else str(exc.message))
