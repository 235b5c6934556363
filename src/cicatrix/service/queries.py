"""Reads that several use cases share, each defined once.

"The current plan" in particular: the newest plan whose status the actor's role may see
(`policy.PLAN_STATUSES_SEEN`: a patient only an approved plan, a clinician also a proposal).
The API's `/patients/{id}/plan`, the patient and plan pages, the schedule, the day's
timeline, FHIR, iCalendar and the PDF handout all read it through `current_plan`.

These are building blocks: the use case that calls them checks access and audits.
"""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.orm import aliased

from cicatrix.service.context import Context
from cicatrix.service.policy import plan_statuses
from cicatrix.storage.models import Patient, Plan


def current_plan(ctx: Context, patient_id: int, *, approved_only: bool = False) -> Plan | None:
    """The newest plan of the patient that the actor may see (only approved plans when
    `approved_only`: the plan the patient follows). The caller checks access to the patient."""
    statuses = plan_statuses(ctx.actor, approved_only)
    if not statuses:
        return None
    return ctx.db.scalar(
        select(Plan).where(Plan.patient_id == patient_id, Plan.status.in_(statuses)).order_by(Plan.id.desc()).limit(1)
    )


@lru_cache(maxsize=8)
def current_with_patient(statuses: tuple[str, ...]) -> Select[tuple[int, Plan]]:
    """`current_plan` joined to the patient's clinic, in one statement (the hottest read of the
    API). Built once per status set: SQLAlchemy memoises a statement's cache key on the object."""
    other = aliased(Plan)
    newest = (
        select(func.max(other.id))
        .where(other.patient_id == Patient.id, other.status.in_(statuses))
        .correlate(Patient)
        .scalar_subquery()
    )
    return (
        select(Patient.clinic_id, Plan)
        .select_from(Patient)
        .outerjoin(Plan, Plan.id == newest)
        .where(Patient.id == bindparam("patient_id"))
    )
