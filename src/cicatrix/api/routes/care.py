"""Plans, the course of sessions, the day-by-day timeline, outcomes and calendar links."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response

from cicatrix.api.deps import Call
from cicatrix.api.routes.patients import _if_match, json_response
from cicatrix.params import DateParam, Id
from cicatrix.service import calendar, outcomes, plans, views
from cicatrix.service.booking_schemas import SessionUndoIn
from cicatrix.service.schemas import (
    ApproveIn,
    CalendarTokenOut,
    OutcomeIn,
    OutcomesOut,
    PlanCreate,
    PlanEditIn,
    PlanOut,
    PlanSummary,
    RescheduleOut,
    ScheduleOut,
    SessionDoneIn,
    SessionMissedIn,
    SessionOut,
    TodayOut,
)

router = APIRouter(tags=["care"])


@router.post(
    "/assessments/{assessment_id}/plans",
    response_model=PlanOut,
    status_code=201,
    summary="Propose a plan from an assessment (overrides need a reason)",
)
async def create_plan(assessment_id: Id, body: PlanCreate, call: Call) -> Response:
    return json_response(await call(plans.generate, assessment_id, body), 201)


@router.get("/patients/{patient_id}/plan", response_model=PlanOut, summary="The current plan")
async def current_plan(patient_id: Id, call: Call) -> Response:
    return Response(await call(plans.current_json, patient_id), media_type="application/json")


@router.get("/patients/{patient_id}/plans", response_model=list[PlanSummary], summary="All plans")
async def list_plans(patient_id: Id, call: Call) -> list[PlanSummary]:
    return await call(plans.list_for_patient, patient_id)


@router.get("/plans/{plan_id}", response_model=PlanOut, summary="A plan")
async def get_plan(plan_id: Id, call: Call) -> Response:
    return json_response(await call(plans.get, plan_id))


@router.patch(
    "/plans/{plan_id}",
    response_model=PlanOut,
    summary="Edit a plan with a reason (re-planned by the engine; needs approval again)",
)
async def edit_plan(
    call: Call,
    plan_id: Id,
    body: PlanEditIn,
    if_match: Annotated[str | None, Header(max_length=40)] = None,
) -> Response:
    return json_response(await call(plans.edit, plan_id, body, _if_match(if_match)))


@router.post("/plans/{plan_id}/approve", response_model=PlanOut, summary="Approve (clinicians only)")
async def approve_plan(plan_id: Id, body: ApproveIn, call: Call) -> Response:
    return json_response(await call(plans.approve, plan_id, body.version, body.start))


@router.get(
    "/patients/{patient_id}/sessions",
    response_model=ScheduleOut,
    summary="The course's sessions (schedule; no clinical detail)",
)
async def schedule(patient_id: Id, call: Call) -> ScheduleOut:
    return await call(plans.schedule, patient_id)


@router.post("/sessions/{session_id}/done", response_model=SessionOut, summary="Session given")
async def session_done(session_id: Id, body: SessionDoneIn, call: Call) -> SessionOut:
    return await call(plans.record_done, session_id, body)


@router.post("/sessions/{session_id}/undo", response_model=SessionOut, summary="Undo today's \"done\" (audited)")
async def session_undo(session_id: Id, body: SessionUndoIn, call: Call) -> SessionOut:
    return await call(plans.undo_done, session_id, body)


@router.post(
    "/sessions/{session_id}/missed",
    response_model=PlanOut | RescheduleOut,
    summary="Session missed: re-flow the course keeping every interval (dry_run to preview)",
    description=(
        "Answers the re-flowed plan (`PlanOut`) to roles that read plans; to front desk, only which "
        "sessions move to which dates and the schedule after (`RescheduleOut`)."
    ),
)
async def session_missed(session_id: Id, body: SessionMissedIn, call: Call) -> Response:
    return json_response(await call(views.session_missed, session_id, body))


@router.get(
    "/patients/{patient_id}/today",
    response_model=TodayOut,
    summary="What to do, avoid and expect on a date (default today) and the days after",
)
async def today(
    call: Call,
    patient_id: Id,
    on: Annotated[DateParam | None, Query(alias="date")] = None,
    days: Annotated[int, Query(ge=1, le=31)] = 1,
) -> TodayOut:
    return await call(plans.today, patient_id, on, days)


@router.get("/patients/{patient_id}/outcomes", response_model=OutcomesOut, summary="Trends")
async def get_outcomes(patient_id: Id, call: Call) -> OutcomesOut:
    return await call(outcomes.trends, patient_id)


@router.post(
    "/patients/{patient_id}/outcomes",
    response_model=OutcomesOut,
    status_code=201,
    summary="Record an outcome measure (e.g. patient_global_improvement)",
)
async def add_outcome(patient_id: Id, body: OutcomeIn, call: Call) -> OutcomesOut:
    return await call(outcomes.record, patient_id, body)


@router.get(
    "/patients/{patient_id}/calendar-tokens",
    response_model=list[CalendarTokenOut],
    summary="Private calendar links",
)
async def list_calendar_tokens(patient_id: Id, call: Call) -> list[CalendarTokenOut]:
    return await call(calendar.list_for_patient, patient_id)


@router.post(
    "/patients/{patient_id}/calendar-tokens",
    response_model=CalendarTokenOut,
    status_code=201,
    summary="Create a private calendar link (the token is shown once)",
)
async def create_calendar_token(patient_id: Id, call: Call) -> CalendarTokenOut:
    return await call(calendar.create, patient_id)


@router.delete(
    "/patients/{patient_id}/calendar-tokens/{token_id}",
    response_model=CalendarTokenOut,
    summary="Revoke a calendar link",
)
async def revoke_calendar_token(patient_id: Id, token_id: Id, call: Call) -> CalendarTokenOut:
    return await call(calendar.revoke, patient_id, token_id)
