"""What a page shows, read in one go: each composite read defined once, for the web pages
(and any other entry point that needs the same view).

Like every use case, a view checks the role, records its audit events and never commits:
the caller's unit of work does, once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select

from cicatrix.engine.case import CaseError, parse_case
from cicatrix.engine.conditions import active_conditions
from cicatrix.service import adverse_events, assessments, audit, checkins, patients, plans
from cicatrix.service.context import Context
from cicatrix.service.policy import allowed, may_see_field
from cicatrix.service.queries import current_plan, proposed_change
from cicatrix.service.schemas import (
    AdverseEventOut,
    AssessmentOut,
    CheckInOut,
    MovedSessionOut,
    PatientOut,
    PlanChangeOut,
    PlanOut,
    PlanSummary,
    RescheduleOut,
    ScheduleOut,
    SessionMissedIn,
    SessionOut,
)
from cicatrix.storage.models import Assessment, CourseSession

HISTORY_LIMIT = 200


@dataclass(frozen=True)
class PatientOverview:
    patient: PatientOut
    assessments: list[AssessmentOut]
    plans: list[PlanSummary]
    current: PlanOut | None
    schedule: ScheduleOut | None  # for roles that see schedules but not clinical data
    contraindications: list[Contraindication] = field(default_factory=list)  # from the latest assessment
    # a proposal newer than the running course, and what approving it would change
    change: PlanChangeOut | None = None
    check_ins: list[CheckInOut] = field(default_factory=list)  # for the roles that read them
    adverse_events: list[AdverseEventOut] = field(default_factory=list)


@dataclass(frozen=True)
class Contraindication:
    name: str
    why: str


def patient_overview(ctx: Context, patient_id: int) -> PatientOverview:
    """The patient page: the record, assessment history, plans and the current plan."""
    p = patients.load(ctx, patient_id, "patient.read")
    audit.record(ctx, "read", "patient", p.id, patient_id=p.id)
    result_patient = patients.out(ctx, p)
    if not allowed(ctx.actor, "assessment.read"):
        return PatientOverview(result_patient, [], [], None, plans.schedule(ctx, patient_id))
    rows = ctx.db.scalars(
        select(Assessment)
        .where(Assessment.patient_id == p.id)
        .order_by(Assessment.date.desc(), Assessment.id.desc())
        .limit(HISTORY_LIMIT)
    ).all()
    audit.record(ctx, "list", "assessment", None, patient_id=p.id, detail=f"results={len(rows)}")
    history = [assessments.out(ctx, a) for a in rows]
    summaries = plans.list_for_patient(ctx, p.id)
    current = current_plan(ctx, p.id)
    current_out = None
    change = None
    if current is not None:
        audit.record(ctx, "read", "plan", current.id, patient_id=p.id)
        current_out = plans.out(ctx, current)
        proposal = proposed_change(ctx, current)
        if proposal is not None:
            change = plans.proposed_change(ctx, proposal.id)
    return PatientOverview(
        result_patient,
        history,
        summaries,
        current_out,
        None,
        _contraindications(ctx, history),
        change,
        checkins.for_patient(ctx, p.id) if allowed(ctx.actor, "checkin.read") else [],
        adverse_events.for_patient(ctx, p.id) if allowed(ctx.actor, "adverse_event.read") else [],
    )


def _contraindications(ctx: Context, history: list[AssessmentOut]) -> list[Contraindication]:
    """The conditions that restrict treatment for the patient as last assessed."""
    if not history:
        return []
    try:
        case = parse_case(history[0].input, ctx.kb)
    except CaseError as exc:  # e.g. a stored term the vocabulary no longer knows: say so, never "none"
        return [Contraindication("This record cannot be screened until it is corrected", exc.one_line())]
    return [Contraindication(cond.name, why) for cond, why in active_conditions(case, ctx.kb).values()]


@dataclass(frozen=True)
class PlanView:
    plan: PlanOut
    patient: PatientOut


def plan_view(ctx: Context, plan_id: int) -> PlanView:
    """A plan with its patient (the plan, course, missed-session and handout pages)."""
    plan = plans.get(ctx, plan_id)
    return PlanView(plan, patients.get(ctx, plan.patient_id))


@dataclass(frozen=True)
class CourseView:
    plan: PlanOut
    patient: PatientOut
    # sessions given or missed under the patient's earlier plans: the course's history, which
    # a new approved plan does not take over (`plans.approve`)
    earlier: list[SessionOut]


def course_view(ctx: Context, plan_id: int) -> CourseView:
    """The course page: the plan's sessions and the history of the plans before it."""
    view = plan_view(ctx, plan_id)
    rows = ctx.db.scalars(
        select(CourseSession)
        .where(
            CourseSession.patient_id == view.plan.patient_id,
            CourseSession.plan_id < view.plan.id,
            CourseSession.status.in_(("done", "missed")),
        )
        .order_by(CourseSession.date, CourseSession.id)
        .limit(HISTORY_LIMIT)
    ).all()
    if rows:
        audit.record(ctx, "list", "course_session", None, patient_id=view.plan.patient_id, detail="history")
    return CourseView(view.plan, view.patient, [plans.session_out(ctx, s) for s in rows])


def session_missed(ctx: Context, session_id: int, body: SessionMissedIn) -> PlanOut | RescheduleOut:
    """Record a missed session and re-flow the course (or preview it, `dry_run`), answered in
    the shape the role may see: the plan for those who read plans, otherwise only the dates of
    the sessions that move (`policy.FIELDS_SEEN["plan"]`). Front desk books the new dates; the
    re-flowed plan (treatments, care, the screening's reasons) is clinical content."""
    before = _planned_dates(ctx, session_id)  # read before the re-flow; shown only if it is allowed
    result = plans.record_missed(ctx, session_id, body)
    if may_see_field(ctx.actor, "plan"):
        return result
    after = {(s.treatment, s.number): s.date for s in result.sessions if s.status == "planned"}
    moved = [
        MovedSessionOut(treatment=t, number=n, old_date=old, new_date=after.get((t, n)))
        for (t, n), old in before.items()
        if after.get((t, n)) != old
    ]
    moved.sort(key=lambda m: (m.old_date, m.treatment, m.number))
    return RescheduleOut(
        patient_id=result.patient_id, plan_id=result.id, preview=result.preview, moved=moved, sessions=result.sessions
    )


def _planned_dates(ctx: Context, session_id: int) -> dict[tuple[str, int], date]:
    s = ctx.db.get(CourseSession, session_id)
    if s is None:
        return {}
    rows = ctx.db.scalars(
        select(CourseSession).where(CourseSession.plan_id == s.plan_id, CourseSession.status == "planned")
    )
    return {(r.treatment, r.number): r.date for r in rows}
