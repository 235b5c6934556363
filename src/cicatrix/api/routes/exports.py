"""Export routes: FHIR Bundle and import, iCalendar (signed-in and private subscription), PDF handout,
de-identified outcomes CSV.

Every route reads through the service layer (`service.records`: authorisation, the current
plan, the audit trail) in one unit of work, then formats with `cicatrix.exports`; the
subscription URL is authorised by its revocable secret instead of a login.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Body, Request, Response
from starlette.concurrency import run_in_threadpool

from cicatrix.api.deps import Call
from cicatrix.credentials import client_ip
from cicatrix.exports.errors import ExportError
from cicatrix.exports.fhir import bundle_json, record_from_fhir, record_to_bundle
from cicatrix.exports.ics import CalendarOptions, calendar_bytes, calendar_etag, plain_names
from cicatrix.exports.outcomes import outcomes_csv as format_outcomes
from cicatrix.exports.pdf import HandoutOptions, render_pdf
from cicatrix.params import Id
from cicatrix.service import calendar, imports, records, unit_of_work
from cicatrix.service.context import Context
from cicatrix.service.errors import Invalid, NotFound
from cicatrix.service.policy import require

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from cicatrix.knowledge.models import KnowledgeBase

router = APIRouter(tags=["exports"])

ICS = "text/calendar; charset=utf-8"


def _ics(source: records.CalendarSource, kb: KnowledgeBase) -> bytes:
    opts = CalendarOptions(
        tz=source.timezone,
        clinic_name=source.clinic_name,
        location=source.location,
        sequences=source.sequences,
        names=plain_names(kb),
    )
    try:
        return calendar_bytes(source.plan, source.record_id, opts)
    except ExportError as exc:
        raise Invalid(f"clinic.{exc.field}", exc.message) from None


@router.get("/patients/{patient_id}/fhir", summary="The patient's record as a FHIR R4B Bundle")
async def patient_fhir(patient_id: Id, request: Request, call: Call) -> Response:
    record = await call(records.load_record, patient_id, "fhir")
    # Building the Bundle is pure and takes a while: a worker thread, not the event loop.
    now = request.app.state.clock()
    kb = request.app.state.kb
    body = await run_in_threadpool(lambda: bundle_json(record_to_bundle(record, now, kb)))
    return Response(body, media_type="application/fhir+json")


_IMPORT_BODY = Body(
    ...,
    description=(
        "A FHIR Patient or a cicatrix Bundle; or, to import a plan that schedules a treatment "
        'excluded for this patient, {"resource": <the Patient or Bundle>, "overrides": '
        '[{"treatment": ..., "reason": ...}]}. The plan is stored proposed, screened again.'
    ),
)


@router.post(
    "/patients/import/fhir",
    status_code=201,
    summary="Create a patient from a FHIR Patient (or a whole record, its plan proposed, from a cicatrix Bundle)",
)
async def import_fhir(request: Request, call: Call, body: Any = _IMPORT_BODY) -> dict[str, Any]:
    def may_import(ctx: Context) -> None:
        require(ctx.actor, "record.import")

    # The role first, then the Bundle is read outside any transaction (a Bundle at the entry
    # limit takes about half a second, which must not hold SQLite's write lock), then stored.
    await call(may_import)
    resource, overrides = imports.read_request(body)
    skipped: dict[str, int] = {}  # what another system's Bundle held that cicatrix does not use
    try:
        record = await run_in_threadpool(
            lambda: record_from_fhir(
                resource, max_entries=request.app.state.settings.fhir_max_entries, skipped=skipped
            )
        )
    except ExportError as exc:
        raise Invalid(exc.field, exc.message) from None
    new_id = await call(imports.import_record, record, overrides)  # all or nothing
    return {"id": new_id, "skipped": skipped}


@router.get("/patients/{patient_id}/calendar.ics", summary="The patient's plan as an iCalendar file")
async def patient_calendar(patient_id: Id, request: Request, call: Call) -> Response:
    return Response(_ics(await call(records.calendar_source, patient_id), request.app.state.kb), media_type=ICS)


@router.get(
    "/calendar/{token}.ics",
    summary="Private calendar subscription (the secret link from /patients/{id}/calendar-tokens)",
)
async def calendar_subscription(token: str, request: Request) -> Response:
    state = request.app.state
    ip = client_ip(request)
    now = state.clock()

    def work(db: Session) -> records.CalendarSource:
        actor = calendar.resolve(db, token, ip)  # the link acts as its patient
        if actor is None or actor.patient_id is None:
            raise NotFound("token", "no such calendar link, or it was revoked")
        return records.calendar_source(unit_of_work.context(db, actor, state.kb, now, ip), actor.patient_id)

    body = _ics(await state.db.run(work), state.kb)
    # Calendar apps poll this feed; a matching If-None-Match costs them no download. "private,
    # no-cache": only the patient's own client may keep a copy, and must revalidate before using it.
    headers = {"ETag": calendar_etag(body), "Cache-Control": "private, no-cache"}
    if headers["ETag"] in {t.strip() for t in request.headers.get("if-none-match", "").split(",")}:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=ICS, headers=headers)


@router.get("/patients/{patient_id}/handout.pdf", summary="The patient's printable handout (PDF)")
async def patient_handout(patient_id: Id, request: Request, call: Call) -> Response:
    source = await call(records.handout_source, patient_id)
    opts = HandoutOptions(
        clinic_name=source.clinic_name,
        patient_name=source.patient_name,
        clinic_phone=source.clinic_phone,
        clinic_address=source.clinic_address,
    )
    # Laying out the PDF is pure and takes long: a worker thread, not the event loop.
    pdf = await run_in_threadpool(render_pdf, source.plan, opts, request.app.state.kb)
    return Response(pdf, media_type="application/pdf")


@router.get(
    "/exports/outcomes.csv",
    summary="De-identified outcomes of the clinic, one row per assessment (admins and clinicians)",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
async def outcomes_csv(call: Call) -> Response:
    # Each download gets fresh pseudonyms and date shifts: exports cannot be linked to each other.
    rows = await call(records.outcomes_rows)
    return Response(
        format_outcomes(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="outcomes.csv"', "Cache-Control": "no-store"},
    )
