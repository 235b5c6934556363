"""Property-based fuzzing of the API with schemathesis, for two roles (clinician and admin):
no 5xx, and every response (status, content type, body) matches the published schema.

Two runs per role and back end:
- every operation on its own (a few examples each, plus the schema's explicit examples);
- stateful: sequences of calls joined by the links schemathesis infers from the schema
  (`POST /api/patients` → `GET /api/patients/{patient_id}` → ...), so ids that exist are used.

Bounded on purpose so the suite stays well under 15 minutes on 2 cores. The seed is fixed,
printed, and can be changed: `CICATRIX_FUZZ_SEED=123 pytest tests/api/test_schemathesis.py`.
A failure message names the seed, so a failing run can be replayed as it was.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
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
SEED = int(os.environ.get("CICATRIX_FUZZ_SEED", "20261130"))
ROLES = ("clinician", "admin")
SKIP = {("POST", "/api/auth/logout")}  # would revoke the token the run uses
MAX_EXAMPLES = 4
STATEFUL_SCENARIOS = 12
STATEFUL_STEPS = 6
SERVICE_TAGS = {"auth", "patients", "care", "admin"}


def _checks_for(op: Any) -> list[Any]:
    # Operations of other modules (exports) are held to "no 5xx" here; their owners test
    # their own media types.
    ours = bool(SERVICE_TAGS & set(op.definition.raw.get("tags", [])))
    return CHECKS if ours else [not_a_server_error]


def _schema(client) -> Any:  # type: ignore[no-untyped-def]
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    return schema.exclude(method="POST", path="/api/auth/logout")


def _fuzz(op, checks, headers):  # type: ignore[no-untyped-def]
    @seed(SEED)
    @given(case=op.as_strategy())
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
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


@pytest.mark.parametrize("role", ROLES)
def test_fuzz_every_operation(client, role: str) -> None:  # type: ignore[no-untyped-def]
    print(f"schemathesis seed: {SEED} (role {role})")
    headers = {"Authorization": f"Bearer {client.world.tokens[role]}"}
    failures: list[str] = []
    ran = 0
    for result in _schema(client).get_all_operations():
        op = result.ok()
        if (op.method.upper(), op.path) in SKIP or not op.path.startswith("/api/"):
            continue
        try:
            _fuzz(op, _checks_for(op), headers)()
            ran += 1
        except Exception as exc:  # collect all operations' failures, report together
            failures.append(f"{op.method.upper()} {op.path}: {str(exc)[:600]}")
    assert not failures, f"seed {SEED}, role {role}:\n\n" + "\n\n".join(failures)
    assert ran > 30


@pytest.mark.parametrize("role", ROLES)
def test_stateful_sequences(client, role: str) -> None:  # type: ignore[no-untyped-def]
    print(f"schemathesis seed: {SEED} (role {role}, stateful)")
    schema = _schema(client)
    headers = {"Authorization": f"Bearer {client.world.tokens[role]}"}
    base = schema.as_state_machine()
    links = schema.statistic.transitions.selected
    print(f"stateful links: {links}")
    assert links > 100  # inferred from the schema: POST /api/patients -> /api/patients/{patient_id}, ...

    class Machine(base):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case):  # type: ignore[no-untyped-def]
            return {"headers": headers}

        def validate_response(self, response, case, additional_checks=None, **kwargs):  # type: ignore[no-untyped-def]
            case.validate_response(response, checks=_checks_for(case.operation), headers=headers)

    try:
        seed(SEED)(Machine).run(
            settings=settings(
                max_examples=STATEFUL_SCENARIOS,
                stateful_step_count=STATEFUL_STEPS,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
                phases=[Phase.generate],
            )
        )
    except Exception as exc:
        raise AssertionError(f"seed {SEED}, role {role}: {exc}") from exc
