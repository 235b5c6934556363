"""Commands on stored data run as a named account (`--actor USERNAME`), through the same use
cases, policy checks and audit trail as the API, in one unit of work.

Like datasette's `--get` with `--actor`: the command line is one more caller, not a back door.
Only the cold path of these commands imports the database and the service.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from cicatrix.cli.io import fail, knowledge

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

T = TypeVar("T")

ActorOption = Annotated[
    str,
    typer.Option(
        "--actor",
        help="Username to act as: the command is authorised and audited as that account.",
        envvar="CICATRIX_ACTOR",
    ),
]


def run_as(username: str, use_case: Callable[..., T], *args: Any, knowledge_dir: str | None = None) -> T:
    """Run `use_case(ctx, *args)` as `username` in one unit of work; a refusal or bad input
    is one line on standard error and exit 2."""
    from cicatrix.service import unit_of_work
    from cicatrix.service.clock import utc_now
    from cicatrix.service.errors import REFUSALS, ServiceError, WriteConflict
    from cicatrix.service.users import actor_named
    from cicatrix.storage.db import Database
    from cicatrix.storage.settings import Settings

    kb = knowledge(knowledge_dir)
    database = Database(Settings.from_env())

    def work(db: Session) -> T:
        found = actor_named(db, username)
        if found is None:
            fail(
                f"--actor: no active account {username!r}; create one with "
                f"`cicatrix user create --username {username} --role clinician` "
                "(the first account also creates the clinic)"
            )
        actor, _clinic = found
        return use_case(unit_of_work.context(db, actor, kb, utc_now()), *args)

    try:
        if not database.migrated():  # a database that `cicatrix db upgrade` never ran on
            fail("database: has no cicatrix tables yet; run `cicatrix db upgrade`, then `cicatrix user create`")
        return database.run_sync(work)
    except REFUSALS as exc:  # a use case's refusal, or a concurrent write that won
        assert isinstance(exc, (ServiceError, WriteConflict))
        fail(f"{exc.field}: {exc.message}" if exc.field else exc.message)
    finally:
        database.dispose()
