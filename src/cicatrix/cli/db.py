"""`cicatrix db upgrade|downgrade|current|backup|restore`."""

from __future__ import annotations

from pathlib import Path

import typer

from cicatrix.cli.io import fail

db_app = typer.Typer(help="Database: migrations, backup and restore.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")


def _settings():  # type: ignore[no-untyped-def]
    from cicatrix.storage.settings import Settings

    return Settings.from_env()


@db_app.command()
def upgrade(revision: str = typer.Option("head", help="target revision")) -> None:
    """Create or migrate the database to the newest schema."""
    from cicatrix.storage import migrate

    s = _settings()
    migrate.upgrade(s, revision)
    typer.echo(f"database at revision {migrate.current_revision(s)}")


@db_app.command()
def downgrade(revision: str = typer.Option("-1", help="target revision (default one step)")) -> None:
    """Step the schema back (default: one migration)."""
    from cicatrix.storage import migrate

    s = _settings()
    migrate.downgrade(s, revision)
    typer.echo(f"database at revision {migrate.current_revision(s)}")


@db_app.command()
def current() -> None:
    """Show the schema revision."""
    from cicatrix.storage import migrate

    s = _settings()
    typer.echo(f"{migrate.current_revision(s)} (head {migrate.head_revision(s)})")


@db_app.command()
def backup(file: Path = typer.Argument(..., help="where to write the backup")) -> None:
    """Copy a live SQLite database (PostgreSQL: use pg_dump, see docs/service.md)."""
    from cicatrix.storage.backup import BackupError, backup_sqlite

    s = _settings()
    if not s.is_sqlite:
        fail('backup is for SQLite; for PostgreSQL run: pg_dump -Fc -f FILE "$DATABASE"')
    try:
        backup_sqlite(s.sqlite_path, file)
    except BackupError as exc:
        fail(str(exc))
    typer.echo(f"backed up to {file}")


@db_app.command()
def restore(
    file: Path = typer.Argument(..., help="a file written by `cicatrix db backup`"),
    yes: bool = typer.Option(False, "--yes", help="do not ask; the current data is replaced"),
) -> None:
    """Replace the SQLite database with a backup. Stop the server first."""
    from cicatrix.storage.backup import BackupError, restore_sqlite

    s = _settings()
    if not s.is_sqlite:
        fail('restore is for SQLite; for PostgreSQL run: pg_restore --clean -d "$DATABASE" FILE')
    if not yes and not typer.confirm(f"replace {s.sqlite_path} with {file}?"):
        raise typer.Exit(1)
    try:
        restore_sqlite(file, s.sqlite_path)
    except BackupError as exc:
        fail(str(exc))
    typer.echo(f"restored {file}")
