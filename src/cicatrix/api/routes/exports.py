"""Export routes: FHIR Bundle and import, iCalendar (signed-in and private subscription), PDF handout,
de-identified outcomes CSV.

Every route goes through the service layer's authorisation (a patient reaches only their own
record) and audit trail; the subscription URL is authorised by its revocable secret instead.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Request, Response

from cicatrix.api.deps import client_ip, context, db_session
from cicatrix.service.context import Actor, Context
from cicatrix.service.errors import Invalid, NotFound

router = APIRouter(tags=["exports"])

ICS = "text/calendar; charset=utf-8"


def _clinic(ctx: Context) -> tuple[str, str]:
    from cicatrix.storage.models import Clinic

    c = ctx.db.get(Clinic, ctx.actor.clinic_id)
    return (c.name, c.timezone) if c else ("Your clinic", "UTC")


def _calendar(ctx: Context, patient_id: int) -> bytes:
    from cicatrix.exports.errors import ExportError
    from cicatrix.exports.ics import CalendarOptions, calendar_bytes
    from cicatrix.exports.storage import load_record, session_sequences

    record, _row = load_record(ctx, patient_id, "ics")
    if record.plan is None:
        raise NotFound("plan", "this patient has no plan yet")
    name, tz = _clinic(ctx)
    opts = CalendarOptions(tz=tz, clinic_name=name, sequences=session_sequences(ctx, patient_id))
    try:
        return calendar_bytes(record.plan.plan, record.id, opts)
    except ExportError as exc:
        raise Invalid(f"clinic.{exc.field}", exc.message) from None


@router.get("/patients/{patient_id}/fhir", summary="The patient's record as a FHIR R4B Bundle")
def patient_fhir(patient_id: int, ctx: Context = Depends(context)) -> Response:
    from cicatrix.exports.fhir import bundle_json, record_to_bundle
    from cicatrix.exports.storage import load_record

    record, _row = load_record(ctx, patient_id, "fhir")
    return Response(bundle_json(record_to_bundle(record)), media_type="application/fhir+json")


@router.post(
    "/patients/import/fhir",
    status_code=201,
    summary="Create a patient from a FHIR Patient (or a whole record from a cicatrix Bundle)",
)
def import_fhir(body: Any = Body(...), ctx: Context = Depends(context)) -> dict[str, int]:
    from cicatrix.exports.errors import ExportError
    from cicatrix.exports.fhir import record_from_fhir
    from cicatrix.exports.storage import import_record

    try:
        record = record_from_fhir(body)
    except ExportError as exc:
        raise Invalid(exc.field, exc.message) from None
    try:
        return {"id": import_record(ctx, record)}
    except Exception:
        ctx.db.rollback()
        raise


@router.get("/patients/{patient_id}/calendar.ics", summary="The patient's plan as an iCalendar file")
def patient_calendar(patient_id: int, ctx: Context = Depends(context)) -> Response:
    return Response(_calendar(ctx, patient_id), media_type=ICS)


@router.get(
    "/calendar/{token}.ics",
    summary="Private calendar subscription (the secret link from /patients/{id}/calendar-tokens)",
)
def calendar_subscription(token: str, request: Request, db: Any = Depends(db_session)) -> Response:
    from cicatrix.service import calendar

    found = calendar.resolve(db, token, client_ip(request))
    if found is None:
        raise NotFound("token", "no such calendar link, or it was revoked")
    clinic_id, patient_id = found
    # The link acts as the patient, confined to their own record, with user id 0 in the audit trail.
    actor = Actor(user_id=0, clinic_id=clinic_id, role="patient", patient_id=patient_id, via="calendar")
    ctx = Context(db=db, actor=actor, kb=request.app.state.kb, ip=client_ip(request))
    return Response(_calendar(ctx, patient_id), media_type=ICS)


@router.get("/patients/{patient_id}/handout.pdf", summary="The patient's printable handout (PDF)")
def patient_handout(patient_id: int, ctx: Context = Depends(context)) -> Response:
    from cicatrix.exports.pdf import HandoutOptions, render_pdf
    from cicatrix.exports.storage import load_record

    record, row = load_record(ctx, patient_id, "pdf")
    if record.plan is None:
        raise NotFound("plan", "this patient has no plan yet")
    name, _tz = _clinic(ctx)
    opts = HandoutOptions(clinic_name=name, patient_name=row.name)
    return Response(render_pdf(record.plan.plan, opts, ctx.kb), media_type="application/pdf")


@router.get(
    "/exports/outcomes.csv",
    summary="De-identified outcomes of the clinic, one row per assessment (admins and clinicians)",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
def outcomes_csv(ctx: Context = Depends(context)) -> Response:
    # Each download gets fresh pseudonyms and date shifts: exports cannot be linked to each other.
    from cicatrix.exports.storage import outcomes_csv as build

    return Response(
        build(ctx),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="outcomes.csv"', "Cache-Control": "no-store"},
    )
