from __future__ import annotations

import pytest

from tests.storage.fixtures import _fast_argon2, settings, world  # noqa: F401 - shared fixtures


@pytest.fixture
def client(world):  # type: ignore[no-untyped-def]  # noqa: F811 - the shared fixture, by name
    from fastapi.testclient import TestClient

    from cicatrix.api.app import create_app
    from tests.storage.world import TODAY

    app = create_app(world.database.settings, clock=lambda: TODAY, knowledge=world.kb)
    with TestClient(app, raise_server_exceptions=False) as c:
        c.world = world  # type: ignore[attr-defined]
        yield c
    app.state.db.dispose()


def bearer(client, role: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"Authorization": f"Bearer {client.world.tokens[role]}"}
