"""Races (issue 12 §2): real concurrent clients on both back ends.

Each test starts its requests from several threads released together by a barrier; the
requests go through the whole application (TestClient), so on PostgreSQL they interleave on
the event loop in separate transactions, and on SQLite they queue on `BEGIN IMMEDIATE`. A
race is not certain to happen on every attempt, so each test runs a few rounds (bounded:
a handful of requests each); on PostgreSQL every one of them failed before its fix.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date
from functools import partial
from typing import Any

from sqlalchemy import func, select

from cicatrix.service import patients, plans
from cicatrix.service.schemas import AssessmentIn, PatientClinical, PatientIn, PlanCreate
from cicatrix.storage.models import CourseSession, Plan, User
from tests.api.fixtures import bearer
from tests.storage.world import ASSESSMENT, PREFS

ROUNDS = 4


def together(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls in threads released at the same instant; their results in order."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int, call: Callable[[], Any]) -> None:
        barrier.wait()
        results[i] = call()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def _approved(client: Any, patient: str | int) -> int:
    world = client.world
    patient_id = world.patients[patient] if isinstance(patient, str) else patient
    with world.database.transaction() as db:
        n: int = db.scalar(
            select(func.count()).select_from(Plan).where(Plan.patient_id == patient_id, Plan.status == "approved")
        )
        return n


def _new_patient_with_two_proposals(world: Any, n: int) -> tuple[int, dict[str, Any], dict[str, Any]]:
    """A patient with no approved plan yet (the race needs nothing to supersede) and two
    proposals from one assessment."""
    with world.database.transaction() as db:
        ctx = world.ctx("clinician", db)
        p = patients.create(
            ctx,
            PatientIn(name=f"Race patient {n}", birth_date=date(1990, 1, 2), clinical=PatientClinical(phototype="III")),
        )
        made = plans.assess(ctx, p.id, AssessmentIn(assessment=ASSESSMENT, preferences=PREFS))
        assert made.plan is not None
        other = plans.generate(ctx, made.assessment.id, PlanCreate(preferences=PREFS))
        return (
            p.id,
            {"plan_id": made.plan.id, "version": made.plan.version},
            {"plan_id": other.id, "version": other.version},
        )


def test_two_proposals_approved_at_once_leave_one_approved_plan(client: Any) -> None:
    h = bearer(client, "clinician")
    for n in range(ROUNDS):
        patient, a, b = _new_patient_with_two_proposals(client.world, n)
        answers = together(
            partial(client.post, f"/api/plans/{a['plan_id']}/approve", json={"version": a["version"]}, headers=h),
            partial(client.post, f"/api/plans/{b['plan_id']}/approve", json={"version": b["version"]}, headers=h),
        )
        codes = sorted(r.status_code for r in answers)
        assert all(c in (200, 409) for c in codes), [r.text for r in answers]
        assert 200 in codes
        for r in answers:
            if r.status_code == 409:
                assert r.json()["code"] == "conflict" and r.json()["message"]
        assert _approved(client, patient) == 1


def test_the_same_plan_approved_twice_at_once_is_one_200_and_one_409(client: Any) -> None:
    h = bearer(client, "clinician")
    for _ in range(ROUNDS):
        a = client.world.new_plan("P1")
        approve = partial(client.post, f"/api/plans/{a['plan_id']}/approve", json={"version": a["version"]}, headers=h)
        answers = together(approve, approve)
        assert sorted(r.status_code for r in answers) == [200, 409], [r.text for r in answers]
        lost = next(r for r in answers if r.status_code == 409).json()
        assert lost["code"] == "conflict" and lost["field"] in ("version", "status")
        assert _approved(client, "P1") == 1


def test_the_same_plan_edited_twice_at_once_is_one_200_and_one_409(client: Any) -> None:
    h = bearer(client, "clinician")
    for i in range(ROUNDS):
        a = client.world.new_plan("P2", approve=True)
        edits = [
            {"version": a["version"], "reason": f"round {i} edit {k}", "start": f"2026-12-0{k + 1}"} for k in range(2)
        ]
        answers = together(*[partial(client.patch, f"/api/plans/{a['plan_id']}", json=e, headers=h) for e in edits])
        assert sorted(r.status_code for r in answers) == [200, 409], [r.text for r in answers]
        won = next(r for r in answers if r.status_code == 200).json()
        # an edit of the running course is a new proposal beside it (issue 14 §2)
        stored = client.get(f"/api/plans/{won['id']}", headers=h).json()
        assert stored["version"] == won["version"] and stored["status"] == "proposed"
        assert [e["reason"] for e in stored["edits"] if e["kind"] == "edit"] == [
            e["reason"] for e in won["edits"] if e["kind"] == "edit"
        ]


def test_a_session_marked_done_twice_at_once_keeps_the_winners_note(client: Any) -> None:
    h = bearer(client, "clinician")
    for i in range(ROUNDS):
        a = client.world.new_plan("P2", approve=True)
        sid = a["session_id"]
        notes = [f"round {i}: given by hand {k}" for k in range(2)]
        answers = together(
            *[partial(client.post, f"/api/sessions/{sid}/done", json={"note": n}, headers=h) for n in notes]
        )
        assert sorted(r.status_code for r in answers) == [200, 409], [r.text for r in answers]
        won = next(r for r in answers if r.status_code == 200).json()
        with client.world.database.transaction() as db:
            row = db.get(CourseSession, sid)
            assert row is not None
            assert (row.status, row.note, row.version) == ("done", won["note"], won["version"])


def test_a_stale_session_version_is_409_and_changes_nothing(client: Any) -> None:
    h = bearer(client, "clinician")
    a = client.world.new_plan("P2", approve=True)
    sid = a["session_id"]
    shown = next(s for s in client.get(f"/api/plans/{a['plan_id']}", headers=h).json()["sessions"] if s["id"] == sid)
    v = shown["version"]  # a booking kept from the course this plan replaced has moved on from 1
    stale = client.post(f"/api/sessions/{sid}/done", json={"session_version": v + 7, "note": "x"}, headers=h)
    assert stale.status_code == 409
    assert stale.json()["field"] == "session_version" and stale.json()["current_version"] == v
    ok = client.post(f"/api/sessions/{sid}/done", json={"session_version": v, "note": "given"}, headers=h)
    assert ok.status_code == 200 and ok.json()["version"] == v + 1 and ok.json()["note"] == "given"
    missed = client.post(f"/api/sessions/{sid}/missed", json={"session_version": v}, headers=h)
    assert missed.status_code == 409


def test_two_admins_demoted_at_once_leave_an_active_admin(client: Any) -> None:
    h = bearer(client, "admin")
    world = client.world
    for i in range(ROUNDS):
        made = client.post(
            "/api/users",
            json={"username": f"second-admin-{i}@test", "display_name": "Second", "role": "admin",
                  "password": "correct horse battery staple"},
            headers=h,
        )  # fmt: skip
        assert made.status_code == 201, made.text
        other = made.json()["id"]
        me = world.users["admin"]
        answers = together(
            partial(client.patch, f"/api/users/{other}", json={"role": "clinician"}, headers=h),
            partial(client.patch, f"/api/users/{me}", json={"role": "clinician"}, headers=h),
        )
        # On PostgreSQL both start as admins and the locked count refuses the second (409); on
        # SQLite they run one after the other, so the second may find its actor demoted (403).
        codes = sorted(r.status_code for r in answers)
        assert codes in ([200, 403], [200, 409]), [r.text for r in answers]
        with world.database.transaction() as db:
            admins = db.scalars(
                select(User).where(User.clinic_id == world.clinic_a, User.role == "admin", User.active.is_(True))
            ).all()
            assert len(admins) == 1
            admin = admins[0]
            if admin.id != me:  # the first admin was demoted: put it back for the next round
                db.get(User, me).role = "admin"  # type: ignore[union-attr]
                admin.role = "clinician"
