"""Accounts (issue 12 §3): password policy at the API, a new password ends other sessions,
the last admin stays, calendar links stop with the patient."""

from __future__ import annotations

from tests.api.fixtures import bearer
from tests.storage.world import PASSWORD


def test_weak_password_is_422_without_echo(client) -> None:  # type: ignore[no-untyped-def]
    for pw in ("password1234", "newuser@test", "Password2024!"):
        body = {"username": "newuser@test", "display_name": "N", "role": "clinician", "password": pw}
        r = client.post("/api/users", json=body, headers=bearer(client, "admin"))
        assert r.status_code == 422, r.text
        assert r.json()["field"] == "password"
        assert pw not in r.text
    uid = client.world.users["clinician"]
    r = client.patch(f"/api/users/{uid}", json={"password": "qwertyuiop123"}, headers=bearer(client, "admin"))
    assert r.status_code == 422 and r.json()["field"] == "password" and "qwertyuiop123" not in r.text


def test_a_password_reset_ends_every_other_session_and_token(client) -> None:  # type: ignore[no-untyped-def]
    uid = client.world.users["clinician"]
    old = bearer(client, "clinician")
    assert client.get("/api/auth/me", headers=old).status_code == 200
    client.post("/api/auth/login", json={"username": "clinician@test", "password": PASSWORD})  # a cookie session
    assert client.get("/api/auth/me").status_code == 200
    admin = bearer(client, "admin")
    r = client.patch(f"/api/users/{uid}", json={"password": "a brand new passphrase"}, headers=admin)
    assert r.status_code == 200, r.text
    assert client.get("/api/auth/me", headers=old).status_code == 401
    client.headers.pop("Authorization", None)
    assert client.get("/api/auth/me").status_code == 401  # the cookie session ended too
    assert client.get("/api/auth/me", headers=admin).status_code == 200  # the admin's own token lives
    r = client.post("/api/auth/token", json={"username": "clinician@test", "password": "a brand new passphrase"})
    assert r.status_code == 200


def test_the_last_admin_cannot_demote_or_disable_themself(client) -> None:  # type: ignore[no-untyped-def]
    admin = bearer(client, "admin")
    me = client.world.users["admin"]
    r = client.patch(f"/api/users/{me}", json={"role": "clinician"}, headers=admin)
    assert r.status_code == 409 and r.json()["field"] == "role"
    # with a second admin, demotion is allowed
    body = {"username": "admin2@test", "display_name": "A2", "role": "admin", "password": "second admin passphrase"}
    other = client.post("/api/users", json=body, headers=admin).json()["id"]
    r = client.patch(f"/api/users/{other}", json={"active": False}, headers=admin)
    assert r.status_code == 200
    r = client.patch(f"/api/users/{me}", json={"role": "clinician"}, headers=admin)
    assert r.status_code == 409  # the other admin is disabled: still the last active one
    client.patch(f"/api/users/{other}", json={"active": True}, headers=admin)
    r = client.patch(f"/api/users/{me}", json={"role": "clinician"}, headers=admin)
    assert r.status_code == 200


def test_calendar_links_stop_when_the_patient_is_archived_or_their_login_disabled(client) -> None:  # type: ignore[no-untyped-def]
    clin, admin = bearer(client, "clinician"), bearer(client, "admin")
    pid = client.world.patients["P1"]
    token = client.post(f"/api/patients/{pid}/calendar-tokens", headers=clin).json()["token"]
    assert client.get(f"/api/calendar/{token}.ics").status_code == 200
    uid = client.world.users["patient"]
    client.patch(f"/api/users/{uid}", json={"active": False}, headers=admin)
    assert client.get(f"/api/calendar/{token}.ics").status_code == 404
    client.patch(f"/api/users/{uid}", json={"active": True}, headers=admin)
    assert client.get(f"/api/calendar/{token}.ics").status_code == 200
    assert client.post(f"/api/patients/{pid}/archive", headers=clin).status_code == 200
    assert client.get(f"/api/calendar/{token}.ics").status_code == 404
