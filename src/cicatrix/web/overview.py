"""What the patient page and the plan page read, each in one transaction.

The service's use cases each commit their own audit events; a page that called four of them
paid four synchronous commits. These read the same rows under the same policy checks
(the service's `load` functions) and record the same audit events, then commit once.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from cicatrix.service import assessments, audit, patients, plans
from cicatrix.service.context import Context
from cicatrix.service.policy import allowed
from cicatrix.service.schemas import AssessmentOut, PatientOut, PlanOut, PlanSummary, ScheduleOut
from cicatrix.storage.models import Assessment, Plan

HISTORY_LIMIT = 200


@dataclass(frozen=True)
class PatientOverview:
    patient: PatientOut
    assessments: list[AssessmentOut]
    plans: list[PlanSummary]
    current: PlanOut | None
    schedule: ScheduleOut | None  # for roles that see schedules but not clinical data


def patient_overview(ctx: Context, patient_id: int) -> PatientOverview:
    p = patients.load(ctx, patient_id, "patient.read")
    audit.record(ctx, "read", "patient", p.id, patient_id=p.id)
    result_patient = patients.out(ctx, p)
    if not allowed(ctx.actor, "assessment.read"):
        ctx.db.commit()
        return PatientOverview(result_patient, [], [], None, plans.schedule(ctx, patient_id))
    rows = ctx.db.scalars(
        select(Assessment)
        .where(Assessment.patient_id == p.id)
        .order_by(Assessment.date.desc(), Assessment.id.desc())
        .limit(HISTORY_LIMIT)
    ).all()
    audit.record(ctx, "list", "assessment", None, patient_id=p.id, detail=f"results={len(rows)}")
    history = [assessments.out(a) for a in rows]
    q = select(Plan).where(Plan.patient_id == p.id)
    if ctx.actor.role == "patient":
        q = q.where(Plan.status == "approved")
    plan_rows = ctx.db.scalars(q.order_by(Plan.id.desc())).all()
    audit.record(ctx, "list", "plan", None, patient_id=p.id, detail=f"results={len(plan_rows)}")
    current = next(
        (x for x in plan_rows if x.status != "superseded" and (ctx.actor.role != "patient" or x.status == "approved")),
        None,
    )
    current_out = None
    if current is not None:
        audit.record(ctx, "read", "plan", current.id, patient_id=p.id)
        current_out = plans.out(ctx, current)
    summaries = [plans.summary(x) for x in plan_rows]
    ctx.db.commit()
    return PatientOverview(result_patient, history, summaries, current_out, None)


@dataclass(frozen=True)
class PlanView:
    plan: PlanOut
    patient: PatientOut


def plan_view(ctx: Context, plan_id: int) -> PlanView:
    p = plans._load(ctx, plan_id, "plan.read")
    audit.record(ctx, "read", "plan", p.id, patient_id=p.patient_id)
    pt = patients.load(ctx, p.patient_id, "patient.read")
    audit.record(ctx, "read", "patient", pt.id, patient_id=pt.id)
    result = PlanView(plans.out(ctx, p), patients.out(ctx, pt))
    ctx.db.commit()
    return result
