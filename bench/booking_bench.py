"""Free-slot search through the service, on a real database: 20 practitioners, 10 rooms, a year.

`bench/slots_bench.py` times the engine's search alone; this times what the booking screen
costs end to end in one unit of work: `service.appointments.slots` reads the session, its
window, the clinic's calendar (with GB holidays), the active appointments overlapping the days
searched (the index on `(clinic_id, start)`), the practitioners' and rooms' names, searches, and
writes its audit event. The year's appointments are written directly (each with its own course
session, as the one-active-appointment-per-session index requires): each room is taken about
70 % of its opening hours by 30-90 minute appointments, each with a practitioner free then.

Usage: .venv/bin/python bench/booking_bench.py [--queries 200] [--seed 5] [--postgres URL]
Prints a Markdown section for docs/performance.md.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time as clock
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

YEAR = 2027
PRACTITIONERS, ROOMS = 20, 10
PW = "correct horse battery staple"


def _seed(database: Any, kb: Any, rng: random.Random) -> tuple[Any, int, int]:
    from cicatrix.service import appointments, clinic_calendar, patients, plans
    from cicatrix.service.booking_schemas import ClinicCalendarIn, OpeningPeriod, RoomIn
    from cicatrix.service.context import Actor, Context
    from cicatrix.service.schemas import AssessmentIn, PatientClinical, PatientIn, UserIn
    from cicatrix.service.users import add_user, create_clinic
    from cicatrix.storage.models import Appointment, CourseSession

    today = date(YEAR, 1, 4)
    now = datetime.combine(today, time(7), tzinfo=UTC)
    with database.transaction() as db:
        clinic = create_clinic(db, "Bench clinic", "UTC")
        admin = add_user(db, clinic.id, UserIn(username="a@b", display_name="A", role="admin", password=PW))
        docs = [add_user(db, clinic.id, UserIn(username=f"d{i}@b", display_name=f"Dr {i:02d}", role="clinician",
                                                password=PW)) for i in range(PRACTITIONERS)]  # fmt: skip
        desk = add_user(db, clinic.id, UserIn(username="f@b", display_name="F", role="front_desk", password=PW))
    actor = {u.role: Actor(user_id=u.id, clinic_id=clinic.id, role=u.role) for u in (admin, docs[0], desk)}

    def ctx(db: Any, role: str) -> Context:
        return Context(db=db, actor=actor[role], kb=kb, ip="127.0.0.1", today=today, now=now)

    with database.transaction() as db:
        hours = [OpeningPeriod(weekday=d, opens=time(8), closes=time(19)) for d in range(5)]
        hours.append(OpeningPeriod(weekday=5, opens=time(9), closes=time(14)))
        clinic_calendar.update(ctx(db, "admin"), ClinicCalendarIn(hours=hours, country="GB", subdivision="ENG"))
        rooms = [appointments.add_room(ctx(db, "admin"), RoomIn(name=f"Room {i:02d}")).id for i in range(ROOMS)]
        p = patients.create(
            ctx(db, "clinician"), PatientIn(name="Bench patient", clinical=PatientClinical(phototype="II"))
        )
        body = AssessmentIn(
            assessment={"date": today.isoformat(), "scars": [{"type": "rolling", "count": 8, "depth": "shallow"}],
                        "marks": [], "active_lesions": []},
            preferences={"start": today.isoformat(), "treatments": ["microneedling"]},
        )  # fmt: skip
        made = plans.assess(ctx(db, "clinician"), p.id, body)
        assert made.plan is not None
        approved = plans.approve(ctx(db, "clinician"), made.plan.id, made.plan.version)
        target = min(approved.sessions, key=lambda s: s.number).id
        cal = clinic_calendar.calendar_for(ctx(db, "admin"))
    sessions: list[dict[str, Any]] = []
    appts: list[dict[str, Any]] = []
    busy_until = {d.id: datetime.min.replace(tzinfo=UTC) for d in docs}
    day = date(YEAR, 1, 1)
    while day.year == YEAR:
        for opens, closes in cal.periods(day):
            for room in rooms:
                t = datetime.combine(day, opens, tzinfo=UTC)
                end = datetime.combine(day, closes, tzinfo=UTC)
                while t < end:
                    length = timedelta(minutes=15 * rng.randint(2, 6))
                    free = [d for d, until in busy_until.items() if until <= t]
                    if rng.random() < 0.7 and t + length <= end and free:
                        doc = rng.choice(free)
                        busy_until[doc] = t + length
                        sessions.append({"clinic_id": clinic.id, "patient_id": p.id, "plan_id": approved.id,
                                         "treatment": "microneedling", "number": 100 + len(sessions), "date": day,
                                         "status": "planned", "sequence": 0, "version": 1})  # fmt: skip
                        appts.append({"clinic_id": clinic.id, "patient_id": p.id, "practitioner_id": doc,
                                      "room_id": room, "start": t, "end": t + length, "status": "booked",
                                      "booked_by": desk.id, "booked_at": now, "version": 1})  # fmt: skip
                    t += length
        day += timedelta(days=1)
    with database.transaction() as db:
        first_id = (db.scalar(select(CourseSession.id).order_by(CourseSession.id.desc()).limit(1)) or 0) + 1
        for i in range(0, len(sessions), 5000):
            db.execute(insert(CourseSession), sessions[i : i + 5000])
        ids = list(db.scalars(select(CourseSession.id).where(CourseSession.id >= first_id).order_by(CourseSession.id)))
        for a, sid in zip(appts, ids, strict=True):
            a["session_id"] = sid
        for i in range(0, len(appts), 5000):
            db.execute(insert(Appointment), appts[i : i + 5000])
    return lambda db: ctx(db, "front_desk"), target, len(appts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--postgres", help="a PostgreSQL URL of an empty database to use instead of SQLite")
    args = ap.parse_args()
    from cicatrix.knowledge.loader import load_knowledge
    from cicatrix.service import appointments
    from cicatrix.storage import migrate
    from cicatrix.storage.db import Database
    from cicatrix.storage.settings import Settings

    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), secret_key="bench-" + "s" * 32, database_url=args.postgres)
        migrate.upgrade(settings)
        database = Database(settings)
        kb = load_knowledge()
        ctx_for, target, total = _seed(database, kb, rng)

        def query() -> float:
            first = date(YEAR, 1, 4) + timedelta(days=rng.randint(0, 340))
            start = clock.perf_counter()
            found = database.run_sync(
                lambda db: appointments.slots(ctx_for(db), target, first, first + timedelta(days=13), limit=10)
            )
            elapsed = clock.perf_counter() - start
            assert found.slots, "a two-week window at 70 % occupancy has a free hour"
            return elapsed

        query()
        times = sorted(query() * 1000 for _ in range(args.queries))
        database.dispose()
    backend = "PostgreSQL" if args.postgres else "SQLite"
    p95 = times[int(0.95 * (len(times) - 1))]
    print(f"## Free-slot search through the service (`bench/booking_bench.py`, {backend})\n")
    print(f"{PRACTITIONERS} practitioners, {ROOMS} rooms, {total:,} appointments over {YEAR}; {args.queries} calls of")
    print("`appointments.slots` (one unit of work each) for the first 10 free 60-minute slots in two weeks.\n")
    print("| measure | ms |")
    print("|---|---|")
    print(f"| p50 | {statistics.median(times):.1f} |")
    print(f"| p95 | {p95:.1f} |")
    print(f"| max | {times[-1]:.1f} |")


if __name__ == "__main__":
    main()
