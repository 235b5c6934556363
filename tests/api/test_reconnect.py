"""A database restart costs no request an error: pooled connections that the server dropped
are noticed by the pool's pre-ping and replaced (PostgreSQL; SQLite has no server)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.api.fixtures import bearer
from tests.storage.dbs import temp_database

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_client(tmp_path: Path, kb):  # type: ignore[no-untyped-def]
    """The API on PostgreSQL only: an embedded SQLite has no connections to lose."""
    from fastapi.testclient import TestClient

    from cicatrix.api.app import create_app
    from tests.storage.world import build_world
    from tests.today import NOW

    with temp_database("postgresql", tmp_path) as settings:
        world = build_world(settings, kb)
        app = create_app(settings, clock=lambda: NOW, knowledge=kb)
        with TestClient(app) as client:
            client.world = world  # type: ignore[attr-defined]
            yield client
        app.state.db.dispose()
        world.database.dispose()


def _drop_connections(url: str) -> int:
    """What a server restart does to a pool: every connection of this database is closed."""
    admin = create_engine(make_url(url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            return len(conn.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )).all())  # fmt: skip
    finally:
        admin.dispose()


def test_requests_survive_the_database_dropping_every_connection(pg_client) -> None:  # type: ignore[no-untyped-def]
    client, settings = pg_client, pg_client.app.state.settings
    pid = client.world.patients["P1"]
    for role in ("clinician", "patient"):
        assert client.get(f"/api/patients/{pid}", headers=bearer(client, role)).status_code in (200, 404)
    assert client.get("/login").status_code == 200  # the web pages' pool, too
    assert _drop_connections(settings.url) >= 2
    assert client.get(f"/api/patients/{pid}", headers=bearer(client, "clinician")).status_code == 200
    assert client.get(f"/api/patients/{pid}/assessments", headers=bearer(client, "clinician")).status_code == 200
    assert client.get("/login").status_code == 200
