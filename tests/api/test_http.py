"""HTTP behaviour: error bodies, stale versions, login rate limit, cookie sessions with CSRF,
no trace on 5xx, and no personal data in the logs."""

from __future__ import annotations

import logging

import pytest

from tests.api.fixtures import bearer
from tests.storage.world import ASSESSMENT, PASSWORD


def test_bad_assessment_is_422_naming_the_field(client) -> None:  # type: ignore[no-untyped-def]
    pid = client.world.patients["P1"]
    bad = {**ASSESSMENT, "scars": [{"type": "rolling", "count": -1}]}
    r = client.post(f"/api/patients/{pid}/assessments", json={"assessment": bad},
                    headers=bearer(client, "clinician"))  # fmt: skip
    assert r.status_code == 422
    assert r.json()["field"] == "assessment.scars[0].count"
    r = client.post(f"/api/patients/{pid}/assessments",
                    json={"assessment": {**ASSESSMENT, "scars": [{"type": "nope", "count": 1}]}},
                    headers=bearer(client, "clinician"))  # fmt: skip
    assert r.status_code == 422 and r.json()["field"] == "assessment.scars[0].type"
    r = client.post("/api/patients", json={"name": "X", "birth_date": "not a date"},
                    headers=bearer(client, "clinician"))  # fmt: skip
    assert r.status_code == 422 and r.json()["field"] == "birth_date"
    r = client.post("/api/patients", content=b"{not json", headers={
        **bearer(client, "clinician"), "content-type": "application/json"})  # fmt: skip
    assert r.status_code == 422 and r.json()["field"]


def test_assessment_returns_scores_and_plan(client) -> None:  # type: ignore[no-untyped-def]
    pid = client.world.patients["P1"]
    r = client.post(f"/api/patients/{pid}/assessments",
                    json={"assessment": ASSESSMENT, "preferences": {"start": "2026-12-01"}},
                    headers=bearer(client, "clinician"))  # fmt: skip
    assert r.status_code == 201, r.text
    body = r.json()
    assert (
        body["assessment"]["scores"]["goodman_baron_quantitative"] == body["assessment"]["goodman_baron_quantitative"]
    )
    assert body["plan"]["status"] == "proposed"
    assert body["plan"]["knowledge_version"] == client.world.kb.label
    hist = client.get(f"/api/patients/{pid}/assessments", headers=bearer(client, "clinician"))
    assert hist.json()["total"] == 2 and hist.json()["items"][0]["id"] == body["assessment"]["id"]


def test_stale_version_gets_409_with_if_match_or_body(client) -> None:  # type: ignore[no-untyped-def]
    pid = client.world.patients["P2"]
    h = bearer(client, "clinician")
    v = client.get(f"/api/patients/{pid}", headers=h).json()["version"]
    assert client.patch(f"/api/patients/{pid}", json={"version": v, "phone": "07400 100001"}, headers=h).status_code == 200
    r = client.patch(f"/api/patients/{pid}", json={"version": v, "phone": "07400 100002"}, headers=h)
    assert r.status_code == 409 and r.json()["field"] == "version"
    assert r.json()["current_version"] == v + 1
    r = client.patch(f"/api/patients/{pid}", json={"version": v + 1, "phone": "07400 100003"},
                     headers={**h, "If-Match": f'"{v}"'})  # fmt: skip
    assert r.status_code == 409
    assert client.get(f"/api/patients/{pid}", headers=h).json()["phone"] == "+447400100001"
    made = client.world.new_plan("P2")
    ok = client.post(f"/api/plans/{made['plan_id']}/approve", json={"version": made["version"]},
                     headers=h)  # fmt: skip
    assert ok.status_code == 200
    stale = client.patch(f"/api/plans/{made['plan_id']}", headers=h, json={
        "version": made["version"], "reason": "later start", "start": "2026-12-07"})  # fmt: skip
    assert stale.status_code == 409 and stale.json()["field"] == "version"


def test_login_is_rate_limited_in_the_database(client) -> None:  # type: ignore[no-untyped-def]
    limit = client.app.state.settings.login_max_failures
    for _ in range(limit):
        r = client.post("/api/auth/token", json={"username": "clinician@test", "password": "wrong"})
        assert r.status_code == 401 and r.json()["field"] == "password"
    r = client.post("/api/auth/token", json={"username": "clinician@test", "password": PASSWORD})
    assert r.status_code == 429 and r.json()["code"] == "rate_limited"
    assert int(r.headers["Retry-After"]) > 0
    # another account is not locked out by this one
    ok = client.post("/api/auth/token", json={"username": "front_desk@test", "password": PASSWORD})
    assert ok.status_code == 200
    # the state is in the database: a second app (another worker) sees it too
    from fastapi.testclient import TestClient

    from cicatrix.api.app import create_app

    other = create_app(client.app.state.settings)
    with TestClient(other) as c2:
        r = c2.post("/api/auth/token", json={"username": "clinician@test", "password": PASSWORD})
        assert r.status_code == 429
    other.state.db.dispose()


def test_bearer_token_flow_and_logout(client) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/api/auth/token", json={"username": "front_desk@test", "password": PASSWORD})
    assert r.status_code == 200
    h = {"Authorization": f"Bearer {r.json()['access_token']}"}
    assert client.get("/api/auth/me", headers=h).json()["user"]["role"] == "front_desk"
    assert client.post("/api/auth/logout", headers=h).status_code == 204
    gone = client.get("/api/auth/me", headers=h)
    assert gone.status_code == 401 and gone.json()["field"] == "authorization"


def test_cookie_session_needs_csrf_on_writes(client) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/api/auth/login", json={"username": "clinician@test", "password": PASSWORD})
    assert r.status_code == 200
    csrf = r.json()["csrf_token"]
    assert client.get("/api/patients").status_code == 200  # cookie alone reads
    no = client.post("/api/patients", json={"name": "Cookie Person"})
    assert no.status_code == 403 and no.json()["field"] == "csrf_token"
    wrong = client.post("/api/patients", json={"name": "Cookie Person"},
                        headers={"X-CSRF-Token": "0" * 64})  # fmt: skip
    assert wrong.status_code == 403
    yes = client.post("/api/patients", json={"name": "Cookie Person"},
                      headers={"X-CSRF-Token": csrf})  # fmt: skip
    assert yes.status_code == 201
    assert client.get("/api/auth/me").json()["csrf_token"] == csrf
    client.post("/api/auth/logout", headers={"X-CSRF-Token": csrf})
    client.cookies.clear()
    assert client.get("/api/patients").status_code == 401


def test_a_5xx_never_leaks_a_trace(client, monkeypatch: pytest.MonkeyPatch, caplog) -> None:  # type: ignore[no-untyped-def]
    from cicatrix.service import patients

    def boom(*_a, **_k):  # type: ignore[no-untyped-def]
        raise RuntimeError("secret detail Patient P1 1990-01-02")

    monkeypatch.setattr(patients, "get", boom)
    with caplog.at_level(logging.INFO, logger="cicatrix.api"):
        r = client.get(f"/api/patients/{client.world.patients['P1']}",
                       headers=bearer(client, "clinician"))  # fmt: skip
    assert r.status_code == 500
    assert r.json()["code"] == "internal" and "reference" in r.json()["message"]
    assert "secret" not in r.text and "Traceback" not in r.text and "boom" not in r.text
    logged = "\n".join(rec.getMessage() for rec in caplog.records)
    assert "RuntimeError" in logged and "/patients/{patient_id}" in logged
    assert "Patient P1" not in logged and "secret" not in logged


def test_logs_carry_no_personal_data(client, caplog) -> None:  # type: ignore[no-untyped-def]
    with caplog.at_level(logging.DEBUG):
        client.get("/api/patients", params={"q": "Patient P1"}, headers=bearer(client, "clinician"))
        client.post("/api/patients", json={"name": "Zed Unique", "birth_date": "1980-02-03"},
                    headers=bearer(client, "clinician"))  # fmt: skip
    text = "\n".join(rec.getMessage() for rec in caplog.records)
    assert "Patient P1" not in text and "Zed Unique" not in text and "1980-02-03" not in text
    assert "/api/patients" in text


def test_unknown_route_and_method_have_json_bodies(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/api/nope", headers=bearer(client, "clinician"))
    assert r.status_code == 404 and r.json()["field"] == "path"
    r = client.put("/api/patients", headers=bearer(client, "clinician"))
    assert r.status_code == 405 and r.json()["field"] == "path"


def test_override_via_api_is_audited(client) -> None:  # type: ignore[no-untyped-def]
    made = client.world.new_plan("P1", keloid=True)
    h = bearer(client, "clinician")
    no_reason = client.patch(f"/api/plans/{made['plan_id']}", headers=h, json={
        "version": made["version"], "reason": "wants it", "treatments": ["microneedling"],
        "overrides": [{"treatment": "microneedling", "reason": ""}]})  # fmt: skip
    assert no_reason.status_code == 422 and no_reason.json()["field"] == "overrides[0].reason"
    refused = client.patch(f"/api/plans/{made['plan_id']}", headers=h, json={
        "version": made["version"], "reason": "wants it", "treatments": ["microneedling"]})  # fmt: skip
    assert refused.status_code == 422 and refused.json()["field"] == "treatments[0]"
    ok = client.patch(f"/api/plans/{made['plan_id']}", headers=h, json={
        "version": made["version"], "reason": "wants it", "treatments": ["microneedling"],
        "overrides": [{"treatment": "microneedling", "reason": "scar site far from keloid"}]})  # fmt: skip
    assert ok.status_code == 200, ok.text
    audit = client.get("/api/audit", params={"patient_id": client.world.patients["P1"]},
                       headers=bearer(client, "admin")).json()  # fmt: skip
    assert any(e["action"] == "override" and e["detail"] == "microneedling" for e in audit["items"])


def test_current_plan_body_matches_the_plan_everywhere_else(client) -> None:  # type: ignore[no-untyped-def]
    """GET …/plan builds its body in one statement with the stored plan JSON spliced in: it must
    say exactly what GET /plans/{id} says (edits, overrides, sessions, the plan) and be audited."""
    made = client.world.new_plan("P1", keloid=True)
    h = bearer(client, "clinician")
    ok = client.patch(f"/api/plans/{made['plan_id']}", headers=h, json={
        "version": made["version"], "reason": "wants it", "treatments": ["microneedling"],
        "overrides": [{"treatment": "microneedling", "reason": "scar site far from keloid"}]})  # fmt: skip
    assert ok.status_code == 200, ok.text
    approved = client.post(f"/api/plans/{made['plan_id']}/approve", headers=h, json={"version": ok.json()["version"]})
    assert approved.status_code == 200, approved.text
    pid = client.world.patients["P1"]
    current = client.get(f"/api/patients/{pid}/plan", headers=h)
    assert current.status_code == 200 and current.headers["content-type"] == "application/json"
    same = client.get(f"/api/plans/{current.json()['id']}", headers=h).json()
    assert current.json() == same == approved.json()
    assert current.json()["edits"] and current.json()["overrides"] and current.json()["sessions"]
    assert list(current.json()) == list(same)
    audit = client.get("/api/audit", params={"patient_id": pid}, headers=bearer(client, "admin")).json()
    assert sum(e["action"] == "read" and e["entity"] == "plan" for e in audit["items"]) == 2
