"""Issue 13 §2: the patient's safety facts travel as FHIR resources of their own (Observation,
MedicationStatement, Condition), not as a JSON string in an extension, and come back on import."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import msgspec
import pytest
from fhir.resources.R4B.bundle import Bundle

from cicatrix.engine.case import Patient, Phototype
from cicatrix.engine.result import Plan
from cicatrix.exports.fhir import EXT_PHOTOTYPE, EXT_SCREENING, bundle_json, bundle_to_record, record_to_bundle
from cicatrix.exports.safety_facts import HISTORY, MEDICATIONS, PHOTOTYPE, SAFETY_FACTS
from cicatrix.knowledge.models import KnowledgeBase

from .conftest import make_record

NOW = datetime(2027, 1, 10, 12, 0, tzinfo=UTC)
FACTS = Patient(
    id="p-1",
    birth_date=date(1994, 5, 17),
    sex="female",
    phototype=Phototype.V,
    pregnant=True,
    breastfeeding=True,
    recent_sunburn=True,
    isotretinoin_last_dose=date(2026, 12, 1),
    history=("cold sores", "keloid", "bleeding_disorder"),
    medications=("warfarin", "aspirin"),
)


def _bundle(plan: Plan, kb: KnowledgeBase, patient: Patient = FACTS) -> dict[str, Any]:
    record = msgspec.structs.replace(make_record(plan), patient=patient)
    data: dict[str, Any] = json.loads(bundle_json(record_to_bundle(record, NOW, kb)))
    return data


def _of(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def _coding(concept: dict[str, Any], system: str) -> str | None:
    return next((c["code"] for c in concept.get("coding", []) if c["system"] == system), None)


def test_each_fact_is_a_resource_of_its_own(plan: Plan, kb: KnowledgeBase) -> None:
    data = _bundle(plan, kb)
    Bundle.model_validate(data)
    (patient,) = _of(data, "Patient")
    assert [x["url"] for x in patient["extension"]] == [EXT_PHOTOTYPE]  # no JSON string of facts
    assert EXT_SCREENING not in json.dumps(data)
    facts = {_coding(o["code"], SAFETY_FACTS): o for o in _of(data, "Observation") if _coding(o["code"], SAFETY_FACTS)}
    assert {k: o.get("valueBoolean") for k, o in facts.items() if k != "fitzpatrick-phototype"} == {
        "pregnant": True,
        "breastfeeding": True,
        "recent_sunburn": True,
    }
    assert facts["pregnant"]["code"]["coding"][0]["display"] == "Pregnancy"  # a label, not the field name
    assert _coding(facts["fitzpatrick-phototype"]["valueCodeableConcept"], PHOTOTYPE) == "V"
    meds = {_coding(m["medicationCodeableConcept"], MEDICATIONS): m for m in _of(data, "MedicationStatement")}
    # coded by the vocabulary, with the words the clinician recorded
    assert {k: (m["status"], m["medicationCodeableConcept"]["text"]) for k, m in meds.items()} == {
        "anticoagulant": ("active", "warfarin"),
        "antiplatelet": ("active", "aspirin"),
        "isotretinoin": ("completed", "Isotretinoin"),  # its last dose is before the export's day
    }
    assert meds["isotretinoin"]["effectivePeriod"] == {"end": "2026-12-01"}
    history = sorted(
        (_coding(c["code"], HISTORY), c["code"]["text"]) for c in _of(data, "Condition") if _coding(c["code"], HISTORY)
    )
    assert history == [("bleeding_disorder", "bleeding_disorder"), ("herpes_simplex", "cold sores"), ("keloid", "keloid")]
    subject = next(e["fullUrl"] for e in data["entry"] if e["resource"]["resourceType"] == "Patient")
    for kind in ("Observation", "MedicationStatement", "Condition"):
        assert all(r["subject"]["reference"] == subject for r in _of(data, kind))


def test_the_facts_come_back_on_import(plan: Plan, kb: KnowledgeBase) -> None:
    back = bundle_to_record(_bundle(plan, kb))
    assert back.patient == FACTS
    none = msgspec.structs.replace(FACTS, pregnant=False, breastfeeding=False, recent_sunburn=False,
                                   isotretinoin_last_dose=None, history=(), medications=())  # fmt: skip
    data = _bundle(plan, kb, none)
    assert [o for o in _of(data, "Observation") if _coding(o["code"], SAFETY_FACTS) == "pregnant"] == []
    assert _of(data, "MedicationStatement") == []
    assert bundle_to_record(data).patient == none


def test_an_older_export_with_the_screening_extension_is_still_read(plan: Plan, kb: KnowledgeBase) -> None:
    data = _bundle(plan, kb, msgspec.structs.replace(FACTS, history=(), medications=()))
    data["entry"] = [e for e in data["entry"] if e["resource"]["resourceType"] not in ("MedicationStatement",)]
    (patient,) = _of(data, "Patient")
    patient["extension"].append({"url": EXT_SCREENING, "valueString": '{"medications": ["warfarin"]}'})
    back = bundle_to_record(data).patient
    assert back is not None and back.medications == ("warfarin",) and back.pregnant


def test_another_systems_facts_count_only_while_they_hold(plan: Plan, kb: KnowledgeBase) -> None:
    """A stopped medicine, a refuted history and a cancelled Observation do not screen a patient;
    resources of other code systems are skipped and reported."""
    data = _bundle(plan, kb)
    for m in _of(data, "MedicationStatement"):
        if _coding(m["medicationCodeableConcept"], MEDICATIONS) == "anticoagulant":
            m["status"] = "stopped"
    for c in _of(data, "Condition"):
        if _coding(c["code"], HISTORY) == "keloid":
            c["verificationStatus"] = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                                                   "code": "refuted"}]}  # fmt: skip
    for o in _of(data, "Observation"):
        if _coding(o["code"], SAFETY_FACTS) == "pregnant":
            o["status"] = "entered-in-error"
    subject = {"reference": data["entry"][0]["fullUrl"]}
    data["entry"].append({"resource": {"resourceType": "MedicationStatement", "status": "active", "subject": subject,
                                       "medicationCodeableConcept": {"text": "paracetamol"}}})  # fmt: skip
    skipped: dict[str, int] = {}
    back = bundle_to_record(data, skipped=skipped).patient
    assert back is not None
    assert (back.pregnant, back.medications, back.history) == (False, ("aspirin",), ("cold sores", "bleeding_disorder"))
    assert skipped == {"MedicationStatement": 1}


def test_a_standard_patient_takes_its_phototype_from_the_observation(plan: Plan, kb: KnowledgeBase) -> None:
    """An outside Bundle: a Patient with no cicatrix extension, its facts as resources."""
    data = _bundle(plan, kb)
    (patient,) = _of(data, "Patient")
    del patient["extension"]
    back = bundle_to_record(data).patient
    assert back is not None and back.phototype == "V" and back.pregnant
    # facts without any phototype are refused, naming what is missing
    data["entry"] = [e for e in data["entry"] if _coding(e["resource"].get("code", {}), SAFETY_FACTS)
                     != "fitzpatrick-phototype"]  # fmt: skip
    from cicatrix.exports.errors import ExportError

    with pytest.raises(ExportError) as err:
        bundle_to_record(data)
    assert err.value.field == "Bundle.entry[0].resource.extension" and "fitzpatrick-phototype" in err.value.message


def test_two_phototypes_that_disagree_are_refused(plan: Plan, kb: KnowledgeBase) -> None:
    from cicatrix.exports.errors import ExportError

    data = _bundle(plan, kb)
    (patient,) = _of(data, "Patient")
    patient["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] = "II"
    with pytest.raises(ExportError) as err:
        bundle_to_record(data)
    assert "phototype" in err.value.message
