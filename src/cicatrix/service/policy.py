"""Which role may do what. One table, used by the API and the web pages alike."""

from __future__ import annotations

from typing import TypeVar

from cicatrix.service.context import Actor
from cicatrix.service.errors import Forbidden, NotFound

T = TypeVar("T")

ROLES: tuple[str, ...] = ("admin", "clinician", "front_desk", "patient")

PLAN_STATUSES = ("proposed", "approved", "superseded", "withdrawn")
# A current plan has one of these; a superseded or withdrawn one is history. The running course
# is the approved plan; a proposal is current only while nothing is approved (queries.current_plan).
IN_FORCE = ("approved", "proposed")

# Which plans a role may see, by status: a patient (and front desk, for the schedule) only
# what a clinician approved; a clinician every plan, the proposal waiting for approval and the
# superseded history included. `may_see_plan` applies it to a plan read by id or listed;
# `service.queries.current_plan`, to "the current plan" (the newest one in force it may see).
PLAN_STATUSES_SEEN: dict[str, tuple[str, ...]] = {
    "clinician": PLAN_STATUSES,
    "front_desk": ("approved",),
    "patient": ("approved",),
    "admin": (),
}

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
    # discarding a proposal, with a reason (status "withdrawn", audited)
    "plan.withdraw": frozenset({"clinician"}),
    "schedule.read": frozenset({"clinician", "front_desk", "patient"}),
    "session.record": frozenset({"clinician", "front_desk"}),
    # the clinic's day and week, practitioners and rooms: who is booked when, nothing clinical
    "appointment.read": frozenset({"clinician", "front_desk"}),
    # book, re-book, cancel, arrival, no-show and their same-day undo: the front desk's work
    "appointment.book": frozenset({"clinician", "front_desk"}),
    # the patient's printed handout (the approved course and its day-by-day care, in the
    # patient's words): the front desk hands it over; no scores, exclusions or notes
    "handout.print": frozenset({"clinician", "front_desk"}),
    # the structured procedure note (device, depth, energy, lot, treated areas ...): clinical
    "session.procedure": frozenset({"clinician"}),
    "timeline.read": frozenset({"clinician", "patient"}),
    "outcome.read": frozenset({"clinician", "patient"}),
    "outcome.create": frozenset({"clinician"}),
    # the clinic's de-identified outcomes: admins audit results, clinicians review their own
    "outcomes.export": frozenset({"admin", "clinician"}),
    # A calendar link serves the patient's own view (the approved plan with its day-by-day
    # care) to whoever holds the URL, so only the roles that may read that view create one.
    # Front desk may list and revoke links (a lost phone), which shows no clinical content.
    "calendar.create": frozenset({"clinician", "patient"}),
    "calendar.manage": frozenset({"clinician", "front_desk", "patient"}),
    # The patient's messages (what was sent, when, on which channel, how it went) and their
    # choices over them: the patient, and the staff who answer the phone about them. The
    # clinic's whole outbox (failed deliveries to follow up) for the same staff; admins see no
    # patient's record, so not which patient was written to either.
    "message.read": frozenset({"clinician", "front_desk", "patient"}),
    "message.choices": frozenset({"clinician", "front_desk", "patient"}),
    "message.clinic": frozenset({"clinician", "front_desk"}),
    # Check-in answers are symptoms after a procedure: clinical, so not for front desk; a patient
    # reads their own. Clinicians acknowledge the ones that need attention.
    "checkin.read": frozenset({"clinician", "patient"}),
    "checkin.acknowledge": frozenset({"clinician"}),
    # Adverse events are the clinicians' record of a complication, like their notes: the patient
    # hears about it in consultation, front desk never sees it.
    "adverse_event.read": frozenset({"clinician"}),
    "adverse_event.write": frozenset({"clinician"}),
    "user.manage": frozenset({"admin"}),
    # every account changes its own password; staff set up their own second factor (patients
    # need none: they read only their own record)
    "account.password": frozenset(ROLES),
    "account.second_factor": frozenset({"admin", "clinician", "front_desk"}),
    "clinic.manage": frozenset({"admin"}),
    "audit.read": frozenset({"admin"}),
    "knowledge.read": frozenset({"admin", "clinician"}),
}


# Which role sees which field of a record it may read: a response carries the field as null
# (or without the value) for every other role. Fields not listed go with their record. The API
# serialisation, the web pages (which render the same models) and the exports read records
# through the service's serialisers, and these apply this table: `patients.out`,
# `assessments.out`, `plans.session_out`, `views.session_missed`.
FIELDS_SEEN: dict[str, frozenset[str]] = {
    # phototype, pregnancy, breast-feeding, isotretinoin, history, medications, sunburn, notes
    "patient.clinical": PERMISSIONS["patient.clinical.read"],
    # the clinicians' own notes: their working record, not the patient's (nor front desk's)
    "patient.clinical.notes": frozenset({"clinician"}),
    "assessment.notes": frozenset({"clinician"}),
    "session.note": frozenset({"clinician"}),
    # why a booking is outside its window or was cancelled: the staff's free text
    "appointment.reasons": frozenset({"clinician", "front_desk"}),
    "session.procedure": frozenset({"clinician"}),
    # the engine's plan (treatments, timeline, the screening's reasons) in any response: a
    # re-flow answers front desk with the moved sessions' dates instead
    "plan": PERMISSIONS["plan.read"],
}


def may_see_field(actor: Actor, field: str) -> bool:
    return actor.role in FIELDS_SEEN[field]


def visible(actor: Actor, field: str, value: T) -> T | None:
    """The value when the actor's role may see `field`, else None."""
    return value if actor.role in FIELDS_SEEN[field] else None


def may_see_plan(actor: Actor, status: str) -> bool:
    return status in PLAN_STATUSES_SEEN.get(actor.role, ())


def plan_statuses(actor: Actor, approved_only: bool = False) -> tuple[str, ...]:
    """The statuses a current plan may have for this actor: in force and seen by its role
    (only "approved" when `approved_only`: the plan the patient follows)."""
    wanted = ("approved",) if approved_only else IN_FORCE
    return tuple(s for s in wanted if may_see_plan(actor, s))


def allowed(actor: Actor, permission: str) -> bool:
    return actor.role in PERMISSIONS[permission]


# What an account that logged in without the second factor it needs may still do.
ENROL_ONLY = frozenset({"account.second_factor"})


def require(actor: Actor, permission: str) -> None:
    if actor.enrol_only and permission not in ENROL_ONLY:
        raise Forbidden("second_factor", "set up your second factor (TOTP) first: Account, Second factor")
    if not allowed(actor, permission):
        raise Forbidden("role", f"the role {actor.role!r} may not do {permission!r}")


def require_patient_access(actor: Actor, permission: str, patient_id: int) -> None:
    """Check the role, then confine patients to their own record (404: no existence leak)."""
    require(actor, permission)
    if actor.role == "patient" and actor.patient_id != patient_id:
        raise NotFound("patient_id", "no such patient")


def roles_with(permission: str) -> tuple[str, ...]:
    """The roles that hold a permission, in `ROLES` order (navigation and forms derive from it)."""
    return tuple(r for r in ROLES if r in PERMISSIONS[permission])
