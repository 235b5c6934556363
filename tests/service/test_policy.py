"""The policy table is the one list of roles: every permission and plan rule names only them."""

from __future__ import annotations

from cicatrix.service.policy import PERMISSIONS, PLAN_STATUSES_SEEN, ROLES, roles_with


def test_every_role_named_by_the_policy_is_in_the_role_list() -> None:
    named = {r for roles in PERMISSIONS.values() for r in roles} | set(PLAN_STATUSES_SEEN)
    assert named <= set(ROLES)
    assert set(PLAN_STATUSES_SEEN) == set(ROLES)


def test_a_patient_and_front_desk_see_only_approved_plans() -> None:
    assert PLAN_STATUSES_SEEN["patient"] == ("approved",)
    assert PLAN_STATUSES_SEEN["front_desk"] == ("approved",)
    assert set(PLAN_STATUSES_SEEN["clinician"]) == {"proposed", "approved", "superseded", "withdrawn"}


def test_roles_with_follows_the_table_in_role_order() -> None:
    assert roles_with("patient.list") == ("clinician", "front_desk")
    assert roles_with("user.manage") == ("admin",)


def test_current_plan_statuses_are_in_force_and_seen() -> None:
    from cicatrix.service.context import Actor
    from cicatrix.service.policy import may_see_plan, plan_statuses

    clinician, patient = Actor(1, 1, "clinician"), Actor(2, 1, "patient", patient_id=3)
    assert plan_statuses(clinician) == ("approved", "proposed")
    assert plan_statuses(clinician, approved_only=True) == ("approved",)
    assert plan_statuses(patient) == ("approved",)
    assert may_see_plan(clinician, "superseded") and not may_see_plan(patient, "superseded")
    assert not may_see_plan(patient, "proposed")


# The record each field of FIELDS_SEEN belongs to, by the permission that reads the record.
FIELD_RECORD = {
    "patient.clinical": "patient.read",
    "patient.clinical.notes": "patient.clinical.read",
    "assessment.notes": "assessment.read",
    "session.note": "schedule.read",
    "session.procedure": "schedule.read",
    "appointment.reasons": "schedule.read",  # a patient reads their own appointments
    "plan": "plan.read",
}


def test_a_field_is_seen_only_by_roles_that_read_its_record() -> None:
    """A field rule can only take away: a role that may not read a record sees none of its fields."""
    from cicatrix.service.policy import FIELDS_SEEN

    assert set(FIELD_RECORD) == set(FIELDS_SEEN)
    for field, roles in FIELDS_SEEN.items():
        assert roles <= PERMISSIONS[FIELD_RECORD[field]], field
        assert roles <= set(ROLES), field


def test_field_rules_of_issue_12() -> None:
    """Patients see their clinical block but not the clinicians' notes; front desk no clinical
    field, no note and no plan; calendar links are created by clinicians and the patient."""
    from cicatrix.service.context import Actor
    from cicatrix.service.policy import allowed, may_see_field, visible

    clinician, front, patient = Actor(1, 1, "clinician"), Actor(2, 1, "front_desk"), Actor(3, 1, "patient", 4)
    assert may_see_field(patient, "patient.clinical") and not may_see_field(patient, "patient.clinical.notes")
    assert visible(patient, "session.note", "n") is None and visible(clinician, "session.note", "n") == "n"
    for field in ("patient.clinical", "patient.clinical.notes", "assessment.notes", "session.note", "plan"):
        assert not may_see_field(front, field), field
        assert may_see_field(clinician, field), field
    assert not allowed(front, "calendar.create") and allowed(front, "calendar.manage")
    assert allowed(patient, "calendar.create") and allowed(clinician, "calendar.create")
