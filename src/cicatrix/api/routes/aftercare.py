"""Check-in answers and adverse events: what a patient reported after a session, and what a
clinician recorded. The one-tap check-in page itself is a web page (`/c/{token}`, no login)."""

from __future__ import annotations

from fastapi import APIRouter

from cicatrix.api.deps import Call
from cicatrix.params import Id
from cicatrix.service import adverse_events, checkins
from cicatrix.service.schemas import (
    AcknowledgeIn,
    AdverseEventIn,
    AdverseEventOut,
    AdverseEventUpdate,
    CheckInOut,
)

router = APIRouter(tags=["aftercare"])


@router.get(
    "/patients/{patient_id}/check-ins",
    response_model=list[CheckInOut],
    summary="The patient's check-in answers, newest first (clinicians; a patient their own)",
)
async def list_check_ins(patient_id: Id, call: Call) -> list[CheckInOut]:
    return await call(checkins.for_patient, patient_id)


@router.post(
    "/check-ins/{check_in_id}/acknowledge",
    response_model=CheckInOut,
    summary="A clinician has seen an answer that needs attention: it leaves the dashboard",
)
async def acknowledge_check_in(check_in_id: Id, body: AcknowledgeIn, call: Call) -> CheckInOut:
    return await call(checkins.acknowledge, check_in_id, body.version)


@router.get(
    "/patients/{patient_id}/adverse-events",
    response_model=list[AdverseEventOut],
    summary="The patient's adverse events (clinicians only)",
)
async def list_adverse_events(patient_id: Id, call: Call) -> list[AdverseEventOut]:
    return await call(adverse_events.for_patient, patient_id)


@router.post(
    "/sessions/{session_id}/adverse-events",
    response_model=AdverseEventOut,
    status_code=201,
    summary="Record an adverse event against a session (kind, severity, outcome from aftercare.yaml)",
)
async def create_adverse_event(session_id: Id, body: AdverseEventIn, call: Call) -> AdverseEventOut:
    return await call(adverse_events.create, session_id, body)


@router.get("/adverse-events/{event_id}", response_model=AdverseEventOut, summary="An adverse event")
async def get_adverse_event(event_id: Id, call: Call) -> AdverseEventOut:
    return await call(adverse_events.get, event_id)


@router.patch(
    "/adverse-events/{event_id}",
    response_model=AdverseEventOut,
    summary="Change an adverse event (e.g. its outcome); send the version you read, stale is 409",
)
async def update_adverse_event(event_id: Id, body: AdverseEventUpdate, call: Call) -> AdverseEventOut:
    return await call(adverse_events.update, event_id, body)
