"""Plans, the course of sessions, the day-by-day timeline, outcomes and calendar links."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response

from cicatrix.api.deps import context
from cicatrix.api.routes.patients import _if_match, json_response
from cicatrix.service import calendar, outcomes, plans
from cicatrix.service.context import Context
from cicatrix.service.schemas import (
    ApproveIn,
    CalendarTokenOut,
    OutcomeIn,
    OutcomesOut,
    PlanCreate,
    PlanEditIn,
    PlanOut,
    PlanSummary,
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
def create_plan(assessment_id: int, body: PlanCreate, ctx: Context = Depends(context)) -> Response:
    return json_response(plans.generate(ctx, assessment_id, body), 201)


@router.get("/patients/{patient_id}/plan", response_model=PlanOut, summary="The current plan")
def current_plan(patient_id: int, ctx: Context = Depends(context)) -> Response:
    return Response(plans.current_json(ctx, patient_id), media_type="application/json")


@router.get("/patients/{patient_id}/plans", response_model=list[PlanSummary], summary="All plans")
def list_plans(patient_id: int, ctx: Context = Depends(context)) -> list[PlanSummary]:
    return plans.list_for_patient(ctx, patient_id)


@router.get("/plans/{plan_id}", response_model=PlanOut, summary="A plan")
def get_plan(plan_id: int, ctx: Context = Depends(context)) -> Response:
    return json_response(plans.get(ctx, plan_id))


@router.patch(
    "/plans/{plan_id}",
    response_model=PlanOut,
    summary="Edit a plan with a reason (re-planned by the engine; needs approval again)",
)
def edit_plan(
    plan_id: int,
    body: PlanEditIn,
    if_match: Annotated[str | None, Header(max_length=40)] = None,
    ctx: Context = Depends(context),
) -> Response:
    return json_response(plans.edit(ctx, plan_id, body, _if_match(if_match)))


@router.post("/plans/{plan_id}/approve", response_model=PlanOut, summary="Approve (clinicians only)")
def approve_plan(plan_id: int, body: ApproveIn, ctx: Context = Depends(context)) -> Response:
    return json_response(plans.approve(ctx, plan_id, body.version))


@router.get(
    "/patients/{patient_id}/sessions",
    response_model=ScheduleOut,
    summary="The course's sessions (schedule; no clinical detail)",
)
def schedule(patient_id: int, ctx: Context = Depends(context)) -> ScheduleOut:
    return plans.schedule(ctx, patient_id)


@router.post("/sessions/{session_id}/done", response_model=SessionOut, summary="Session given")
def session_done(session_id: int, body: SessionDoneIn, ctx: Context = Depends(context)) -> SessionOut:
    return plans.record_done(ctx, session_id, body)


@router.post(
    "/sessions/{session_id}/missed",
    response_model=PlanOut,
    summary="Session missed: re-flow the course keeping every interval (dry_run to preview)",
)
def session_missed(session_id: int, body: SessionMissedIn, ctx: Context = Depends(context)) -> Response:
    return json_response(plans.record_missed(ctx, session_id, body))


@router.get(
    "/patients/{patient_id}/today",
    response_model=TodayOut,
    summary="What to do, avoid and expect on a date (default today) and the days after",
)
def today(
    patient_id: int,
    on: Annotated[date | None, Query(alias="date")] = None,
    days: Annotated[int, Query(ge=1, le=31)] = 1,
    ctx: Context = Depends(context),
) -> TodayOut:
    return plans.today(ctx, patient_id, on, days)


@router.get("/patients/{patient_id}/outcomes", response_model=OutcomesOut, summary="Trends")
def get_outcomes(patient_id: int, ctx: Context = Depends(context)) -> OutcomesOut:
    return outcomes.trends(ctx, patient_id)


@router.post(
    "/patients/{patient_id}/outcomes",
    response_model=OutcomesOut,
    status_code=201,
    summary="Record an outcome measure (e.g. patient_global_improvement)",
)
def add_outcome(patient_id: int, body: OutcomeIn, ctx: Context = Depends(context)) -> OutcomesOut:
    return outcomes.record(ctx, patient_id, body)


@router.get(
    "/patients/{patient_id}/calendar-tokens",
    response_model=list[CalendarTokenOut],
    summary="Private calendar links",
)
def list_calendar_tokens(patient_id: int, ctx: Context = Depends(context)) -> list[CalendarTokenOut]:
    return calendar.list_for_patient(ctx, patient_id)


@router.post(
    "/patients/{patient_id}/calendar-tokens",
    response_model=CalendarTokenOut,
    status_code=201,
    summary="Create a private calendar link (the token is shown once)",
)
def create_calendar_token(patient_id: int, ctx: Context = Depends(context)) -> CalendarTokenOut:
    return calendar.create(ctx, patient_id)


@router.delete(
    "/patients/{patient_id}/calendar-tokens/{token_id}",
    response_model=CalendarTokenOut,
    summary="Revoke a calendar link",
)
def revoke_calendar_token(patient_id: int, token_id: int, ctx: Context = Depends(context)) -> CalendarTokenOut:
    return calendar.revoke(ctx, patient_id, token_id)
