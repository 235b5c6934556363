"""The unit of work's `WriteConflict` (issue 12 §2): a concurrent write that lost is a 409-kind
refusal, never a crash, and the one-approved-plan guard is held by the database itself."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select, text, update

from cicatrix.storage import migrate
from cicatrix.storage.db import WriteConflict
from cicatrix.storage.models import AuditEvent, CourseSession, Plan


def _approved(world: Any, patient: str) -> list[int]:
    with world.database.transaction() as db:
        q = select(Plan.id).where(Plan.patient_id == world.patients[patient], Plan.status == "approved")
        return list(db.scalars(q))


def test_a_second_approved_plan_of_a_patient_is_refused_by_the_database(world: Any) -> None:
    """Even a writer that skips the service's lock cannot store two approved plans."""
    proposal = world.new_plan("P1")["plan_id"]
    with pytest.raises(WriteConflict) as caught, world.database.transaction() as db:
        db.execute(update(Plan).where(Plan.id == proposal).values(status="approved"))
    assert caught.value.status == 409 and caught.value.field == "status"
    assert "approved at the same moment" in caught.value.message
    assert _approved(world, "P1") == [world.plans["P1"]]  # rolled back


def test_a_stale_version_is_a_write_conflict_not_a_crash(world: Any) -> None:
    with pytest.raises(WriteConflict) as caught, world.database.transaction() as db:
        s = db.scalars(select(CourseSession).where(CourseSession.plan_id == world.plans["P1"])).first()
        assert s is not None
        # another transaction's committed change, as this one's UPDATE would find it
        db.execute(text("UPDATE course_session SET version = version + 1 WHERE id = :id"), {"id": s.id})
        s.note = "lost update"
    assert caught.value.field == "version"
    assert caught.value.as_dict()["code"] == "conflict"


def test_other_integrity_errors_are_not_disguised_as_conflicts(world: Any) -> None:
    with pytest.raises(Exception) as caught, world.database.transaction() as db:
        db.execute(text("UPDATE plan SET patient_id = -5 WHERE id = :id"), {"id": world.plans["P1"]})
    assert not isinstance(caught.value, WriteConflict)


def test_migration_0003_keeps_the_newest_approval_and_audits_the_repair(world: Any) -> None:
    """A database that already holds the race's damage (two approved plans) upgrades: the
    most recent approval stays in force, the other is superseded and its sessions cancelled."""
    settings = world.database.settings
    newer = world.new_plan("P1")["plan_id"]
    world.database.dispose()
    migrate.downgrade(settings, "0003")  # no guard, no session versions
    with world.database.transaction() as db:
        db.execute(
            text("UPDATE plan SET status = 'approved', approved_at = :at WHERE id = :id"),
            {"id": newer, "at": "2099-01-01 00:00:00+00:00"},
        )
    world.database.dispose()
    migrate.upgrade(settings)
    old = world.plans["P1"]
    assert _approved(world, "P1") == [newer]
    with world.database.transaction() as db:
        assert db.get(Plan, old).status == "superseded"  # type: ignore[union-attr]
        planned = db.scalar(
            select(func.count())
            .select_from(CourseSession)
            .where(CourseSession.plan_id == old, CourseSession.status == "planned")
        )
        assert planned == 0
        event = db.scalars(
            select(AuditEvent).where(AuditEvent.entity_id == str(old), AuditEvent.action == "supersede")
        ).one()
        assert event.patient_id == world.patients["P1"] and "migration 0004" in (event.detail or "")
