"""The current plan, defined once: every reader of "the plan" gets the same one for a role.

The running course is the approved plan; a newer proposal is a proposed change beside it
(issue 14 §2), for every role and every reader.
"""

from __future__ import annotations

from cicatrix.service import patients, plans, queries, records
from cicatrix.service.schemas import AssessmentIn, PatientClinical, PatientIn
from tests.storage.world import ASSESSMENT, PREFS


def test_a_newer_proposal_is_a_proposed_change_beside_the_running_course(world) -> None:  # type: ignore[no-untyped-def]
    approved = world.plans["P1"]
    proposal = world.new_plan("P1")["plan_id"]  # newer, not approved
    pid = world.patients["P1"]
    with world.database.transaction() as db:
        clin, pat, desk = (world.ctx(r, db) for r in ("clinician", "patient", "front_desk"))
        running = queries.current_plan(clin, pid)
        assert running is not None and running.id == approved
        assert queries.current_plan(clin, pid, approved_only=True).id == approved  # type: ignore[union-attr]
        assert queries.current_plan(pat, pid).id == approved  # type: ignore[union-attr]
        assert plans.current(clin, pid).id == approved
        assert plans.current(pat, pid).id == approved
        assert plans.schedule(desk, pid).plan_id == approved
        assert plans.schedule(clin, pid).plan_id == approved
        assert plans.today(clin, pid).plan_id == approved
        assert records.load_record(pat, pid).plan.status == "approved"  # type: ignore[union-attr]
        assert records.load_record(clin, pid).plan.status == "approved"  # type: ignore[union-attr]
        # the proposal is the change beside it, seen by clinicians only
        change = queries.proposed_change(clin, running)
        assert change is not None and change.id == proposal
        assert queries.proposed_change(pat, running) is None
        assert queries.proposed_change(desk, running) is None


def test_without_an_approved_plan_the_newest_proposal_is_the_clinicians_current_plan(world) -> None:  # type: ignore[no-untyped-def]
    with world.database.transaction() as db:
        clin = world.ctx("clinician", db)
        pid = patients.create(clin, PatientIn(name="New Patient", clinical=PatientClinical(phototype="III"))).id
        made = plans.assess(clin, pid, AssessmentIn(assessment=ASSESSMENT, preferences=PREFS))
        assert made.plan is not None
        running = queries.current_plan(clin, pid)
        assert running is not None and running.id == made.plan.id and running.status == "proposed"
        assert queries.proposed_change(clin, running) is None  # the proposal is the current plan itself
