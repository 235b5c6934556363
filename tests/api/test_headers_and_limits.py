"""Security headers, body limits, API docs from this site, and X-Forwarded-For (issue 12 §4)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from cicatrix.storage.settings import Settings
from tests.api.fixtures import bearer
from tests.storage.dbs import temp_database

TEMPLATES = Path(__file__).parents[2] / "src" / "cicatrix" / "web" / "templates"


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    """HTTP behaviour, the same on both back ends: these tests run on SQLite only (this fixture
    replaces the package's, which runs each test on both)."""
    with temp_database("sqlite", tmp_path) as s:
        yield s


def test_every_response_carries_the_security_headers(client) -> None:  # type: ignore[no-untyped-def]
    pid = client.world.patients["P1"]
    h = bearer(client, "clinician")
    responses = [
        client.get(f"/api/patients/{pid}", headers=h),  # patient data
        client.get(f"/api/patients/{pid}/calendar.ics", headers=h),
        client.get("/api/patients/1", headers={}),  # 401
        client.get("/api/nowhere"),  # 404
        client.get("/login"),  # a web page
        client.get("/api/patients?q=a%00", headers=h),  # refused by the intake
    ]
    for r in responses:
        csp = r.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp, r.request.url
        assert "'unsafe-inline'" not in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "same-origin"
        assert r.headers["cache-control"] == "no-store", r.request.url
        assert "strict-transport-security" not in r.headers  # off unless configured
    static = client.get("/static/cicatrix.css")
    assert static.headers["cache-control"].startswith("public")
    assert static.headers["x-content-type-options"] == "nosniff"


def test_hsts_when_configured(world) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    from fastapi.testclient import TestClient

    from cicatrix.api.app import create_app

    settings = replace(world.database.settings, hsts_max_age_s=31_536_000)
    app = create_app(settings, knowledge=world.kb)
    with TestClient(app) as c:
        assert c.get("/login").headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
    app.state.db.dispose()


def test_templates_have_no_inline_script_handlers_or_styles() -> None:
    for path in TEMPLATES.rglob("*.html"):
        html = path.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), f"inline <script> in {path.name}"
        assert not re.search(r"\son[a-z]+\s*=", html), f"event-handler attribute in {path.name}"
        assert not re.search(r"\sstyle\s*=", html), f"style attribute in {path.name}"
        assert "javascript:" not in html


def test_request_bodies_are_limited(client) -> None:  # type: ignore[no-untyped-def]
    h = {**bearer(client, "clinician"), "content-type": "application/json"}
    big = b'{"name": "' + b"x" * 1_000_001 + b'"}'
    r = client.post("/api/patients", content=big, headers=h)
    assert r.status_code == 413 and r.json()["field"] == "body"

    def chunks():  # no Content-Length: counted as it streams in
        yield b'{"name": "'
        for _ in range(11):
            yield b"x" * 100_000
        yield b'"}'

    r = client.post("/api/patients", content=chunks(), headers=h)
    assert r.status_code == 413
    # the FHIR import takes more than 1 MB (and then reports what is wrong with the content)
    r = client.post("/api/patients/import/fhir", content=b'{"resourceType": "Patient", "x": "'
                    + b"y" * 2_000_000 + b'"}', headers=h)  # fmt: skip
    assert r.status_code != 413
    r = client.post("/api/patients/import/fhir", content=b"[" + b"0," * 6_000_000 + b"0]", headers=h)
    assert r.status_code == 413


def test_non_utf8_json_is_422_not_400(client) -> None:  # type: ignore[no-untyped-def]
    h = {**bearer(client, "clinician"), "content-type": "application/json"}
    r = client.post("/api/patients", content=b'{"name": "\xff"}', headers=h)
    assert r.status_code == 422 and r.json()["field"] == "body"


def test_api_docs_are_served_from_this_site(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/api/docs")
    assert page.status_code == 200
    scripts = re.findall(r'<script[^>]*src="([^"]+)"', page.text)
    assert scripts and all(s.startswith("/") for s in scripts)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page.text)
    assert "cdn" not in page.text.lower()
    for src in [*scripts, "/api/docs/swagger-ui.css"]:
        assert client.get(src).status_code == 200, src
    assert client.get("/api/docs/../../secret.key").status_code == 404
    assert client.get("/openapi.json").status_code == 200


def test_x_forwarded_for_is_believed_only_from_trusted_proxies(world) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    from fastapi.testclient import TestClient
    from sqlalchemy import select

    from cicatrix.api.app import create_app
    from cicatrix.storage.models import AuditEvent

    def last_ip(settings: Settings, xff: str) -> str | None:
        app = create_app(settings, knowledge=world.kb)
        with TestClient(app) as c:  # the test client connects from "testclient"
            c.post("/api/auth/token", json={"username": "nobody", "password": "x"}, headers={"X-Forwarded-For": xff})
        app.state.db.dispose()
        with world.database.session() as db:
            return db.scalar(select(AuditEvent.ip).order_by(AuditEvent.id.desc()).limit(1))

    base = world.database.settings
    assert last_ip(base, "203.0.113.9") == "testclient"
    trusted = replace(base, trusted_proxies=("testclient", "10.0.0.1"))
    assert last_ip(trusted, "203.0.113.9, 10.0.0.1") == "203.0.113.9"
    assert last_ip(trusted, "spoofed, 198.51.100.7") == "198.51.100.7"
    assert last_ip(trusted, "not an address") == "testclient"
