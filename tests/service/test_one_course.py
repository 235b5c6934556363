"""One running course (issue 14 §2): approving a new plan while sessions are booked, proposals
superseded and withdrawn, and every reader agreeing on the course. Both back ends."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from cicatrix.exports.fhir import record_to_bundle
from cicatrix.exports.ics import build_calendar
from cicatrix.service import dashboard, plans, records, views
from cicatrix.service.errors import Conflict, Forbidden
from cicatrix.service.schemas import AssessmentIn, SessionDoneIn, WithdrawIn
from cicatrix.storage.models import AuditEvent, CourseSession, Plan
from tests.storage.world import ASSESSMENT


def _assess(world, prefs: dict[str, Any], patient: str = "P1") -> int:  # type: ignore[no-untyped-def]
    def work(db):  # type: ignore[no-untyped-def]
        made = plans.assess(world.ctx("clinician", db), world.patients[patient],
                            AssessmentIn(assessment=ASSESSMENT, preferences=prefs))  # fmt: skip
        assert made.plan is not None
        return made.plan.id

    return world.database.run_sync(work)  # type: ignore[no-any-return]


def _rows(world, plan_id: int) -> list[CourseSession]:  # type: ignore[no-untyped-def]
    with world.database.transaction() as db:
        rows = list(db.scalars(select(CourseSession).where(CourseSession.plan_id == plan_id)))
        db.expunge_all()
        return rows


def test_approval_preview_then_approval_keeps_moves_and_cancels_bookings_as_shown(world) -> None:  # type: ignore[no-untyped-def]
    old_id = world.plans["P1"]
    old_rows = {r.id: r for r in _rows(world, old_id) if r.status == "planned"}
    first = min(old_rows.values(), key=lambda r: r.date)
    with world.database.transaction() as db:  # the first session is given: it stays history
        plans.record_done(world.ctx("clinician", db), first.id, SessionDoneIn(session_version=first.version))
    new_id = _assess(world, {"start": "2026-12-07", "treatments": ["microneedling"]})
    with world.database.transaction() as db:
        clin = world.ctx("clinician", db)
        version = db.get(Plan, new_id).version  # type: ignore[union-attr]
        preview = plans.approval_preview(clin, new_id, version)
        beside = plans.proposed_change(clin, new_id)
    assert preview.running_plan_id == old_id and preview.done == 1
    assert beside.bookings == preview.bookings and beside.token == preview.token
    effects = {e.session_id: e for e in preview.bookings if e.session_id}
    assert set(effects) == set(old_rows) - {first.id}  # every remaining booking has one effect
    assert {e.effect for e in preview.bookings} <= {"kept", "moved", "cancelled", "added"}
    assert any(e.effect == "moved" for e in preview.bookings)
    # nothing changed by the preview
    assert {r.id: (r.plan_id, r.date, r.status) for r in _rows(world, old_id)} == {
        i: (r.plan_id, r.date, r.status) for i, r in old_rows.items()
    } | {first.id: (old_id, first.date, "done")}

    with world.database.transaction() as db:
        approved = plans.approve(world.ctx("clinician", db), new_id, version, preview.token)
    assert approved.status == "approved"
    after = {r.id: r for r in _rows(world, new_id)}
    old_after = {r.id: r for r in _rows(world, old_id)}
    for sid, e in effects.items():
        if e.effect in ("kept", "moved"):  # the booking's own row, now in the new plan
            assert after[sid].date == e.new_date and after[sid].number == e.number and after[sid].status == "planned"
        else:
            assert old_after[sid].status == "cancelled"
    assert old_after[first.id].status == "done"  # history stays with the plan it was given under
    planned_new = sorted((r.treatment, r.number, r.date) for r in after.values() if r.status == "planned")
    assert planned_new == sorted((s["treatment"], s["number"], date.fromisoformat(s["date"]))
                                 for s in approved.plan["course"]["sessions"])  # fmt: skip
    with world.database.transaction() as db:
        assert db.get(Plan, old_id).status == "superseded"  # type: ignore[union-attr]
        actions = {e.action for e in db.scalars(select(AuditEvent).where(AuditEvent.entity == "course_session"))}
    assert {"rebook"} <= actions


def test_a_stale_preview_is_refused_and_nothing_changes(world) -> None:  # type: ignore[no-untyped-def]
    new_id = _assess(world, {"start": "2026-12-07", "treatments": ["microneedling"]})
    with world.database.transaction() as db:
        clin = world.ctx("clinician", db)
        preview = plans.approval_preview(clin, new_id, 1)
    booked = next(r for r in _rows(world, world.plans["P1"]) if r.status == "planned")
    with world.database.transaction() as db:  # a booking changes after the preview was shown
        plans.record_done(world.ctx("clinician", db), booked.id, SessionDoneIn(session_version=booked.version))
    with pytest.raises(Conflict) as exc, world.database.transaction() as db:
        plans.approve(world.ctx("clinician", db), new_id, 1, preview.token)
    assert exc.value.field == "expected_change"
    with world.database.transaction() as db:
        assert db.get(Plan, new_id).status == "proposed"  # type: ignore[union-attr]
        assert db.get(Plan, world.plans["P1"]).status == "approved"  # type: ignore[union-attr]


def test_a_new_assessment_supersedes_older_proposals_and_the_dashboard_shows_one(world) -> None:  # type: ignore[no-untyped-def]
    ids = [_assess(world, {"start": "2026-12-07", "treatments": ["microneedling"]}) for _ in range(3)]
    with world.database.transaction() as db:
        statuses = [db.get(Plan, i).status for i in ids]  # type: ignore[union-attr]
        assert statuses == ["superseded", "superseded", "proposed"]
        assert all(r.status == "cancelled" for i in ids[:2] for r in db.scalars(
            select(CourseSession).where(CourseSession.plan_id == i)))  # fmt: skip
        board = dashboard.build(world.ctx("clinician", db))
    assert [a.plan_id for a in board.awaiting if a.patient_id == world.patients["P1"]] == [ids[-1]]


def test_a_proposal_is_withdrawn_with_a_reason_by_a_clinician_only(world) -> None:  # type: ignore[no-untyped-def]
    new_id = _assess(world, {"start": "2026-12-07", "treatments": ["microneedling"]})
    with pytest.raises(Forbidden), world.database.transaction() as db:
        plans.withdraw(world.ctx("front_desk", db), new_id, WithdrawIn(version=1, reason="not wanted"))
    with world.database.transaction() as db:
        out = plans.withdraw(world.ctx("clinician", db), new_id, WithdrawIn(version=1, reason="patient declined"))
    assert out.status == "withdrawn" and out.edits[-1].kind == "withdraw"
    assert out.edits[-1].reason == "patient declined"
    assert all(s.status == "cancelled" for s in out.sessions)
    with pytest.raises(Conflict), world.database.transaction() as db:
        plans.approve(world.ctx("clinician", db), new_id, out.version)
    with world.database.transaction() as db:
        ev = db.scalars(select(AuditEvent).where(AuditEvent.action == "withdraw")).all()
        assert [(e.entity, e.entity_id) for e in ev] == [("plan", str(new_id))]
        assert views.patient_overview(world.ctx("clinician", db), world.patients["P1"]).change is None


def test_editing_the_running_course_proposes_a_change_beside_it(world) -> None:  # type: ignore[no-untyped-def]
    from cicatrix.service.schemas import PlanEditIn

    running = world.plans["P1"]
    with world.database.transaction() as db:
        version = db.get(Plan, running).version  # type: ignore[union-attr]
        edited = plans.edit(world.ctx("clinician", db), running,
                            PlanEditIn(version=version, reason="start later", start=date(2026, 12, 14)))  # fmt: skip
    assert edited.id != running and edited.status == "proposed"
    with world.database.transaction() as db:
        assert db.get(Plan, running).status == "approved"  # type: ignore[union-attr]
        assert plans.current(world.ctx("patient", db), world.patients["P1"]).id == running
        ov = views.patient_overview(world.ctx("clinician", db), world.patients["P1"])
    assert ov.current is not None and ov.current.id == running
    assert ov.change is not None and ov.change.plan_id == edited.id
    assert any(b.effect == "moved" for b in ov.change.bookings)


def _course(sessions: Any) -> list[tuple[str, int, date]]:
    return sorted((s.treatment, s.number, s.date) for s in sessions if s.status == "planned")


def test_every_reader_shows_the_same_running_course_after_assess_approve_twice(world) -> None:  # type: ignore[no-untyped-def]
    """Clinician page, patient pages, handout, calendar and FHIR agree (issue 14 §2)."""
    pid = world.patients["P2"]
    for start in ("2026-12-01", "2026-12-15"):
        new_id = _assess(world, {"start": start, "treatments": ["microneedling"]}, patient="P2")
        with world.database.transaction() as db:
            plans.approve(world.ctx("clinician", db), new_id, 1)
        # a newer proposal must not change what anyone shows as the course
        _assess(world, {"start": "2027-01-11", "treatments": ["microneedling"]}, patient="P2")
        with world.database.transaction() as db:
            clin, pat = world.ctx("clinician", db), world.ctx("patient2", db)
            page = views.patient_overview(clin, pid).current
            mine = plans.current(pat, pid)
            handout = records.handout_source(clin, pid)
            calendar = records.calendar_source(pat, pid)
            fhir_record = records.load_record(clin, pid)
            schedule = plans.schedule(world.ctx("front_desk", db), pid)
        assert page is not None and page.id == mine.id == new_id == schedule.plan_id
        assert page.status == "approved"
        expected = _course(mine.sessions)
        assert _course(page.sessions) == expected == _course(schedule.sessions)
        engine_course = sorted(
            (s["treatment"], s["number"], date.fromisoformat(s["date"])) for s in mine.plan["course"]["sessions"]
        )
        assert engine_course == expected
        for plan in (handout.plan, calendar.plan, fhir_record.plan.plan):  # type: ignore[union-attr]
            assert sorted((s.treatment, s.number, s.date) for s in plan.course.sessions) == expected
        assert _course(fhir_record.sessions) == expected
        cal = build_calendar(calendar.plan, calendar.record_id)
        session_days = sorted(
            ev.decoded("dtstart").date() for ev in cal.walk("VEVENT") if b"session" in ev.get("categories").to_ical()
        )
        assert session_days == sorted(d for _t, _n, d in expected)
        bundle = record_to_bundle(fhir_record).model_dump(mode="json")
        requests = sorted(
            (r["resource"]["occurrenceDateTime"])
            for r in bundle["entry"]
            if r["resource"]["resourceType"] == "ServiceRequest" and r["resource"]["status"] == "active"
        )
        assert requests == sorted(d.isoformat() for _t, _n, d in expected)
