"""Migrations: upgrade from empty, downgrade one step, and the models match the migrations."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from cicatrix.storage import migrate
from cicatrix.storage.db import make_engine
from cicatrix.storage.models import Base
from cicatrix.storage.settings import Settings


def _columns(settings: Settings, table: str) -> set[str]:
    engine = make_engine(settings)
    try:
        return {c["name"] for c in inspect(engine).get_columns(table)}
    finally:
        engine.dispose()


def _indexes(settings: Settings, table: str) -> set[str]:
    engine = make_engine(settings)
    try:
        return {i["name"] for i in inspect(engine).get_indexes(table) if i["name"]}
    finally:
        engine.dispose()


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
    migrate.downgrade(settings)  # one step: 0011 added check-ins and adverse events
    assert migrate.current_revision(settings) == "0010"
    assert not {"check_in", "adverse_event"} & _tables(settings)
    migrate.downgrade(settings)  # one step: 0010 added the outbox
    assert migrate.current_revision(settings) == "0009"
    assert not {"message", "message_choice"} & _tables(settings)
    migrate.downgrade(settings)  # one step: 0009, one record number per clinic, folded name keys
    assert migrate.current_revision(settings) == "0008"
    assert "ix_patient_clinic_mrn" in _indexes(settings, "patient")
    migrate.downgrade(settings)  # one step: 0008 added the sessions' procedure notes
    assert migrate.current_revision(settings) == "0007"
    assert "procedure" not in _columns(settings, "course_session")
    migrate.downgrade(settings)  # one step: 0007 added appointments, rooms and the clinic calendar
    assert migrate.current_revision(settings) == "0005"
    assert not {"appointment", "room", "clinic_calendar"} & _tables(settings)
    migrate.downgrade(settings)  # one step: 0005 added the second factor
    assert migrate.current_revision(settings) == "0004"
    assert "recovery_code" not in _tables(settings)
    assert "totp_secret" not in _columns(settings, "user_account")
    migrate.downgrade(settings)  # 0004 added the concurrency guards
    assert migrate.current_revision(settings) == "0003"
    assert "version" not in _columns(settings, "course_session")
    migrate.downgrade(settings)  # 0003 added patient.identifiers
    assert migrate.current_revision(settings) == "0002"
    assert "calendar_token" in _tables(settings)
    assert "identifiers" not in _columns(settings, "patient")
    migrate.downgrade(settings)  # and one more: 0002 added the calendar tokens
    assert migrate.current_revision(settings) == "0001"
    assert "calendar_token" not in _tables(settings)
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
