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
    assert "proposed" in PLAN_STATUSES_SEEN["clinician"]


def test_roles_with_follows_the_table_in_role_order() -> None:
    assert roles_with("patient.list") == ("clinician", "front_desk")
    assert roles_with("user.manage") == ("admin",)
