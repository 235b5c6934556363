"""Reads that several use cases share, each defined once.

"The current plan" in particular is the running course: the patient's approved plan (at most
one, `uq_plan_one_approved`). Only while nothing is approved is it the newest proposal, and
only for the roles that see proposals (`policy.PLAN_STATUSES_SEEN`). A proposal newer than the
approved plan is not the current plan: it is the *proposed change* beside it
(`proposed_change`), and replaces it only when approved. The API's `/patients/{id}/plan`, the
patient and plan pages, the schedule, the day's timeline, FHIR, iCalendar and the PDF handout
all read the current plan through `current_plan` (or `current_with_patient`, the same rule in
one statement), so they show the same course.

These are building blocks: the use case that calls them checks access and audits.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import Select, bindparam, case, select
from sqlalchemy.orm import aliased

from cicatrix.service.context import Context
from cicatrix.service.policy import may_see_plan, plan_statuses
from cicatrix.storage.models import Patient, Plan


def current_plan(ctx: Context, patient_id: int, *, approved_only: bool = False) -> Plan | None:
    """The newest plan of the patient that the actor may see (only approved plans when
    `approved_only`: the plan the patient follows). The caller checks access to the patient."""
    statuses = plan_statuses(ctx.actor, approved_only)
    if not statuses:
        return None
    return ctx.db.scalar(
        select(Plan)
        .where(Plan.patient_id == patient_id, Plan.status.in_(statuses))
        .order_by(*_RUNNING_FIRST)
        .limit(1)
    )


def _running_first(plan: type[Plan]) -> tuple[Any, ...]:
    """The order that puts the running course first: the approved plan, else the newest."""
    return (case((plan.status == "approved", 0), else_=1), plan.id.desc())


_RUNNING_FIRST = _running_first(Plan)


def proposed_change(ctx: Context, running: Plan | None) -> Plan | None:
    """The newest proposal made after the running (approved) course, for the roles that see
    proposals: what would replace the course if a clinician approved it. None when nothing is
    approved (then the proposal itself is the current plan) or nothing newer is proposed."""
    if running is None or running.status != "approved" or not may_see_plan(ctx.actor, "proposed"):
        return None
    return ctx.db.scalar(
        select(Plan)
        .where(Plan.patient_id == running.patient_id, Plan.status == "proposed", Plan.id > running.id)
        .order_by(Plan.id.desc())
        .limit(1)
    )


@lru_cache(maxsize=8)
def current_with_patient(statuses: tuple[str, ...]) -> Select[tuple[int, Plan]]:
    """`current_plan` joined to the patient's clinic, in one statement (the hottest read of the
    API). Built once per status set: SQLAlchemy memoises a statement's cache key on the object."""
    other = aliased(Plan)
    newest = (
        select(other.id)
        .where(other.patient_id == Patient.id, other.status.in_(statuses))
        .order_by(*_running_first(other))
        .limit(1)
        .correlate(Patient)
        .scalar_subquery()
    )
    return (
        select(Patient.clinic_id, Plan)
        .select_from(Patient)
        .outerjoin(Plan, Plan.id == newest)
        .where(Patient.id == bindparam("patient_id"))
    )
