"""No double booking (issue 14 §1): 20 clients book the same slot at once, on both back ends.

Twenty front-desk requests, released together by a barrier (`test_races.together`), book twenty
different patients' sessions with the same practitioner, room and time through the whole
application. Exactly one wins (201); the nineteen others get 409 with the next free slots, none
of which overlaps the slot that was won. On PostgreSQL the requests interleave on the event
loop in separate transactions and the exclusion constraints decide; on SQLite they queue on
`BEGIN IMMEDIATE` and the check inside the transaction does.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import func, select

from cicatrix.service import patients, plans
from cicatrix.service.schemas import AssessmentIn, PatientClinical, PatientIn
from cicatrix.storage.models import Appointment
from tests.api.fixtures import bearer
from tests.api.test_races import together
from tests.storage.world import ASSESSMENT, PREFS

CLIENTS = 20


def _first_sessions(world: Any, n: int) -> list[int]:
    """`n` new patients of clinic A, each with an approved plan; their first sessions."""
    out = []
    with world.database.transaction() as db:
        ctx = world.ctx("clinician", db)
        for i in range(n):
            p = patients.create(ctx, PatientIn(name=f"Booking race {i}", birth_date=date(1991, 3, 4),
                                               clinical=PatientClinical(phototype="II")))  # fmt: skip
            made = plans.assess(ctx, p.id, AssessmentIn(assessment=ASSESSMENT, preferences=PREFS))
            assert made.plan is not None
            approved = plans.approve(ctx, made.plan.id, made.plan.version)
            out.append(min(approved.sessions, key=lambda s: s.number).id)
    return out


def test_twenty_clients_booking_one_slot_leave_one_booking(client: Any) -> None:
    admin, desk = bearer(client, "admin"), bearer(client, "front_desk")
    room = client.post("/api/rooms", json={"name": "Room 1"}, headers=admin)
    assert room.status_code == 201, room.text
    sessions = _first_sessions(client.world, CLIENTS)
    offered = client.get(f"/api/sessions/{sessions[0]}/slots", headers=desk)
    assert offered.status_code == 200, offered.text
    slot = offered.json()["slots"][0]
    body = {"start": slot["start"], "practitioner_id": slot["practitioner_id"], "room_id": slot["room_id"]}
    answers = together(
        *[partial(client.post, f"/api/sessions/{sid}/appointment", json=body, headers=desk) for sid in sessions]
    )
    codes = sorted(r.status_code for r in answers)
    assert codes == [201] + [409] * (CLIENTS - 1), [r.text for r in answers if r.status_code not in (201, 409)]
    start = datetime.fromisoformat(slot["start"])
    end = start + timedelta(minutes=60)
    for r in answers:
        if r.status_code != 409:
            continue
        lost = r.json()
        assert lost["code"] == "conflict" and lost["field"] == "start" and lost["next_slots"]
        for nxt in lost["next_slots"]:
            a, b = datetime.fromisoformat(nxt["start"]), datetime.fromisoformat(nxt["end"])
            assert b <= start or a >= end, nxt
    with client.world.database.transaction() as db:
        booked = db.scalar(select(func.count()).select_from(Appointment).where(Appointment.status == "booked"))
    assert booked == 1
    # a loser books one of the slots it was offered
    loser = next(sid for sid, r in zip(sessions, answers, strict=True) if r.status_code == 409)
    nxt = next(r for r in answers if r.status_code == 409).json()["next_slots"][0]
    again = client.post(f"/api/sessions/{loser}/appointment", headers=desk,
                        json={"start": nxt["start"], "practitioner_id": nxt["practitioner_id"],
                              "room_id": nxt["room_id"]})  # fmt: skip
    assert again.status_code == 201, again.text
