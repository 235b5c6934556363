"""The clinician's day: check-ins that need attention, sessions booked today, next steps due,
plans waiting for approval.

A cross-patient read for the dashboard page; every patient shown is audited as a read, like
the patient list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Select, select

from cicatrix.service import audit, checkins
from cicatrix.service.context import Context
from cicatrix.service.policy import allowed, require
from cicatrix.storage.models import CourseSession, Patient, Plan

DUE_DAYS = 7
OVERDUE_DAYS = 60
FOLLOW_UP_LOOKBACK_DAYS = 400  # course length plus the follow-up delay, with margin
LIMIT = 100


@dataclass(frozen=True)
class SessionToday:
    patient_id: int
    patient_name: str
    treatment: str
    treatment_name: str
    number: int
    status: str


@dataclass(frozen=True)
class Due:
    patient_id: int
    patient_name: str
    what: str
    date: date
    overdue: bool


@dataclass(frozen=True)
class Awaiting:
    plan_id: int
    patient_id: int
    patient_name: str
    created: datetime


@dataclass(frozen=True)
class Dashboard:
    sessions_today: list[SessionToday]
    due: list[Due]
    awaiting: list[Awaiting]
    # check-in answers that need a clinician's look, until one acknowledges them; only for the
    # roles that read check-ins (the answers are symptoms: not for front desk)
    attention: list[checkins.Attention]


def _live_sessions(ctx: Context) -> Select[tuple[CourseSession, str]]:
    return (
        select(CourseSession, Patient.name)
        .join(Plan, Plan.id == CourseSession.plan_id)
        .join(Patient, Patient.id == CourseSession.patient_id)
        .where(
            CourseSession.clinic_id == ctx.actor.clinic_id,
            Plan.status == "approved",
            Patient.archived.is_(False),
        )
    )


def build(ctx: Context) -> Dashboard:
    """Everything on the dashboard, audited per patient shown."""
    require(ctx.actor, "patient.list")
    kb = ctx.kb
    today = ctx.today

    def tname(t: str) -> str:
        return kb.treatments[t].name if t in kb.treatments else t

    rows = ctx.db.execute(
        _live_sessions(ctx)
        .where(CourseSession.date == today, CourseSession.status.in_(("planned", "done", "missed")))
        .order_by(Patient.name_key, CourseSession.id)
        .limit(LIMIT)
    ).all()
    sessions_today = [
        SessionToday(s.patient_id, name, s.treatment, tname(s.treatment), s.number, s.status) for s, name in rows
    ]

    due_rows = ctx.db.execute(
        _live_sessions(ctx)
        .where(
            CourseSession.status == "planned",
            CourseSession.date >= today - timedelta(days=OVERDUE_DAYS),
            CourseSession.date <= today + timedelta(days=DUE_DAYS),
            CourseSession.date != today,
        )
        .order_by(CourseSession.date, CourseSession.id)
        .limit(LIMIT)
    ).all()
    due: list[Due] = []
    seen: set[int] = set()
    for s, name in due_rows:  # the next step per patient only
        if s.patient_id in seen:
            continue
        seen.add(s.patient_id)
        due.append(Due(s.patient_id, name, f"{tname(s.treatment)} session {s.number}", s.date, s.date < today))

    # Follow-up assessments: approved plans whose sessions all lie in the past year (found through
    # the clinic/date index), with none still planned, and whose follow-up date has come.
    recent = (
        select(CourseSession.plan_id)
        .where(
            CourseSession.clinic_id == ctx.actor.clinic_id,
            CourseSession.date >= today - timedelta(days=FOLLOW_UP_LOOKBACK_DAYS),
            CourseSession.date <= today,
        )
        .distinct()
    )
    still_planned = select(CourseSession.plan_id).where(
        CourseSession.plan_id.in_(recent), CourseSession.status == "planned"
    )
    fu_rows = ctx.db.execute(
        select(Plan.id, Plan.patient_id, Plan.proposal, Patient.name)
        .join(Patient, Patient.id == Plan.patient_id)
        .where(
            Plan.id.in_(recent),
            Plan.id.not_in(still_planned),
            Plan.status == "approved",
            Patient.archived.is_(False),
        )
        .order_by(Plan.id.desc())
        .limit(LIMIT)
    ).all()
    for _pid, patient_id, proposal, name in fu_rows:
        fu = (proposal or {}).get("course", {}).get("follow_up")
        if not fu or patient_id in seen:
            continue
        day = date.fromisoformat(fu)
        if day <= today + timedelta(days=DUE_DAYS):
            seen.add(patient_id)
            due.append(Due(patient_id, name, "follow-up assessment", day, day < today))
    due.sort(key=lambda d: d.date)

    awaiting: list[Awaiting] = []
    if allowed(ctx.actor, "plan.approve"):
        arows = ctx.db.execute(
            select(Plan.id, Plan.patient_id, Plan.created_at, Patient.name)
            .join(Patient, Patient.id == Plan.patient_id)
            .where(Plan.clinic_id == ctx.actor.clinic_id, Plan.status == "proposed", Patient.archived.is_(False))
            .order_by(Plan.created_at.desc(), Plan.id.desc())
            .limit(LIMIT)
        ).all()
        waiting: set[int] = set()
        for pid, patid, created, name in arows:  # one entry per patient: the newest proposal
            if patid not in waiting:
                waiting.add(patid)
                awaiting.append(Awaiting(pid, patid, name, created))

    attention = checkins.needing_attention(ctx) if allowed(ctx.actor, "checkin.read") else []

    shown = {s.patient_id for s in sessions_today} | {d.patient_id for d in due} | {a.patient_id for a in awaiting}
    for pid in sorted(shown):
        audit.record(ctx, "list", "patient", pid, patient_id=pid, detail="dashboard")
    for pid in sorted({a.patient_id for a in attention}):
        audit.record(ctx, "list", "check_in", None, patient_id=pid, detail="dashboard: needs attention")
    return Dashboard(sessions_today, due, awaiting, attention)
