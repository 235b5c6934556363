from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

import msgspec
import pytest
from fhir.resources.R4B.bundle import Bundle

from cicatrix.engine.result import Plan
from cicatrix.exports.errors import ExportError
from cicatrix.exports.fhir import (
    DEFAULT_MAX_ENTRIES,
    EXT_SCREENING,
    bundle_json,
    bundle_to_record,
    comparable,
    patient_from_fhir,
    record_to_bundle,
)
from cicatrix.storage.settings import Settings

from .conftest import make_plan, make_record


def _by_type(bundle: Bundle) -> dict[str, list[object]]:
    out: dict[str, list[object]] = {}
    for e in bundle.entry:
        out.setdefault(e.resource.get_resource_type(), []).append(e.resource)
    return out


def test_bundle_has_every_resource_and_validates_against_r4b(plan: Plan) -> None:
    bundle = record_to_bundle(make_record(plan))
    # validate the serialised form against the R4B models, as a receiving system would
    again = Bundle.model_validate_json(bundle_json(bundle))
    kinds = Counter(e.resource.get_resource_type() for e in again.entry)
    assert kinds == {
        "Patient": 1,
        "Condition": 2,  # acne scarring; the herpes simplex history (a safety fact)
        "Observation": 5,  # panel + quantitative + ECCA + qualitative; the phototype
        "CarePlan": 1,
        "ServiceRequest": 3,
        "Procedure": 2,  # session 1 done, session 2 missed (not-done)
    }
    res = _by_type(again)
    (cond,) = [c for c in res["Condition"] if c.bodySite]
    assert (cond.code.coding[0].system, cond.code.coding[0].code) == (
        "http://hl7.org/fhir/sid/icd-10",
        "L90.5",
    )
    assert [b.text for b in cond.bodySite] == ["cheeks", "forehead"]
    quant = next(o for o in res["Observation"] if o.code.coding[0].code == "goodman-baron-quantitative")
    assert quant.valueInteger == 6
    assert [(c.code.coding[0].code, c.valueInteger) for c in quant.component] == [
        ("A_mildly_atrophic", 1),
        ("B_punched_out_shallow", 4),
        ("A_macular", 1),
    ]
    ecca = next(o for o in res["Observation"] if o.code.coding[0].code == "ecca")
    assert ecca.valueInteger == 90 and len(ecca.component) == 2
    (cp,) = res["CarePlan"]
    assert cp.status == "active"
    refs = [a.reference.reference for a in cp.activity if a.reference]
    assert len(refs) == 3
    instructions = [a.detail.description for a in cp.activity if a.detail]
    assert any("ibuprofen" in t for t in instructions)
    procs = {p.status for p in res["Procedure"]}
    assert procs == {"completed", "not-done"}


def test_references_are_stable_and_resolve_inside_the_bundle(plan: Plan) -> None:
    a = json.loads(bundle_json(record_to_bundle(make_record(plan))))
    s1, s2, s3 = (s.date for s in plan.course.sessions)
    moved = make_plan([s1, s2.replace(day=26), s3])
    b = json.loads(bundle_json(record_to_bundle(make_record(moved))))
    assert [e["fullUrl"] for e in a["entry"]] == [e["fullUrl"] for e in b["entry"]]
    urls = {e["fullUrl"] for e in a["entry"]}
    text = json.dumps(a)
    for ref in re.findall(r'"reference": "([^"]+)"', text):
        assert ref in urls, ref


def test_round_trip_bundle_to_record_to_bundle(plan: Plan) -> None:
    bundle = record_to_bundle(make_record(plan))
    data = json.loads(bundle_json(bundle))
    record = bundle_to_record(data)
    assert record == make_record(plan)
    assert comparable(record_to_bundle(record)) == comparable(bundle)


def test_round_trip_of_a_proposed_plan_without_recorded_sessions(plan: Plan) -> None:
    record = msgspec.structs.replace(make_record(plan, status="proposed"), sessions=())
    bundle = record_to_bundle(record)
    again = record_to_bundle(bundle_to_record(json.loads(bundle_json(bundle))))
    assert comparable(again) == comparable(bundle)


def test_patient_import_reads_identity_and_phototype(plan: Plan) -> None:
    data = json.loads(bundle_json(record_to_bundle(make_record(plan))))
    raw = next(e["resource"] for e in data["entry"] if e["resource"]["resourceType"] == "Patient")
    record = patient_from_fhir(raw)
    name, patient = record.name, record.patient
    assert record.id == "p-1" and name is not None and name.family == "Lovelace"
    # a Patient alone carries no screening facts: they are resources of their own in the Bundle
    assert patient is not None and patient.phototype == "IV" and patient.history == ()
    whole = bundle_to_record(data).patient
    assert whole is not None and whole.history == ("herpes_simplex",)


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda r: r.update(birthDate="1994-13-40"), "Patient.birthDate"),
        (lambda r: r.update(gender="robot"), "Patient.gender"),
        (lambda r: r.update(colour="blue"), "Patient.colour"),
        (lambda r: r.update(resourceType="Person"), "Patient.resourceType"),
        # an older export's screening facts without the phototype they are screened with
        (
            lambda r: r.update(extension=[{"url": EXT_SCREENING, "valueString": '{"pregnant": true}'}]),
            "Patient.extension",
        ),
        (
            lambda r: r["extension"][0]["valueCodeableConcept"]["coding"][0].update(code="VII"),
            "Patient.extension.valueCodeableConcept.coding",
        ),
    ],
)
def test_bad_patient_names_the_element(plan: Plan, mutate: object, field: str) -> None:
    data = json.loads(bundle_json(record_to_bundle(make_record(plan))))
    raw = next(e["resource"] for e in data["entry"] if e["resource"]["resourceType"] == "Patient")
    mutate(raw)  # type: ignore[operator]
    with pytest.raises(ExportError) as err:
        patient_from_fhir(raw)
    assert err.value.field.startswith(field), err.value.field


def test_bundle_with_inconsistent_scores_is_refused(plan: Plan) -> None:
    data = json.loads(bundle_json(record_to_bundle(make_record(plan))))
    for e in data["entry"]:
        r = e["resource"]
        if r["resourceType"] == "Observation" and r["code"]["coding"][0]["code"] == "ecca":
            r["valueInteger"] = 91
    with pytest.raises(ExportError) as err:
        bundle_to_record(data)
    assert "ecca" in err.value.field


def test_bad_bundle_entry_names_its_index() -> None:
    with pytest.raises(ExportError) as err:
        bundle_to_record({"resourceType": "Bundle", "type": "collection", "entry": [{"x": 1}]})
    assert err.value.field == "Bundle.entry[0].resource"


def test_careplan_points_at_the_protocols_it_follows(plan: Plan, kb) -> None:  # type: ignore[no-untyped-def]
    from cicatrix.exports.plandefinition import protocol_bundle

    bundle = record_to_bundle(make_record(plan))
    (careplan,) = [e.resource for e in bundle.entry if e.resource.get_resource_type() == "CarePlan"]
    published = {e.fullUrl for e in protocol_bundle(kb).entry}
    assert careplan.instantiatesCanonical
    assert set(careplan.instantiatesCanonical) <= published


# --- limits and duplicates (issue 12 §4) -----------------------------------------------------


def _data(plan: Plan) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(bundle_json(record_to_bundle(make_record(plan))))
    return data


def _requests(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in data["entry"] if e["resource"]["resourceType"] == "ServiceRequest"]


def test_bundle_over_the_entry_limit_is_refused_before_anything_is_read(plan: Plan) -> None:
    data = _data(plan)
    n = len(data["entry"])
    assert bundle_to_record(data, max_entries=n).id == "p-1"  # at the limit: read
    with pytest.raises(ExportError) as err:
        bundle_to_record(data, max_entries=n - 1)
    assert err.value.field == "Bundle.entry"
    assert f"holds {n} entries" in err.value.message and f"at most {n - 1}" in err.value.message
    # the default limit refuses a Bundle of 10,000 copies of one ServiceRequest
    flood = {**data, "entry": [*data["entry"], *(_requests(data)[0] for _ in range(10_000))]}
    with pytest.raises(ExportError) as err:
        bundle_to_record(flood)
    assert err.value.field == "Bundle.entry" and f"at most {DEFAULT_MAX_ENTRIES}" in err.value.message
    assert Settings().fhir_max_entries == DEFAULT_MAX_ENTRIES


def test_the_same_resource_twice_is_refused_naming_the_entry(plan: Plan) -> None:
    data = _data(plan)
    entries = data["entry"]
    first = _requests(data)[0]
    i = len(entries)
    # 1. the same entry again: its fullUrl repeats
    with pytest.raises(ExportError) as err:
        bundle_to_record({**data, "entry": [*entries, first]})
    assert err.value.field == f"Bundle.entry[{i}].fullUrl" and "repeats" in err.value.message
    # 2. without fullUrls, the same type and id
    bare = [{"resource": e["resource"]} for e in entries]
    with pytest.raises(ExportError) as err:
        bundle_to_record({**data, "entry": [*bare, {"resource": first["resource"]}]})
    assert err.value.field == f"Bundle.entry[{i}].resource.id"
    # 3. a copy under a new fullUrl and id: still the same session
    copy = json.loads(json.dumps(first))
    copy["fullUrl"] = "urn:uuid:00000000-0000-4000-8000-000000000001"
    copy["resource"]["id"] = "00000000-0000-4000-8000-000000000001"
    with pytest.raises(ExportError) as err:
        bundle_to_record({**data, "entry": [*entries, copy]})
    assert err.value.field == f"Bundle.entry[{i}].resource"
    assert "repeats microneedling session 1" in err.value.message


def test_a_planned_session_outside_the_plans_course_is_refused(plan: Plan) -> None:
    data = _data(plan)
    extra = json.loads(json.dumps(_requests(data)[-1]))  # session 3, planned
    extra["fullUrl"] = "urn:uuid:00000000-0000-4000-8000-000000000002"
    extra["resource"]["id"] = "00000000-0000-4000-8000-000000000002"
    extra["resource"]["extension"][0]["valuePositiveInt"] = 9
    entries = data["entry"]
    with pytest.raises(ExportError) as err:
        bundle_to_record({**data, "entry": [*entries, extra]})
    assert err.value.field == f"Bundle.entry[{len(entries)}].resource"
    assert "microneedling session 9" in err.value.message and "not in the CarePlan's course" in err.value.message
    # sessions without any CarePlan are refused too
    no_plan = [e for e in entries if e["resource"]["resourceType"] != "CarePlan"]
    with pytest.raises(ExportError) as err:
        bundle_to_record({**data, "entry": no_plan})
    assert "no CarePlan" in err.value.message


def test_two_procedures_for_one_session_are_refused(plan: Plan) -> None:
    data = _data(plan)
    proc = next(e for e in data["entry"] if e["resource"]["resourceType"] == "Procedure")
    copy = json.loads(json.dumps(proc))
    copy["fullUrl"] = "urn:uuid:00000000-0000-4000-8000-000000000003"
    copy["resource"]["id"] = "00000000-0000-4000-8000-000000000003"
    with pytest.raises(ExportError) as err:
        bundle_to_record({**data, "entry": [*data["entry"], copy]})
    assert err.value.field.endswith(".basedOn")
