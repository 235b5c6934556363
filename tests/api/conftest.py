from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cicatrix.storage.settings import Settings
from tests.storage.dbs import BACKENDS, temp_database


@pytest.fixture(autouse=True)
def _fast_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Still argon2id, with test-sized cost so fixtures with many accounts stay fast."""
    from argon2 import PasswordHasher

    from cicatrix.service import auth

    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(auth, "_hasher", lambda: hasher)


@pytest.fixture(params=BACKENDS)
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    with temp_database(request.param, tmp_path) as s:
        yield s


@pytest.fixture
def world(settings: Settings, kb):  # type: ignore[no-untyped-def]
    from tests.storage.world import build_world

    w = build_world(settings, kb)
    yield w
    w.database.dispose()


@pytest.fixture
def client(world):  # type: ignore[no-untyped-def]
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
