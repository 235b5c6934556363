"""SQLite set-up (WAL, foreign keys) and the backup / restore round trip through the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from cicatrix.cli.main import app
from cicatrix.storage import migrate
from cicatrix.storage.db import make_engine
from cicatrix.storage.settings import Settings


def test_sqlite_runs_in_wal_with_foreign_keys(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path)
    engine = make_engine(s)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    finally:
        engine.dispose()
    assert s.sqlite_path == (tmp_path / "cicatrix.sqlite3").resolve()


def test_foreign_keys_are_enforced(tmp_path: Path) -> None:
    from sqlalchemy.exc import IntegrityError

    s = Settings(data_dir=tmp_path)
    migrate.upgrade(s)
    engine = make_engine(s)
    try:
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO patient (clinic_id, name, name_key, pregnant, breastfeeding, history,"
                " medications, recent_sunburn, archived, created_at, updated_at, version)"
                " VALUES (999, 'x', 'x', 0, 0, '[]', '[]', 0, 0, '2026-01-01', '2026-01-01', 1)"))  # fmt: skip
    finally:
        engine.dispose()


def _count_patients(s: Settings) -> int:
    engine = make_engine(s)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM patient")).scalar() or 0)
    finally:
        engine.dispose()


def test_backup_and_restore_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CICATRIX_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("CICATRIX_DATABASE_URL", raising=False)
    runner = CliRunner()
    r = runner.invoke(app, ["db", "upgrade"])
    assert r.exit_code == 0, r.output
    s = Settings.from_env()
    engine = make_engine(s)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO clinic (name, timezone, settings, created_at)"
                          " VALUES ('c', 'UTC', '{}', '2026-01-01')"))  # fmt: skip
        conn.execute(text(
            "INSERT INTO patient (clinic_id, name, name_key, pregnant, breastfeeding, history,"
            " medications, recent_sunburn, archived, created_at, updated_at, version)"
            " VALUES (1, 'Kept', 'kept', 0, 0, '[]', '[]', 0, 0, '2026-01-01', '2026-01-01', 1)"))  # fmt: skip
    engine.dispose()
    backup = tmp_path / "b" / "backup.sqlite3"
    r = runner.invoke(app, ["db", "backup", str(backup)])
    assert r.exit_code == 0, r.output
    assert backup.exists() and not backup.with_name("backup.sqlite3.partial").exists()
    engine = make_engine(s)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM patient"))
    engine.dispose()
    assert _count_patients(s) == 0
    r = runner.invoke(app, ["db", "restore", "--yes", str(backup)])
    assert r.exit_code == 0, r.output
    assert _count_patients(s) == 1
    r = runner.invoke(app, ["db", "current"])
    head = migrate.head_revision(s)
    assert r.exit_code == 0 and head is not None and f"{head} (head {head})" in r.output


def test_restore_refuses_a_file_that_is_not_a_cicatrix_backup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CICATRIX_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("CICATRIX_DATABASE_URL", raising=False)
    junk = tmp_path / "junk.db"
    junk.write_text("not a database")
    r = CliRunner().invoke(app, ["db", "restore", "--yes", str(junk)])
    assert r.exit_code == 2
    assert "not a SQLite database" in r.output or "not a SQLite database" in (r.stderr or "")
