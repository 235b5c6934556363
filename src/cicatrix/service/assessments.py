"""Assessments: the engine scores them; the full input is kept so any plan can be re-derived."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from cicatrix.engine.case import Case, CaseError, parse_case
from cicatrix.engine.result import Scores
from cicatrix.engine.scores import score_assessment
from cicatrix.knowledge.frozen import to_data
from cicatrix.service import audit, patients
from cicatrix.service.context import Context
from cicatrix.service.errors import Invalid, NotFound, jsonable
from cicatrix.service.policy import may_see_field, require_patient_access
from cicatrix.service.schemas import AssessmentIn, AssessmentOut, AssessmentPage
from cicatrix.storage.db import utcnow
from cicatrix.storage.models import Assessment, Patient

# Case `patient` fields a request may set for this one assessment.
_CASE_PATIENT = {
    "sex",
    "phototype",
    "pregnant",
    "breastfeeding",
    "isotretinoin_last_dose",
    "history",
    "medications",
    "recent_sunburn",
}


def case_patient(p: Patient) -> dict[str, Any]:
    """The engine's view of a patient: clinical facts only, no name, contact or record number."""
    data: dict[str, Any] = {
        "id": f"patient-{p.id}",
        "phototype": p.phototype,
        "pregnant": p.pregnant,
        "breastfeeding": p.breastfeeding,
        "history": list(p.history or []),
        "medications": list(p.medications or []),
        "recent_sunburn": p.recent_sunburn,
    }
    if p.sex:
        data["sex"] = p.sex
    if p.birth_date:
        data["birth_date"] = p.birth_date.isoformat()
    if p.isotretinoin_last_dose:
        data["isotretinoin_last_dose"] = p.isotretinoin_last_dose.isoformat()
    return data


def parse(ctx: Context, data: dict[str, Any]) -> Case:
    try:
        return parse_case(data, ctx.kb)
    except CaseError as exc:
        raise Invalid(exc.field, exc.message, value=jsonable(exc.as_dict()["value"])) from None


def out(ctx: Context, a: Assessment) -> AssessmentOut:
    """The assessment as the actor's role may see it: the clinician's `notes` only for
    clinicians (`policy.FIELDS_SEEN`)."""
    result = AssessmentOut.model_validate(a, from_attributes=True)
    seen = result.input.get("assessment")
    if isinstance(seen, dict) and seen.get("notes") is not None and not may_see_field(ctx.actor, "assessment.notes"):
        return result.model_copy(update={"input": {**result.input, "assessment": {**seen, "notes": None}}})
    return result


def build_case(ctx: Context, p: Patient, body: AssessmentIn) -> tuple[dict[str, Any], Case]:
    patient = case_patient(p)
    for k, v in (body.patient or {}).items():
        if k not in _CASE_PATIENT:
            raise Invalid(f"patient.{k}", "is not a field that can be set per assessment")
        patient[k] = v
    if patient.get("phototype") is None:  # e.g. a patient imported from a system that has none
        raise Invalid(
            "patient.phototype",
            "the patient's Fitzpatrick phototype is not recorded yet; record it (clinical.phototype) first: "
            "screening and planning depend on it",
        )
    data = {"patient": patient, "assessment": body.assessment, "preferences": body.preferences or {}}
    case = parse(ctx, data)
    if case.assessment.date > ctx.today:
        raise Invalid("assessment.date", "is in the future", value=case.assessment.date.isoformat())
    if not records_findings(case):
        raise Invalid(
            "assessment.scars",
            "the assessment records no scars, marks or active lesions: record what was seen "
            "(a count above 0) before saving it",
        )
    return data, case


def records_findings(case: Case) -> bool:
    """Whether the assessment saw anything: an all-blank form produced a plan for nothing
    (issue 14 §4). A broad area recorded by its size alone counts."""
    a = case.assessment
    return any(e.count > 0 for e in (*a.scars, *a.marks, *a.active_lesions)) or any(
        (s.area_cm2 or 0) > 0 for s in a.scars
    )


def add(ctx: Context, patient_id: int, body: AssessmentIn) -> tuple[Assessment, Case]:
    """Score and store an assessment (no commit: the caller may add a plan in the same transaction)."""
    p = patients.load(ctx, patient_id, "assessment.create")
    if p.archived:
        raise Invalid("patient_id", "this patient is archived")
    data, case = build_case(ctx, p, body)
    scores = score_assessment(case.assessment, ctx.kb)
    a = Assessment(
        clinic_id=p.clinic_id,
        patient_id=p.id,
        date=case.assessment.date,
        input=data,
        scores=to_data(scores),
        goodman_baron_quantitative=scores.goodman_baron_quantitative,
        ecca=scores.ecca,
        goodman_baron_qualitative=scores.goodman_baron_qualitative,
        severity=scores.severity,
        knowledge_version=ctx.kb.label,
        created_by=ctx.actor.user_id,
        created_at=utcnow(),
    )
    ctx.db.add(a)
    ctx.db.flush()
    audit.record(ctx, "create", "assessment", a.id, patient_id=p.id)
    return a, case


def load(ctx: Context, assessment_id: int, permission: str) -> Assessment:
    a = ctx.db.get(Assessment, assessment_id)
    if a is None or a.clinic_id != ctx.actor.clinic_id:
        raise NotFound("assessment_id", "no such assessment")
    try:
        require_patient_access(ctx.actor, permission, a.patient_id)
    except NotFound:
        raise NotFound("assessment_id", "no such assessment") from None
    return a


def get(ctx: Context, assessment_id: int) -> AssessmentOut:
    a = load(ctx, assessment_id, "assessment.read")
    audit.record(ctx, "read", "assessment", a.id, patient_id=a.patient_id)
    result = out(ctx, a)
    return result


def history(ctx: Context, patient_id: int, limit: int = 50, offset: int = 0) -> AssessmentPage:
    """A patient's assessments, newest first."""
    p = patients.load(ctx, patient_id, "assessment.read")
    if not 1 <= limit <= 200:
        raise Invalid("limit", "must be between 1 and 200", value=limit)
    if offset < 0:
        raise Invalid("offset", "must be 0 or more", value=offset)
    where = Assessment.patient_id == p.id
    total = ctx.db.scalar(select(func.count()).select_from(Assessment).where(where)) or 0
    rows = ctx.db.scalars(
        select(Assessment)
        .where(where)
        .order_by(Assessment.date.desc(), Assessment.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    audit.record(ctx, "list", "assessment", None, patient_id=p.id, detail=f"results={len(rows)}")
    items = [out(ctx, a) for a in rows]
    return AssessmentPage(items=items, total=total, limit=limit, offset=offset)


def live_scores(ctx: Context, data: dict[str, Any]) -> Scores:
    """The scores of an assessment form as it stands (the live panel while typing); stores
    and audits nothing."""
    return score_assessment(parse(ctx, data).assessment, ctx.kb)
