"""The web side of issue 12 §3 and issue 14 §5: an admin's first login leads to the
second-factor set-up and nowhere else; later logins take two steps (password, then code);
everyone changes their own password; the admin's audit trail (filters, pages, CSV), patient
search when linking a login, password and second-factor resets; HTML error pages for
browsers while the API keeps JSON."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from sqlalchemy import select
from tests.web.conftest import DEMO_PASSWORD, Demo, totp_code

from cicatrix.storage.models import AuditEvent, User


def _user_id(demo: Demo, username: str) -> int:
    with demo.app.state.db.transaction() as db:
        return db.scalars(select(User.id).where(User.username == username)).one()


def _actions(demo: Demo) -> list[tuple[str, str | None]]:
    with demo.app.state.db.transaction() as db:
        return [(a, d) for a, d in db.execute(select(AuditEvent.action, AuditEvent.detail).order_by(AuditEvent.id))]


def test_an_admins_first_login_leads_only_to_the_second_factor_set_up(demo: Demo) -> None:
    r = demo.client.post("/login", data={"username": "admin", "password": DEMO_PASSWORD}, follow_redirects=False)
    assert r.status_code == 303
    for path in ("/admin/users", "/admin/audit", "/admin/settings", "/knowledge", "/account"):
        r = demo.client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/account/second-factor", path
    page = demo.client.get("/account/second-factor").text
    assert "Your role needs a second factor" in page
    token = demo.csrf("/account/second-factor")
    started = demo.client.post("/account/second-factor/start", data={"csrf_token": token}).text
    assert "<svg" in started and "<script" not in started.split("<main")[1]
    secret = re.search(r'class="code secret-key">([A-Z2-7]+)<', started)
    assert secret
    wrong = demo.client.post("/account/second-factor/confirm", data={"csrf_token": token, "code": "12"})
    assert wrong.status_code == 422 and "not the current one" in wrong.text
    assert secret.group(1) in wrong.text  # the same secret, to try again
    code, _step = totp_code(secret.group(1), demo.app.state.clock(), None)
    done = demo.client.post("/account/second-factor/confirm", data={"csrf_token": token, "code": code})
    assert done.status_code == 200 and "Your second factor is active" in done.text
    assert len(re.findall(r"<li>[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}</li>", done.text)) == 10
    assert demo.client.get("/admin/users").status_code == 200  # this session is verified now
    again = demo.client.get("/account/second-factor").text
    assert secret.group(1) not in again and "10 unused recovery codes" in again


def test_later_logins_take_a_code_and_a_recovery_code_works_once(demo: Demo) -> None:
    demo.login("admin")
    codes = demo.enrol("admin") if "admin" not in demo.secrets else []
    assert demo.secrets["admin"]
    demo.client.cookies.clear()
    r = demo.client.post("/login", data={"username": "admin", "password": DEMO_PASSWORD, "next": "/admin/audit"},
                         follow_redirects=False)  # fmt: skip
    assert r.status_code == 303 and r.headers["location"] == "/login/code?next=%2Fadmin%2Faudit"
    assert "cicatrix_session" not in r.cookies  # no session before the code
    assert demo.client.get("/admin/users", follow_redirects=False).headers["location"].startswith("/login?")
    form = demo.client.get("/login/code").text
    assert 'autocomplete="one-time-code"' in form
    bad = demo.client.post("/login/code", data={"code": "000000", "next": "/admin/audit"})
    assert bad.status_code in (401, 303)
    code, demo.last_step["admin"] = totp_code(demo.secrets["admin"], demo.app.state.clock(), demo.last_step["admin"])
    ok = demo.client.post("/login/code", data={"code": code, "next": "/admin/audit"}, follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"] == "/admin/audit"
    assert demo.client.get("/admin/audit").status_code == 200
    # the pending login is used up: its cookie no longer leads anywhere
    assert demo.client.get("/login/code", follow_redirects=False).status_code == 303
    if codes:
        demo.client.cookies.clear()
        demo.client.post("/login", data={"username": "admin", "password": DEMO_PASSWORD})
        r = demo.client.post("/login/code", data={"code": codes[0]}, follow_redirects=False)
        assert r.status_code == 303
        demo.client.cookies.clear()
        demo.client.post("/login", data={"username": "admin", "password": DEMO_PASSWORD})
        assert demo.client.post("/login/code", data={"code": codes[0]}).status_code == 401
    assert any(a == "second_factor_failed" for a, _ in _actions(demo))


def test_without_a_pending_login_the_code_page_sends_to_the_login(demo: Demo) -> None:
    assert demo.client.get("/login/code", follow_redirects=False).headers["location"] == "/login"
    assert demo.client.post("/login/code", data={"code": "123456"}, follow_redirects=False).status_code == 303


def test_every_user_changes_their_own_password(demo: Demo) -> None:
    from fastapi.testclient import TestClient

    other = TestClient(demo.app)
    assert other.post("/login", data={"username": "clinician", "password": DEMO_PASSWORD},
                      follow_redirects=False).status_code == 303  # fmt: skip
    demo.login("clinician")
    token = demo.csrf("/account")
    r = demo.client.post("/account/password", data={"csrf_token": token, "current_password": "wrong one",
                                                     "new_password": "a fresh long passphrase"})  # fmt: skip
    assert r.status_code == 422 and "current password is wrong" in r.text
    assert "a fresh long passphrase" not in r.text and "wrong one" not in r.text
    r = demo.client.post("/account/password", data={"csrf_token": token, "current_password": DEMO_PASSWORD,
                                                     "new_password": "short"})  # fmt: skip
    assert r.status_code == 422 and "12" in r.text
    r = demo.client.post("/account/password", data={"csrf_token": token, "current_password": DEMO_PASSWORD,
                                                     "new_password": "a fresh long passphrase"},
                         follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    assert "other sessions were logged out" in demo.client.get(r.headers["location"]).text
    assert other.get("/patients", follow_redirects=False).status_code == 303  # the other session ended
    demo.login("clinician", "a fresh long passphrase")
    patient = Demo(TestClient(demo.app), demo.app)
    patient.login("patient")
    assert patient.client.get("/account").status_code == 200
    assert "Second factor" not in patient.client.get("/account").text
    assert patient.client.get("/account/second-factor").status_code == 403


def test_the_admin_reads_filters_pages_and_exports_the_audit_trail(demo: Demo, monkeypatch: Any) -> None:
    from cicatrix.web import admin_pages

    monkeypatch.setattr(admin_pages, "AUDIT_PAGE_SIZE", 5)
    demo.login("clinician")
    demo.client.get("/patients/1")
    demo.login("admin")
    clinician = _user_id(demo, "clinician")
    page = demo.client.get("/admin/audit")
    assert page.status_code == 200 and "Audit trail" in page.text
    assert "events, page 1 of" in page.text  # the seeded demo clinic has more than one page
    nxt = re.search(r'href="(/admin/audit\?page=2)"', page.text)
    assert nxt and demo.client.get(nxt.group(1)).status_code == 200
    mine = demo.client.get("/admin/audit", params={"user_id": clinician, "patient_id": 1, "action": "read"})
    assert mine.status_code == 200
    rows = re.findall(r"<tr><td>\d{4}-", mine.text)
    assert rows and "clinician" in mine.text
    later = demo.client.get("/admin/audit", params={"since": "2199-12-01", "until": "2199-12-31"}).text
    assert "No events match" in later  # nothing has happened yet then
    bad = demo.client.get("/admin/audit", params={"since": "yesterday", "until": "2026-01-01", "patient_id": "x"})
    assert bad.status_code == 422 and "From:" in bad.text and "Patient record number:" in bad.text
    backwards = demo.client.get("/admin/audit", params={"since": "2026-11-23", "until": "2026-11-01"})
    assert backwards.status_code == 422 and "on or after" in backwards.text
    exported = demo.client.get("/admin/audit.csv", params={"user_id": clinician, "patient_id": 1})
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    table = list(csv.reader(io.StringIO(exported.text)))
    assert table[0][:4] == ["id", "at", "user_id", "username"]
    assert len(table) > 1 and all(r[2] == str(clinician) and r[8] == "1" for r in table[1:])
    assert "(demo)" not in exported.text  # no patient names
    assert demo.client.get("/admin/audit.csv", params={"since": "nope"}).status_code == 422
    actions = _actions(demo)
    assert any(a == "export" and d and f"user_id={clinician}" in d for a, d in actions)
    assert any(a == "read" and d and "action=read" in d for a, d in actions)
    demo.login("clinician")
    assert demo.client.get("/admin/audit").status_code == 403
    assert demo.client.get("/admin/audit.csv").status_code == 403


def test_linking_a_patient_login_finds_the_patient_by_name_or_record_number(demo: Demo) -> None:
    demo.login("admin")
    found = demo.client.get("/admin/users", params={"patient_q": "jonas"}).text
    options = re.findall(r'name="patient_id" value="(\d+)"', found)
    assert options, found
    label = re.search(r'<label for="patient-\d+">([^<]+)</label>', found)
    assert label and "record DEMO-" in label.group(1) and "born" in label.group(1)
    assert "phototype" not in found.lower().split("add a user")[-1]
    by_mrn = demo.client.get("/admin/users", params={"patient_q": "DEMO-0002"}).text
    assert re.findall(r'name="patient_id" value="(\d+)"', by_mrn)
    assert "No patient matches" in demo.client.get("/admin/users", params={"patient_q": "zzzz"}).text
    token = demo.csrf("/admin/users")
    r = demo.client.post("/admin/users", data={"csrf_token": token, "display_name": "Jonas", "username": "jonas",
                                               "role": "patient", "password": "a patient passphrase",
                                               "patient_id": options[0], "patient_q": "jonas"},
                         follow_redirects=False)  # fmt: skip
    assert r.status_code == 303, r.text
    with demo.app.state.db.transaction() as db:
        user = db.scalars(select(User).where(User.username == "jonas")).one()
        assert user.patient_id == int(options[0]) and user.role == "patient"
    assert any(a == "list" and d == "login link search" for a, d in _actions(demo))


def test_the_admin_resets_a_password_and_a_second_factor(demo: Demo) -> None:
    from fastapi.testclient import TestClient

    desk = Demo(TestClient(demo.app), demo.app)
    desk.login("frontdesk")
    desk.enrol("frontdesk")  # front desk opts in
    assert desk.client.get("/").status_code == 200
    demo.login("admin")
    desk_id = _user_id(demo, "frontdesk")
    users_page = demo.client.get("/admin/users").text
    assert f'action="/admin/users/{desk_id}/second-factor/reset"' in users_page
    token = demo.csrf("/admin/users")
    r = demo.client.post(f"/admin/users/{desk_id}/second-factor/reset", data={"csrf_token": token},
                         follow_redirects=False)  # fmt: skip
    assert r.status_code == 303 and "second_factor_reset" in r.headers["location"]
    assert desk.client.get("/", follow_redirects=False).status_code == 303  # logged out
    short = demo.client.post(f"/admin/users/{desk_id}/password", data={"csrf_token": token, "password": "short"})
    assert short.status_code == 422 and "short" not in short.text.split("<main")[1].replace("shortly", "")
    r = demo.client.post(f"/admin/users/{desk_id}/password",
                         data={"csrf_token": token, "password": "a new front desk passphrase"},
                         follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    r = desk.client.post("/login", data={"username": "frontdesk", "password": "a new front desk passphrase"},
                         follow_redirects=False)  # fmt: skip
    assert r.status_code == 303 and r.headers["location"] == "/"  # no code any more: the factor was reset
    assert any(a == "second_factor_reset" for a, _ in _actions(demo))


def test_the_clinic_settings_require_a_second_factor_of_clinicians(demo: Demo) -> None:
    demo.login("admin")
    token = demo.csrf("/admin/settings")
    r = demo.client.post("/admin/settings", data={"csrf_token": token, "name": "cicatrix demo clinic",
                                                  "timezone": "Europe/London", "second_factor_for_clinicians": "1"},
                         follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    box = re.search(r'<input type="checkbox" id="second_factor_for_clinicians"[^>]*>', demo.client.get("/admin/settings").text)
    assert box and " checked" in box.group(0)
    clin = Demo(demo.client.__class__(demo.app), demo.app)
    clin.client.post("/login", data={"username": "clinician", "password": DEMO_PASSWORD})
    r = clin.client.get("/patients", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/account/second-factor"


def _get(demo: Demo, path: str, accept: str) -> Any:
    return demo.client.get(path, headers={"Accept": accept}, follow_redirects=False)


def test_browsers_get_html_error_pages_and_api_clients_json(demo: Demo, monkeypatch: Any) -> None:
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    demo.login("admin")
    page = _get(demo, "/admin/no-such-page", browser)
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "<h1>Not found</h1>" in page.text
    api = _get(demo, "/admin/no-such-page", "application/json")
    assert api.status_code == 404 and api.json()["field"] == "path"
    assert _get(demo, "/api/no-such-route", browser).headers["content-type"].startswith("application/json")
    wrong_method = demo.client.put("/admin/users", headers={"Accept": browser})
    assert wrong_method.status_code == 405 and "<h1>" in wrong_method.text
    forbidden = _get(demo, "/patients", browser)
    assert forbidden.status_code == 403 and "<h1>Not allowed</h1>" in forbidden.text
    bad_id = _get(demo, "/patients/not-a-number", browser)
    assert bad_id.status_code in (403, 422) and bad_id.headers["content-type"].startswith("text/html")

    from cicatrix.service import users

    def broken(*_a: Any, **_k: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(users, "get_clinic", broken)
    crash = _get(demo, "/admin/settings", browser)
    assert crash.status_code == 500 and crash.headers["content-type"].startswith("text/html")
    assert "Reference:" in crash.text and "RuntimeError" not in crash.text and "a bug" not in crash.text
    crash_api = _get(demo, "/admin/settings", "application/json")
    assert crash_api.status_code == 500 and crash_api.json()["code"] == "internal"
