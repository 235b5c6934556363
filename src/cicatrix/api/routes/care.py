"""Plans, the course of sessions, the day-by-day timeline, outcomes and calendar links."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response

from cicatrix.api.deps import Call
from cicatrix.api.routes.patients import _if_match, json_response
from cicatrix.params import DateParam, Id
from cicatrix.service import calendar, outcomes, plans, procedures, views
from cicatrix.service.booking_schemas import SessionUndoIn
from cicatrix.service.schemas import (
    ApproveIn,
    CalendarTokenOut,
    OutcomeIn,
    OutcomesOut,
    PlanChangeOut,
    PlanCreate,
    PlanEditIn,
    PlanOut,
    PlanSummary,
    ProcedureIn,
    RescheduleOut,
    ScheduleOut,
    SessionDoneIn,
    SessionMissedIn,
    SessionOut,
    TodayOut,
    WithdrawIn,
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


@router.post(
    "/plans/{plan_id}/approve",
    response_model=PlanOut | PlanChangeOut,
    summary="Approve (clinicians only); dry_run answers what it does to each booked session",
    description=(
        "The approved plan becomes the running course and replaces the one approved before. With "
        "`dry_run: true` nothing changes and the answer (`PlanChangeOut`) says, per booked session of "
        "the running course, whether it is kept, moved (old and new date) or cancelled, and which "
        "sessions are added; send its `token` back as `expected_change` to approve exactly that "
        "(409 if the bookings changed since)."
    ),
)
async def approve_plan(plan_id: Id, body: ApproveIn, call: Call) -> Response:
    if body.dry_run:
        return json_response(await call(plans.approval_preview, plan_id, body.version, body.start))
    return json_response(await call(plans.approve, plan_id, body.version, body.expected_change, body.start))


@router.get(
    "/plans/{plan_id}/change",
    response_model=PlanChangeOut,
    summary="A proposal beside the running course: the treatments and bookings it would change",
)
async def plan_change(plan_id: Id, call: Call) -> Response:
    return json_response(await call(plans.proposed_change, plan_id))


@router.post(
    "/plans/{plan_id}/withdraw",
    response_model=PlanOut,
    summary="Withdraw a proposal with a reason (it stays in the history as withdrawn)",
)
async def withdraw_plan(plan_id: Id, body: WithdrawIn, call: Call) -> Response:
    return json_response(await call(plans.withdraw, plan_id, body))


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


@router.put(
    "/sessions/{session_id}/procedure",
    response_model=SessionOut,
    summary="Record the procedure note of a session given (clinicians only)",
    description=(
        "`values` holds the treatment's fields from the knowledge data (`procedure_notes.yaml`): e.g. "
        "`device`, `needle_depth_mm`, `passes` for micro-needling, `wavelength_nm`, `energy_mj`, "
        "`density_percent` for fractional lasers, `product` and `lot_number` for fillers and steroids, "
        "and `treated_areas` (region ids), `anaesthetic` and `note` for every treatment. A value out "
        "of bounds is a 422 naming the field (`values.needle_depth_mm`)."
    ),
)
async def session_procedure(session_id: Id, body: ProcedureIn, call: Call) -> SessionOut:
    return await call(procedures.record, session_id, body)


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
