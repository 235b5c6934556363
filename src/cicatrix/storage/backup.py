"""Online SQLite backups through sqlite3's backup API (consistent even while serving).

PostgreSQL clinics use `pg_dump` / `pg_restore` instead; see docs/service.md.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from cicatrix.storage.files import private_database, private_file
from cicatrix.storage.lock import DatabaseInUse, exclusive


class BackupError(ValueError):
    pass


def backup_sqlite(db_path: Path, dest: Path) -> None:
    """Copy a live database to `dest` atomically: a half-written backup never has the final name."""
    if not db_path.exists():
        raise BackupError(f"database {db_path} does not exist")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".partial")
    tmp.unlink(missing_ok=True)
    private_file(tmp)  # a backup holds every patient's record: 0600, like the database
    src = sqlite3.connect(db_path)
    try:
        out = sqlite3.connect(tmp)
        try:
            src.backup(out)
            out.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file
        finally:
            out.close()
    finally:
        src.close()
    _check(tmp)
    os.replace(tmp, dest)


def restore_sqlite(src_file: Path, db_path: Path) -> None:
    """Replace the database with a backup. Refused while a server holds the database
    (storage/lock.py): writes it acknowledged after the backup would silently vanish."""
    if not src_file.exists():
        raise BackupError(f"backup file {src_file} does not exist")
    _check(src_file)
    try:
        with exclusive(db_path):
            private_database(db_path)
            src = sqlite3.connect(src_file)
            try:
                out = sqlite3.connect(db_path)
                try:
                    src.backup(out)
                finally:
                    out.close()
            finally:
                src.close()
    except DatabaseInUse as exc:
        raise BackupError(str(exc)) from None


def _check(path: Path) -> None:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            ok = conn.execute("PRAGMA integrity_check").fetchone()
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is not a SQLite database: {exc}") from None
    if not ok or ok[0] != "ok":
        raise BackupError(f"{path} failed the integrity check")
    if "alembic_version" not in tables:
        raise BackupError(f"{path} is not a cicatrix database (no alembic_version table)")
