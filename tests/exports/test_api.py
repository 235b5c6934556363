"""Export routes over the real service, on SQLite (and PostgreSQL when configured)."""

from __future__ import annotations

import json

from fhir.resources.R4B.bundle import Bundle
from icalendar import Calendar
from sqlalchemy import select

from cicatrix.exports.fhir import comparable
from cicatrix.storage.models import AuditEvent
from tests.api.conftest import bearer

from .conftest import as_proposed


def test_fhir_export_is_authorised_audited_and_valid(client) -> None:  # type: ignore[no-untyped-def]
    p1 = client.world.patients["P1"]
    r = client.get(f"/api/patients/{p1}/fhir", headers=bearer(client, "clinician"))
    assert r.status_code == 200, r.text
    bundle = Bundle.model_validate_json(r.text)
    kinds = {e.resource.get_resource_type() for e in bundle.entry}
    assert {"Patient", "Condition", "Observation", "CarePlan", "ServiceRequest"} <= kinds
    assert client.get(f"/api/patients/{p1}/fhir", headers=bearer(client, "patient")).status_code == 200
    assert client.get(f"/api/patients/{p1}/fhir", headers=bearer(client, "patient2")).status_code == 404
    assert client.get(f"/api/patients/{p1}/fhir", headers=bearer(client, "front_desk")).status_code == 403
    assert client.get(f"/api/patients/{p1}/fhir").status_code == 401
    with client.world.database.session() as db:
        events = db.scalars(select(AuditEvent).where(AuditEvent.detail == "export:fhir")).all()
    assert len(events) == 2 and all(e.patient_id == p1 for e in events)


def test_bundle_round_trips_through_an_empty_clinic(client) -> None:  # type: ignore[no-untyped-def]
    p1 = client.world.patients["P1"]
    first = client.get(f"/api/patients/{p1}/fhir", headers=bearer(client, "clinician")).json()
    r = client.post("/api/patients/import/fhir", json=first, headers=bearer(client, "clinician_b"))
    assert r.status_code == 201, r.text
    again = client.get(f"/api/patients/{r.json()['id']}/fhir", headers=bearer(client, "clinician_b")).json()
    # the same record, except that the approved plan arrives as a proposal for clinic B to approve
    assert [e["resource"]["status"] for e in first["entry"] if e["resource"]["resourceType"] == "CarePlan"] == [
        "active"
    ]
    assert comparable(again) == comparable(as_proposed(first))
    # importing the same record twice is refused, naming the element
    r2 = client.post("/api/patients/import/fhir", json=first, headers=bearer(client, "clinician_b"))
    assert r2.status_code == 422 and r2.json()["field"] == "Patient.identifier"


def test_import_of_a_bad_patient_names_the_element(client) -> None:  # type: ignore[no-untyped-def]
    bad = {"resourceType": "Patient", "birthDate": "1994-13-40"}
    r = client.post("/api/patients/import/fhir", json=bad, headers=bearer(client, "clinician"))
    assert r.status_code == 422
    assert r.json()["field"] == "Patient.birthDate"
    r = client.post("/api/patients/import/fhir", json=bad, headers=bearer(client, "patient"))
    assert r.status_code in (403, 422)


def test_calendar_and_private_subscription(client) -> None:  # type: ignore[no-untyped-def]
    p1 = client.world.patients["P1"]
    r = client.get(f"/api/patients/{p1}/calendar.ics", headers=bearer(client, "patient"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/calendar")
    cal = Calendar.from_ical(r.content)
    assert list(cal.walk("VEVENT"))
    assert client.get(f"/api/patients/{p1}/calendar.ics", headers=bearer(client, "patient2")).status_code == 404
    tok = client.post(f"/api/patients/{p1}/calendar-tokens", headers=bearer(client, "patient")).json()
    sub = client.get(f"/api/calendar/{tok['token']}.ics")
    assert sub.status_code == 200
    assert {str(e["UID"]) for e in Calendar.from_ical(sub.content).walk("VEVENT")} == {
        str(e["UID"]) for e in cal.walk("VEVENT")
    }
    revoke = client.delete(f"/api/patients/{p1}/calendar-tokens/{tok['id']}", headers=bearer(client, "patient"))
    assert revoke.status_code in (200, 204), revoke.text
    assert client.get(f"/api/calendar/{tok['token']}.ics").status_code == 404
    assert client.get("/api/calendar/not-a-token.ics").status_code == 404


def test_handout_pdf(client) -> None:  # type: ignore[no-untyped-def]
    p1 = client.world.patients["P1"]
    r = client.get(f"/api/patients/{p1}/handout.pdf", headers=bearer(client, "clinician"))
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
    assert client.get(f"/api/patients/{p1}/handout.pdf", headers=bearer(client, "patient2")).status_code == 404
    json.dumps(r.headers.get("content-type"))
