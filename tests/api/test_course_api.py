"""The course's API (issue 14 §2, §3): approval dry run and confirmation, the proposed change,
withdrawing, and procedure notes with a 422 naming the field."""

from __future__ import annotations

from typing import Any

from tests.api.fixtures import bearer


def test_approve_dry_run_then_confirm_with_its_token(client: Any) -> None:
    w, h = client.world, bearer(client, "clinician")
    made = w.new_plan("P1")
    dry = client.post(f"/api/plans/{made['plan_id']}/approve", json={"version": made["version"], "dry_run": True},
                      headers=h)  # fmt: skip
    assert dry.status_code == 200, dry.text
    change = dry.json()
    assert change["plan_id"] == made["plan_id"] and change["running_plan_id"] == w.plans["P1"]
    assert change["bookings"] and {b["effect"] for b in change["bookings"]} <= {"kept", "moved", "cancelled", "added"}
    assert client.get(f"/api/plans/{made['plan_id']}/change", headers=h).json() == change
    assert client.get(f"/api/patients/{w.patients['P1']}/plan", headers=h).json()["id"] == w.plans["P1"]
    wrong = client.post(f"/api/plans/{made['plan_id']}/approve",
                        json={"version": made["version"], "expected_change": "f" * 32}, headers=h)  # fmt: skip
    assert wrong.status_code == 409 and wrong.json()["field"] == "expected_change"
    ok = client.post(f"/api/plans/{made['plan_id']}/approve",
                     json={"version": made["version"], "expected_change": change["token"]}, headers=h)  # fmt: skip
    assert ok.status_code == 200 and ok.json()["status"] == "approved"
    assert (
        client.get(f"/api/patients/{w.patients['P1']}/plan", headers=bearer(client, "patient")).json()["id"]
        == (made["plan_id"])
    )


def test_withdraw_needs_a_reason(client: Any) -> None:
    h = bearer(client, "clinician")
    made = client.world.new_plan("P1")
    r = client.post(f"/api/plans/{made['plan_id']}/withdraw", json={"version": made["version"]}, headers=h)
    assert r.status_code == 422 and r.json()["field"] == "reason"
    r = client.post(f"/api/plans/{made['plan_id']}/withdraw",
                    json={"version": made["version"], "reason": "declined"}, headers=h)  # fmt: skip
    assert r.status_code == 200 and r.json()["status"] == "withdrawn"


def _given(client: Any) -> tuple[int, int]:
    h = bearer(client, "clinician")
    made = client.world.new_plan("P1", approve=True)
    r = client.post(f"/api/sessions/{made['session_id']}/done", json={}, headers=h)
    assert r.status_code == 200, r.text
    return made["session_id"], r.json()["version"]


def test_procedure_note_422_names_the_field_and_nothing_is_stored(client: Any) -> None:
    h = bearer(client, "clinician")
    sid, version = _given(client)
    for values, field in (
        ({"needle_depth_mm": 25}, "values.needle_depth_mm"),
        ({"treated_areas": ["cheeks", "moon"]}, "values.treated_areas[1]"),
        ({"anaesthetic": "general"}, "values.anaesthetic"),
        ({"unknown_field": 1}, "values.unknown_field"),
    ):
        r = client.put(f"/api/sessions/{sid}/procedure", json={"session_version": version, "values": values}, headers=h)
        assert r.status_code == 422, (values, r.text)
        assert r.json()["field"] == field
    body: dict[str, Any] = {"session_version": version, "values": {"needle_depth_mm": 1.25, "passes": 2,
                                                                     "treated_areas": ["cheeks"]}}  # fmt: skip
    r = client.put(f"/api/sessions/{sid}/procedure", json=body, headers=h)
    assert r.status_code == 200 and r.json()["procedure"] == body["values"]
    stale = client.put(f"/api/sessions/{sid}/procedure", json=body, headers=h)
    assert stale.status_code == 409 and stale.json()["field"] == "session_version"
    desk = client.get(f"/api/patients/{client.world.patients['P1']}/sessions", headers=bearer(client, "front_desk"))
    assert all(s["procedure"] is None for s in desk.json()["sessions"])
    assert (
        client.put(f"/api/sessions/{sid}/procedure", json=body, headers=bearer(client, "front_desk")).status_code == 403
    )
