"""Import a patient's record (from a FHIR Patient or a cicatrix Bundle) into the clinic.

The exports package parses the FHIR and hands over a `PatientRecord`; this use case decides
what is stored. A record that carries a plan is a plan written into the database, so it goes
through the same gate as a proposal or an edit (`service.screening.screen_plan`): its
treatments are screened again against the imported patient's clinical facts, any excluded
treatment it schedules needs a clinician's override with a reason, and the plan is stored
`proposed`, whatever the Bundle says: only a clinician of this clinic, reviewing it here,
approves it. Everything is one transaction: a refusal stores nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select

from cicatrix.knowledge.frozen import to_data
from cicatrix.service import assessments, audit, patients, plans, screening
from cicatrix.service.assessments import case_patient
from cicatrix.service.context import Context
from cicatrix.service.errors import Invalid
from cicatrix.service.policy import require
from cicatrix.service.schemas import OverrideIn, PatientClinical, PatientIn
from cicatrix.storage.db import utcnow
from cicatrix.storage.keys import name_key
from cicatrix.storage.models import Assessment, CourseSession, Patient, Plan, PlanEdit

if TYPE_CHECKING:  # the exports' record shape; the service reads it, never builds one
    from cicatrix.exports.record import PatientRecord


class ImportIn(BaseModel):
    """The import request when it carries overrides: the FHIR resource and, for each excluded
    treatment the imported plan schedules, the clinician's override and reason."""

    model_config = ConfigDict(extra="forbid")

    resource: dict[str, Any]
    overrides: list[OverrideIn] = Field(default_factory=list, max_length=20)


def read_request(body: Any) -> tuple[Any, list[OverrideIn]]:
    """A bare FHIR resource (no overrides), or `{"resource": ..., "overrides": [...]}`."""
    if not isinstance(body, dict) or "resourceType" in body:
        return body, []
    try:
        req = ImportIn.model_validate(body)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".")
        raise Invalid(where or "body", str(err["msg"])) from None
    return req.resource, req.overrides


def _patient_in(record: PatientRecord) -> PatientIn:
    p = record.patient
    name = (record.name.display if record.name else "") or record.id or _hospital_number(record)
    if not name:
        raise Invalid("Patient.name", "the patient needs a name or a record number")
    clinical = None
    if p is not None:
        clinical = PatientClinical(
            phototype=p.phototype,
            pregnant=p.pregnant,
            breastfeeding=p.breastfeeding,
            isotretinoin_last_dose=p.isotretinoin_last_dose,
            history=list(p.history),
            medications=list(p.medications),
            recent_sunburn=p.recent_sunburn,
        )
    try:
        return PatientIn(
            name=name,
            mrn=record.id or None,
            birth_date=p.birth_date if p else record.birth_date,
            sex=p.sex if p else record.sex,
            phone=record.telecom.phone,
            email=record.telecom.email,
            clinical=clinical or PatientClinical(),
        )
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        raise Invalid(f"Patient.{'.'.join(map(str, err['loc']))}", str(err["msg"])) from None


def _hospital_number(record: PatientRecord) -> str:
    return next((x.value for x in record.identifiers if x.type == "MR"), "")


def _refuse_known_identifiers(ctx: Context, record: PatientRecord) -> None:
    """The same outside identifier (system and value) imported twice is the same patient twice."""
    wanted = {(x.system, x.value) for x in record.identifiers}
    if not wanted:
        return
    rows = ctx.db.execute(
        select(Patient.id, Patient.identifiers).where(
            Patient.clinic_id == ctx.actor.clinic_id, Patient.identifiers.is_not(None)
        )
    )
    for _pid, known in rows:
        for x in known or ():
            if (x.get("system"), x.get("value")) in wanted:
                raise Invalid(
                    "Patient.identifier",
                    f"a patient with identifier {x.get('value')!r} of {x.get('system')} already exists",
                )


def import_record(ctx: Context, record: PatientRecord, overrides: Sequence[OverrideIn] = ()) -> int:
    """Create the patient and, when the record carries them, its assessments, a *proposed* plan
    and its sessions; returns the new patient's id. Clinicians only."""
    require(ctx.actor, "record.import")
    data = _patient_in(record)
    patients.refuse_taken_mrn(ctx, data.mrn, field="Patient.identifier")
    _refuse_known_identifiers(ctx, record)
    if record.plan is None and overrides:
        raise Invalid("overrides", "the record has no plan: there is nothing to override")
    if record.patient is None and (record.assessments or record.plan):
        raise Invalid("Patient.extension", "a record with assessments or a plan needs the patient's phototype")
    p = record.patient
    # named as the Bundle carried them: resources, or an older export's screening extension
    history = patients.checked_terms(ctx, "history", list(p.history), record.history_element) if p else []
    medications = (
        patients.checked_terms(ctx, "medication", list(p.medications), record.medications_element) if p else []
    )
    # The same date checks as a patient created by hand, naming the FHIR elements.
    if data.birth_date is not None and data.birth_date > ctx.today:
        raise Invalid("Patient.birthDate", "is in the future", value=data.birth_date.isoformat())
    iso = p.isotretinoin_last_dose if p is not None else None
    if iso is not None and iso > ctx.today + patients.ISOTRETINOIN_AHEAD:
        raise Invalid(
            "Patient.isotretinoin_last_dose",
            "is more than a year ahead; for a course in progress record its planned last dose",
            value=iso.isoformat(),
        )
    reach: dict[str, object] = {"phone": data.phone, "email": data.email}
    patients.checked_contact(ctx, reach, prefix="Patient.telecom.", strict=False)
    # Everything in one transaction, so nothing is stored half-written.
    now = utcnow()
    row = Patient(
        clinic_id=ctx.actor.clinic_id,
        name=data.name,
        name_key=name_key(data.name),
        mrn=data.mrn,
        birth_date=data.birth_date,
        sex=data.sex,
        phone=reach["phone"],
        email=reach["email"],
        identifiers=[to_data(x) for x in record.identifiers],
        phototype=p.phototype.value if p else None,  # None: "not yet recorded", planning asks for it
        pregnant=p.pregnant if p else False,
        breastfeeding=p.breastfeeding if p else False,
        isotretinoin_last_dose=p.isotretinoin_last_dose if p else None,
        history=history,
        medications=medications,
        recent_sunburn=p.recent_sunburn if p else False,
        archived=False,
        created_at=now,
        updated_at=now,
    )
    ctx.db.add(row)
    ctx.db.flush()
    audit.record(ctx, "create", "patient", row.id, patient_id=row.id, detail="import:fhir")
    ids: dict[str, Assessment] = {}
    for a in record.assessments:
        case = {"patient": case_patient(row), "assessment": to_data(a.assessment), "preferences": {}}
        s = a.scores
        arow = Assessment(
            clinic_id=row.clinic_id,
            patient_id=row.id,
            date=a.assessment.date,
            input=case,
            scores=to_data(s),
            goodman_baron_quantitative=s.goodman_baron_quantitative,
            ecca=s.ecca,
            goodman_baron_qualitative=s.goodman_baron_qualitative,
            severity=s.severity,
            knowledge_version=record.plan.plan.knowledge_version if record.plan else ctx.kb.label,
            created_by=ctx.actor.user_id,
            created_at=now,
        )
        ctx.db.add(arow)
        ctx.db.flush()
        ids[a.id] = arow
        audit.record(ctx, "create", "assessment", arow.id, patient_id=row.id, detail="import:fhir")
    if record.plan is not None:
        _import_plan(ctx, record, row, ids, overrides)
    audit.record(ctx, "import", "patient", row.id, patient_id=row.id, detail="fhir")
    return row.id


def _import_plan(
    ctx: Context, record: PatientRecord, row: Patient, ids: dict[str, Assessment], overrides: Sequence[OverrideIn]
) -> None:
    """Screen the record's plan against the imported patient and store it as a proposal."""
    assert record.plan is not None
    pr = record.plan
    a = ids.get(pr.assessment_id or "")
    if a is None:
        raise Invalid("CarePlan.supportingInfo", "the plan must point to an assessment in the Bundle")
    # The patient's facts as stored (the imported Patient), the plan's assessment: the same case a
    # proposal for this assessment would be screened with.
    case = assessments.parse(ctx, a.input)
    screening.check_overrides(ctx, screening.screen_case(ctx, case), overrides, "overrides")
    sessions = record.course_sessions()
    screening.screen_plan(ctx, case, pr.plan, {o.treatment for o in overrides}, sessions=sessions, field="CarePlan")
    now = utcnow()
    by = ctx.actor.user_id
    ovs = [{"treatment": o.treatment, "reason": o.reason, "by": by, "at": now.isoformat()} for o in overrides]
    prow = Plan(
        clinic_id=row.clinic_id,
        patient_id=row.id,
        assessment_id=a.id,
        proposal=to_data(pr.plan),
        preferences={},
        overrides=ovs,
        knowledge_version=pr.plan.knowledge_version,
        status="proposed",
        created_by=by,
        created_at=now,
    )
    ctx.db.add(prow)
    ctx.db.flush()
    # The Bundle's own status is kept in the plan's history, never as the plan's status.
    source = {"source_status": pr.status, "source_plan_id": pr.id}
    reason = f"imported from FHIR (status there: {pr.status})"
    ctx.db.add(
        PlanEdit(plan_id=prow.id, user_id=by, at=now, kind="import", reason=reason, change=source, from_version=0)
    )
    plans.record_overrides(ctx, prow, overrides, now, from_version=0)
    # Booking order is what tells a missed session from its replacement (their occurrence): keep it.
    for cs in sorted(sessions, key=lambda x: (x.treatment, x.number, x.occurrence)):
        ctx.db.add(
            CourseSession(
                clinic_id=row.clinic_id,
                patient_id=row.id,
                plan_id=prow.id,
                treatment=cs.treatment,
                number=cs.number,
                date=cs.date,
                status=cs.status,
                sequence=cs.sequence,  # how often it was re-dated there: calendars keep counting
            )
        )
    audit.record(ctx, "create", "plan", prow.id, patient_id=row.id, detail="import:fhir")
