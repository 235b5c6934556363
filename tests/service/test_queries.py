"""The current plan, defined once: every reader of "the plan" gets the same one for a role."""

from __future__ import annotations

from cicatrix.service import plans, queries, records


def test_a_newer_proposal_is_the_clinicians_current_plan_and_never_the_patients(world) -> None:  # type: ignore[no-untyped-def]
    approved = world.plans["P1"]
    proposal = world.new_plan("P1")["plan_id"]  # newer, not approved
    pid = world.patients["P1"]
    with world.database.transaction() as db:
        clin, pat, desk = (world.ctx(r, db) for r in ("clinician", "patient", "front_desk"))
        assert queries.current_plan(clin, pid).id == proposal  # type: ignore[union-attr]
        assert queries.current_plan(clin, pid, approved_only=True).id == approved  # type: ignore[union-attr]
        assert queries.current_plan(pat, pid).id == approved  # type: ignore[union-attr]
        assert plans.current(clin, pid).id == proposal
        assert plans.current(pat, pid).id == approved
        assert plans.schedule(desk, pid).plan_id == approved
        assert plans.schedule(clin, pid).plan_id == proposal
        assert plans.today(clin, pid).plan_id == approved  # the day's care follows the approved plan
        # the exports read the same plan: a patient's calendar never shows a proposal
        assert records.load_record(pat, pid).plan.status == "approved"  # type: ignore[union-attr]
        assert records.load_record(clin, pid).plan.status == "proposed"  # type: ignore[union-attr]
