"""What a page shows, read in one go: each composite read defined once, for the web pages
(and any other entry point that needs the same view).

Like every use case, a view checks the role, records its audit events and never commits:
the caller's unit of work does, once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from cicatrix.engine.case import CaseError, parse_case
from cicatrix.engine.conditions import active_conditions
from cicatrix.service import assessments, audit, patients, plans
from cicatrix.service.context import Context
from cicatrix.service.policy import allowed
from cicatrix.service.queries import current_plan
from cicatrix.service.schemas import AssessmentOut, PatientOut, PlanOut, PlanSummary, ScheduleOut
from cicatrix.storage.models import Assessment

HISTORY_LIMIT = 200


@dataclass(frozen=True)
class PatientOverview:
    patient: PatientOut
    assessments: list[AssessmentOut]
    plans: list[PlanSummary]
    current: PlanOut | None
    schedule: ScheduleOut | None  # for roles that see schedules but not clinical data
    contraindications: list[Contraindication] = field(default_factory=list)  # from the latest assessment


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
    history = [assessments.out(a) for a in rows]
    summaries = plans.list_for_patient(ctx, p.id)
    current = current_plan(ctx, p.id)
    current_out = None
    if current is not None:
        audit.record(ctx, "read", "plan", current.id, patient_id=p.id)
        current_out = plans.out(ctx, current)
    return PatientOverview(result_patient, history, summaries, current_out, None, _contraindications(ctx, history))


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
