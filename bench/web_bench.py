"""Web page render time at scale: p50/p95/p99 of the clinician's patient page and plan page
with 100,000 patients (~300,000 assessments) in PostgreSQL, against uvicorn on loopback.

    .venv/bin/python bench/web_bench.py [--patients 100000] [--plans 20000] [--requests 400]

Seeds with the service benchmark's COPY loader (bench/api_bench.py `seed`) into a database it
creates and drops (CICATRIX_BENCH_POSTGRES_URL, else CICATRIX_TEST_POSTGRES_URL, else the local
`test` database). Logs in through the web login form (cookie session), then requests each page
for random patients one at a time, so each time is the server's render time (measured inside the server by a
middleware) plus a loopback round trip; both are reported. Every page read is audited, as in production. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.api_bench import _url, seed, start_server  # noqa: E402


def bench_app():  # type: ignore[no-untyped-def]
    """The real app, with a header giving the time the server spent on each request."""
    from cicatrix.api.app import create_app

    app = create_app()

    @app.middleware("http")
    async def render_time(request, call_next):  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        response = await call_next(request)
        response.headers["x-server-ms"] = f"{(time.perf_counter() - t0) * 1000:.3f}"
        return response

    return app


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _time(client: httpx.Client, paths: list[str]) -> tuple[list[float], list[float]]:
    """(server time, round-trip time) in ms for each request."""
    server, total = [], []
    for path in paths:
        t0 = time.perf_counter()
        r = client.get(path)
        total.append((time.perf_counter() - t0) * 1000)
        if r.status_code != 200:
            raise SystemExit(f"{path}: HTTP {r.status_code}")
        server.append(float(r.headers["x-server-ms"]))
    return server, total


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--patients", type=int, default=100_000)
    ap.add_argument("--assessments-per-patient", type=int, default=3)
    ap.add_argument("--plans", type=int, default=20_000)
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--port", type=int, default=8932)
    args = ap.parse_args()

    from sqlalchemy import create_engine, select, text
    from sqlalchemy.engine import make_url

    from cicatrix.storage.models import Plan

    admin_url = make_url(_url())
    name = f"cicatrix_webbench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    server = None
    try:
        print(f"seeding {args.patients:,} patients ...", flush=True)
        s = seed(url, args.patients, args.assessments_per_patient, args.plans)
        rnd = random.Random(11)
        pids = rnd.sample(s["plan_pids"], min(args.requests, len(s["plan_pids"])))
        eng = create_engine(url)
        with eng.connect() as c:
            plan_of = dict(c.execute(select(Plan.patient_id, Plan.id).where(Plan.patient_id.in_(pids))).all())
        eng.dispose()
        server, base = start_server(url, s["settings"].data_dir, "bench.web_bench:bench_app", args.port, "/api/health")
        with httpx.Client(base_url=base, timeout=30) as client:
            r = client.post("/login", data={"username": "bench", "password": "bench-password"})
            assert r.status_code in (200, 303) and "cicatrix_session" in client.cookies, r.text[:300]
            warm = pids[:40]
            _time(client, [f"/patients/{p}" for p in warm] + [f"/plans/{plan_of[p]}" for p in warm])
            results = {
                "patient page `GET /patients/{id}`": _time(client, [f"/patients/{p}" for p in pids]),
                "plan page `GET /plans/{id}`": _time(client, [f"/plans/{plan_of[p]}" for p in pids]),
                "dashboard `GET /`": _time(client, ["/"] * 50),
            }
        print()
        print(f"{args.patients:,} patients, {args.patients * args.assessments_per_patient:,} assessments, "
              f"{args.plans:,} approved plans in PostgreSQL; uvicorn, 1 worker, one request at a time "
              f"over loopback ({len(pids)} random patients per page).\n")  # fmt: skip
        print("| page | n | server p50 ms | server p95 ms | server p99 ms | round trip p50 ms | round trip p95 ms |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for k, (srv, rt) in results.items():
            print(f"| {k} | {len(srv)} | {statistics.median(srv):.1f} | {_pct(srv, 0.95):.1f} | "
                  f"{_pct(srv, 0.99):.1f} | {statistics.median(rt):.1f} | {_pct(rt, 0.95):.1f} |")  # fmt: skip
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=20)
        with admin.connect() as c2:
            c2.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
