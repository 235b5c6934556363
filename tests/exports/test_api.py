"""Export routes over the real service, on SQLite (and PostgreSQL when configured)."""

from __future__ import annotations

from fhir.resources.R4B.bundle import Bundle
from icalendar import Calendar
from sqlalchemy import select

from cicatrix.exports.fhir import EXT_PHOTOTYPE, PHOTOTYPE, comparable
from cicatrix.exports.ids import PATIENT_ID_SYSTEM
from cicatrix.storage.models import AuditEvent
from tests.api.fixtures import bearer

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
    with client.world.database.transaction() as db:
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
    assert comparable(again, across_clinics=True) == comparable(as_proposed(first), across_clinics=True)
    # importing the same record twice is refused, naming the element
    r2 = client.post("/api/patients/import/fhir", json=first, headers=bearer(client, "clinician_b"))
    assert r2.status_code == 409 and r2.json()["field"] == "Patient.identifier"  # a record number in use


def test_import_of_a_bad_patient_names_the_element(client) -> None:  # type: ignore[no-untyped-def]
    bad = {"resourceType": "Patient", "birthDate": "1994-13-40"}
    r = client.post("/api/patients/import/fhir", json=bad, headers=bearer(client, "clinician"))
    assert r.status_code == 422
    assert r.json()["field"] == "Patient.birthDate"



def _phototype(code: str) -> list[dict[str, object]]:
    return [{"url": EXT_PHOTOTYPE, "valueCodeableConcept": {"coding": [{"system": PHOTOTYPE, "code": code}]}}]


def test_import_is_refused_to_roles_that_may_not_create_patients(client) -> None:  # type: ignore[no-untyped-def]
    """A well-formed Patient, so the refusal comes from the policy, not from reading the body."""
    good = {"resourceType": "Patient", "identifier": [{"system": PATIENT_ID_SYSTEM, "value": "POLICY-1"}],
            "birthDate": "1994-05-17", "gender": "female", "extension": _phototype("IV")}  # fmt: skip
    for role in ("patient", "admin"):
        r = client.post("/api/patients/import/fhir", json=good, headers=bearer(client, role))
        assert r.status_code == 403 and r.json()["field"] == "role", (role, r.text)
    r = client.post("/api/patients/import/fhir", json=good, headers=bearer(client, "clinician"))
    assert r.status_code == 201, r.text


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
    # a polling calendar app revalidates with the ETag and gets 304 while nothing changed
    etag = sub.headers["etag"]
    assert etag.startswith('W/"') and sub.headers["cache-control"] == "private, no-cache"
    again = client.get(f"/api/calendar/{tok['token']}.ics", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    stale = client.get(f"/api/calendar/{tok['token']}.ics", headers={"If-None-Match": 'W/"other"'})
    assert stale.status_code == 200 and stale.headers["etag"] == etag
    revoke = client.delete(f"/api/patients/{p1}/calendar-tokens/{tok['id']}", headers=bearer(client, "patient"))
    assert revoke.status_code in (200, 204), revoke.text
    assert client.get(f"/api/calendar/{tok['token']}.ics").status_code == 404
    assert client.get("/api/calendar/not-a-token.ics").status_code == 404


def test_handout_pdf(client) -> None:  # type: ignore[no-untyped-def]
    p1 = client.world.patients["P1"]
    r = client.get(f"/api/patients/{p1}/handout.pdf", headers=bearer(client, "clinician"))
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
    assert client.get(f"/api/patients/{p1}/handout.pdf", headers=bearer(client, "patient2")).status_code == 404
    assert r.headers["content-type"] == "application/pdf"


REASON = "keloids on the chest only; patient consents after discussion"


def test_import_of_an_unsafe_plan_needs_an_override_in_the_request(client) -> None:  # type: ignore[no-untyped-def]
    from tests.service.records import KELOID, bundle_for

    bundle = bundle_for(client.world.kb, "EXT-API-K", KELOID)
    url, who = "/api/patients/import/fhir", bearer(client, "clinician")
    r = client.post(url, json=bundle, headers=who)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["field"] == "CarePlan" and body["treatment"] == "microneedling"
    assert "keloid_history" in body["message"]
    # the override travels beside the resource; the plan is stored proposed with it
    override = {"treatment": "microneedling", "reason": REASON}
    r = client.post(url, json={"resource": bundle, "overrides": [override]}, headers=who)
    assert r.status_code == 201, r.text
    plan = client.get(f"/api/patients/{r.json()['id']}/plan", headers=who).json()
    assert (plan["status"], plan["approved_by"]) == ("proposed", None)
    assert [(o["treatment"], o["reason"]) for o in plan["overrides"]] == [("microneedling", REASON)]
    assert [e["kind"] for e in plan["edits"]] == ["import", "override"]


def test_import_request_errors_name_the_field(client) -> None:  # type: ignore[no-untyped-def]
    from tests.service.records import KELOID, bundle_for

    bundle = bundle_for(client.world.kb, "EXT-API-E", KELOID)
    url, who = "/api/patients/import/fhir", bearer(client, "clinician")
    cases = [
        ({"resource": bundle, "overrides": [{"treatment": "microneedling"}]}, "overrides[0].reason"),
        ({"resource": bundle, "overrides": [{"treatment": "microneedling", "reason": REASON}], "x": 1}, "x"),
        ({"overrides": []}, "resource"),
        ({"resource": bundle, "overrides": [{"treatment": "warp_drive", "reason": REASON}]}, "overrides[0].treatment"),
    ]
    for body, field in cases:
        r = client.post(url, json=body, headers=who)
        assert r.status_code == 422 and r.json()["field"] == field, (field, r.text)
    entries = bundle["entry"]
    r = client.post(url, json={**bundle, "entry": [*entries, entries[-1]]}, headers=who)
    assert r.status_code == 422 and r.json()["field"] == f"Bundle.entry[{len(entries)}].fullUrl"


def test_import_entry_limit_is_a_setting(client) -> None:  # type: ignore[no-untyped-def]
    import dataclasses

    from fastapi.testclient import TestClient

    from cicatrix.api.app import create_app
    from tests.today import NOW

    p1 = client.world.patients["P1"]
    bundle = client.get(f"/api/patients/{p1}/fhir", headers=bearer(client, "clinician")).json()
    n = len(bundle["entry"])
    settings = dataclasses.replace(client.world.database.settings, fhir_max_entries=n - 1)
    app = create_app(settings, clock=lambda: NOW, knowledge=client.world.kb)
    with TestClient(app, raise_server_exceptions=False) as small:
        r = small.post("/api/patients/import/fhir", json=bundle, headers=bearer(client, "clinician_b"))
    app.state.db.dispose()
    assert r.status_code == 422 and r.json()["field"] == "Bundle.entry"
    assert f"at most {n - 1}" in r.json()["message"]
