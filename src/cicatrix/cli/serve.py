"""`cicatrix serve`: migrate, optionally seed the demo clinic, and serve API and web pages."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    import threading

    from cicatrix.storage.settings import Settings


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def serve(
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8000, "--port"),
    demo: bool = typer.Option(False, "--demo", help="seed a demo clinic, accounts and patients"),
    workers: int = typer.Option(1, "--workers", help="worker processes (PostgreSQL)"),
    deliver: bool | None = typer.Option(
        None,
        "--deliver/--no-deliver",
        help="run the in-process message dispatcher (default: on with SQLite; with PostgreSQL run `cicatrix worker`)",
    ),
) -> None:
    """Serve the clinic API (and web app) on embedded defaults: SQLite in ./cicatrix-data."""
    import logging

    from cicatrix.storage import migrate
    from cicatrix.storage.settings import Settings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = Settings.from_env()
    migrate.upgrade(settings)
    where = "PostgreSQL" if not settings.is_sqlite else str(settings.sqlite_path)
    typer.echo(f"database: {where}")
    if demo:
        from cicatrix.knowledge.loader import load_knowledge
        from cicatrix.service.clock import clinic_today
        from cicatrix.service.demo import DEMO_TIMEZONE, seed
        from cicatrix.storage.db import Database

        database = Database(settings)
        try:
            kb = load_knowledge(settings.knowledge_dir)
            today = clinic_today(DEMO_TIMEZONE)  # the demo clinic's today
            accounts = database.run_sync(lambda db: seed(db, kb, today))
        finally:
            database.dispose()
        typer.echo("demo accounts (username / password / role):")
        for username, password, role in accounts:
            typer.echo(f"  {username:<10} {password}  {role}")
    stop = _start_dispatcher(settings) if (settings.is_sqlite if deliver is None else deliver) else None
    shown = "localhost" if host in ("127.0.0.1", "0.0.0.0") else host
    typer.echo(f"cicatrix is serving at http://{shown}:{port}/  (API docs: /api/docs)")
    try:
        _serve(settings, host, port, workers)
    finally:
        if stop is not None:
            stop.set()


def _start_dispatcher(settings: Settings) -> threading.Event:
    """The embedded default: one dispatcher thread in this process delivers the outbox, so a
    clinic on one machine needs nothing more. Returns the event that stops it."""
    import threading

    from cicatrix.knowledge.loader import load_knowledge
    from cicatrix.service.clock import utc_now
    from cicatrix.service.delivery import dispatcher
    from cicatrix.storage.db import Database

    database = Database(settings)
    d = dispatcher(database, load_knowledge(settings.knowledge_dir), utc_now)
    stop = threading.Event()
    threading.Thread(target=d.run, args=(stop, 5.0), name="cicatrix-dispatcher", daemon=True).start()
    typer.echo("message delivery: in-process dispatcher (see docs/messaging.md)")
    return stop


def _serve(settings: Settings, host: str, port: int, workers: int) -> None:
    import uvicorn

    if workers > 1:
        uvicorn.run(
            "cicatrix.api.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            access_log=False,
            log_config=None,
            proxy_headers=False,  # X-Forwarded-For is read by credentials.client_ip, from trusted proxies only
        )
    else:
        from cicatrix.api.app import create_app

        uvicorn.run(create_app(settings), host=host, port=port, access_log=False, log_config=None,
                    proxy_headers=False)  # X-Forwarded-For: only from trusted proxies (api/deps.client_ip)
