"""Issue 13 §1: export → import into an empty clinic → export loses nothing of a course with
done, missed and re-dated sessions (SQLite and PostgreSQL), and every resource instance has its
own id, the same in every export."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from typing import Any

from fhir.resources.R4B.bundle import Bundle

from cicatrix.exports.fhir import EXT_SESSION_NUMBER, EXT_SESSION_OCCURRENCE, EXT_SESSION_SEQUENCE, comparable
from tests.api.fixtures import bearer

from .conftest import as_proposed


def _sessions(bundle: dict[str, Any]) -> list[tuple[str, int, int, str, str, int, str | None]]:
    """Each session instance as (treatment, number, occurrence, date, request status, re-dates,
    procedure status)."""
    procs = {
        b["reference"]: e["resource"]["status"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "Procedure"
        for b in e["resource"]["basedOn"]
    }
    out = []
    for e in bundle["entry"]:
        r = e["resource"]
        if r["resourceType"] != "ServiceRequest":
            continue
        ext = {x["url"]: next(v for k, v in x.items() if k.startswith("value")) for x in r["extension"]}
        out.append(
            (
                r["code"]["coding"][0]["code"],
                ext[EXT_SESSION_NUMBER],
                ext[EXT_SESSION_OCCURRENCE],
                r["occurrenceDateTime"],
                r["status"],
                ext[EXT_SESSION_SEQUENCE],
                procs.get(e["fullUrl"]),
            )
        )
    return out


FACTS = {
    "history": ["cold sores", "bleeding_disorder"],
    "medications": ["aspirin"],
    "isotretinoin_last_dose": date(2024, 3, 1),  # long before: nothing waits for it
}


def _course_with_history(client) -> int:  # type: ignore[no-untyped-def]
    """P1's approved course with session 1 given and session 2 missed and moved a week on (which
    re-dates the sessions after it); P1 has a history, a medicine and a past isotretinoin course."""
    from cicatrix.storage.models import Patient

    p1 = client.world.patients["P1"]
    with client.world.database.transaction() as db:
        row = db.get(Patient, p1)
        for k, v in FACTS.items():
            setattr(row, k, v)
    h = bearer(client, "clinician")
    sessions = client.get(f"/api/patients/{p1}/sessions", headers=h).json()["sessions"]
    assert len(sessions) >= 3, sessions
    first, second = sessions[0], sessions[1]
    r = client.post(f"/api/sessions/{first['id']}/done", json={}, headers=h)
    assert r.status_code == 200, r.text
    moved = (date.fromisoformat(second["date"]) + timedelta(days=7)).isoformat()
    r = client.post(f"/api/sessions/{second['id']}/missed", json={"new_date": moved}, headers=h)
    assert r.status_code == 200, r.text
    return p1


def test_round_trip_keeps_every_status_date_and_count(client) -> None:  # type: ignore[no-untyped-def]
    p1 = _course_with_history(client)
    first = client.get(f"/api/patients/{p1}/fhir", headers=bearer(client, "clinician")).json()
    Bundle.model_validate(first)
    before = _sessions(first)
    kinds = Counter((s[4], s[6]) for s in before)
    assert kinds[("completed", "completed")] == 1  # given
    assert kinds[("revoked", "not-done")] == 1  # missed
    assert any(s[2] == 2 and s[4] == "active" for s in before)  # its replacement, still planned
    assert any(s[5] > 0 for s in before if s[2] == 1 and s[4] == "active")  # a re-dated session

    r = client.post("/api/patients/import/fhir", json=first, headers=bearer(client, "clinician_b"))
    assert r.status_code == 201, r.text
    assert r.json()["skipped"] == {}
    again = client.get(f"/api/patients/{r.json()['id']}/fhir", headers=bearer(client, "clinician_b")).json()
    assert _sessions(again) == before
    # everything else too, but the plan arriving as a proposal and the ids of the other clinic
    assert comparable(again, across_clinics=True) == comparable(as_proposed(first), across_clinics=True)
    # clinic B's schedule holds the same instances, statuses, dates and re-schedule counts
    a = client.get(f"/api/patients/{p1}/sessions", headers=bearer(client, "clinician")).json()["sessions"]
    b = client.get(f"/api/patients/{r.json()['id']}/sessions", headers=bearer(client, "clinician_b")).json()
    keys = ("treatment", "number", "date", "status", "sequence")
    assert [tuple(s[k] for k in keys) for s in b["sessions"]] == [tuple(s[k] for k in keys) for s in a]
    # and the safety facts, carried as resources of their own
    kinds = Counter(e["resource"]["resourceType"] for e in first["entry"])
    assert kinds["MedicationStatement"] == 2 and kinds["Condition"] == 3
    pa = client.get(f"/api/patients/{p1}", headers=bearer(client, "clinician")).json()["clinical"]
    pb = client.get(f"/api/patients/{r.json()['id']}", headers=bearer(client, "clinician_b")).json()["clinical"]
    pa.pop("notes")  # the clinician's private note stays in the clinic (not in the Bundle)
    pb.pop("notes")
    assert pb == pa and pa["history"] == FACTS["history"] and pa["isotretinoin_last_dose"] == "2024-03-01"


def test_missed_session_and_its_replacement_have_their_own_ids(client) -> None:  # type: ignore[no-untyped-def]
    p1 = _course_with_history(client)
    h = bearer(client, "clinician")
    first = client.get(f"/api/patients/{p1}/fhir", headers=h).json()
    urls = [e["fullUrl"] for e in first["entry"]]
    assert len(urls) == len(set(urls))  # bdl-7
    ids = [(e["resource"]["resourceType"], e["resource"]["id"]) for e in first["entry"]]
    assert len(ids) == len(set(ids))
    (careplan,) = [e["resource"] for e in first["entry"] if e["resource"]["resourceType"] == "CarePlan"]
    refs = [a["reference"]["reference"] for a in careplan["activity"] if "reference" in a]
    assert len(refs) == len(set(refs))
    # the same instances keep their ids in the next export; the Bundle is stamped each time
    second = client.get(f"/api/patients/{p1}/fhir", headers=h).json()
    assert [e["fullUrl"] for e in second["entry"]] == urls
    assert second["id"] == first["id"] and second["timestamp"].startswith("2026-11-23T12:00:00")
    # a change of content is a new Bundle id, with the unchanged resources' ids kept
    sessions = client.get(f"/api/patients/{p1}/sessions", headers=h).json()["sessions"]
    planned = next(s for s in sessions if s["status"] == "planned")
    from cicatrix.storage.models import CourseSession
    from tests.today import TODAY

    with client.world.database.transaction() as db:  # done is recorded on or after the session's day
        row = db.get(CourseSession, planned["id"])
        row.date = min(row.date, TODAY)
    r = client.post(f"/api/sessions/{planned['id']}/done", json={}, headers=h)
    assert r.status_code == 200, r.text
    third = client.get(f"/api/patients/{p1}/fhir", headers=h).json()
    assert third["id"] != first["id"]
    assert [e["fullUrl"] for e in third["entry"] if e["resource"]["resourceType"] == "ServiceRequest"] == [
        e["fullUrl"] for e in first["entry"] if e["resource"]["resourceType"] == "ServiceRequest"
    ]


def test_the_same_record_number_in_two_clinics_is_two_patients(client) -> None:  # type: ignore[no-untyped-def]
    """P3 of clinic B is given P1's record number: their Patient ids and identifier systems differ."""
    from cicatrix.storage.models import Patient

    with client.world.database.transaction() as db:
        p3 = db.get(Patient, client.world.patients["P3"])
        p3.mrn = "MRN-P1"
    one = client.get(f"/api/patients/{client.world.patients['P1']}/fhir", headers=bearer(client, "clinician")).json()
    two = client.get(f"/api/patients/{client.world.patients['P3']}/fhir", headers=bearer(client, "clinician_b")).json()
    pa, pb = (next(e for e in b["entry"] if e["resource"]["resourceType"] == "Patient") for b in (one, two))
    assert pa["fullUrl"] != pb["fullUrl"]
    ia, ib = pa["resource"]["identifier"][0], pb["resource"]["identifier"][0]
    assert ia["value"] == ib["value"] == "MRN-P1" and ia["system"] != ib["system"]
