"""History and medication terms over the API: 422 naming the field and the term, the record
keeps what was typed, and the synonyms change the plan (issue 10, pattern 4)."""

from __future__ import annotations

import json
from typing import Any

from cicatrix.exports.fhir import EXT_SCREENING
from cicatrix.exports.safety_facts import MEDICATIONS
from tests.api.fixtures import bearer

ROLLING = {"date": "2026-11-22", "goodman_baron_qualitative": 3, "scars": [{"type": "rolling", "count": 8}],
           "marks": [], "active_lesions": []}  # fmt: skip


def _new(client: Any, **clinical: Any) -> Any:
    return client.post(
        "/api/patients",
        json={"name": "Terms Person", "clinical": {"phototype": "III", **clinical}},
        headers=bearer(client, "clinician"),
    )


def test_an_unknown_medication_is_422_naming_the_field_and_the_term(client) -> None:  # type: ignore[no-untyped-def]
    r = _new(client, medications=["tacrolimus", "foo"])
    assert r.status_code == 422
    body = r.json()
    assert body["field"] == "clinical.medications[1]" and body["value"] == "foo"
    assert "unknown medication 'foo'" in body["message"]


def test_a_word_for_a_structured_field_is_422_naming_that_field(client) -> None:  # type: ignore[no-untyped-def]
    r = _new(client, history=["pregnant"])
    assert r.status_code == 422
    assert r.json()["field"] == "clinical.history[0]" and "patient.pregnant" in r.json()["message"]


def test_synonyms_are_kept_as_typed_and_change_the_plan(client) -> None:  # type: ignore[no-untyped-def]
    h = bearer(client, "clinician")
    r = _new(client, medications=["Tacrolimus", "prednisolone"], history=["Kidney transplant"])
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    clinical = client.get(f"/api/patients/{pid}", headers=h).json()["clinical"]
    assert clinical["medications"] == ["Tacrolimus", "prednisolone"]  # the record keeps what was typed
    assert clinical["history"] == ["Kidney transplant"]
    made = client.post(f"/api/patients/{pid}/assessments", json={"assessment": ROLLING}, headers=h)
    assert made.status_code == 201, made.text
    plan = made.json()["plan"]["plan"]
    assert "microneedling" in {e["treatment"] for e in plan["excluded"]}


def test_updating_history_with_an_unknown_term_is_422(client) -> None:  # type: ignore[no-untyped-def]
    h = bearer(client, "clinician")
    pid = client.world.patients["P2"]
    v = client.get(f"/api/patients/{pid}", headers=h).json()["version"]
    r = client.patch(f"/api/patients/{pid}", json={"version": v, "clinical": {"history": ["cold sores", "asthma"]}},
                     headers=h)  # fmt: skip
    assert r.status_code == 422 and r.json()["field"] == "clinical.history[1]"
    ok = client.patch(f"/api/patients/{pid}", json={"version": v, "clinical": {"history": ["cold sores"]}}, headers=h)
    assert ok.status_code == 200 and ok.json()["clinical"]["history"] == ["cold sores"]


def test_an_assessments_own_patient_terms_are_checked(client) -> None:  # type: ignore[no-untyped-def]
    pid = client.world.patients["P1"]
    r = client.post(f"/api/patients/{pid}/assessments",
                    json={"assessment": ROLLING, "patient": {"medications": ["foo"]}},
                    headers=bearer(client, "clinician"))  # fmt: skip
    assert r.status_code == 422 and r.json()["field"] == "patient.medications[0]"


def test_fhir_import_with_an_unknown_term_is_422_naming_it(client) -> None:  # type: ignore[no-untyped-def]
    p1 = client.world.patients["P1"]
    bundle = client.get(f"/api/patients/{p1}/fhir", headers=bearer(client, "clinician")).json()
    (patient,) = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"]
    others = [x for x in patient["extension"] if x["url"] != EXT_SCREENING]
    screening = {"medications": ["warfarin", "foo"]}
    patient["extension"] = [*others, {"url": EXT_SCREENING, "valueString": json.dumps(screening)}]
    r = client.post("/api/patients/import/fhir", json=bundle, headers=bearer(client, "clinician_b"))
    assert r.status_code == 422
    assert r.json()["field"] == f"Bundle.entry[0].resource.extension({EXT_SCREENING}).medications[1]"
    assert "'foo'" in r.json()["message"]
    # today's exports carry the terms as MedicationStatements: the message names that element
    patient["extension"] = others
    subject = {"reference": bundle["entry"][0]["fullUrl"]}
    bundle["entry"].append({"resource": {"resourceType": "MedicationStatement", "status": "active", "subject": subject,
        "medicationCodeableConcept": {"coding": [{"system": MEDICATIONS, "code": "foo"}], "text": "foo"}}})  # fmt: skip
    r = client.post("/api/patients/import/fhir", json=bundle, headers=bearer(client, "clinician_b"))
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "MedicationStatement.medicationCodeableConcept[0]"
    assert "'foo'" in r.json()["message"]
