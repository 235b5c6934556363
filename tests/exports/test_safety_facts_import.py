"""Issue 13 §2 over the real service (SQLite and PostgreSQL): a Bundle whose safety facts are
resources, with no cicatrix extension on its Patient, is screened by those facts on import."""

from __future__ import annotations

from typing import Any

from cicatrix.exports.safety_facts import SAFETY_FACTS
from tests.api.fixtures import bearer


def _outside(bundle: dict[str, Any]) -> dict[str, Any]:
    """As another system sends it: the Patient bare, the facts only as resources."""
    for e in bundle["entry"]:
        if e["resource"]["resourceType"] == "Patient":
            e["resource"].pop("extension", None)
    return bundle


def test_a_pregnancy_observation_screens_the_imported_plan(client) -> None:  # type: ignore[no-untyped-def]
    from tests.service.records import bundle_for

    bundle = _outside(bundle_for(client.world.kb, "EXT-PREG", {"phototype": "III", "pregnant": True}))
    assert any(
        c.get("code") == "pregnant"
        for e in bundle["entry"]
        for c in e["resource"].get("code", {}).get("coding", [])
        if c.get("system") == SAFETY_FACTS
    )
    r = client.post("/api/patients/import/fhir", json=bundle, headers=bearer(client, "clinician"))
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "CarePlan" and "pregnan" in r.json()["message"].lower()


def test_a_keloid_condition_screens_the_imported_plan(client) -> None:  # type: ignore[no-untyped-def]
    from tests.service.records import KELOID, bundle_for

    bundle = _outside(bundle_for(client.world.kb, "EXT-KEL", KELOID))
    r = client.post("/api/patients/import/fhir", json=bundle, headers=bearer(client, "clinician"))
    assert r.status_code == 422, r.text
    assert r.json()["treatment"] == "microneedling" and "keloid_history" in r.json()["message"]
    # without the facts' resources the same plan is stored (proposed): the resources did it
    clean = {**bundle, "entry": [e for e in bundle["entry"] if e["resource"]["resourceType"] != "Condition"
                                 or "acne-scarring" in str(e["resource"]["code"])]}  # fmt: skip
    # (the phototype Observation stays, so the patient is still screened on phototype III)
    r = client.post("/api/patients/import/fhir", json=clean, headers=bearer(client, "clinician"))
    assert r.status_code == 201, r.text
