"""Patient records (issue 14 §4): one record number per clinic, bounds naming the field,
contact details checked and shown formatted, the optimistic version check, accent- and
case-insensitive search. Both back ends (the `world` fixture's `settings`)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, text, update

from cicatrix.storage import migrate
from cicatrix.storage.db import WriteConflict
from cicatrix.storage.models import AuditEvent, Patient
from tests.api.fixtures import bearer
from tests.storage.world import ASSESSMENT


def _create(client, role: str = "front_desk", **fields: Any):  # type: ignore[no-untyped-def]
    return client.post("/api/patients", json={"name": "Zoë Ångström", **fields}, headers=bearer(client, role))


def _patient(client, pid: int, role: str = "clinician") -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = client.get(f"/api/patients/{pid}", headers=bearer(client, role))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


# ---------- record numbers ----------


def test_a_record_number_names_one_patient_of_a_clinic(client) -> None:  # type: ignore[no-untyped-def]
    r = _create(client, mrn="MRN-P1")  # P1's number in clinic A
    assert r.status_code == 409, r.text
    body = r.json()
    assert body["field"] == "mrn" and "MRN-P1" in body["message"] and "already used" in body["message"]
    assert body["patient_id"] == client.world.patients["P1"]
    # an edit that would take it is refused the same way, and changes nothing
    p2 = _patient(client, client.world.patients["P2"])
    r = client.patch(f"/api/patients/{p2['id']}", json={"version": p2["version"], "mrn": "MRN-P1"},
                     headers=bearer(client, "front_desk"))  # fmt: skip
    assert r.status_code == 409 and r.json()["field"] == "mrn"
    assert _patient(client, p2["id"])["mrn"] == "MRN-P2"
    # another clinic may use the same number; a patient may keep their own
    r = client.post("/api/patients", json={"name": "Other", "mrn": "MRN-P1"}, headers=bearer(client, "clinician_b"))
    assert r.status_code == 201, r.text
    r = client.patch(f"/api/patients/{p2['id']}", json={"version": p2["version"], "mrn": "MRN-P2", "name": "P two"},
                     headers=bearer(client, "front_desk"))  # fmt: skip
    assert r.status_code == 200, r.text


def test_the_database_holds_one_record_number_per_clinic(world: Any) -> None:
    """A writer that skipped the service's check (two desks at the same moment) still loses."""
    with pytest.raises(WriteConflict) as caught, world.database.transaction() as db:
        db.execute(update(Patient).where(Patient.id == world.patients["P2"]).values(mrn="MRN-P1"))
    assert caught.value.status == 409 and caught.value.field == "mrn"
    with world.database.transaction() as db:
        db.execute(update(Patient).where(Patient.id == world.patients["P2"]).values(mrn=None))
        db.execute(update(Patient).where(Patient.id == world.patients["P1"]).values(mrn=None))  # several without


def test_migration_0009_keeps_the_first_patients_number_and_audits_the_repair(world: Any) -> None:
    settings = world.database.settings
    world.database.dispose()
    migrate.downgrade(settings, "0004")  # before the index: duplicates and unfolded keys existed
    p1, p2 = world.patients["P1"], world.patients["P2"]
    with world.database.transaction() as db:
        db.execute(text("UPDATE patient SET mrn = 'MRN-P1', name = 'ZOË Smith', name_key = 'zoë smith' WHERE id = :id"),
                   {"id": p2})  # fmt: skip
    world.database.dispose()
    migrate.upgrade(settings)
    with world.database.transaction() as db:
        first, second = db.get(Patient, p1), db.get(Patient, p2)
        assert first is not None and second is not None
        assert first.mrn == "MRN-P1" and second.mrn is None
        assert {"system": "urn:cicatrix:former-record-number", "value": "MRN-P1", "type": "MR"} in second.identifiers
        assert second.name_key == "zoe smith"
        event = db.scalars(select(AuditEvent).where(AuditEvent.entity_id == str(p2), AuditEvent.action == "update")).one()
        assert "migration 0009" in (event.detail or "") and "MRN-P1" not in (event.detail or "")


# ---------- search ----------


@pytest.mark.parametrize("q", ["zoe", "ZOE", "Zoë", "angstrom", "zoe ÅNG"])
def test_search_ignores_accents_and_case(client, q: str) -> None:  # type: ignore[no-untyped-def]
    made = _create(client, mrn="Ab-77")
    assert made.status_code == 201, made.text
    r = client.get("/api/patients", params={"q": q}, headers=bearer(client, "front_desk"))
    assert r.status_code == 200 and [p["id"] for p in r.json()["items"]] == [made.json()["id"]]


def test_search_finds_a_record_number_in_any_case(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/api/patients", params={"q": "mrn-p2"}, headers=bearer(client, "front_desk"))
    assert [p["id"] for p in r.json()["items"]] == [client.world.patients["P2"]]


# ---------- contact details ----------


def test_phone_is_stored_in_e164_and_shown_in_the_clinics_format(client) -> None:  # type: ignore[no-untyped-def]
    r = _create(client, phone="07400 123456", email="Zoe@Example.COM")  # clinic A: Europe/London, GB
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["phone"] == "+447400123456" and body["phone_display"] == "07400 123456"
    assert body["email"] == "Zoe@example.com"
    r = client.patch(f"/api/patients/{body['id']}", json={"version": body["version"], "phone": "+33 6 12 34 56 78"},
                     headers=bearer(client, "front_desk"))  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["phone"] == "+33612345678" and r.json()["phone_display"] == "+33 6 12 34 56 78"
    r = client.patch(f"/api/patients/{body['id']}", json={"version": r.json()["version"], "phone": ""},
                     headers=bearer(client, "front_desk"))  # fmt: skip
    assert r.status_code == 200 and r.json()["phone"] is None


@pytest.mark.parametrize(
    ("fields", "field", "says"),
    [
        ({"phone": "12"}, "phone", "not a valid phone number in GB"),
        ({"phone": "call me"}, "phone", "not a phone number"),
        ({"email": "zoe@"}, "email", "after the @-sign"),
        ({"email": "zoe example.com"}, "email", "@"),
        ({"birth_date": "1800-01-01"}, "birth_date", "between 1900-01-01"),
        ({"birth_date": "2026-11-24"}, "birth_date", "in the future"),
    ],
)
def test_bad_details_are_refused_naming_the_field(client, fields: dict[str, str], field: str, says: str) -> None:  # type: ignore[no-untyped-def]
    r = _create(client, **fields)
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field and says in r.json()["message"]
    r = client.get("/api/patients", params={"q": "zoe"}, headers=bearer(client, "front_desk"))
    assert r.json()["total"] == 0  # nothing half-written


def test_a_number_without_its_country_code_needs_a_clinic_country(client) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/api/patients", json={"name": "Z", "phone": "07400 123456"}, headers=bearer(client, "clinician_b"))
    assert r.status_code == 422 and r.json()["field"] == "phone" and "country code" in r.json()["message"]
    r = client.post("/api/patients", json={"name": "Z", "phone": "+44 7400 123456"}, headers=bearer(client, "clinician_b"))
    assert r.status_code == 201 and r.json()["phone_display"] == "+44 7400 123456"  # clinic B: UTC, no country


# ---------- edits ----------


def test_front_desk_edits_contact_details_but_not_clinical_fields(client) -> None:  # type: ignore[no-untyped-def]
    pid = client.world.patients["P1"]
    before = _patient(client, pid, "front_desk")
    assert before["clinical"] is None
    r = client.patch(f"/api/patients/{pid}", json={"version": before["version"], "clinical": {"pregnant": True}},
                     headers=bearer(client, "front_desk"))  # fmt: skip
    assert r.status_code == 403 and r.json()["field"] == "clinical"
    r = client.patch(f"/api/patients/{pid}", json={"version": before["version"], "email": "p1@example.org"},
                     headers=bearer(client, "front_desk"))  # fmt: skip
    assert r.status_code == 200 and r.json()["email"] == "p1@example.org"
    # the version read before that edit is stale now
    r = client.patch(f"/api/patients/{pid}", json={"version": before["version"], "email": "x@example.org"},
                     headers=bearer(client, "clinician"))  # fmt: skip
    assert r.status_code == 409 and r.json()["field"] == "version" and r.json()["current_version"] == before["version"] + 1
    assert _patient(client, pid)["email"] == "p1@example.org"


# ---------- assessments ----------


def _assess(client, assessment: dict[str, Any]):  # type: ignore[no-untyped-def]
    pid = client.world.patients["P1"]
    return client.post(f"/api/patients/{pid}/assessments", json={"assessment": assessment, "generate_plan": False},
                       headers=bearer(client, "clinician"))  # fmt: skip


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        ({"date": "1989-12-31"}, "assessment.date", "before the patient's birth date (1990-01-02)"),
        ({"date": "2026-11-24"}, "assessment.date", "in the future"),
        ({"scars": [{"type": "rolling", "count": 10**9}]}, "assessment.scars[0].count", "at most 1,000"),
        ({"marks": [{"type": "pih", "count": 1001}]}, "assessment.marks[0].count", "at most 1,000"),
        ({"scars": [{"type": "broad_atrophic", "count": 1, "area_cm2": 30000}]}, "assessment.scars[0].area_cm2", "at most 25,000"),
        ({"scars": [], "marks": [], "active_lesions": []}, "assessment.scars", "no scars, marks or active lesions"),
        ({"scars": [{"type": "rolling", "count": 0}], "marks": []}, "assessment.scars", "no scars, marks"),
    ],
)
def test_assessment_bounds_name_the_field(client, change: dict[str, Any], field: str, says: str) -> None:  # type: ignore[no-untyped-def]
    r = _assess(client, {**ASSESSMENT, **change})
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field and says in r.json()["message"]


def test_an_assessment_of_active_lesions_only_is_accepted(client) -> None:  # type: ignore[no-untyped-def]
    r = _assess(client, {"date": "2026-11-20", "scars": [], "marks": [], "active_lesions": [{"type": "papule", "count": 3}]})
    assert r.status_code == 201, r.text
