"""Messaging benchmark: messages delivered per minute to a loopback SMTP sink by `cicatrix worker`
processes on PostgreSQL (one worker, then three), and the time to compute the outbox for
100,000 patients with approved plans.

    .venv/bin/python bench/messaging_bench.py [--messages 5000] [--patients 100000] [--skip-workers]

The delivery part seeds `--messages` due rows into a throwaway database (CICATRIX_BENCH_POSTGRES_URL,
else CICATRIX_TEST_POSTGRES_URL, else the local `test` database), runs the workers until every
row is sent, and reads the sink's count (a separate aiosmtpd process, tests/messaging/sink_process.py).
The outbox part runs the pure core (`engine.outbox.plan_messages`) over one approved
micro-needling plan per patient, the patient id varied so every key differs: the database
write is not included (it is one INSERT per message in the approval's transaction).
Prints Markdown.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.cli.test_worker import _count, _seed  # noqa: E402
from tests.messaging.sink import free_port  # noqa: E402
from tests.messaging.sink_process import SinkProcess  # noqa: E402
from tests.storage.dbs import PG_ENV, temp_database  # noqa: E402


def deliver(workers: int, n: int) -> tuple[float, int, int]:
    """(seconds from the first delivery to the last message marked sent, raw deliveries in the
    sink, messages delivered in that time)."""
    from cicatrix.storage import migrate
    from cicatrix.storage.db import Database

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp)
        sink = SinkProcess(free_port(), path / "sink.txt").start()
        try:
            with temp_database("postgresql", path) as settings:
                migrate.upgrade(settings)
                _seed(settings, n)
                env = {**os.environ, **sink.env(), "CICATRIX_DATABASE_URL": settings.url,
                       "CICATRIX_SECRET_KEY": "bench", "CICATRIX_DATA_DIR": str(path / "data")}  # fmt: skip
                cmd = [str(Path(sys.executable).parent / "cicatrix"), "worker", "--batch", "200", "--poll", "0.1"]
                database = Database(settings)
                procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                         for _ in range(workers)]  # fmt: skip
                try:
                    while sink.raw() == 0:  # the workers' start-up (imports, connections) is not timed
                        time.sleep(0.02)
                    started, first = time.monotonic(), sink.raw()
                    while _count(database, "sent") < n:
                        time.sleep(0.1)
                    elapsed = time.monotonic() - started
                finally:
                    for p in procs:
                        p.terminate()
                    for p in procs:
                        p.wait(timeout=30)
                    database.dispose()
        finally:
            sink.stop()
        return elapsed, sink.raw(), n - first


def outbox(patients: int) -> tuple[float, int]:
    from cicatrix.engine.case import parse_case
    from cicatrix.engine.outbox import Choices, plan_messages
    from cicatrix.engine.plan import plan_case
    from cicatrix.knowledge.loader import load_knowledge

    kb = load_knowledge()
    case = {"patient": {"id": "b", "phototype": "III"},
            "assessment": {"date": "2026-11-20", "goodman_baron_qualitative": 3,
                           "scars": [{"type": "rolling", "count": 14}], "marks": [], "active_lesions": []},
            "preferences": {"treatments": ["microneedling"], "start": "2027-01-11"}}  # fmt: skip
    plan = plan_case(parse_case(case, kb), kb)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    choices = Choices(channels=("email", "sms"))
    total = 0
    started = time.perf_counter()
    for i in range(patients):
        total += len(plan_messages(plan, kb, patient=str(i), clinic="Harbour Skin Clinic", place="12 Quay Street",
                                   tz="Europe/London", choices=choices, now=now))  # fmt: skip
    return time.perf_counter() - started, total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=5000)
    ap.add_argument("--patients", type=int, default=100_000)
    ap.add_argument("--skip-workers", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault(PG_ENV, os.environ.get("CICATRIX_BENCH_POSTGRES_URL")
                          or "postgresql+psycopg://postgres@127.0.0.1:5432/test")  # fmt: skip
    load = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} CPUs, load average {load:.1f} at start\n")
    if not args.skip_workers:
        print("| workers | messages | seconds | messages per minute | raw deliveries |")
        print("|---|---|---|---|---|")
        for workers in (1, 3):
            elapsed, raw, timed = deliver(workers, args.messages)
            print(f"| {workers} | {args.messages} | {elapsed:.1f} | {timed / elapsed * 60:,.0f} | {raw} |")
        print()
    seconds, total = outbox(args.patients)
    print("| patients | messages computed | seconds | patients per second |")
    print("|---|---|---|---|")
    print(f"| {args.patients:,} | {total:,} | {seconds:.1f} | {args.patients / seconds:,.0f} |")


if __name__ == "__main__":
    main()
