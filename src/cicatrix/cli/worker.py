"""`cicatrix worker`: a delivery worker for the outbox (patients' e-mails and SMS)."""

from __future__ import annotations

import typer

HELP = """Deliver the patients' messages from the outbox, until stopped (Ctrl-C or SIGTERM).

Run any number of workers, on any hosts, against one PostgreSQL database: each claims due
messages with SELECT ... FOR UPDATE SKIP LOCKED under a lease, so they never take the same
message, and a worker that dies leaves its messages to the others when its lease runs out.
On SQLite, `cicatrix serve` already runs one dispatcher in-process; a worker is not needed.

Providers come from the environment: CICATRIX_SMTP_HOST/_PORT/_SECURITY/_USER/_PASSWORD/_FROM
for e-mail; CICATRIX_SMS_PROVIDER=twilio|webhook (see docs/messaging.md) for SMS. A channel with
nothing configured is written to CICATRIX_OUTBOX_DIR (default cicatrix-data/outbox).
Links in messages start with CICATRIX_PUBLIC_URL.

Logs name message ids, templates and failure classes only, never a patient.

Example: CICATRIX_DATABASE_URL=postgresql+psycopg://clinic@db/cicatrix cicatrix worker --batch 200
"""


def register(app: typer.Typer) -> None:
    app.command("worker", help=HELP)(worker)


def worker(
    batch: int = typer.Option(100, "--batch", min=1, max=10_000, help="messages claimed per round trip"),
    group: int = typer.Option(20, "--group", min=1, max=1000,
                              help="messages sent per transaction (a re-flow waits for at most one group)"),
    lease: float = typer.Option(120.0, "--lease", min=1.0, help="seconds a claim holds before others may take it"),
    poll: float = typer.Option(5.0, "--poll", min=0.01, help="seconds to wait when nothing is due"),
    max_attempts: int = typer.Option(8, "--max-attempts", min=1, help="tries before a message is marked failed"),
    backoff: float = typer.Option(60.0, "--backoff", min=0.0, help="first retry delay in seconds; doubles each try"),
    once: bool = typer.Option(False, "--once", help="deliver what is due now, then exit"),
) -> None:
    import logging
    import signal
    import threading

    from cicatrix.knowledge.loader import load_knowledge
    from cicatrix.messaging.config import ConfigError
    from cicatrix.service.clock import utc_now
    from cicatrix.service.delivery import DeliveryOptions, dispatcher
    from cicatrix.storage.db import Database
    from cicatrix.storage.settings import Settings, SettingsError

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = Settings.from_env()
        database = Database(settings)
        if not database.migrated():
            typer.echo("error: the database has no tables yet; run `cicatrix db upgrade` first", err=True)
            raise typer.Exit(2)
        options = DeliveryOptions(batch=batch, group=group, lease_s=lease, max_attempts=max_attempts, backoff_s=backoff,
                                  public_url=settings.public_url)  # fmt: skip
        d = dispatcher(database, load_knowledge(settings.knowledge_dir), utc_now, options)
    except (ConfigError, SettingsError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if once:
        c = d.drain()
        for p in d.providers.values():
            p.close()
        typer.echo(f"{c.sent} sent, {c.retried} to retry, {c.failed} failed, {c.skipped} skipped")
        database.dispose()
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        d.run(stop, idle_s=poll)
    except KeyboardInterrupt:
        stop.set()
    finally:
        database.dispose()
