"""Issue 13 §2: records from other systems come in. A standard Patient (no cicatrix extensions)
and a Synthea-style transaction Bundle are imported; what cicatrix does not use is reported,
never a reason to refuse; the phototype is then "not yet recorded" and asked for by planning
and the exports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cicatrix.exports.fhir import bundle_json, bundle_to_record, patient_from_fhir, record_from_fhir, record_to_bundle
from cicatrix.exports.ids import PATIENT_ID_SYSTEM
from tests.api.fixtures import bearer
from tests.storage.world import ASSESSMENT, PREFS

SYNTHEA = Path(__file__).parent / "data" / "synthea_style_bundle.json"
HOSPITAL = "http://hospital.smarthealthit.org"


def _synthea() -> dict[str, Any]:
    return dict(json.loads(SYNTHEA.read_text()))


def _bare_patient() -> dict[str, Any]:
    return next(e["resource"] for e in _synthea()["entry"] if e["resource"]["resourceType"] == "Patient")


def test_a_standard_patient_keeps_names_telecom_and_the_hospital_number() -> None:
    record = patient_from_fhir(_bare_patient())
    assert record.id == ""  # no cicatrix record number: the importing clinic assigns one
    assert record.name is not None and record.name.given == ("Ngozi", "Ada") and record.name.family == "Okafor"
    assert record.name.display == "Ngozi Ada Okafor"
    assert (record.telecom.phone, record.telecom.email) == ("555-201-3344", "ngozi@example.org")
    # the record number is kept; the social security number is not cicatrix's to keep
    assert [(x.system, x.value, x.type) for x in record.identifiers] == [(HOSPITAL, "HOSP-77123", "MR")]
    assert record.patient is None  # phototype not yet recorded
    assert (record.sex, str(record.birth_date)) == ("female", "1991-03-14")


def test_a_synthea_style_bundle_imports_its_patient_and_counts_the_rest() -> None:
    skipped: dict[str, int] = {}
    record = bundle_to_record(_synthea(), skipped=skipped)
    assert record.name is not None and record.name.family == "Okafor"
    assert record.assessments == () and record.plan is None and record.sessions == ()
    assert skipped == {"Encounter": 1, "Condition": 1, "Observation": 1, "CarePlan": 1, "Procedure": 1}
    # a collection Bundle of the same resources is read the same way
    data = _synthea() | {"type": "collection"}
    assert record_from_fhir(data, skipped={}) == record


def test_outside_identifiers_and_telecom_travel_in_cicatrix_bundles(plan) -> None:  # type: ignore[no-untyped-def]
    import msgspec

    from .conftest import make_record

    outside = patient_from_fhir(_bare_patient())
    record = msgspec.structs.replace(make_record(plan), telecom=outside.telecom, identifiers=outside.identifiers)
    bundle = json.loads(bundle_json(record_to_bundle(record)))
    patient = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
    systems = [i["system"] for i in patient["identifier"]]
    assert systems == [PATIENT_ID_SYSTEM, HOSPITAL]  # cicatrix's first, the hospital's beside it
    assert patient["telecom"] == [
        {"system": "phone", "value": "555-201-3344"},
        {"system": "email", "value": "ngozi@example.org"},
    ]
    assert bundle_to_record(bundle) == record


def test_api_imports_a_synthea_bundle_and_planning_asks_for_the_phototype(client) -> None:  # type: ignore[no-untyped-def]
    h = bearer(client, "clinician")
    r = client.post("/api/patients/import/fhir", json=_synthea(), headers=h)
    assert r.status_code == 201, r.text
    assert r.json()["skipped"] == {"CarePlan": 1, "Condition": 1, "Encounter": 1, "Observation": 1, "Procedure": 1}
    pid = r.json()["id"]
    got = client.get(f"/api/patients/{pid}", headers=h).json()
    assert got["name"] == "Ngozi Ada Okafor" and got["mrn"] is None
    assert (got["phone"], got["email"]) == ("555-201-3344", "ngozi@example.org")
    assert got["clinical"]["phototype"] is None
    # the same hospital patient twice is refused, naming the element
    again = client.post("/api/patients/import/fhir", json=_synthea(), headers=h)
    assert again.status_code == 422 and "HOSP-77123" in again.text
    # planning and the exports ask for the phototype, naming it
    body = {"assessment": ASSESSMENT, "preferences": PREFS}
    r = client.post(f"/api/patients/{pid}/assessments", json=body, headers=h)
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "patient.phototype" and "not recorded yet" in r.json()["message"]
    r = client.get(f"/api/patients/{pid}/fhir", headers=h)
    assert r.status_code == 422 and "clinical.phototype" in r.text
    # once recorded, the patient exports with both identifiers and the telecom
    r = client.patch(f"/api/patients/{pid}", json={"clinical": {"phototype": "V"}, "version": got["version"]}, headers=h)
    assert r.status_code == 200, r.text
    bundle = client.get(f"/api/patients/{pid}/fhir", headers=h).json()
    patient = bundle["entry"][0]["resource"]
    assert [i["value"] for i in patient["identifier"]] == [f"cicatrix-{pid}", "HOSP-77123"]
    assert {t["system"] for t in patient["telecom"]} == {"phone", "email"}
