"""Export routes: FHIR Bundle and import, iCalendar (signed-in and private subscription), PDF handout,
de-identified outcomes CSV.

Every route goes through the service layer's authorisation (a patient reaches only their own
record) and audit trail; the subscription URL is authorised by its revocable secret instead.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from cicatrix.api.deps import Caller, caller, client_ip, db_session
from cicatrix.api.params import Id
from cicatrix.service.context import Actor, Context
from cicatrix.service.errors import Invalid, NotFound

router = APIRouter(tags=["exports"])

ICS = "text/calendar; charset=utf-8"


def _clinic(ctx: Context) -> tuple[str, str]:
    from cicatrix.storage.models import Clinic

    c = ctx.db.get(Clinic, ctx.actor.clinic_id)
    # One line, whatever an older version stored: a line break in the name broke every calendar.
    return (" ".join(c.name.split()), c.timezone) if c else ("Your clinic", "UTC")


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
async def patient_fhir(patient_id: Id, call: Caller = Depends(caller)) -> Response:
    from cicatrix.exports.fhir import bundle_json, record_to_bundle
    from cicatrix.exports.storage import load_record

    record, _row = await call(load_record, patient_id, "fhir")
    # Building the Bundle is pure and takes a while: a worker thread, not the event loop.
    body = await run_in_threadpool(lambda: bundle_json(record_to_bundle(record)))
    return Response(body, media_type="application/fhir+json")


@router.post(
    "/patients/import/fhir",
    status_code=201,
    summary="Create a patient from a FHIR Patient (or a whole record from a cicatrix Bundle)",
)
async def import_fhir(body: Any = Body(...), call: Caller = Depends(caller)) -> dict[str, int]:
    from cicatrix.exports.errors import ExportError
    from cicatrix.exports.fhir import record_from_fhir
    from cicatrix.exports.storage import import_record

    def work(ctx: Context) -> dict[str, int]:
        try:
            record = record_from_fhir(body)
        except ExportError as exc:
            raise Invalid(exc.field, exc.message) from None
        return {"id": import_record(ctx, record)}  # all or nothing: the unit of work rolls back

    return await call(work)


@router.get("/patients/{patient_id}/calendar.ics", summary="The patient's plan as an iCalendar file")
async def patient_calendar(patient_id: Id, call: Caller = Depends(caller)) -> Response:
    return Response(await call(_calendar, patient_id), media_type=ICS)


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
async def patient_handout(patient_id: Id, request: Request, call: Caller = Depends(caller)) -> Response:
    from cicatrix.exports.pdf import HandoutOptions, render_pdf
    from cicatrix.exports.storage import load_record

    def work(ctx: Context) -> tuple[Any, HandoutOptions]:
        record, row = load_record(ctx, patient_id, "pdf")
        if record.plan is None:
            raise NotFound("plan", "this patient has no plan yet")
        name, _tz = _clinic(ctx)
        return record.plan.plan, HandoutOptions(clinic_name=name, patient_name=row.name)

    plan, opts = await call(work)
    # Laying out the PDF is pure and takes long: a worker thread, not the event loop.
    pdf = await run_in_threadpool(render_pdf, plan, opts, request.app.state.kb)
    return Response(pdf, media_type="application/pdf")


@router.get(
    "/exports/outcomes.csv",
    summary="De-identified outcomes of the clinic, one row per assessment (admins and clinicians)",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
async def outcomes_csv(call: Caller = Depends(caller)) -> Response:
    # Each download gets fresh pseudonyms and date shifts: exports cannot be linked to each other.
    from cicatrix.exports.storage import outcomes_csv as build

    return Response(
        await call(build),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="outcomes.csv"', "Cache-Control": "no-store"},
    )
