"""Crash safety: SIGKILL the server in the middle of a stream of writes, restart it, and find
every acknowledged write intact and no transaction half-applied. On both back ends."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from sqlalchemy import func, select

from cicatrix.storage.models import Assessment, AuditEvent, CourseSession, Patient, Plan
from tests.storage.world import ASSESSMENT, PREFS, World


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(world: World, port: int, tmp: Path) -> subprocess.Popen[bytes]:
    s = world.database.settings
    env = {**os.environ, "CICATRIX_DATA_DIR": str(s.data_dir), "CICATRIX_SECRET_KEY": "test-secret"}
    env.pop("CICATRIX_DATABASE_URL", None)
    if s.database_url:
        env["CICATRIX_DATABASE_URL"] = s.database_url
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "cicatrix.api.app:create_app",
         "--host", "127.0.0.1", "--port", str(port), "--no-access-log"],
        env=env, stdout=subprocess.DEVNULL, stderr=(tmp / f"server-{port}.log").open("wb"),
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError((tmp / f"server-{port}.log").read_text())


def test_sigkill_mid_stream_loses_no_acknowledged_write(world: World, tmp_path: Path) -> None:
    port = _free_port()
    proc = _start(world, port, tmp_path)
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {world.tokens['clinician']}"}
    acked_patients: list[tuple[int, str]] = []
    acked_assessments: list[int] = []
    lock = threading.Lock()
    stop = threading.Event()

    def writer(n: int) -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=10) as c:
            i = 0
            while not stop.is_set():
                i += 1
                name = f"Crash {n}-{i}"
                try:
                    r = c.post("/api/patients", json={"name": name, "mrn": f"C{n}-{i}",
                               "clinical": {"phototype": "III"}})  # fmt: skip
                    if r.status_code == 201:
                        with lock:
                            acked_patients.append((r.json()["id"], name))
                        r2 = c.post(f"/api/patients/{r.json()['id']}/assessments",
                                    json={"assessment": ASSESSMENT, "preferences": PREFS})  # fmt: skip
                        if r2.status_code == 201:
                            with lock:
                                acked_assessments.append(r2.json()["assessment"]["id"])
                except httpx.HTTPError:
                    return  # the server died under us

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while len(acked_assessments) < 15 and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)  # mid-stream: writers are still sending
    proc.wait()
    stop.set()
    for t in threads:
        t.join()
    assert len(acked_assessments) >= 15, "the stream did not get going"

    proc2 = _start(world, port, tmp_path)
    try:
        r = httpx.get(f"{base}/api/patients", params={"q": "crash", "limit": 200},
                      headers=headers, timeout=10)  # fmt: skip
        assert r.status_code == 200
        with world.database.transaction() as db:
            for pid, name in acked_patients:
                p = db.get(Patient, pid)
                assert p is not None and p.name == name and p.phototype == "III"
            for aid in acked_assessments:
                a = db.get(Assessment, aid)
                assert a is not None and a.scores["goodman_baron_quantitative"] >= 0
            # no half-applied transaction: every stored patient has its audit event, every
            # stored assessment has its plan and sessions
            crash_ids = db.scalars(select(Patient.id).where(Patient.name.like("Crash %"))).all()
            audited = set(db.scalars(select(AuditEvent.patient_id).where(
                AuditEvent.action == "create", AuditEvent.entity == "patient")))  # fmt: skip
            assert set(crash_ids) <= audited
            for a in db.scalars(select(Assessment).where(Assessment.patient_id.in_(crash_ids))):
                plan = db.scalar(select(Plan).where(Plan.assessment_id == a.id))
                assert plan is not None and plan.proposal["course"]["sessions"]
                n = db.scalar(select(func.count()).select_from(CourseSession)
                              .where(CourseSession.plan_id == plan.id))  # fmt: skip
                assert n == len(plan.proposal["course"]["sessions"])
    finally:
        proc2.terminate()
        proc2.wait(timeout=10)
