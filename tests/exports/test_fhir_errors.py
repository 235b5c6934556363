"""Issue 13 §2: a FHIR client (application/fhir+json) gets its errors on FHIR routes as FHIR
OperationOutcomes, naming the element in `expression`; other clients keep cicatrix's error body."""

from __future__ import annotations

import json

from fhir.resources.R4B.operationoutcome import OperationOutcome

from tests.api.fixtures import bearer

FHIR = "application/fhir+json"


def _outcome(r) -> OperationOutcome:  # type: ignore[no-untyped-def]
    assert r.headers["content-type"].startswith(FHIR), r.headers
    return OperationOutcome.model_validate(r.json())


def test_import_errors_are_operation_outcomes_for_fhir_clients(client) -> None:  # type: ignore[no-untyped-def]
    bad = {"resourceType": "Patient", "birthDate": "1994-13-40"}
    h = {**bearer(client, "clinician"), "Content-Type": FHIR, "Accept": FHIR}
    r = client.post("/api/patients/import/fhir", content=json.dumps(bad), headers=h)
    assert r.status_code == 422, r.text
    (issue,) = _outcome(r).issue
    assert (issue.severity, issue.code, issue.expression) == ("error", "invalid", ["Patient.birthDate"])
    # cicatrix's own clients keep the uniform error body
    r = client.post("/api/patients/import/fhir", json=bad, headers=bearer(client, "clinician"))
    assert r.status_code == 422 and r.json()["field"] == "Patient.birthDate"


def test_export_errors_are_operation_outcomes_for_fhir_clients(client) -> None:  # type: ignore[no-untyped-def]
    p1 = client.world.patients["P1"]
    accept = {"Accept": FHIR}
    cases = [
        ({**bearer(client, "patient2"), **accept}, 404, "not-found"),
        ({**bearer(client, "front_desk"), **accept}, 403, "forbidden"),
        (accept, 401, "login"),
    ]
    for headers, status, code in cases:
        r = client.get(f"/api/patients/{p1}/fhir", headers=headers)
        assert r.status_code == status, r.text
        assert _outcome(r).issue[0].code == code
    r = client.get("/api/patients/0/fhir", headers={**bearer(client, "clinician"), **accept})
    assert r.status_code == 422 and _outcome(r).issue[0].code == "invalid"
