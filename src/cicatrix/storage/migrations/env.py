"""Alembic environment: the URL or an open connection comes from `cicatrix.storage.migrate`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from cicatrix.storage.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from cicatrix.storage.db import make_engine
    from cicatrix.storage.settings import Settings

    settings = config.attributes.get("settings") or Settings.from_env()
    engine = make_engine(settings)
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():  # pragma: no cover - we only migrate online
    raise SystemExit("offline migrations are not supported; run `cicatrix db upgrade`")
run()
