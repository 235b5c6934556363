"""Database-backed fixtures shared by the service and API test packages."""

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
