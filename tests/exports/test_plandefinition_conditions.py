"""Issue 13 §3: the safety matrix as `action.condition`s of each PlanDefinition, evaluated by
fhirpath.js (the HL7 reference JavaScript engine, R4 model) over patients' record Bundles as
cicatrix exports them: an action applies exactly when the engine's own screening neither
excludes nor delays the treatment for that patient today."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest

from cicatrix.engine.case import Case, Patient, Phototype
from cicatrix.engine.conditions import active_conditions
from cicatrix.exports.fhir import bundle_json, record_to_bundle
from cicatrix.exports.plandefinition import applicability, plan_definition
from cicatrix.exports.record import PatientRecord
from cicatrix.knowledge.models import KnowledgeBase

JS = Path(__file__).parent / "js"
TODAY = datetime.now(UTC).date()  # fhirpath's today(): the day the protocol is applied


def _fhirpath(cases: list[tuple[dict[str, Any], list[str]]]) -> list[list[Any]]:
    node = shutil.which("node")
    if node is None or not (JS / "node_modules" / "fhirpath").is_dir():
        if os.environ.get("CI"):
            pytest.fail("Node.js and tests/exports/js/node_modules are required in CI (scripts/test.sh installs them)")
        pytest.skip("Node.js or fhirpath.js not installed (scripts/test.sh installs it)")
    body = json.dumps({"cases": [{"resource": r, "expressions": e} for r, e in cases]})
    out = subprocess.run(
        [node, str(JS / "eval_fhirpath.mjs")], input=body.encode(), capture_output=True, check=False, timeout=120
    )
    assert out.returncode == 0, out.stderr.decode()
    result: list[list[Any]] = json.loads(out.stdout)
    return result


BASE = Patient(id="p", birth_date=date(1990, 1, 1), sex="female", phototype=Phototype.II)
PATIENTS = {
    "no contraindication": BASE,
    "pregnant": msgspec.structs.replace(BASE, pregnant=True),
    "breastfeeding": msgspec.structs.replace(BASE, breastfeeding=True),
    "recent sunburn": msgspec.structs.replace(BASE, recent_sunburn=True),
    "phototype V": msgspec.structs.replace(BASE, phototype=Phototype.V),
    "keloid tendency": msgspec.structs.replace(BASE, history=("keloid",)),
    "cold sores": msgspec.structs.replace(BASE, history=("cold sores",)),
    "bleeding disorder": msgspec.structs.replace(BASE, history=("haemophilia",)),
    "heart disease": msgspec.structs.replace(BASE, history=("atrial fibrillation",)),
    "on warfarin": msgspec.structs.replace(BASE, medications=("warfarin",)),
    "on tacrolimus": msgspec.structs.replace(BASE, medications=("tacrolimus",)),
    "isotretinoin 2 months ago": msgspec.structs.replace(BASE, isotretinoin_last_dose=TODAY - timedelta(days=60)),
    "isotretinoin 2 years ago": msgspec.structs.replace(BASE, isotretinoin_last_dose=TODAY - timedelta(days=730)),
}


def _bundle(p: Patient, kb: KnowledgeBase) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(bundle_json(record_to_bundle(PatientRecord(id="p", patient=p), kb=kb)))
    return data


def _engine_says_not_now(p: Patient, kb: KnowledgeBase) -> dict[str, bool]:
    """Per treatment: does the engine's screening exclude or delay it for this patient today?"""
    case = msgspec.convert(
        {"patient": msgspec.to_builtins(p), "assessment": {"date": TODAY.isoformat(), "scars": [], "marks": [],
                                                           "active_lesions": []}},
        Case,
    )  # fmt: skip
    active = active_conditions(case, kb)
    return {
        tid: any(kb.decision(cid, tid).decision in ("exclude", "delay") for cid in active if tid in kb.matrix[cid])
        for tid in kb.treatments
    }


def test_conditions_apply_the_protocol_exactly_when_screening_would(kb: KnowledgeBase) -> None:
    treatments = sorted(kb.treatments)
    exprs = {tid: [c["expression"]["expression"] for c in applicability(kb, kb.treatments[tid])] for tid in treatments}
    flat = [e for tid in treatments for e in exprs[tid]]
    results = _fhirpath([(_bundle(p, kb), flat) for p in PATIENTS.values()])
    checked = 0
    for (who, p), row in zip(PATIENTS.items(), results, strict=True):
        assert not [r for r in row if isinstance(r, dict)], (who, row)  # every expression evaluates
        assert all(r in ([True], [False]) for r in row), (who, row)  # to one boolean
        expected = _engine_says_not_now(p, kb)
        i = 0
        for tid in treatments:
            applies = all(r == [True] for r in row[i : i + len(exprs[tid])])
            i += len(exprs[tid])
            assert applies == (not expected[tid]), (who, tid)
            checked += 1
    assert checked == len(PATIENTS) * len(treatments)
    # the cases above do reach both answers, for most treatments
    assert sum(_engine_says_not_now(PATIENTS["pregnant"], kb).values()) > len(treatments) // 2


def test_every_action_of_a_protocol_carries_its_conditions(kb: KnowledgeBase) -> None:
    pd = plan_definition(kb, kb.treatments["microneedling"])
    expected = applicability(kb, kb.treatments["microneedling"])
    descriptions = [c["expression"]["description"] for c in expected]
    assert any(d.startswith("Not when: Pregnancy (not given)") for d in descriptions)
    assert any(d.startswith("Not when: Recent sunburn or tan (waits)") for d in descriptions)
    for action in pd.action:  # sessions, their care steps (siblings) and maintenance alike
        assert [c.expression.expression for c in action.condition] == [c["expression"]["expression"] for c in expected]
        assert all(c.kind == "applicability" and c.expression.language == "text/fhirpath" for c in action.condition)


def test_another_systems_acne_condition_stops_needling(kb: KnowledgeBase) -> None:
    """Active acne seen elsewhere, coded in SNOMED CT (codes.yaml): the conditions read it."""
    bundle = _bundle(BASE, kb)
    subject = {"reference": bundle["entry"][0]["fullUrl"]}
    bundle["entry"].append({"resource": {"resourceType": "Condition", "subject": subject,
                                         "code": {"coding": [{"system": "http://snomed.info/sct", "code": "11381005"}]}}})  # fmt: skip
    exprs = [c["expression"]["expression"] for c in applicability(kb, kb.treatments["microneedling"])]
    (row,) = _fhirpath([(bundle, exprs)])
    assert [False] in row
    (clean,) = _fhirpath([(_bundle(BASE, kb), exprs)])
    assert all(r == [True] for r in clean)


def test_the_latest_assessments_findings_are_conditions_the_expressions_read(kb: KnowledgeBase) -> None:
    """Active acne and keloid scars seen at the latest assessment travel as Conditions (cicatrix
    and standard codes), rebuilt on import, and stop the treatments screening stops."""
    from cicatrix.engine import parse_case, plan_case
    from cicatrix.exports.fhir import bundle_to_record, comparable
    from cicatrix.exports.record import AssessmentRecord

    data = {"patient": {"phototype": "II"}, "assessment": {"date": TODAY.isoformat(), "scars": [
        {"type": "rolling", "count": 6}, {"type": "keloid", "count": 1}], "marks": [],
        "active_lesions": [{"type": "papule", "count": 4}]}}  # fmt: skip
    case = parse_case(data, kb)
    plan = plan_case(case, kb)
    record = PatientRecord(
        id="p", patient=case.patient,
        assessments=(AssessmentRecord(id="a-1", assessment=case.assessment, scores=plan.scores),),
    )  # fmt: skip
    bundle: dict[str, Any] = json.loads(bundle_json(record_to_bundle(record, kb=kb)))
    codes = {c["code"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Condition"
             for c in e["resource"]["code"]["coding"]}  # fmt: skip
    assert {"active_inflammatory_acne", "11381005", "L70.0", "keloid", "L91.0"} <= codes
    skipped: dict[str, int] = {}
    again = record_to_bundle(bundle_to_record(bundle, skipped=skipped), kb=kb)
    assert skipped == {} and comparable(json.loads(bundle_json(again))) == comparable(bundle)
    active = active_conditions(case, kb)
    assert {"active_inflammatory_acne", "keloid_history"} <= set(active)
    treatments = sorted(kb.treatments)
    exprs = {tid: [c["expression"]["expression"] for c in applicability(kb, kb.treatments[tid])] for tid in treatments}
    (row,) = _fhirpath([(bundle, [e for tid in treatments for e in exprs[tid]])])
    i = 0
    for tid in treatments:
        applies = all(r == [True] for r in row[i : i + len(exprs[tid])])
        i += len(exprs[tid])
        stopped = any(kb.decision(cid, tid).decision in ("exclude", "delay") for cid in active if tid in kb.matrix[cid])
        assert applies == (not stopped), tid
    assert not all(r == [True] for r in row)
