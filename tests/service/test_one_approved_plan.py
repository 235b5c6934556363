"""The invariant "at most one approved plan per patient" over any sequence of approvals and
edits of a patient's proposals, with current or stale versions (issue 12 §2).

Every step either succeeds or is refused as a conflict (`Conflict` from the use case, or the
unit of work's `WriteConflict`), never anything else; afterwards the patient has exactly one
approved plan if any approval succeeded, and it is the last plan whose approval succeeded (an
edit of the approved plan is a new proposal beside it, which later steps may approve; a new
proposal supersedes the older ones, issue 14 §2). Runs on SQLite, and on PostgreSQL when set up.
"""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from cicatrix.service import patients, plans
from cicatrix.service.errors import REFUSALS, Conflict
from cicatrix.service.schemas import AssessmentIn, PatientClinical, PatientIn, PlanCreate, PlanEditIn
from cicatrix.storage.db import WriteConflict
from cicatrix.storage.models import Plan
from tests.storage.world import ASSESSMENT, PREFS

PROPOSALS = 3
_names = itertools.count()

steps = st.lists(
    st.tuples(st.sampled_from(["approve", "edit"]), st.integers(0, 2 * PROPOSALS), st.booleans()),
    min_size=1,
    max_size=8,
)


def _setup(world: Any) -> tuple[int, list[int]]:
    with world.database.transaction() as db:
        ctx = world.ctx("clinician", db)
        p = patients.create(
            ctx,
            PatientIn(
                name=f"Invariant {next(_names)}", birth_date=date(1990, 1, 2), clinical=PatientClinical(phototype="II")
            ),
        )
        made = plans.assess(ctx, p.id, AssessmentIn(assessment=ASSESSMENT, preferences=PREFS))
        assert made.plan is not None
        ids = [made.plan.id] + [
            plans.generate(ctx, made.assessment.id, PlanCreate(preferences=PREFS)).id for _ in range(PROPOSALS - 1)
        ]
        return p.id, ids


def _version(world: Any, plan_id: int) -> int:
    with world.database.transaction() as db:
        row = db.get(Plan, plan_id)
        assert row is not None
        return row.version


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=steps)
def test_any_sequence_leaves_at_most_one_approved_plan(world: Any, steps: list[tuple[str, int, bool]]) -> None:
    patient_id, ids = _setup(world)
    in_force: int | None = None
    for i, (kind, which, stale) in enumerate(steps):
        plan_id = ids[which % len(ids)]
        version = _version(world, plan_id) + (1 if stale else 0)  # a version nobody read
        try:
            with world.database.transaction() as db:
                ctx = world.ctx("clinician", db)
                if kind == "approve":
                    plans.approve(ctx, plan_id, version)
                else:
                    edited = plans.edit(
                        ctx, plan_id, PlanEditIn(version=version, reason=f"step {i}", start=date(2026, 12, 1))
                    )
                    if edited.id not in ids:  # an edit of the running course: a new proposal beside it
                        ids.append(edited.id)
        except REFUSALS as exc:
            assert isinstance(exc, (Conflict, WriteConflict)), exc
            continue
        if kind == "approve":
            in_force = plan_id  # an edit of the approved plan leaves it in force (issue 14 §2)
    with world.database.transaction() as db:
        approved = list(db.scalars(select(Plan.id).where(Plan.patient_id == patient_id, Plan.status == "approved")))
    assert approved == ([in_force] if in_force is not None else [])
