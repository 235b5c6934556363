"""Procedure notes (issue 14 §3): fields from the knowledge data, checked with a message naming
the field, stored with the session (version-checked), for clinicians only, and in the FHIR
Procedure."""

from __future__ import annotations

from typing import Any

import pytest

from cicatrix.exports.fhir import EXT_PROCEDURE_DETAIL, record_to_bundle
from cicatrix.service import plans, procedures, records
from cicatrix.service.errors import Conflict, Forbidden, Invalid
from cicatrix.service.schemas import ProcedureIn, SessionDoneIn

NOTE: dict[str, Any] = {
    "device": "Dermapen 4",
    "needle_depth_mm": 1.5,
    "passes": 3,
    "treated_areas": ["cheeks", "temples"],
    "anaesthetic": "topical",
    "note": "Mild pinpoint bleeding, as expected.",
}


def _given(world, who: str = "clinician") -> tuple[int, int]:  # type: ignore[no-untyped-def]
    made = world.new_plan("P1", approve=True)
    with world.database.transaction() as db:
        done = plans.record_done(world.ctx(who, db), made["session_id"], SessionDoneIn())
    return done.id, done.version


def test_fields_come_from_the_knowledge_data_per_treatment(kb) -> None:  # type: ignore[no-untyped-def]
    ids = lambda t: [f.id for f in procedures.fields_for(kb, t)]  # noqa: E731
    assert ids("microneedling")[:3] == ["device", "needle_depth_mm", "passes"]
    assert {"wavelength_nm", "energy_mj", "density_percent"} <= set(ids("laser_nonablative_fractional"))
    assert {"product", "lot_number"} <= set(ids("dermal_filler")) & set(ids("intralesional_steroid"))
    for t, tr in kb.treatments.items():
        if tr.schedule == "sessions":
            assert {"treated_areas", "anaesthetic", "note"} <= set(ids(t)), t
    assert "needle_depth_mm" not in ids("dermal_filler")


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"needle_depth_mm": 25}, "values.needle_depth_mm"),
        ({"needle_depth_mm": "deep"}, "values.needle_depth_mm"),
        ({"needle_depth_mm": True}, "values.needle_depth_mm"),
        ({"passes": 2.5}, "values.passes"),
        ({"anaesthetic": "general"}, "values.anaesthetic"),
        ({"treated_areas": ["cheeks", "elbow"]}, "values.treated_areas[1]"),
        ({"lot_number": "A1"}, "values.lot_number"),  # not a field of micro-needling
        ({"device": "x" * 121}, "values.device"),
        ({"note": "  "}, "values"),  # nothing recorded
    ],
)
def test_bad_values_are_refused_naming_the_field(kb, values: dict[str, Any], field: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Invalid) as exc:
        procedures.check(kb, "microneedling", values)
    assert exc.value.field == field


def test_a_note_is_stored_with_the_session_and_version_checked(world) -> None:  # type: ignore[no-untyped-def]
    sid, version = _given(world)
    with world.database.transaction() as db:
        out = procedures.record(world.ctx("clinician", db), sid, ProcedureIn(session_version=version, values=NOTE))
    assert out.procedure == NOTE and out.version == version + 1
    with pytest.raises(Conflict) as exc, world.database.transaction() as db:
        procedures.record(world.ctx("clinician", db), sid, ProcedureIn(session_version=version, values={"passes": 2}))
    assert exc.value.field == "session_version"
    with world.database.transaction() as db:  # front desk reads the schedule without it
        sched = plans.schedule(world.ctx("front_desk", db), world.patients["P1"])
        assert all(s.procedure is None for s in sched.sessions)
        assert any(
            s.procedure == NOTE for s in plans.schedule(world.ctx("clinician", db), world.patients["P1"]).sessions
        )


def test_only_clinicians_write_notes_and_only_for_sessions_given(world) -> None:  # type: ignore[no-untyped-def]
    sid, version = _given(world)
    for role in ("front_desk", "patient", "admin"):
        with pytest.raises(Forbidden), world.database.transaction() as db:
            procedures.record(world.ctx(role, db), sid, ProcedureIn(session_version=version, values=NOTE))
    made = world.new_plan("P1", approve=True)
    with pytest.raises(Conflict) as exc, world.database.transaction() as db:
        procedures.record(world.ctx("clinician", db), made["session_id"], ProcedureIn(session_version=1, values=NOTE))
    assert exc.value.field == "status"


def test_the_note_goes_into_the_fhir_procedure(world) -> None:  # type: ignore[no-untyped-def]
    sid, version = _given(world)
    with world.database.transaction() as db:
        procedures.record(world.ctx("clinician", db), sid, ProcedureIn(session_version=version, values=NOTE))
        record = records.load_record(world.ctx("clinician", db), world.patients["P1"])
        for_patient = records.load_record(world.ctx("patient", db), world.patients["P1"])
    bundle = record_to_bundle(record).model_dump(mode="json")
    procs = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Procedure"]
    noted = [p for p in procs if p.get("bodySite")]
    assert len(noted) == 1
    p = noted[0]
    assert [c["coding"][0]["code"] for c in p["bodySite"]] == ["cheeks", "temples"]
    details = {
        x["extension"][0]["valueCode"]: x["extension"][1]["valueString"]
        for x in p["extension"]
        if x["url"] == EXT_PROCEDURE_DETAIL
    }
    assert details["needle_depth_mm"] == "1.5 mm" and details["passes"] == "3 passes"
    assert details["anaesthetic"] == "Topical anaesthetic cream"
    texts = [n["text"] for n in p["note"]]
    assert "Mild pinpoint bleeding, as expected." in texts and any("Needle depth: 1.5 mm" in t for t in texts)
    # the note is the clinicians' record: a patient's export carries the Procedure without it
    assert all(s.procedure is None for s in for_patient.sessions)
