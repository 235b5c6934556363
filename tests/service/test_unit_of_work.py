"""The unit of work: one transaction per request or command, use cases that compose, and
`step`, the savepoint a page uses for a use case whose refusal it shows."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cicatrix.service import audit, outcomes, patients, unit_of_work
from cicatrix.service.errors import Invalid
from cicatrix.service.schemas import OutcomeIn, PatientIn
from cicatrix.storage.models import AuditEvent, Outcome, Patient


def _count(world, model) -> int:  # type: ignore[no-untyped-def]
    with world.database.transaction() as db:
        return db.scalar(select(func.count()).select_from(model)) or 0


def test_use_cases_compose_in_one_transaction_and_fail_as_one(world) -> None:  # type: ignore[no-untyped-def]
    """`outcomes.record` stores and then reads `trends`; a failure after it undoes both, with
    their audit events: nothing is half-written."""
    outcomes_before, events_before = _count(world, Outcome), _count(world, AuditEvent)
    body = OutcomeIn(date=date(2026, 11, 22), measure="patient_global_improvement", value=2)

    def work(db: Session) -> None:
        made = outcomes.record(world.ctx("clinician", db), world.patients["P1"], body)
        assert made.series  # record returned the trends, in the same transaction
        raise LookupError("a later step of the same request failed")

    with pytest.raises(LookupError):
        world.database.run_sync(work)
    assert (_count(world, Outcome), _count(world, AuditEvent)) == (outcomes_before, events_before)

    world.database.run_sync(lambda db: outcomes.record(world.ctx("clinician", db), world.patients["P1"], body))
    assert _count(world, Outcome) == outcomes_before + 1
    assert _count(world, AuditEvent) == events_before + 2  # the outcome written, the trends read


def test_step_undoes_a_refused_use_case_and_keeps_the_rest(world) -> None:  # type: ignore[no-untyped-def]
    patients_before, events_before = _count(world, Patient), _count(world, AuditEvent)

    def page(db: Session) -> None:
        ctx = world.ctx("clinician", db)
        patients.get(ctx, world.patients["P1"])  # a read the page shows: audited, kept
        with pytest.raises(Invalid), unit_of_work.step(db):
            patients.create(ctx, PatientIn(name="Half Written"))  # stored and audited...
            raise Invalid("name", "refused after the write")  # ...then refused
        assert audit.mark(db) == 1  # the read's event only

    world.database.run_sync(page)
    assert _count(world, Patient) == patients_before
    with world.database.transaction() as db:
        new = list(db.scalars(select(AuditEvent).order_by(AuditEvent.id).offset(events_before)))
    assert [(e.action, e.entity) for e in new] == [("read", "patient")]


def test_a_step_that_succeeds_is_kept(world) -> None:  # type: ignore[no-untyped-def]
    before = _count(world, Patient)

    def page(db: Session) -> int:
        with unit_of_work.step(db):
            return patients.create(world.ctx("clinician", db), PatientIn(name="Kept")).id

    pid = world.database.run_sync(page)
    assert _count(world, Patient) == before + 1
    with world.database.transaction() as db:
        assert db.get(Patient, pid) is not None
