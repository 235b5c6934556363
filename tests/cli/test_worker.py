"""`cicatrix worker` processes on PostgreSQL: 10,000 due messages, three workers, one SIGKILLed
mid-batch; each message reaches the loopback SMTP sink exactly once (the sink deduplicates by
Message-ID, the idempotency key, as a provider with idempotency keys does, and counts raw
deliveries separately)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select
from typer.testing import CliRunner

from cicatrix.cli.main import app
from cicatrix.messaging.email import message_id
from cicatrix.storage import migrate
from cicatrix.storage.db import Database
from cicatrix.storage.models import Message, Patient
from cicatrix.storage.settings import Settings
from tests.messaging.sink import free_port
from tests.messaging.sink_process import SinkProcess
from tests.storage.dbs import temp_database

N = 10_000
PATIENTS = 100


def test_worker_help_teaches_how_to_run_it() -> None:
    r = CliRunner().invoke(app, ["worker", "--help"])
    assert r.exit_code == 0
    for words in ("SKIP LOCKED", "lease", "CICATRIX_SMTP_HOST", "--batch", "cicatrix serve"):
        assert words in r.output


def test_worker_on_an_empty_database_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CICATRIX_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("CICATRIX_DATABASE_URL", raising=False)
    r = CliRunner().invoke(app, ["worker", "--once"])
    assert r.exit_code == 2 and "cicatrix db upgrade" in r.output


def test_worker_with_a_bad_setting_names_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cicatrix.storage.settings import Settings as S

    monkeypatch.setenv("CICATRIX_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("CICATRIX_DATABASE_URL", raising=False)
    migrate.upgrade(S.from_env())
    monkeypatch.setenv("CICATRIX_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("CICATRIX_SMTP_SECURITY", "ssl3")
    r = CliRunner().invoke(app, ["worker", "--once"])
    assert r.exit_code == 2 and "CICATRIX_SMTP_SECURITY" in r.output and "Traceback" not in r.output


def _seed(settings: Settings, n: int) -> list[str]:
    """n due messages for PATIENTS patients of one clinic, written straight into the outbox."""
    from cicatrix.service.users import create_clinic

    now = datetime.now(UTC)
    database = Database(settings)
    keys = [f"{i:040d}" for i in range(n)]
    with database.transaction() as db:
        clinic = create_clinic(db, "Harbour Skin Clinic", "Europe/London")
        ids = []
        for i in range(PATIENTS):
            p = Patient(clinic_id=clinic.id, name=f"P{i}", name_key=f"p{i}", email=f"p{i}@example.com",
                        created_at=now, updated_at=now)  # fmt: skip
            db.add(p)
            db.flush()
            ids.append(p.id)
        ctx = {"clinic": "Harbour Skin Clinic", "place": "12 Quay Street", "day": "Monday 8 March"}
        db.execute(insert(Message), [
            {"clinic_id": clinic.id, "patient_id": ids[i % PATIENTS], "key": k, "template": "follow_up",
             "category": "recalls", "channel": "email", "due": now - timedelta(minutes=1), "status": "pending",
             "attempts": 0, "next_attempt_at": now - timedelta(minutes=1), "context": ctx, "created_at": now,
             "updated_at": now}
            for i, k in enumerate(keys)
        ])  # fmt: skip
    database.dispose()
    return keys


def _count(database: Database, status: str) -> int:
    with database.transaction() as db:
        return int(db.scalar(select(func.count()).select_from(Message).where(Message.status == status)) or 0)


@pytest.mark.postgres
def test_three_workers_deliver_10000_exactly_once_after_one_is_killed(tmp_path: Path) -> None:
    sink = SinkProcess(free_port(), tmp_path / "sink.txt").start()
    procs: list[subprocess.Popen[bytes]] = []
    with temp_database("postgresql", tmp_path) as settings:
        migrate.upgrade(settings)
        keys = _seed(settings, N)
        env = {**os.environ, **sink.env(), "CICATRIX_DATABASE_URL": settings.url,
               "CICATRIX_SECRET_KEY": "test-secret", "CICATRIX_DATA_DIR": str(tmp_path / "data"),
               "CICATRIX_PUBLIC_URL": "https://clinic.example"}  # fmt: skip
        cmd = [str(Path(sys.executable).parent / "cicatrix"), "worker", "--batch", "200", "--lease", "5", "--poll", "0.2"]
        database = Database(settings)
        started = time.monotonic()
        try:
            for i in range(3):
                log = (tmp_path / f"worker{i}.log").open("wb")
                procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=log))
            while sink.raw() < N // 5:  # let them get going
                assert time.monotonic() - started < 300, "the workers did not start delivering"
                time.sleep(0.05)
            victim = procs[0]
            victim.send_signal(signal.SIGKILL)
            victim.wait()
            with database.transaction() as db:
                held = db.scalar(select(func.count()).select_from(Message).where(
                    Message.status == "sending", Message.lease_owner.like(f"%:{victim.pid}")))  # fmt: skip
            assert held, "the killed worker held no batch: it was not killed mid-batch"
            while _count(database, "sent") < N:
                # a guard against a hang, not a timing (bench/messaging_bench.py measures speed)
                assert time.monotonic() - started < 600, f"only {_count(database, 'sent')} of {N} sent"
                assert all(p.poll() is None for p in procs[1:]), "a surviving worker died"
                time.sleep(0.2)
        finally:
            for p in procs[1:]:
                p.send_signal(signal.SIGTERM)
            for p in procs:
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
            database.dispose()
            sink.stop()
        assert all(p.returncode == 0 for p in procs[1:])
        logs = b"".join((tmp_path / f"worker{i}.log").read_bytes() for i in range(3))
        assert b"delivered:" in logs
        assert b"@example.com" not in logs and b"P1 " not in logs  # the logs name no patient
    received = sink.received()
    assert {message_id(k) for k in keys} == set(received)  # each exactly once in the sink (deduplicated)
    # messages are marked sent in the transaction that sent them, a group (20) at a time: the
    # killed worker leaves at most the group it was sending unmarked, which another worker sends
    # again under the same keys (the raw count), and the sink keeps once
    assert N <= len(received) <= N + 20

