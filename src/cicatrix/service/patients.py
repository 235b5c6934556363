"""Patient records: create, read, update, archive, search."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from cicatrix.engine.case import CaseError, coded_terms
from cicatrix.engine.terms import FIELDS
from cicatrix.knowledge.models import TermKind
from cicatrix.service import audit, contact, outbox
from cicatrix.service.context import Actor, Context
from cicatrix.service.errors import Conflict, Forbidden, Invalid, NotFound
from cicatrix.service.policy import allowed, may_see_field, require, require_patient_access, visible
from cicatrix.service.schemas import (
    PatientClinical,
    PatientIn,
    PatientOut,
    PatientPage,
    PatientPick,
    PatientUpdate,
)
from cicatrix.storage.db import utcnow
from cicatrix.storage.keys import fold, name_key
from cicatrix.storage.models import Clinic, Patient, User


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


def region(ctx: Context) -> str | None:
    """The actor's clinic's country, for reading and showing phone numbers (`contact.clinic_region`)."""
    return contact.clinic_region(ctx.db.get(Clinic, ctx.actor.clinic_id))


def out(ctx: Context, p: Patient, region_code: str | None = None) -> PatientOut:
    return PatientOut(
        id=p.id,
        name=p.name,
        mrn=p.mrn,
        birth_date=p.birth_date,
        sex=p.sex,
        phone=p.phone,
        phone_display=contact.shown_phone(p.phone, region_code if region_code is not None else region(ctx)),
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


def checked_contact(ctx: Context, fields: dict[str, object], prefix: str = "", strict: bool = True) -> None:
    """Phone (to E.164, read in the clinic's country) and email (syntax) checked in place; an
    empty value clears the field. `prefix` names the fields as the caller's input does.

    Not `strict` (a record imported from another system): a value that cannot be read, and a
    phone without its country code (the other system's country is not known), is kept as that
    system wrote it, like a record stored before these checks, rather than refusing the whole
    record over a contact detail; it is checked when someone next edits it."""
    for key in ("phone", "email"):
        if key not in fields:
            continue
        value = fields[key]
        if value is None or not str(value).strip():
            fields[key] = None
            continue
        text = str(value).strip()
        if key == "phone" and not strict and not text.startswith(("+", "00")):
            fields[key] = text
            continue
        try:
            if key == "phone":
                fields[key] = contact.phone_e164(text, region(ctx), f"{prefix}phone")
            else:
                fields[key] = contact.checked_email(text, f"{prefix}email")
        except Invalid:
            if strict:
                raise
            fields[key] = text


def refuse_taken_mrn(ctx: Context, mrn: str | None, patient_id: int | None = None, field: str = "mrn") -> None:
    """A record number names one patient of the clinic: 409 when another patient has it. The
    database holds the same rule (`uq_patient_clinic_mrn`) for two saves at the same moment."""
    if mrn is None:
        return
    other = ctx.db.scalar(
        select(Patient.id).where(
            Patient.clinic_id == ctx.actor.clinic_id, Patient.mrn == mrn, Patient.id != (patient_id or 0)
        )
    )
    if other is not None:
        raise Conflict(
            field,
            f"record number {mrn!r} is already used by another patient of this clinic; search for it, "
            "or give this patient another number",
            patient_id=other,
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
    reach: dict[str, object] = {"phone": data.phone, "email": data.email}
    checked_contact(ctx, reach)
    refuse_taken_mrn(ctx, data.mrn)
    now = utcnow()
    p = Patient(
        clinic_id=ctx.actor.clinic_id,
        name=data.name,
        name_key=name_key(data.name),
        mrn=data.mrn,
        birth_date=data.birth_date,
        sex=data.sex,
        phone=reach["phone"],
        email=reach["email"],
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
    checked_contact(ctx, fields)
    if fields.get("mrn") is not None:
        refuse_taken_mrn(ctx, fields["mrn"], p.id)
    for k, v in fields.items():
        setattr(p, k, v)
    if "name" in fields:
        p.name_key = name_key(p.name)
    p.updated_at = utcnow()
    audit.record(ctx, "update", "patient", p.id, patient_id=p.id)
    try:
        ctx.db.flush()
    except StaleDataError:  # the unit of work rolls back
        raise Conflict("version", "the record changed since you read it; reload") from None
    outbox.refresh(ctx.db, ctx.kb, p.id, ctx.now)  # a new address may change the default channel
    result = out(ctx, p)
    return result


def set_archived(ctx: Context, patient_id: int, archived: bool = True) -> PatientOut:
    p = load(ctx, patient_id, "patient.archive")
    p.archived = archived
    p.updated_at = utcnow()
    audit.record(ctx, "archive" if archived else "unarchive", "patient", p.id, patient_id=p.id)
    ctx.db.flush()
    outbox.refresh(ctx.db, ctx.kb, p.id, ctx.now)  # an archived patient is sent nothing more
    result = out(ctx, p)
    return result


def _matches(q: str) -> ColumnElement[bool]:
    """A name fragment or a record number (the one search every list uses): accent- and
    case-insensitive on both back ends through the folded key (storage.keys), and the record
    number as typed in any case."""
    frag = fold(q).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return or_(Patient.name_key.like(f"%{frag}%", escape="\\"), func.upper(Patient.mrn) == q.strip().upper())


def link_candidates(ctx: Context, q: str, limit: int = 20) -> list[PatientPick]:
    """Patients an admin may link a login to, found by name or record number: the name, the
    record number and the birth date, nothing clinical (admins read no patient records).
    Each shown is audited as a read."""
    require(ctx.actor, "user.manage")
    if not q.strip():
        return []
    rows = ctx.db.scalars(
        select(Patient)
        .where(Patient.clinic_id == ctx.actor.clinic_id, Patient.archived.is_(False), _matches(q))
        .order_by(Patient.name_key, Patient.id)
        .limit(limit)
    ).all()
    for p in rows:
        audit.record(ctx, "list", "patient", p.id, patient_id=p.id, detail="login link search")
    return [PatientPick(id=p.id, name=p.name, mrn=p.mrn, birth_date=p.birth_date) for p in rows]


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
    if q and fold(q):
        where.append(_matches(q))
    total = ctx.db.scalar(select(func.count()).select_from(Patient).where(*where)) or 0
    rows = ctx.db.scalars(
        select(Patient).where(*where).order_by(Patient.name_key, Patient.id).limit(limit).offset(offset)
    ).all()
    for p in rows:  # a list shows names: each record shown is a read
        audit.record(ctx, "list", "patient", p.id, patient_id=p.id)
    where_from = region(ctx)
    items = [out(ctx, p, where_from) for p in rows]
    return PatientPage(items=items, total=total, limit=limit, offset=offset)
