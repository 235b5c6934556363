"""Property-based fuzzing of every operation in the OpenAPI document with schemathesis:
no 5xx, and every response (status, content type, body) matches the published schema.

Bounded on purpose (a few examples per operation) so it stays well under a minute.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
SKIP = {("POST", "/api/auth/logout")}  # would revoke the token the run uses
ADMIN_PATHS = ("/api/users", "/api/clinic", "/api/audit")
MAX_EXAMPLES = 4
SERVICE_TAGS = {"auth", "patients", "care", "admin"}


def _fuzz(op, checks, headers):  # type: ignore[no-untyped-def]
    @given(case=op.as_strategy())
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case) -> None:  # type: ignore[no-untyped-def]
        response = case.call(headers=headers)
        case.validate_response(response, checks=checks, headers=headers)

    return run


def test_openapi_is_published(client) -> None:  # type: ignore[no-untyped-def]
    doc = client.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    assert "/api/patients/{patient_id}/plan" in doc["paths"]
    assert "ErrorBody" in doc["components"]["schemas"]


def test_fuzz_every_operation(client) -> None:  # type: ignore[no-untyped-def]
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    failures: list[str] = []
    ran = 0
    for result in schema.get_all_operations():
        op = result.ok()
        if (op.method.upper(), op.path) in SKIP or not op.path.startswith("/api/"):
            continue
        role = "admin" if op.path.startswith(ADMIN_PATHS) else "clinician"
        headers = {"Authorization": f"Bearer {client.world.tokens[role]}"}
        # Operations of other modules (exports, web) are held to "no 5xx" here; their owners
        # test their own media types.
        ours = bool(SERVICE_TAGS & set(op.definition.raw.get("tags", [])))
        checks = CHECKS if ours else [not_a_server_error]

        try:
            _fuzz(op, checks, headers)()
            ran += 1
        except Exception as exc:  # collect all operations' failures, report together
            failures.append(f"{op.method.upper()} {op.path}: {str(exc)[:600]}")
    assert not failures, "\n\n".join(failures)
    assert ran > 30
