"""No 500s from input (issue 12 §5): each hand-made bad input is a 4xx naming its field, on
SQLite and PostgreSQL. Every case here answered 500 before its fix."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import update

from tests.api.fixtures import bearer

BIG = 2**63  # one past the largest id any table can hold
JSON = {"content-type": "application/json"}


def _assert_422(r: Any, field: str) -> None:
    assert r.status_code == 422, (r.status_code, r.text[:300])
    assert r.json()["field"] == field, r.text[:300]


# ---------- ids >= 2**63 ----------


ID_ROUTES = [
    ("GET", "/api/patients/{big}", "patient_id"),
    ("PATCH", "/api/patients/{big}", "patient_id"),
    ("POST", "/api/patients/{big}/archive", "patient_id"),
    ("GET", "/api/patients/{big}/plan", "patient_id"),
    ("GET", "/api/patients/{big}/plans", "patient_id"),
    ("GET", "/api/patients/{big}/sessions", "patient_id"),
    ("GET", "/api/patients/{big}/today", "patient_id"),
    ("GET", "/api/patients/{big}/outcomes", "patient_id"),
    ("GET", "/api/patients/{big}/assessments", "patient_id"),
    ("GET", "/api/patients/{big}/calendar-tokens", "patient_id"),
    ("POST", "/api/patients/{big}/calendar-tokens", "patient_id"),
    ("DELETE", "/api/patients/1/calendar-tokens/{big}", "token_id"),
    ("GET", "/api/patients/{big}/fhir", "patient_id"),
    ("GET", "/api/patients/{big}/calendar.ics", "patient_id"),
    ("GET", "/api/patients/{big}/handout.pdf", "patient_id"),
    ("GET", "/api/assessments/{big}", "assessment_id"),
    ("POST", "/api/assessments/{big}/plans", "assessment_id"),
    ("GET", "/api/plans/{big}", "plan_id"),
    ("POST", "/api/plans/{big}/approve", "plan_id"),
    ("POST", "/api/sessions/{big}/done", "session_id"),
    ("POST", "/api/sessions/{big}/missed", "session_id"),
    ("PATCH", "/api/users/{big}", "user_id"),
    ("GET", "/api/audit?patient_id={big}", "patient_id"),
]


def test_ids_beyond_64_bits_are_422_naming_the_id(client) -> None:  # type: ignore[no-untyped-def]
    for method, template, field in ID_ROUTES:
        role = "admin" if "/users" in template or "/audit" in template else "clinician"
        r = client.request(method, template.format(big=BIG), headers=bearer(client, role), json={})
        _assert_422(r, field)
    body = {"username": "new-patient", "display_name": "P", "role": "patient",
            "password": "a long enough passphrase", "patient_id": BIG}  # fmt: skip
    _assert_422(client.post("/api/users", json=body, headers=bearer(client, "admin")), "patient_id")


def test_web_pages_refuse_ids_beyond_64_bits(client) -> None:  # type: ignore[no-untyped-def]
    from tests.storage.world import PASSWORD

    client.post("/login", data={"username": "clinician@test", "password": PASSWORD})
    for path in (f"/patients/{BIG}", f"/plans/{BIG}", f"/plans/{BIG}/course"):
        r = client.get(path)
        assert r.status_code == 422, (path, r.status_code)
        assert "text/html" in r.headers["content-type"]


# ---------- dates out of range ----------


def test_dates_outside_1900_to_2199_are_422_naming_the_field(client) -> None:  # type: ignore[no-untyped-def]
    h = bearer(client, "clinician")
    pid = client.world.patients["P1"]
    for day in ("9999-12-31", "0001-01-01"):
        _assert_422(client.get(f"/api/patients/{pid}/today?date={day}&days=31", headers=h), "date")
        _assert_422(client.post("/api/patients", json={"name": "X", "birth_date": day}, headers=h), "birth_date")
        plan = client.world.new_plan()
        body = {"version": plan["version"], "reason": "move it", "start": day}
        _assert_422(client.patch(f"/api/plans/{plan['plan_id']}", json=body, headers=h), "start")
        approved = client.world.new_plan(approve=True)
        body = {"new_date": day, "dry_run": True}
        _assert_422(client.post(f"/api/sessions/{approved['session_id']}/missed", json=body, headers=h), "new_date")
        _assert_422(client.post(f"/api/patients/{pid}/outcomes",
                                json={"date": day, "measure": "pgi", "value": 1}, headers=h), "date")  # fmt: skip
        assessment = {"date": day, "scars": [{"type": "rolling", "count": 2}], "marks": [], "active_lesions": []}
        r = client.post(f"/api/patients/{pid}/assessments", json={"assessment": assessment}, headers=h)
        _assert_422(r, "assessment.date")
        assessment["date"] = "2026-11-20"
        r = client.post(f"/api/patients/{pid}/assessments",
                        json={"assessment": assessment, "preferences": {"start": day}}, headers=h)  # fmt: skip
        _assert_422(r, "preferences.start")


# ---------- numbers ----------


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_outcome_values_are_422(client, value: str) -> None:  # type: ignore[no-untyped-def]
    pid = client.world.patients["P1"]
    raw = f'{{"date": "2026-11-20", "measure": "pgi", "value": {value}}}'
    r = client.post(f"/api/patients/{pid}/outcomes", content=raw, headers={**bearer(client, "clinician"), **JSON})
    _assert_422(r, "value")


def test_counts_are_bounded_at_entry_and_the_export_keeps_working(client) -> None:  # type: ignore[no-untyped-def]
    h = bearer(client, "clinician")
    pid = client.world.patients["P1"]
    for entry, field in (
        ({"type": "rolling", "count": 10**30}, "assessment.scars[0].count"),
        ({"type": "rolling", "count": 10_001}, "assessment.scars[0].count"),
        ({"type": "rolling", "count": 3, "area_cm2": 1e30}, "assessment.scars[0].area_cm2"),
        ({"type": "rolling", "count": 3, "age_months": 10**9}, "assessment.scars[0].age_months"),
    ):
        assessment = {"date": "2026-11-20", "scars": [entry], "marks": [], "active_lesions": []}
        r = client.post(f"/api/patients/{pid}/assessments", json={"assessment": assessment}, headers=h)
        _assert_422(r, field)
    assert client.get(f"/api/patients/{pid}/fhir", headers=h).status_code == 200


# ---------- text no database can store ----------


def test_nul_and_lone_surrogates_are_422_naming_the_field(client) -> None:  # type: ignore[no-untyped-def]
    h = {**bearer(client, "clinician"), **JSON}
    pid = client.world.patients["P1"]
    assessment = '{"assessment": {"date": "2026-11-20", "notes": "%s", "scars": [], "marks": [], "active_lesions": []}}'
    for bad in ("a\\u0000b", "a\\ud800b", "a\\udc00"):
        _assert_422(client.post("/api/patients", content=f'{{"name": "{bad}"}}', headers=h), "name")
        r = client.post(f"/api/patients/{pid}/assessments", content=assessment % bad, headers=h)
        _assert_422(r, "assessment.notes")
        r = client.post("/api/auth/token", content=f'{{"username": "{bad}", "password": "x"}}', headers=JSON)
        _assert_422(r, "username")
    _assert_422(client.get("/api/patients?q=a%00b", headers=h), "q")
    r = client.post("/api/patients", content='{"name": "A", "clinical": {"history": ["a\\u0000"]}}', headers=h)
    _assert_422(r, "clinical.history[0]")
    r = client.post("/login", data={"username": "a\x00b", "password": "x"})
    assert r.status_code == 422 and "text/html" in r.headers["content-type"]
    # a valid surrogate pair is one character, and stays welcome
    r = client.post("/api/patients", content='{"name": "Zoe \\ud83d\\ude00"}', headers=h)
    assert r.status_code == 201, r.text


def test_a_422_never_echoes_a_password(client) -> None:  # type: ignore[no-untyped-def]
    secret = "tiny-\x01"
    r = client.post("/api/auth/token", content=json.dumps({"username": "u", "password": ""}), headers=JSON)
    assert r.status_code == 422
    body = {"username": "someone", "display_name": "S", "role": "clinician", "password": secret}
    r = client.post("/api/users", json=body, headers=bearer(client, "admin"))
    assert r.status_code == 422 and r.json()["field"] == "password"
    assert secret not in r.text and "tiny" not in r.text


# ---------- exports ----------


def test_a_newline_in_the_clinic_name_is_refused_and_old_ones_do_not_break_calendars(client) -> None:  # type: ignore[no-untyped-def]
    from cicatrix.storage.models import Clinic

    _assert_422(client.patch("/api/clinic", json={"name": "A\nB"}, headers=bearer(client, "admin")), "name")
    with client.world.database.session() as db:  # as an older version may have stored it
        db.execute(update(Clinic).where(Clinic.id == client.world.clinic_a).values(name="Clinic\r\nA"))
        db.commit()
    pid = client.world.patients["P1"]
    r = client.get(f"/api/patients/{pid}/calendar.ics", headers=bearer(client, "clinician"))
    assert r.status_code == 200, r.text[:300]
    assert "Clinic A" in r.text


def test_exports_of_a_patient_without_phototype_say_what_is_missing(client) -> None:  # type: ignore[no-untyped-def]
    h = bearer(client, "clinician")
    pid = client.world.patients["P2"]  # has an approved plan
    version = client.get(f"/api/patients/{pid}", headers=h).json()["version"]
    r = client.patch(f"/api/patients/{pid}", json={"version": version, "clinical": {"phototype": None}}, headers=h)
    assert r.status_code == 200, r.text
    token = client.post(f"/api/patients/{pid}/calendar-tokens", headers=h).json()["token"]
    for path in (f"/api/patients/{pid}/fhir", f"/api/patients/{pid}/calendar.ics",
                 f"/api/patients/{pid}/handout.pdf", f"/api/calendar/{token}.ics"):  # fmt: skip
        _assert_422(client.get(path, headers=h), "clinical.phototype")
