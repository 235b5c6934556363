"""Migrations: upgrade from empty, downgrade one step, and the models match the migrations."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from cicatrix.storage import migrate
from cicatrix.storage.db import make_engine
from cicatrix.storage.models import Base
from cicatrix.storage.settings import Settings


def _tables(settings: Settings) -> set[str]:
    engine = make_engine(settings)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_from_empty_then_downgrade_one_step(settings: Settings) -> None:
    assert migrate.current_revision(settings) is None
    migrate.upgrade(settings)
    head = migrate.head_revision(settings)
    assert migrate.current_revision(settings) == head
    tables = _tables(settings)
    assert set(Base.metadata.tables) <= tables
    migrate.downgrade(settings)  # one step
    assert migrate.current_revision(settings) == "0002"
    assert "calendar_token" in _tables(settings)
    assert "patient" in _tables(settings)
    migrate.upgrade(settings)
    assert migrate.current_revision(settings) == head


def test_models_match_migrations(settings: Settings) -> None:
    migrate.upgrade(settings)
    engine = make_engine(settings)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()
    assert diff == []
