"""Patient records: create, read, update, archive, search."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from cicatrix.engine.case import CaseError, coded_terms
from cicatrix.engine.terms import FIELDS
from cicatrix.knowledge.models import TermKind
from cicatrix.service import audit
from cicatrix.service.context import Actor, Context
from cicatrix.service.errors import Conflict, Forbidden, Invalid, NotFound
from cicatrix.service.policy import allowed, may_see_field, require, require_patient_access, visible
from cicatrix.service.schemas import (
    PatientClinical,
    PatientIn,
    PatientOut,
    PatientPage,
    PatientUpdate,
)
from cicatrix.storage.db import utcnow
from cicatrix.storage.models import Patient, User


def load(ctx: Context, patient_id: int, permission: str) -> Patient:
    """Fetch a patient of the actor's clinic that the actor may see, or raise 404/403."""
    require_patient_access(ctx.actor, permission, patient_id)
    p = ctx.db.get(Patient, patient_id)
    if p is None or p.clinic_id != ctx.actor.clinic_id:
        raise NotFound("patient_id", "no such patient")
    return p


def reachable_by_link(db: Session, patient_id: int) -> Patient | None:
    """The patient a link without a login (a calendar subscription, a check-in) may still act
    for, or None: a link stops with the patient, archived or their own login disabled by the clinic."""
    patient = db.get(Patient, patient_id)
    if patient is None or patient.archived:
        return None
    disabled = db.scalar(select(User.id).where(User.patient_id == patient_id, User.active.is_(False)).limit(1))
    return None if disabled is not None else patient


def clinical_of(p: Patient, actor: Actor) -> PatientClinical:
    """The clinical block as the actor's role may see it (`policy.FIELDS_SEEN`)."""
    return PatientClinical(
        phototype=p.phototype,  # type: ignore[arg-type]
        pregnant=p.pregnant,
        breastfeeding=p.breastfeeding,
        isotretinoin_last_dose=p.isotretinoin_last_dose,
        history=list(p.history or []),
        medications=list(p.medications or []),
        recent_sunburn=p.recent_sunburn,
        notes=visible(actor, "patient.clinical.notes", p.notes),
    )


def out(ctx: Context, p: Patient) -> PatientOut:
    return PatientOut(
        id=p.id,
        name=p.name,
        mrn=p.mrn,
        birth_date=p.birth_date,
        sex=p.sex,
        phone=p.phone,
        email=p.email,
        archived=p.archived,
        version=p.version,
        created_at=p.created_at,
        updated_at=p.updated_at,
        clinical=clinical_of(p, ctx.actor) if may_see_field(ctx.actor, "patient.clinical") else None,
    )


ISOTRETINOIN_AHEAD = timedelta(days=366)


def _check_dates(ctx: Context, birth_date: object, iso: object) -> None:
    if birth_date is not None and birth_date > ctx.today:  # type: ignore[operator]
        raise Invalid("birth_date", "is in the future", value=str(birth_date))
    # a patient still on isotretinoin is recorded with the planned last dose of the course, which
    # may lie ahead (the wait is measured from it); a year ahead is beyond any course
    if iso is not None and iso > ctx.today + ISOTRETINOIN_AHEAD:  # type: ignore[operator]
        raise Invalid(
            "clinical.isotretinoin_last_dose",
            "is more than a year ahead; for a course in progress record its planned last dose",
            value=str(iso),
        )


def checked_terms(ctx: Context, kind: TermKind, terms: list[str], field: str) -> list[str]:
    """Terms as recorded (trimmed, each once), refused with a 422 naming `field[i]` when the
    vocabulary does not know one (see engine.case.coded_terms). The record keeps what the
    clinician typed (warfarin, not only 'anticoagulant'); the engine reads the codes."""
    try:
        coded_terms(kind, terms, ctx.kb, field)
    except CaseError as exc:
        raise Invalid(exc.field, exc.message, value=exc.value) from None
    return list(dict.fromkeys(t.strip() for t in terms))


def create(ctx: Context, data: PatientIn) -> PatientOut:
    require(ctx.actor, "patient.create")
    if data.clinical is not None and not allowed(ctx.actor, "patient.clinical.update"):
        raise Forbidden("clinical", "your role may not record clinical data")
    clinical = data.clinical or PatientClinical()
    _check_dates(ctx, data.birth_date, clinical.isotretinoin_last_dose)
    history = checked_terms(ctx, "history", clinical.history, "clinical.history")
    medications = checked_terms(ctx, "medication", clinical.medications, "clinical.medications")
    now = utcnow()
    p = Patient(
        clinic_id=ctx.actor.clinic_id,
        name=data.name,
        name_key=data.name.lower(),
        mrn=data.mrn,
        birth_date=data.birth_date,
        sex=data.sex,
        phone=data.phone,
        email=data.email,
        phototype=clinical.phototype.value if clinical.phototype else None,
        pregnant=clinical.pregnant,
        breastfeeding=clinical.breastfeeding,
        isotretinoin_last_dose=clinical.isotretinoin_last_dose,
        history=history,
        medications=medications,
        recent_sunburn=clinical.recent_sunburn,
        notes=clinical.notes,
        archived=False,
        created_at=now,
        updated_at=now,
    )
    ctx.db.add(p)
    ctx.db.flush()
    audit.record(ctx, "create", "patient", p.id, patient_id=p.id)
    return out(ctx, p)


def get(ctx: Context, patient_id: int) -> PatientOut:
    p = load(ctx, patient_id, "patient.read")
    audit.record(ctx, "read", "patient", p.id, patient_id=p.id)
    result = out(ctx, p)
    return result


def update(ctx: Context, patient_id: int, data: PatientUpdate, if_match: int | None = None) -> PatientOut:
    p = load(ctx, patient_id, "patient.update")
    expected = if_match if if_match is not None else data.version
    if p.version != expected:
        raise Conflict(
            "version",
            "the record changed since you read it; reload and apply your change again",
            current_version=p.version,
        )
    fields = data.model_dump(exclude_unset=True, exclude={"version", "clinical"})
    if data.clinical is not None:
        if not allowed(ctx.actor, "patient.clinical.update"):
            raise Forbidden("clinical", "your role may not change clinical data")
        clin = data.clinical.model_dump(exclude_unset=True)
        if "phototype" in clin and clin["phototype"] is not None:
            clin["phototype"] = str(clin["phototype"])
        for kind, k in FIELDS.items():
            if k in clin:
                clin[k] = checked_terms(ctx, kind, clin[k] or [], f"clinical.{k}")
        for k in ("pregnant", "breastfeeding", "recent_sunburn"):
            if k in clin and clin[k] is None:
                raise Invalid(f"clinical.{k}", "must be true or false")
        fields.update(clin)
    if "name" in fields and fields["name"] is None:
        raise Invalid("name", "cannot be removed")
    _check_dates(ctx, fields.get("birth_date"), fields.get("isotretinoin_last_dose"))
    for k, v in fields.items():
        setattr(p, k, v)
    if "name" in fields:
        p.name_key = p.name.lower()
    p.updated_at = utcnow()
    audit.record(ctx, "update", "patient", p.id, patient_id=p.id)
    try:
        ctx.db.flush()
    except StaleDataError:  # the unit of work rolls back
        raise Conflict("version", "the record changed since you read it; reload") from None
    result = out(ctx, p)
    return result


def set_archived(ctx: Context, patient_id: int, archived: bool = True) -> PatientOut:
    p = load(ctx, patient_id, "patient.archive")
    p.archived = archived
    p.updated_at = utcnow()
    audit.record(ctx, "archive" if archived else "unarchive", "patient", p.id, patient_id=p.id)
    ctx.db.flush()
    result = out(ctx, p)
    return result


def search(
    ctx: Context,
    q: str | None = None,
    limit: int = 50,
    offset: int = 0,
    include_archived: bool = False,
) -> PatientPage:
    """List a clinic's patients by name, optionally filtered by a name fragment or record number."""
    require(ctx.actor, "patient.list")
    if not 1 <= limit <= 200:
        raise Invalid("limit", "must be between 1 and 200", value=limit)
    if offset < 0:
        raise Invalid("offset", "must be 0 or more", value=offset)
    where = [Patient.clinic_id == ctx.actor.clinic_id]
    if not include_archived:
        where.append(Patient.archived.is_(False))
    if q and q.strip():
        frag = q.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append(or_(Patient.name_key.like(f"%{frag}%", escape="\\"), Patient.mrn == q.strip()))
    total = ctx.db.scalar(select(func.count()).select_from(Patient).where(*where)) or 0
    rows = ctx.db.scalars(
        select(Patient).where(*where).order_by(Patient.name_key, Patient.id).limit(limit).offset(offset)
    ).all()
    for p in rows:  # a list shows names: each record shown is a read
        audit.record(ctx, "list", "patient", p.id, patient_id=p.id)
    items = [out(ctx, p) for p in rows]
    return PatientPage(items=items, total=total, limit=limit, offset=offset)
