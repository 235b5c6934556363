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
    assert set(PLAN_STATUSES_SEEN["clinician"]) == {"proposed", "approved", "superseded"}


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
