"""The staff's second factor (issue 12 §3) through the API, on SQLite and PostgreSQL: admins
may only enrol until they have one; enrolment shows the secret once and activates with a
code; login takes `otp` (the current step or one either side, never a step twice); ten
one-time recovery codes; wrong codes are throttled; password and code together pass the
password throttle; an admin resets another's factor; a clinic can require it of clinicians;
a password change ends the other sessions."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pyotp
from sqlalchemy import select

from cicatrix.service import totp
from cicatrix.service.schemas import UserIn
from cicatrix.service.users import add_user
from cicatrix.storage.models import AuditEvent, RecoveryCode, User
from tests.api.fixtures import bearer
from tests.today import NOW

NEW_ADMIN_PASSWORD = "new admin passphrase"


def _code(secret: str, steps: int = 0) -> str:
    """The code of the time step `steps` after the app's clock (NOW)."""
    return pyotp.TOTP(secret).at(NOW + timedelta(seconds=30 * steps))


def _token(client, username: str, password: str, otp: str | None = None):  # type: ignore[no-untyped-def]
    body = {"username": username, "password": password} | ({"otp": otp} if otp else {})
    return client.post("/api/auth/token", json=body)


def _new_admin(client, name: str = "admin2@test") -> dict[str, str]:  # type: ignore[no-untyped-def]
    """A new admin of clinic A, logged in by password: its token may only enrol."""
    with client.world.database.transaction() as db:
        add_user(db, client.world.clinic_a, UserIn(username=name, display_name="A2", role="admin",
                                                   password=NEW_ADMIN_PASSWORD))  # fmt: skip
    r = _token(client, name, NEW_ADMIN_PASSWORD)
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _enrol(client, h: dict[str, str]) -> tuple[str, list[str]]:  # type: ignore[no-untyped-def]
    made = client.post("/api/auth/second-factor", headers=h)
    assert made.status_code == 201, made.text
    secret = made.json()["secret"]
    r = client.post("/api/auth/second-factor/confirm", json={"code": _code(secret)}, headers=h)
    assert r.status_code == 200, r.text
    return secret, r.json()["codes"]


def _actions(client) -> list[str]:  # type: ignore[no-untyped-def]
    with client.world.database.session() as db:
        return list(db.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def test_an_admin_without_a_second_factor_may_only_enrol(client) -> None:  # type: ignore[no-untyped-def]
    h = _new_admin(client)
    for method, path in (("GET", "/api/users"), ("GET", "/api/audit"), ("GET", "/api/clinic"),
                         ("PATCH", "/api/clinic"), ("POST", "/api/auth/password"),
                         ("GET", "/api/exports/outcomes.csv")):  # fmt: skip
        body = {"current_password": NEW_ADMIN_PASSWORD, "new_password": "another long one"}
        r = client.request(method, path, headers=h, json=None if method == "GET" else body if "password" in path else {})
        assert r.status_code == 403, (path, r.status_code, r.text)
        assert r.json()["field"] == "second_factor" and "second factor" in r.json()["message"]
    assert client.get("/api/auth/me", headers=h).status_code == 200
    status = client.get("/api/auth/second-factor", headers=h).json()
    assert status == {"enrolled": False, "required": True, "enrolling": False, "recovery_codes_left": 0,
                      "this_login_verified": False}  # fmt: skip
    # a second login by password only, opened before enrolment: it ends when the factor is set up
    other = {"Authorization": f"Bearer {_token(client, 'admin2@test', NEW_ADMIN_PASSWORD).json()['access_token']}"}
    made = client.post("/api/auth/second-factor", headers=h).json()
    assert made["provisioning_uri"].startswith("otpauth://totp/cicatrix:admin2%40test?secret=")
    assert made["qr_svg"].lstrip().startswith("<svg") and "<script" not in made["qr_svg"]
    assert len(made["secret"]) == 32
    wrong = client.post("/api/auth/second-factor/confirm", json={"code": "000000"}, headers=h)
    if wrong.status_code != 422:  # 000000 may be the current code, once in a million
        assert _code(made["secret"]) == "000000"
    assert client.get("/api/users", headers=h).status_code == 403  # not active yet
    r = client.post("/api/auth/second-factor/confirm", json={"code": _code(made["secret"])}, headers=h)
    assert r.status_code == 200
    codes = r.json()["codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    assert client.get("/api/users", headers=h).status_code == 200  # this token is verified now
    assert client.get("/api/auth/me", headers=other).status_code == 401  # the other one ended
    status = client.get("/api/auth/second-factor", headers=h).json()
    assert status["enrolled"] and status["this_login_verified"] and status["recovery_codes_left"] == 10
    assert made["secret"] not in client.get("/api/auth/second-factor", headers=h).text  # never shown again
    assert client.post("/api/auth/second-factor", headers=h).status_code == 409
    assert "second_factor_start" in _actions(client) and "second_factor_enrol" in _actions(client)


def test_the_secret_is_stored_sealed_and_the_codes_hashed(client) -> None:  # type: ignore[no-untyped-def]
    h = _new_admin(client)
    secret, codes = _enrol(client, h)
    with client.world.database.session() as db:
        user = db.scalar(select(User).where(User.username == "admin2@test"))
        assert user is not None and user.totp_secret is not None
        assert secret not in user.totp_secret
        assert totp.unseal(client.app.state.secret, user.totp_secret) == secret
        assert totp.unseal("another key", user.totp_secret) is None
        tampered = user.totp_secret[:-6] + ("AAAAAA" if not user.totp_secret.endswith("AAAAAA") else "BBBBBB")
        assert totp.unseal(client.app.state.secret, tampered) is None
        stored = list(db.scalars(select(RecoveryCode.code_hash).where(RecoveryCode.user_id == user.id)))
    assert len(stored) == 10 and not any(c.replace("-", "") in "".join(stored) for c in codes)


def test_login_asks_for_the_code_and_refuses_a_replayed_one(client) -> None:  # type: ignore[no-untyped-def]
    secret = client.world.totp["admin"]
    r = _token(client, "admin@test", "correct horse battery")
    assert r.status_code == 401
    assert r.json()["code"] == "second_factor_required" and r.json()["field"] == "otp"
    wrong = _code(secret, 5)
    assert _token(client, "admin@test", "correct horse battery", wrong).status_code == 401
    ok = _token(client, "admin@test", "correct horse battery", _code(secret))
    assert ok.status_code == 200, ok.text
    h = {"Authorization": f"Bearer {ok.json()['access_token']}"}
    assert client.get("/api/users", headers=h).status_code == 200
    assert _token(client, "admin@test", "correct horse battery", _code(secret)).status_code == 401  # replayed
    assert _token(client, "admin@test", "correct horse battery", _code(secret, -1)).status_code == 401  # older
    assert _token(client, "admin@test", "correct horse battery", _code(secret, 1)).status_code == 200  # drift
    assert _token(client, "admin@test", "correct horse battery", _code(secret, 2)).status_code == 401  # too far
    # the same flow for a cookie session
    r = client.post("/api/auth/login", json={"username": "admin@test", "password": "correct horse battery"})
    assert r.status_code == 401 and r.json()["code"] == "second_factor_required"


def test_a_code_is_accepted_once_under_concurrent_logins(client) -> None:  # type: ignore[no-untyped-def]
    code = _code(client.world.totp["admin"])
    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(lambda _: _token(client, "admin@test", "correct horse battery", code).status_code,
                                 range(6)))  # fmt: skip
    assert sorted(statuses) == [200] + [401] * 5, statuses


def test_recovery_codes_work_once_and_can_be_replaced(client) -> None:  # type: ignore[no-untyped-def]
    h = _new_admin(client)
    _secret, codes = _enrol(client, h)
    assert _token(client, "admin2@test", NEW_ADMIN_PASSWORD, codes[0].upper()).status_code == 200
    assert _token(client, "admin2@test", NEW_ADMIN_PASSWORD, codes[0]).status_code == 401  # used
    assert client.get("/api/auth/second-factor", headers=h).json()["recovery_codes_left"] == 9
    fresh = client.post("/api/auth/second-factor/recovery-codes", headers=h)
    assert fresh.status_code == 200 and len(fresh.json()["codes"]) == 10
    assert _token(client, "admin2@test", NEW_ADMIN_PASSWORD, codes[1]).status_code == 401  # replaced
    assert _token(client, "admin2@test", NEW_ADMIN_PASSWORD, fresh.json()["codes"][3]).status_code == 200
    assert {"recovery_code_used", "recovery_codes_regenerate"} <= set(_actions(client))


def test_wrong_codes_are_throttled(client) -> None:  # type: ignore[no-untyped-def]
    secret = client.world.totp["admin"]
    limit = client.app.state.settings.login_max_failures
    for i in range(limit):
        assert _token(client, "admin@test", "correct horse battery", f"{i:06d}").status_code in (401, 200)
    r = _token(client, "admin@test", "correct horse battery", _code(secret))
    assert r.status_code == 429 and r.json()["field"] == "code" and int(r.headers["Retry-After"]) > 0
    assert "second_factor_failed" in _actions(client)


def test_password_and_code_together_pass_the_password_throttle(client) -> None:  # type: ignore[no-untyped-def]
    """Someone guessing the admin's password elsewhere does not keep the admin out (the
    throttle's promise): with the code, the right password still gets in."""
    secret = client.world.totp["admin"]
    for _ in range(client.app.state.settings.login_max_failures + 2):
        _token(client, "admin@test", "attacker guess")
    assert _token(client, "admin@test", "correct horse battery").status_code == 429
    # the code is checked first: a guesser learns nothing about the password through this door
    before = _actions(client).count("login_failed")
    assert _token(client, "admin@test", "correct horse battery", _code(secret, 7)).status_code == 401
    assert _actions(client).count("login_failed") == before  # the password was not even checked
    assert _token(client, "admin@test", "correct horse battery", _code(secret)).status_code == 200
    assert _token(client, "admin@test", "another guess", _code(secret, 1)).status_code == 401  # both halves count
    # an account without a second factor has no such way past: it waits
    for _ in range(client.app.state.settings.login_max_failures + 1):
        _token(client, "front_desk@test", "attacker guess")
    assert _token(client, "front_desk@test", "correct horse battery", "123456").status_code == 429


def test_an_admin_resets_another_users_second_factor(client) -> None:  # type: ignore[no-untyped-def]
    w = client.world
    clin = bearer(client, "clinician")
    secret, _codes = _enrol(client, clin)  # a clinician opts in
    assert client.get("/api/patients", headers=clin).status_code == 200
    assert _token(client, "clinician@test", "correct horse battery").json()["code"] == "second_factor_required"
    uid = w.users["clinician"]
    assert client.delete(f"/api/users/{uid}/second-factor", headers=bearer(client, "front_desk")).status_code == 403
    assert client.delete(f"/api/users/{uid}/second-factor", headers=bearer(client, "clinician_b")).status_code == 403
    me = w.users["admin"]
    r = client.delete(f"/api/users/{me}/second-factor", headers=bearer(client, "admin"))
    assert r.status_code == 422 and r.json()["field"] == "user_id"
    r = client.delete(f"/api/users/{w.users['patient_b']}/second-factor", headers=bearer(client, "admin"))
    assert r.status_code == 404  # another clinic's account
    assert client.delete(f"/api/users/{uid}/second-factor", headers=bearer(client, "admin")).status_code == 204
    assert client.get("/api/patients", headers=clin).status_code == 401  # sessions ended
    r = _token(client, "clinician@test", "correct horse battery")
    assert r.status_code == 200  # optional for clinicians: back to a password
    users = client.get("/api/users", headers=bearer(client, "admin")).json()
    assert not next(u for u in users if u["id"] == uid)["second_factor"]
    with w.database.session() as db:
        event = db.scalar(select(AuditEvent).where(AuditEvent.action == "second_factor_reset"))
        assert event is not None and event.entity_id == str(uid) and event.user_id == me
    assert secret  # the old secret is gone with the account's codes


def test_a_clinic_can_require_a_second_factor_of_its_clinicians(client) -> None:  # type: ignore[no-untyped-def]
    clin, admin = bearer(client, "clinician"), bearer(client, "admin")
    assert client.get("/api/clinic", headers=admin).json()["second_factor_for_clinicians"] is False
    r = client.patch("/api/clinic", json={"second_factor_for_clinicians": True}, headers=admin)
    assert r.status_code == 200 and r.json()["second_factor_for_clinicians"] is True
    r = client.get("/api/patients", headers=clin)
    assert r.status_code == 403 and r.json()["field"] == "second_factor"
    assert client.get("/api/patients", headers=bearer(client, "front_desk")).status_code == 200  # not them
    assert client.get("/api/auth/second-factor", headers=clin).json()["required"] is True
    _enrol(client, clin)
    assert client.get("/api/patients", headers=clin).status_code == 200
    # clinic B did not ask
    assert client.get("/api/patients", headers=bearer(client, "clinician_b")).status_code == 200
    assert "second factor for clinicians required" in str(
        client.get("/api/audit", params={"action": "update"}, headers=admin).json()
    )


def test_patients_have_no_second_factor_pages(client) -> None:  # type: ignore[no-untyped-def]
    p = bearer(client, "patient")
    assert client.get("/api/auth/second-factor", headers=p).status_code == 403
    assert client.post("/api/auth/second-factor", headers=p).status_code == 403


def test_changing_ones_own_password_ends_the_other_sessions(client) -> None:  # type: ignore[no-untyped-def]
    first = bearer(client, "front_desk")
    second = {"Authorization": f"Bearer {_token(client, 'front_desk@test', 'correct horse battery').json()['access_token']}"}
    r = client.post("/api/auth/password", json={"current_password": "not it at all", "new_password": "x" * 3},
                    headers=first)  # fmt: skip
    assert r.status_code == 422 and "not it at all" not in r.text
    r = client.post("/api/auth/password", json={"current_password": "not it at all",
                                                 "new_password": "a long new passphrase"}, headers=first)  # fmt: skip
    assert r.status_code == 422 and r.json()["field"] == "current_password" and "passphrase" not in r.text
    r = client.post("/api/auth/password", json={"current_password": "correct horse battery",
                                                 "new_password": "password1234"}, headers=first)  # fmt: skip
    assert r.status_code == 422 and r.json()["field"] == "new_password" and "password1234" not in r.text
    assert client.get("/api/auth/me", headers=second).status_code == 200  # nothing changed yet
    r = client.post("/api/auth/password", json={"current_password": "correct horse battery",
                                                 "new_password": "a long new passphrase"}, headers=first)  # fmt: skip
    assert r.status_code == 200, r.text
    assert client.get("/api/auth/me", headers=first).status_code == 200  # this one stays
    assert client.get("/api/auth/me", headers=second).status_code == 401  # the other one ended
    assert _token(client, "front_desk@test", "correct horse battery").status_code == 401
    assert _token(client, "front_desk@test", "a long new passphrase").status_code == 200
    assert "password_change" in _actions(client)
