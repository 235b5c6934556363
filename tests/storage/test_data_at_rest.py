"""Data at rest (issue 12 §6): the SQLite database, its WAL and backups are 0600 whatever
the umask; `db restore` refuses while a server holds the database."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from cicatrix.cli.main import app
from cicatrix.storage import migrate
from cicatrix.storage.db import make_engine
from cicatrix.storage.settings import Settings


@pytest.fixture
def open_umask() -> Iterator[None]:
    old = os.umask(0o022)  # the usual default: files 0644
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("CICATRIX_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("CICATRIX_DATABASE_URL", raising=False)
    monkeypatch.setenv("CICATRIX_SECRET_KEY", "test-secret")
    return Settings.from_env()


def test_database_wal_and_backups_are_owner_only(cli_env: Settings, tmp_path: Path, open_umask: None) -> None:
    migrate.upgrade(cli_env)
    engine = make_engine(cli_env)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO clinic (name, timezone, settings, created_at)"
                              " VALUES ('c', 'UTC', '{}', '2026-01-01')"))  # fmt: skip
        db = cli_env.sqlite_path
        wal = db.with_name(db.name + "-wal")
        assert wal.exists()
        assert _mode(db) == 0o600 and _mode(wal) == 0o600
        assert _mode(db.with_name(db.name + "-shm")) == 0o600
    finally:
        engine.dispose()
    backup = tmp_path / "backups" / "b.sqlite3"
    r = CliRunner().invoke(app, ["db", "backup", str(backup)])
    assert r.exit_code == 0, r.output
    assert _mode(backup) == 0o600


def test_an_existing_world_readable_database_is_tightened(cli_env: Settings, open_umask: None) -> None:
    migrate.upgrade(cli_env)
    db = cli_env.sqlite_path
    os.chmod(db, 0o644)
    make_engine(cli_env).dispose()
    assert _mode(db) == 0o600


def test_restore_refuses_while_a_server_holds_the_database(cli_env: Settings, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from cicatrix.api.app import create_app

    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    backup = tmp_path / "b.sqlite3"
    assert runner.invoke(app, ["db", "backup", str(backup)]).exit_code == 0
    server = create_app(cli_env)
    with TestClient(server):  # serving: the lifespan holds the lock
        r = runner.invoke(app, ["db", "restore", "--yes", str(backup)])
        assert r.exit_code == 2
        assert "stop it" in (r.output + (r.stderr or ""))
    server.state.db.dispose()
    r = runner.invoke(app, ["db", "restore", "--yes", str(backup)])  # stopped: allowed
    assert r.exit_code == 0, r.output


def test_a_server_does_not_start_during_a_restore(cli_env: Settings) -> None:
    from fastapi.testclient import TestClient

    from cicatrix.api.app import create_app
    from cicatrix.storage.lock import DatabaseInUse, exclusive

    migrate.upgrade(cli_env)
    server = create_app(cli_env)
    with exclusive(cli_env.sqlite_path), pytest.raises(DatabaseInUse), TestClient(server):
        pass
    server.state.db.dispose()
