"""Importing a PatientRecord into the clinic's database (the FHIR import's write path).

The reads that build a PatientRecord for the exports live in `cicatrix.service.records`.
"""

from __future__ import annotations

from sqlalchemy import select

from cicatrix.exports.record import PatientRecord
from cicatrix.knowledge.frozen import to_data
from cicatrix.service import audit, patients
from cicatrix.service.assessments import case_patient
from cicatrix.service.context import Context
from cicatrix.service.errors import Invalid
from cicatrix.service.policy import require
from cicatrix.storage.db import utcnow
from cicatrix.storage.models import Assessment, CourseSession, Patient, Plan


def import_record(ctx: Context, record: PatientRecord) -> int:
    """Create the patient and, when the record carries them, assessments, plan and sessions; one transaction."""
    from cicatrix.exports.fhir import EXT_SCREENING  # loaded already: the record came from a Bundle
    from cicatrix.service.schemas import PatientClinical, PatientIn

    require(ctx.actor, "patient.create")
    p = record.patient
    where = f"Patient.extension({EXT_SCREENING})"  # named as fhir.patient_from_fhir names its errors
    history = patients.checked_terms(ctx, "history", list(p.history), f"{where}.history")
    medications = patients.checked_terms(ctx, "medication", list(p.medications), f"{where}.medications")
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
                history=history,
                medications=medications,
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
        history=history, medications=medications, recent_sunburn=p.recent_sunburn,
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
    return row.id
