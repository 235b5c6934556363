"""`cicatrix user create`: bootstrap the first admin (and add accounts without the web);
`cicatrix user reset-second-factor`: the way back in for a clinic whose only admin lost the
second factor and its recovery codes."""

from __future__ import annotations

import sys

import typer

user_app = typer.Typer(help="User accounts.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(user_app, name="user")


@user_app.command("create")
def create(
    username: str = typer.Option(..., "--username", "-u"),
    role: str = typer.Option("admin", "--role", help="admin | clinician | front_desk | patient"),
    display_name: str = typer.Option(None, "--display-name"),
    clinic: str = typer.Option("My clinic", "--clinic", help="clinic name, created if none"),
    timezone: str = typer.Option("UTC", "--timezone", help="the new clinic's time zone"),
    patient_id: int = typer.Option(None, "--patient-id", help="for role patient"),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="read it from stdin"),
) -> None:
    """Create an account (and the clinic, the first time). The password is prompted for."""
    from pydantic import ValidationError

    from cicatrix.service.errors import ServiceError
    from cicatrix.service.schemas import UserIn
    from cicatrix.service.users import bootstrap_account
    from cicatrix.storage import migrate
    from cicatrix.storage.db import Database
    from cicatrix.storage.settings import Settings

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    settings = Settings.from_env()
    migrate.upgrade(settings)
    database = Database(settings)
    try:
        data = UserIn(
            username=username,
            display_name=display_name or username,
            role=role,  # type: ignore[arg-type]
            password=password,
            patient_id=patient_id,
        )
        with database.transaction() as db:
            user, row = bootstrap_account(db, clinic, timezone, data)
            done = f"created {user.role} account {user.username!r} (id {user.id}) in {row.name!r}"
        typer.echo(done)  # once committed
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "input"
        typer.echo(f"error: {field}: {err['msg']}", err=True)
        raise typer.Exit(2) from None
    except ServiceError as exc:
        typer.echo(f"error: {exc.field}: {exc.message}", err=True)
        raise typer.Exit(2) from None
    finally:
        database.dispose()


@user_app.command("reset-second-factor")
def reset_second_factor(username: str = typer.Argument(..., help="the account's username")) -> None:
    """Remove an account's second factor and end its sessions; it enrols again at its next
    login. For the host's operator (whoever runs it holds the database); audited."""
    from cicatrix.service.errors import ServiceError
    from cicatrix.service.second_factor import reset_from_host
    from cicatrix.storage import migrate
    from cicatrix.storage.db import Database
    from cicatrix.storage.settings import Settings

    settings = Settings.from_env()
    migrate.upgrade(settings)
    database = Database(settings)
    try:
        with database.transaction() as db:
            user = reset_from_host(db, username)
            done = f"second factor of {user.username!r} reset; its sessions ended"
        typer.echo(done)
    except ServiceError as exc:
        typer.echo(f"error: {exc.field}: {exc.message}", err=True)
        raise typer.Exit(2) from None
    finally:
        database.dispose()
