"""The API client fixture over the two-clinic world, and bearer headers for its roles."""

from __future__ import annotations

import pytest


@pytest.fixture
def client(world):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from cicatrix.api.app import create_app
    from tests.today import NOW

    app = create_app(world.database.settings, clock=lambda: NOW, knowledge=world.kb)
    with TestClient(app, raise_server_exceptions=False) as c:
        c.world = world  # type: ignore[attr-defined]
        yield c
    app.state.db.dispose()


def bearer(client, role: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"Authorization": f"Bearer {client.world.tokens[role]}"}
