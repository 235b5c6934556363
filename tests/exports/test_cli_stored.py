"""`cicatrix export fhir <stored id>` and `cicatrix import fhir FILE` against a real data directory.

Each test gets its own SQLite data dir (CICATRIX_DATA_DIR), migrated by `cicatrix db upgrade`
and seeded with the demo clinic the way `cicatrix serve --demo` does it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import func, select

from cicatrix.exports.fhir import EXT_PHOTOTYPE, PHOTOTYPE, comparable
from cicatrix.exports.ids import PATIENT_ID_SYSTEM
from cicatrix.knowledge.models import KnowledgeBase
from cicatrix.storage.db import Database
from cicatrix.storage.models import AuditEvent, CourseSession, Patient, Plan
from cicatrix.storage.settings import Settings
from tests.today import TODAY

from .conftest import as_proposed
from .test_outcomes_cli import _cli


def _use(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the CLI at a fresh data dir and migrate it with the real command."""
    monkeypatch.setenv("CICATRIX_DATA_DIR", str(data_dir))
    r = _cli("db", "upgrade")
    assert r.returncode == 0, r.stderr
    assert "database at revision" in r.stdout


def _database() -> Database:
    return Database(Settings.from_env())


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kb: KnowledgeBase) -> dict[str, int]:
    """A migrated data dir with the demo clinic; returns record number -> stored patient id."""
    for var in ("CICATRIX_DATABASE_URL", "CICATRIX_KNOWLEDGE_DIR", "CICATRIX_SECRET_KEY"):
        monkeypatch.delenv(var, raising=False)
    _use(tmp_path / "clinic-a", monkeypatch)
    from cicatrix.service.demo import seed

    database = _database()
    try:
        with database.transaction() as db:
            seed(db, kb, TODAY)
            return {p.mrn: p.id for p in db.scalars(select(Patient)) if p.mrn}
    finally:
        database.dispose()


def _empty_clinic(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A second, migrated data dir with one clinic and one clinician and no patients."""
    from cicatrix.service.schemas import UserIn
    from cicatrix.service.users import add_user, create_clinic

    _use(data_dir, monkeypatch)
    database = _database()
    try:
        with database.session() as db:
            clinic = create_clinic(db, "Clinic B", "UTC")
            add_user(
                db,
                clinic.id,
                UserIn(username="dr-b", display_name="Dr B", role="clinician", password="pw-long-enough-1"),
            )
            db.commit()
    finally:
        database.dispose()


def _count(model: Any) -> int:
    database = _database()
    try:
        with database.session() as db:
            return db.scalar(select(func.count()).select_from(model)) or 0
    finally:
        database.dispose()


def _export(patient_id: int, actor: str = "clinician") -> dict[str, Any]:
    r = _cli("export", "fhir", str(patient_id), "--actor", actor)
    assert r.returncode == 0, r.stderr
    Bundle.model_validate_json(r.stdout)  # valid against the R4B models
    data: dict[str, Any] = json.loads(r.stdout)
    return data


def _resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def _one_error_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


def test_export_fhir_of_a_stored_patient_is_valid_and_audited(demo: dict[str, int]) -> None:
    pid = demo["DEMO-0001"]
    bundle = _export(pid)
    (patient,) = _resources(bundle, "Patient")
    # the record number, in the system of this clinic (the same MRN elsewhere is someone else)
    (ident,) = [i for i in patient["identifier"] if i["system"].startswith(PATIENT_ID_SYSTEM + "/")]
    assert ident["value"] == "DEMO-0001" and ident["type"]["coding"][0]["code"] == "MR"
    (careplan,) = _resources(bundle, "CarePlan")
    assert careplan["status"] == "active"  # the demo's first plan is approved
    database = _database()
    try:
        with database.session() as db:
            plan = db.scalar(select(Plan).where(Plan.patient_id == pid, Plan.status == "approved"))
            assert plan is not None
            sessions = db.scalars(select(CourseSession).where(CourseSession.plan_id == plan.id)).all()
            events = db.scalars(select(AuditEvent).where(AuditEvent.detail == "export:fhir")).all()
    finally:
        database.dispose()
    assert len(sessions) > 0
    assert len(_resources(bundle, "ServiceRequest")) == len(sessions)
    (event,) = events
    assert (event.action, event.patient_id, event.role) == ("read", pid, "clinician")


@pytest.mark.parametrize(
    ("arg", "expected"),
    [
        ("99999", "error: patient_id: no such patient"),
        ("not-an-id", "error: patient: 'not-an-id' is neither a readable CASE.json nor a stored patient id"),
    ],
)
def test_export_fhir_of_an_unknown_patient_is_exit_2(demo: dict[str, int], arg: str, expected: str) -> None:
    r = _cli("export", "fhir", arg, "--actor", "clinician")
    assert r.returncode == 2 and r.stdout == ""
    assert _one_error_line(r.stderr) == expected


def test_bundle_round_trips_through_files_into_an_empty_data_dir(
    demo: dict[str, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _export(demo["DEMO-0001"])
    exported = tmp_path / "record.json"
    r = _cli("export", "fhir", str(demo["DEMO-0001"]), "--out", str(exported), "--actor", "clinician")
    assert r.returncode == 0, r.stderr
    assert comparable(json.loads(exported.read_text())) == comparable(first)  # all but the timestamp

    _empty_clinic(tmp_path / "clinic-b", monkeypatch)
    r = _cli("import", "fhir", str(exported), "--actor", "dr-b")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("imported patient ")
    new_id = int(r.stdout.split()[-1])
    # the same record, its approved plan now a proposal for this clinic to approve
    assert _resources(first, "CarePlan")[0]["status"] == "active"
    assert comparable(_export(new_id, "dr-b"), across_clinics=True) == comparable(as_proposed(first), across_clinics=True)

    # the same record again is refused, naming the element, and nothing more is stored
    before = _count(Patient)
    r = _cli("import", "fhir", str(exported), "--actor", "dr-b")
    assert r.returncode == 2
    assert _one_error_line(r.stderr).startswith("error: Patient.identifier: ")
    assert "is already used by another patient of this clinic" in r.stderr  # the record number: a 409's words
    assert _count(Patient) == before


def test_import_of_a_bare_fhir_patient_creates_a_patient(
    demo: dict[str, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (patient,) = _resources(_export(demo["DEMO-0002"]), "Patient")
    patient["identifier"] = [{"system": PATIENT_ID_SYSTEM, "value": "EXT-42"}]
    patient.pop("id", None)
    file = tmp_path / "patient.json"
    file.write_text(json.dumps(patient))
    before = _count(Patient)
    r = _cli("import", "fhir", str(file), "--actor", "clinician")
    assert r.returncode == 0, r.stderr
    new_id = int(r.stdout.split()[-1])
    assert _count(Patient) == before + 1
    again = _export(new_id)
    (back,) = _resources(again, "Patient")
    assert back["birthDate"] == patient["birthDate"] and back["gender"] == patient["gender"]
    assert not _resources(again, "CarePlan")  # a bare Patient brings no plan


def _phototype(code: str) -> list[dict[str, Any]]:
    return [{"url": EXT_PHOTOTYPE, "valueCodeableConcept": {"coding": [{"system": PHOTOTYPE, "code": code}]}}]


def _patient(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "resourceType": "Patient",
        "identifier": [{"system": PATIENT_ID_SYSTEM, "value": "BAD-1"}],
        "gender": "female",
        "birthDate": "1994-05-17",
        "extension": _phototype("IV"),
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


@pytest.mark.parametrize(
    ("content", "field"),
    [
        (json.dumps(_patient(birthDate="1994-13-40")), "Patient.birthDate: "),
        (json.dumps(_patient(gender="robot")), "Patient.gender: "),
        (json.dumps(_patient(extension=_phototype("VII"))), "Patient.extension.valueCodeableConcept.coding: "),
        (json.dumps(_patient(identifier=None)), "Patient.name: the patient needs a name or a record number"),
        (json.dumps({"resourceType": "Observation", "status": "final"}), "resourceType: "),
        (json.dumps([1, 2]), "resourceType: "),
        ('{"resourceType": "Patient",', "{file}: not valid JSON"),  # not JSON: the file is named
    ],
)
def test_import_bad_input_is_one_line_naming_the_element(
    demo: dict[str, int], tmp_path: Path, content: str, field: str
) -> None:
    file = tmp_path / "bad.json"
    file.write_text(content)
    field = field.format(file=file)
    before = _count(Patient)
    r = _cli("import", "fhir", str(file), "--actor", "clinician")
    assert r.returncode == 2 and r.stdout == ""
    line = _one_error_line(r.stderr)
    assert line.startswith(f"error: {field}"), line
    assert _count(Patient) == before


def test_import_of_a_missing_file_is_exit_2(demo: dict[str, int], tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    r = _cli("import", "fhir", str(missing), "--actor", "clinician")
    assert r.returncode == 2
    assert _one_error_line(r.stderr) == f"error: {missing}: no such file"


def test_stored_data_commands_act_as_the_named_account_under_its_policy(demo: dict[str, int]) -> None:
    """No shortcut: without --actor, with an unknown account, or as a role the policy refuses,
    the command stops with one line and exit 2; as a clinician it is audited under that account."""
    pid = str(demo["DEMO-0001"])
    r = _cli("export", "fhir", pid)
    assert r.returncode == 2 and _one_error_line(r.stderr).startswith("error: --actor: is required")
    r = _cli("export", "fhir", pid, "--actor", "nobody")
    assert r.returncode == 2 and _one_error_line(r.stderr) == (
        "error: --actor: no active account 'nobody'; create one with "
        "`cicatrix user create --username nobody --role clinician` (the first account also creates the clinic)"
    )
    r = _cli("export", "fhir", pid, "--actor", "frontdesk")  # front desk may not read clinical data
    assert r.returncode == 2 and _one_error_line(r.stderr).startswith("error: role: ")
    r = _cli("export", "outcomes", "--actor", "frontdesk")
    assert r.returncode == 2 and _one_error_line(r.stderr).startswith("error: role: ")
    r = _cli("export", "outcomes", "--actor", "admin")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("subject,")
    database = _database()
    try:
        with database.session() as db:
            events = db.scalars(select(AuditEvent).where(AuditEvent.action == "export")).all()
    finally:
        database.dispose()
    assert [e.role for e in events] == ["admin"]


# --- an imported plan is screened and proposed (issue 10 §5, issue 12 §4) --------------------

OVERRIDE_REASON = "keloids on the chest only; patient consents after discussion"


def _stored_plan(patient_id: int) -> tuple[str, int | None, list[dict[str, Any]]]:
    database = _database()
    try:
        with database.session() as db:
            (plan,) = db.scalars(select(Plan).where(Plan.patient_id == patient_id))
            return plan.status, plan.approved_by, list(plan.overrides)
    finally:
        database.dispose()


def test_import_of_a_keloid_micro_needling_plan_needs_an_override(
    demo: dict[str, int], tmp_path: Path, kb: KnowledgeBase
) -> None:
    from tests.service.records import KELOID, bundle_for

    file = tmp_path / "keloid.json"
    file.write_text(json.dumps(bundle_for(kb, "EXT-KELOID", KELOID)))
    before = (_count(Patient), _count(Plan), _count(CourseSession))
    r = _cli("import", "fhir", str(file), "--actor", "clinician")
    assert r.returncode == 2 and r.stdout == ""
    line = _one_error_line(r.stderr)
    assert line.startswith("error: CarePlan: schedules microneedling (Medical micro-needling), which is excluded")
    assert "keloid_history" in line
    assert (_count(Patient), _count(Plan), _count(CourseSession)) == before

    r = _cli("import", "fhir", str(file), "--actor", "clinician", "--override", f"microneedling={OVERRIDE_REASON}")
    assert r.returncode == 0, r.stderr
    status, approved_by, overrides = _stored_plan(int(r.stdout.split()[-1]))
    assert (status, approved_by) == ("proposed", None)  # the Bundle said approved
    assert [(o["treatment"], o["reason"]) for o in overrides] == [("microneedling", OVERRIDE_REASON)]


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("microneedling", "error: --override: expected TREATMENT=REASON, got 'microneedling'"),
        ("=because", "error: --override: expected TREATMENT=REASON, got '=because'"),
        ("microneedling=ok", "error: --override: reason "),
        ("sun_protection=" + OVERRIDE_REASON, "error: overrides[0].treatment: is not excluded for this patient"),
    ],
)
def test_a_bad_override_is_one_line_and_exit_2(
    demo: dict[str, int], tmp_path: Path, kb: KnowledgeBase, override: str, expected: str
) -> None:
    from tests.service.records import KELOID, bundle_for

    file = tmp_path / "keloid.json"
    file.write_text(json.dumps(bundle_for(kb, "EXT-KELOID-2", KELOID)))
    before = _count(Patient)
    r = _cli("import", "fhir", str(file), "--actor", "clinician", "--override", override)
    assert r.returncode == 2 and r.stdout == ""
    assert _one_error_line(r.stderr).startswith(expected), r.stderr
    assert _count(Patient) == before


def test_bundle_limits_apply_to_the_cli(demo: dict[str, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bundle = _export(demo["DEMO-0001"])
    n = len(bundle["entry"])
    file = tmp_path / "record.json"
    file.write_text(json.dumps(bundle))
    before = _count(Patient)
    monkeypatch.setenv("CICATRIX_FHIR_MAX_ENTRIES", str(n - 1))
    r = _cli("import", "fhir", str(file), "--actor", "clinician")
    assert r.returncode == 2
    assert _one_error_line(r.stderr) == (
        f"error: Bundle.entry: holds {n} entries; an import takes at most {n - 1} (CICATRIX_FHIR_MAX_ENTRIES)"
    )
    monkeypatch.setenv("CICATRIX_FHIR_MAX_ENTRIES", "lots")
    r = _cli("import", "fhir", str(file), "--actor", "clinician")
    assert r.returncode == 2
    assert _one_error_line(r.stderr).startswith("error: CICATRIX_FHIR_MAX_ENTRIES: must be a whole number")
    # every other command reads the settings too: one line and exit 2 there as well, no traceback
    env = {**os.environ, "CICATRIX_FHIR_MAX_ENTRIES": "²"}
    done = subprocess.run(
        [sys.executable, "-m", "cicatrix.cli", "db", "current"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 2
    assert (
        _one_error_line(done.stderr) == "error: CICATRIX_FHIR_MAX_ENTRIES: must be a whole number of 1 or more, got '²'"
    )
    monkeypatch.delenv("CICATRIX_FHIR_MAX_ENTRIES")
    request = next(e for e in bundle["entry"] if e["resource"]["resourceType"] == "ServiceRequest")
    file.write_text(json.dumps({**bundle, "entry": [*bundle["entry"], request]}))
    r = _cli("import", "fhir", str(file), "--actor", "clinician")
    assert r.returncode == 2
    assert _one_error_line(r.stderr).startswith(f"error: Bundle.entry[{n}].fullUrl: repeats the fullUrl of entry")
    assert _count(Patient) == before
