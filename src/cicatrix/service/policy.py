"""Which role may do what. One table, used by the API and the web pages alike."""

from __future__ import annotations

from cicatrix.service.context import Actor
from cicatrix.service.errors import Forbidden, NotFound

PERMISSIONS: dict[str, frozenset[str]] = {
    "patient.list": frozenset({"clinician", "front_desk"}),
    "patient.read": frozenset({"clinician", "front_desk", "patient"}),
    "patient.clinical.read": frozenset({"clinician", "patient"}),
    "patient.create": frozenset({"clinician", "front_desk"}),
    "patient.update": frozenset({"clinician", "front_desk"}),
    "patient.clinical.update": frozenset({"clinician"}),
    "patient.archive": frozenset({"clinician", "front_desk"}),
    # A FHIR import brings clinical facts and possibly a plan: a clinician's act (the plan is
    # screened again and stored as a proposal).
    "record.import": frozenset({"clinician"}),
    "assessment.read": frozenset({"clinician", "patient"}),
    "assessment.create": frozenset({"clinician"}),
    "plan.read": frozenset({"clinician", "patient"}),
    "plan.create": frozenset({"clinician"}),
    "plan.edit": frozenset({"clinician"}),
    "plan.approve": frozenset({"clinician"}),
    "schedule.read": frozenset({"clinician", "front_desk", "patient"}),
    "session.record": frozenset({"clinician", "front_desk"}),
    "timeline.read": frozenset({"clinician", "patient"}),
    "outcome.read": frozenset({"clinician", "patient"}),
    "outcome.create": frozenset({"clinician"}),
    "calendar.manage": frozenset({"clinician", "front_desk", "patient"}),
    "user.manage": frozenset({"admin"}),
    "clinic.manage": frozenset({"admin"}),
    "audit.read": frozenset({"admin"}),
}


def allowed(actor: Actor, permission: str) -> bool:
    return actor.role in PERMISSIONS[permission]


def require(actor: Actor, permission: str) -> None:
    if not allowed(actor, permission):
        raise Forbidden("role", f"the role {actor.role!r} may not do {permission!r}")


def require_patient_access(actor: Actor, permission: str, patient_id: int) -> None:
    """Check the role, then confine patients to their own record (404: no existence leak)."""
    require(actor, permission)
    if actor.role == "patient" and actor.patient_id != patient_id:
        raise NotFound("patient_id", "no such patient")
