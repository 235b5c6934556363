"""Plans through the service: proposal, approval, edits, overrides, missed sessions, today."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from cicatrix.service import outcomes, patients, plans
from cicatrix.service.errors import Conflict, Forbidden, Invalid, NotFound
from cicatrix.service.schemas import (
    OutcomeIn,
    OverrideIn,
    PatientUpdate,
    PlanEditIn,
    SessionDoneIn,
    SessionMissedIn,
)
from cicatrix.storage.models import AuditEvent, Plan, PlanEdit
from tests.today import TODAY


def _audit(world, **where):  # type: ignore[no-untyped-def]
    with world.database.transaction() as db:
        q = select(AuditEvent)
        for k, v in where.items():
            q = q.where(getattr(AuditEvent, k) == v)
        return list(db.scalars(q))


def test_assessment_posts_scores_and_a_proposed_plan_with_knowledge_version(world) -> None:
    made = world.new_plan()
    with world.database.transaction() as db:
        p = plans.get(world.ctx("clinician", db), made["plan_id"])
    assert p.status == "proposed"
    assert p.knowledge_version == world.kb.label
    assert p.plan["knowledge_version"] == world.kb.label
    assert {s.treatment for s in p.sessions} == {"microneedling"}
    assert all(s.status == "planned" for s in p.sessions)


def test_only_clinicians_approve(world) -> None:
    made = world.new_plan()
    for who in ("front_desk", "admin", "patient"):
        with world.database.transaction() as db, pytest.raises((Forbidden, NotFound)):
            plans.approve(world.ctx(who, db), made["plan_id"], made["version"])
    with world.database.transaction() as db:
        out = plans.approve(world.ctx("clinician", db), made["plan_id"], made["version"])
    assert out.status == "approved" and out.approved_by == world.users["clinician"]
    # the earlier approved plan of P1 is superseded and its planned sessions cancelled
    with world.database.transaction() as db:
        old = db.get(Plan, world.plans["P1"])
        assert old is not None and old.status == "superseded"


def test_approval_screens_the_proposal_against_the_patient_as_recorded_now(world) -> None:
    """A micro-needling proposal made before the patient said she is pregnant must not become the
    running course: approval runs the same gate, with today's clinical facts."""
    from cicatrix.service.schemas import PatientClinicalUpdate, PatientUpdate

    made = world.new_plan()
    pid = world.patients["P1"]
    with world.database.transaction() as db:
        ctx = world.ctx("clinician", db)
        p = patients.get(ctx, pid)
        patients.update(ctx, pid, PatientUpdate(version=p.version, clinical=PatientClinicalUpdate(pregnant=True)))
    with world.database.transaction() as db, pytest.raises(Invalid) as exc:
        plans.approve(world.ctx("clinician", db), made["plan_id"], made["version"])
    assert exc.value.field == "plan" and "microneedling" in exc.value.message
    with world.database.transaction() as db:
        stored = db.get(Plan, made["plan_id"])
        assert stored is not None and stored.status == "proposed"  # nothing changed


def test_stale_version_is_409_and_nothing_is_lost(world) -> None:
    made = world.new_plan()
    with world.database.transaction() as db:
        ctx = world.ctx("clinician", db)
        edited = plans.edit(ctx, made["plan_id"], PlanEditIn(
            version=made["version"], reason="start a week later",
            start=date(2026, 11, 30)))  # fmt: skip
    assert edited.version == made["version"] + 1
    with world.database.transaction() as db, pytest.raises(Conflict) as exc:
        plans.edit(world.ctx("clinician", db), made["plan_id"], PlanEditIn(
            version=made["version"], reason="stale edit", start=date(2026, 12, 7)))  # fmt: skip
    assert exc.value.field == "version" and exc.value.extra["current_version"] == edited.version
    with world.database.transaction() as db:
        again = plans.get(world.ctx("clinician", db), made["plan_id"])
    assert again.preferences["start"] == "2026-11-30"  # the first edit survived
    assert [e.reason for e in again.edits if e.kind == "edit"] == ["start a week later"]


def test_patient_update_stale_version_is_409(world) -> None:
    pid = world.patients["P1"]
    with world.database.transaction() as db:
        cur = patients.get(world.ctx("clinician", db), pid)
        patients.update(world.ctx("clinician", db), pid, PatientUpdate(version=cur.version, phone="07400 100001"))
    with world.database.transaction() as db, pytest.raises(Conflict):
        patients.update(world.ctx("clinician", db), pid, PatientUpdate(version=cur.version, phone="07400 100002"))
    with world.database.transaction() as db:
        assert patients.get(world.ctx("clinician", db), pid).phone == "+447400100001"


def test_excluded_treatment_cannot_be_scheduled_without_override(world) -> None:
    made = world.new_plan(keloid=True)  # keloid history excludes micro-needling
    with world.database.transaction() as db:
        p = plans.get(world.ctx("clinician", db), made["plan_id"])
    assert "microneedling" in {e["treatment"] for e in p.plan["excluded"]}
    assert "microneedling" not in {s.treatment for s in p.sessions}
    with world.database.transaction() as db, pytest.raises(Invalid) as exc:
        plans.edit(world.ctx("clinician", db), made["plan_id"], PlanEditIn(
            version=p.version, reason="patient insists", treatments=["microneedling"]))  # fmt: skip
    assert exc.value.field == "treatments[0]"
    with world.database.transaction() as db:
        assert plans.get(world.ctx("clinician", db), made["plan_id"]).version == p.version
    # an override needs a reason (schema) and is then scheduled, recorded and audited
    with pytest.raises(ValueError):
        OverrideIn(treatment="microneedling", reason=" ")
    with world.database.transaction() as db:
        out = plans.edit(world.ctx("clinician", db), made["plan_id"], PlanEditIn(
            version=p.version, reason="patient insists", treatments=["microneedling"],
            overrides=[OverrideIn(treatment="microneedling", reason="keloid on chest only; test spot done")]))  # fmt: skip
    assert "microneedling" in {s.treatment for s in out.sessions}
    assert out.overrides[0].reason.startswith("keloid on chest only")
    assert any(e.kind == "override" and e.override for e in out.edits)
    assert any(w["code"] == "clinician_override" for w in out.plan["warnings"])
    assert _audit(world, action="override", entity_id=str(made["plan_id"]))
    # overriding a treatment that is not excluded is refused: overrides are explicit
    with world.database.transaction() as db, pytest.raises(Invalid) as exc2:
        plans.edit(world.ctx("clinician", db), made["plan_id"], PlanEditIn(
            version=out.version, reason="x y z",
            overrides=[OverrideIn(treatment="sun_protection", reason="not needed at all")]))  # fmt: skip
    assert exc2.value.field == "overrides[0].treatment"


def test_missed_session_reflows_keeping_intervals(world) -> None:
    made = world.new_plan(approve=True)
    with world.database.transaction() as db:
        before = plans.get(world.ctx("clinician", db), made["plan_id"])
    first, *rest = sorted(before.sessions, key=lambda s: s.number)
    assert rest, "micro-needling has several sessions"
    gaps_before = [(b.date - a.date).days for a, b in zip([first, *rest], rest, strict=False)]
    new_date = first.date + timedelta(days=7)  # the same weekday: the clinic is open
    with world.database.transaction() as db:
        preview = plans.record_missed(world.ctx("front_desk", db), first.id,
                                      SessionMissedIn(new_date=new_date, dry_run=True))  # fmt: skip
    assert preview.preview
    with world.database.transaction() as db:
        assert plans.get(world.ctx("clinician", db), made["plan_id"]).version == before.version
        after = plans.record_missed(world.ctx("front_desk", db), first.id,
                                    SessionMissedIn(new_date=new_date, version=before.version))  # fmt: skip
    assert after.version == before.version + 1
    missed = [s for s in after.sessions if s.status == "missed"]
    planned = sorted((s for s in after.sessions if s.status == "planned"), key=lambda s: s.number)
    assert [(s.treatment, s.number, s.date) for s in missed] == [(first.treatment, 1, first.date)]
    assert planned[0].number == 1 and planned[0].date == new_date and planned[0].sequence == 1
    gaps_after = [(b.date - a.date).days for a, b in itertools.pairwise(planned)]
    assert gaps_after == gaps_before  # every interval kept
    assert [s.date for s in planned[1:]] == [s.date + timedelta(days=7) for s in rest]
    assert [s["date"] for s in after.plan["course"]["sessions"]] == [s.date.isoformat() for s in planned]
    with world.database.transaction() as db, pytest.raises(Conflict):
        plans.record_missed(world.ctx("clinician", db), first.id, SessionMissedIn())
    assert planned[0].date > TODAY
    with world.database.transaction() as db, pytest.raises(Conflict, match="on or after that day"):
        plans.record_done(world.ctx("clinician", db), planned[0].id, SessionDoneIn(note="ok"))


def test_a_reflow_passes_the_gate_with_the_patient_as_recorded_now(world) -> None:
    """A missed session re-flows the course, which writes the plan anew: after the patient says
    she is pregnant, the micro-needling course cannot be re-dated as if nothing had changed; the
    refusal names the session and leaves everything as it was."""
    from cicatrix.service.schemas import PatientClinicalUpdate, PatientUpdate

    made = world.new_plan(approve=True)
    pid = world.patients["P1"]
    with world.database.transaction() as db:
        before = plans.get(world.ctx("clinician", db), made["plan_id"])
        ctx = world.ctx("clinician", db)
        p = patients.get(ctx, pid)
        patients.update(ctx, pid, PatientUpdate(version=p.version, clinical=PatientClinicalUpdate(pregnant=True)))
    first = min(before.sessions, key=lambda s: s.number)
    with world.database.transaction() as db, pytest.raises(Invalid) as exc:
        plans.record_missed(world.ctx("clinician", db), first.id, SessionMissedIn(new_date=first.date + timedelta(days=7)))
    assert exc.value.field == "session_id" and "microneedling" in exc.value.message
    # front desk may record a missed session, but is not told the clinical reason it is refused
    with world.database.transaction() as db, pytest.raises(Invalid) as exc:
        plans.record_missed(world.ctx("front_desk", db), first.id, SessionMissedIn(dry_run=True))
    assert exc.value.field == "session_id" and "clinician" in exc.value.message
    assert "pregnan" not in exc.value.message and "microneedling" not in exc.value.message
    with world.database.transaction() as db:
        after = plans.get(world.ctx("clinician", db), made["plan_id"])
    assert after.version == before.version and [s.status for s in after.sessions] == [s.status for s in before.sessions]


def test_sessions_need_an_approved_plan(world) -> None:
    made = world.new_plan()
    with world.database.transaction() as db, pytest.raises(Conflict) as exc:
        plans.record_done(world.ctx("clinician", db), made["session_id"], SessionDoneIn())
    assert exc.value.field == "status"


def test_today_lists_the_timeline_for_a_day(world) -> None:
    with world.database.transaction() as db:
        out = plans.today(world.ctx("patient", db), world.patients["P1"], TODAY, 3)
    assert [d.date for d in out.days] == [TODAY + timedelta(days=i) for i in range(3)]
    assert out.days[0].entries, "the first session day has instructions"
    assert all(date.fromisoformat(e["date"]) <= out.days[0].date for e in out.days[0].entries)
    assert out.next_session is not None and out.next_session.treatment == "microneedling"
    with world.database.transaction() as db, pytest.raises(NotFound):
        plans.today(world.ctx("patient", db), world.patients["P2"], TODAY)


def test_outcome_trends_across_assessments(world) -> None:
    world.new_plan()  # a second assessment for P1
    with world.database.transaction() as db:
        ctx = world.ctx("clinician", db)
        out = outcomes.record(ctx, world.patients["P1"], OutcomeIn(
            date=date(2026, 11, 22), measure="patient_global_improvement", value=2))  # fmt: skip
    series = {s.measure: s for s in out.series}
    assert len(series["goodman_baron_quantitative"].points) == 2
    assert series["ecca"].baseline == series["ecca"].latest
    assert series["ecca"].change == 0
    assert series["patient_global_improvement"].points[0].value == 2
    with world.database.transaction() as db, pytest.raises(Invalid):
        outcomes.record(world.ctx("clinician", db), world.patients["P1"],
                        OutcomeIn(date=date(2026, 11, 22), measure="ecca", value=1))  # fmt: skip


def test_every_read_and_write_of_patient_data_is_audited(world) -> None:
    pid = world.patients["P2"]
    n0 = len(_audit(world, patient_id=pid))
    with world.database.transaction() as db:
        edits_before = db.scalar(select(func.count()).select_from(PlanEdit))
    assert edits_before  # the world's plans were approved: there is something to compare with
    with world.database.transaction() as db:
        patients.get(world.ctx("front_desk", db), pid)
        plans.current(world.ctx("patient2", db), pid)
        plans.schedule(world.ctx("front_desk", db), pid)
        outcomes.trends(world.ctx("clinician", db), pid)
    events = _audit(world, patient_id=pid)[n0:]
    assert [(e.action, e.entity, e.role) for e in events] == [
        ("read", "patient", "front_desk"),
        ("read", "plan", "patient"),
        ("read", "schedule", "front_desk"),
        ("read", "outcome", "clinician"),
    ]
    assert all(e.ip == "127.0.0.1" and e.at is not None and e.user_id for e in events)
    with world.database.transaction() as db:  # reads change nothing: no plan edit was written
        assert db.scalar(select(func.count()).select_from(PlanEdit)) == edits_before


def test_audit_events_hold_no_personal_data(world) -> None:
    with world.database.transaction() as db:
        texts = [" ".join(str(getattr(e, c)) for c in ("action", "entity", "entity_id", "detail"))
                 for e in db.scalars(select(AuditEvent))]  # fmt: skip
    assert texts and not any("Patient P" in t or "1990-01-02" in t or "MRN-" in t for t in texts)


def test_front_desk_sees_no_clinical_data_and_cannot_write_it(world) -> None:
    from cicatrix.service.schemas import PatientClinicalUpdate

    with world.database.transaction() as db:
        p = patients.get(world.ctx("front_desk", db), world.patients["P1"])
    assert p.clinical is None
    with world.database.transaction() as db, pytest.raises(Forbidden) as exc:
        patients.update(world.ctx("front_desk", db), p.id, PatientUpdate(
            version=p.version, clinical=PatientClinicalUpdate(notes="x")))  # fmt: skip
    assert exc.value.field == "clinical"
