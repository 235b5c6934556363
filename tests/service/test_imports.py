"""FHIR import through the service: screened like every stored plan, stored proposed, audited.

The regression case of issue 10 §1.10: a Bundle whose (approved) CarePlan schedules
micro-needling for a patient with a keloid history imported as an approved plan, with the
importer recorded as approver and no screening.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
import pytest
from sqlalchemy import func, select

from cicatrix.exports.fhir import record_from_fhir
from cicatrix.exports.record import PatientRecord
from cicatrix.service import imports, plans
from cicatrix.service.errors import Forbidden, Invalid, NotFound
from cicatrix.service.schemas import OverrideIn
from cicatrix.storage.models import Assessment, AuditEvent, CourseSession, Patient, Plan, PlanEdit
from tests.safety_oracle import verdict
from tests.storage.world import ASSESSMENT

from .records import KELOID, bundle_for, record_for

REASON = "keloid on the chest only, face never scarred keloid; patient consents after discussion"


def _import(world, who: str, data: dict[str, Any] | PatientRecord, overrides: Sequence[OverrideIn] = ()) -> int:  # type: ignore[no-untyped-def]
    record = data if isinstance(data, PatientRecord) else record_from_fhir(data)
    with world.database.transaction() as db:  # one unit of work: commits at the end of the block
        return imports.import_record(world.ctx(who, db), record, overrides)


def _counts(world) -> tuple[int, ...]:  # type: ignore[no-untyped-def]
    with world.database.session() as db:
        return tuple(
            db.scalar(select(func.count()).select_from(m)) or 0
            for m in (Patient, Assessment, Plan, PlanEdit, CourseSession)
        )


def test_keloid_micro_needling_bundle_is_refused_and_nothing_is_stored(world) -> None:  # type: ignore[no-untyped-def]
    bundle = bundle_for(world.kb, "EXT-K1", KELOID)
    kinds = [e["resource"] for e in bundle["entry"]]
    assert [r["status"] for r in kinds if r["resourceType"] == "CarePlan"] == ["active"]  # says approved
    assert {r["code"]["coding"][0]["code"] for r in kinds if r["resourceType"] == "ServiceRequest"} == {"microneedling"}
    before = _counts(world)
    with pytest.raises(Invalid) as exc:
        _import(world, "clinician", bundle)
    err = exc.value
    assert err.field == "CarePlan" and err.extra["treatment"] == "microneedling"
    assert "keloid_history" in err.message and "override" in err.message
    assert _counts(world) == before


def test_with_an_override_it_is_stored_proposed_never_approved_by_the_importer(world) -> None:  # type: ignore[no-untyped-def]
    bundle = bundle_for(world.kb, "EXT-K2", KELOID)
    pid = _import(world, "clinician", bundle, [OverrideIn(treatment="microneedling", reason=REASON)])
    clinician = world.users["clinician"]
    with world.database.session() as db:
        (p,) = db.scalars(select(Plan).where(Plan.patient_id == pid))
        assert (p.status, p.approved_by, p.approved_at) == ("proposed", None, None)
        assert [(o["treatment"], o["reason"], o["by"]) for o in p.overrides] == [("microneedling", REASON, clinician)]
        edits = {e.kind: e for e in db.scalars(select(PlanEdit).where(PlanEdit.plan_id == p.id))}
        assert set(edits) == {"import", "override"}
        assert edits["import"].change["source_status"] == "approved"
        assert edits["override"].override and edits["override"].reason == REASON
        sessions = db.scalars(select(CourseSession).where(CourseSession.plan_id == p.id)).all()
        assert {(s.treatment, s.status) for s in sessions} == {("microneedling", "planned")}
        events = db.scalars(select(AuditEvent).where(AuditEvent.patient_id == pid)).all()
        got = {(e.action, e.entity, e.detail) for e in events}
        assert ("import", "patient", "fhir") in got and ("override", "plan", "microneedling") in got
        assert all(e.user_id == clinician and e.role == "clinician" for e in events)
        plan_id, version = p.id, p.version
    # it becomes the patient's approved plan only when a clinician here approves it
    with world.database.transaction() as db:
        out = plans.approve(world.ctx("clinician", db), plan_id, version)
    assert out.status == "approved" and [e.kind for e in out.edits][-1] == "approve"


def test_a_safe_approved_plan_is_imported_as_a_proposal(world) -> None:  # type: ignore[no-untyped-def]
    pid = _import(world, "clinician", bundle_for(world.kb, "EXT-S1", {"phototype": "II"}))
    with world.database.session() as db:
        (p,) = db.scalars(select(Plan).where(Plan.patient_id == pid))
        assert (p.status, p.approved_by, p.overrides) == ("proposed", None, [])


def test_an_override_must_name_an_excluded_treatment_and_needs_a_plan(world) -> None:  # type: ignore[no-untyped-def]
    before = _counts(world)
    with pytest.raises(Invalid) as exc:
        _import(
            world,
            "clinician",
            bundle_for(world.kb, "EXT-K3", KELOID),
            [OverrideIn(treatment="sun_protection", reason=REASON)],
        )
    assert exc.value.field == "overrides[0].treatment" and "not excluded" in exc.value.message
    bare = msgspec.structs.replace(record_for(world.kb, "EXT-K4", KELOID), assessments=(), plan=None)
    with pytest.raises(Invalid) as exc:
        _import(world, "clinician", bare, [OverrideIn(treatment="microneedling", reason=REASON)])
    assert exc.value.field == "overrides"
    assert _counts(world) == before


@pytest.mark.parametrize("who", ["front_desk", "admin", "patient"])
def test_only_clinicians_import(world, who: str) -> None:  # type: ignore[no-untyped-def]
    before = _counts(world)
    bare = msgspec.structs.replace(record_for(world.kb, f"EXT-{who}", {"phototype": "II"}), assessments=(), plan=None)
    for record in (record_for(world.kb, f"EXT-{who}", {"phototype": "II"}), bare):
        with pytest.raises((Forbidden, NotFound)):
            _import(world, who, record)
    assert _counts(world) == before


def test_a_treatment_this_clinic_does_not_know_is_refused(world) -> None:  # type: ignore[no-untyped-def]
    record = record_for(world.kb, "EXT-U1", {"phototype": "II"})
    assert record.plan is not None
    plan = record.plan.plan
    odd = tuple(msgspec.structs.replace(s, treatment="teleportation") for s in plan.course.sessions)
    plan = msgspec.structs.replace(plan, course=msgspec.structs.replace(plan.course, sessions=odd))
    record = msgspec.structs.replace(record, plan=msgspec.structs.replace(record.plan, plan=plan))
    with pytest.raises(Invalid) as exc:
        _import(world, "clinician", record)
    assert exc.value.field == "CarePlan" and "'teleportation'" in exc.value.message


def test_a_session_before_a_precautions_date_is_refused(world) -> None:  # type: ignore[no-untyped-def]
    patient = {"phototype": "II", "recent_sunburn": True}
    case = {"patient": patient, "assessment": ASSESSMENT}
    earliest = verdict(case).not_before["microneedling"]
    with pytest.raises(Invalid) as exc:
        _import(world, "clinician", bundle_for(world.kb, "EXT-B1", patient))
    assert exc.value.field == "CarePlan" and f"allows it from {earliest.isoformat()}" in exc.value.message


def test_an_excluded_daily_treatment_in_the_timeline_needs_an_override_too(world) -> None:  # type: ignore[no-untyped-def]
    """A pregnant patient's imported plan with daily lightening cream (and its sessions)."""
    patient = {"phototype": "III", "pregnant": True}
    record = record_for(world.kb, "EXT-P1", patient, preferences={})
    assert record.plan is not None
    daily = {e.treatment for e in record.plan.plan.timeline if e.treatment}
    banned = verdict({"patient": patient, "assessment": ASSESSMENT}).excluded
    assert "pih_lightening" in daily and "pih_lightening" in banned
    with pytest.raises(Invalid) as exc:
        _import(world, "clinician", record)
    assert exc.value.extra["treatment"] in banned


def test_dates_in_the_future_are_refused_naming_the_element(world) -> None:  # type: ignore[no-untyped-def]
    """A birth date in the future, or an isotretinoin last dose more than a year ahead (a course in
    progress is recorded with its planned last dose, which may lie ahead)."""
    from datetime import timedelta

    from tests.storage.world import TODAY

    before = _counts(world)
    later = TODAY + timedelta(days=1)
    record = record_for(world.kb, "EXT-D1", {"phototype": "II"})
    for patient, field in [
        (msgspec.structs.replace(record.patient, birth_date=later), "Patient.birthDate"),
        (
            msgspec.structs.replace(record.patient, isotretinoin_last_dose=TODAY + timedelta(days=400)),
            "Patient.isotretinoin_last_dose",
        ),
    ]:
        for r in (record, msgspec.structs.replace(record, assessments=(), plan=None)):  # full record, bare Patient
            with pytest.raises(Invalid) as exc:
                _import(world, "clinician", msgspec.structs.replace(r, patient=patient))
            assert exc.value.field == field
    assert _counts(world) == before


def test_a_course_of_isotretinoin_in_progress_is_recorded_with_its_planned_last_dose(world) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from tests.storage.world import TODAY

    planned = TODAY + timedelta(days=60)
    record = record_for(world.kb, "EXT-D2", {"phototype": "II"})
    bare = msgspec.structs.replace(record, assessments=(), plan=None)
    pid = _import(world, "clinician", msgspec.structs.replace(bare, patient=msgspec.structs.replace(bare.patient, isotretinoin_last_dose=planned)))
    with world.database.session() as db:
        assert db.get(Patient, pid).isotretinoin_last_dose == planned
