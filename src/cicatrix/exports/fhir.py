"""FHIR R4B export and import of a patient's record, built on the `fhir.resources` models.

Other systems read the structured parts: Patient, the acne-scarring Condition (ICD-10
L90.5), one Observation per score with a component per scale row, the CarePlan with its
session and care-instruction activities, a ServiceRequest per planned session and a
Procedure per session given or missed. cicatrix-to-cicatrix fidelity (the exact assessment
input and engine plan, which FHIR has no elements for) travels in cicatrix extensions, so
import then export gives an equivalent Bundle.

References are `urn:uuid:` UUIDs derived from stable keys (the clinic's key, the patient's
record number, assessment id, plan id, treatment, session number and occurrence), never from
dates or database row ids: one id per resource instance (a missed session and its replacement
differ, FHIR's bdl-7), the same id for the same instance in every export. Identifier systems
are scoped by clinic, so the same record number in two clinics is two patients.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

import msgspec
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.careplan import CarePlan
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.medicationstatement import MedicationStatement
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient as FhirPatient
from fhir.resources.R4B.procedure import Procedure
from fhir.resources.R4B.resource import Resource
from fhir.resources.R4B.servicerequest import ServiceRequest
from pydantic import ValidationError

from cicatrix.engine.case import Assessment, Patient, Phototype
from cicatrix.engine.result import Plan, ScoreRow, Scores
from cicatrix.exports.care import care_steps, step_title, treatment_names
from cicatrix.exports.errors import ExportError
from cicatrix.exports.ids import CODE_SYSTEM, PATIENT_ID_SYSTEM, STRUCTURE, stable_uuid, urn
from cicatrix.exports.plandefinition import plan_definition_url
from cicatrix.exports.record import (
    AssessmentRecord,
    ExternalId,
    PatientRecord,
    PersonName,
    PlanRecord,
    ProcedureNote,
    SessionRecord,
    SessionStatus,
    Telecom,
)
from cicatrix.exports.safety_facts import (
    PHOTOTYPE,
    PHOTOTYPE_FACT,
    SAFETY_FACTS,
    STANDARD_URIS,
    Facts,
    fact_resources,
)
from cicatrix.knowledge.frozen import describe, to_data
from cicatrix.knowledge.models import KnowledgeBase, StandardCoding

CS = CODE_SYSTEM
SCORES = f"{CS}/scores"
TREATMENTS = f"{CS}/treatments"
CARE_STEPS = f"{CS}/care-steps"
REGIONS = f"{CS}/body-regions"
ICD10 = STANDARD_URIS["icd10"]
SAFETY_CONDITIONS = f"{CS}/safety-conditions"
SCAR_TYPES = f"{CS}/scar-types"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
ASSESSMENT_ID_SYSTEM = "https://cicatrix.org/fhir/sid/assessment-id"
PLAN_ID_SYSTEM = "https://cicatrix.org/fhir/sid/plan-id"

EXT_PHOTOTYPE = f"{STRUCTURE}/fitzpatrick-phototype"
EXT_SCREENING = f"{STRUCTURE}/screening-input"
EXT_ASSESSMENT = f"{STRUCTURE}/assessment-input"
EXT_SCORES = f"{STRUCTURE}/scores"
EXT_PLAN = f"{STRUCTURE}/engine-plan"
EXT_ROW_COUNT = f"{STRUCTURE}/score-row-count"
EXT_SESSION_NUMBER = f"{STRUCTURE}/session-number"
EXT_SESSION_OCCURRENCE = f"{STRUCTURE}/session-occurrence"
EXT_SESSION_SEQUENCE = f"{STRUCTURE}/session-sequence"
EXT_PROCEDURE_DETAIL = f"{STRUCTURE}/procedure-detail"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"

# The most entries an imported Bundle may hold (Settings.fhir_max_entries, CICATRIX_FHIR_MAX_ENTRIES).
# A cicatrix record is a Patient, a Condition, four Observations per assessment, a CarePlan and
# one or two resources per session: a few hundred for years of care.
DEFAULT_MAX_ENTRIES = 1000

_SCORE_TITLES = {
    "goodman-baron-quantitative": "Goodman & Baron quantitative global acne scarring grade",
    "goodman-baron-qualitative": "Goodman & Baron qualitative global scarring grade",
    "ecca": "ECCA acne scar score",
}
_SESSION_REQUEST_STATUS = {
    "planned": "active",
    "done": "completed",
    "missed": "revoked",
    "cancelled": "revoked",
}


def _cc(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    coding: dict[str, Any] = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding], "text": display or code}


def _ref(full_url: str) -> dict[str, str]:
    return {"reference": full_url}


def _json_ext(url: str, value: Any) -> dict[str, Any]:
    return {"url": url, "valueString": json.dumps(value, sort_keys=True, separators=(",", ":"))}


def scoped_system(base: str, clinic: str | None) -> str:
    """An identifier system of one clinic (`base/clinic-key`); the bare base for a record of no
    clinic (a CASE.json export)."""
    return f"{base}/{clinic}" if clinic else base


def _split_system(system: str | None, base: str) -> tuple[bool, str | None]:
    """Whether `system` is `base` or one clinic's scope of it, and that clinic's key."""
    if system == base:
        return True, None
    if system and system.startswith(base + "/") and len(system) > len(base) + 1:
        return True, system[len(base) + 1 :]
    return False, None


class _Keys:
    """Every fullUrl in one patient's Bundle, from stable keys scoped by the clinic."""

    def __init__(self, patient_id: str, clinic: str | None = None) -> None:
        self.clinic = clinic
        self.scope: tuple[str, ...] = (clinic, patient_id) if clinic else (patient_id,)

    def patient(self) -> str:
        return urn("fhir", "Patient", *self.scope)

    def condition(self) -> str:
        return urn("fhir", "Condition", *self.scope, "acne-scarring")

    def obs(self, assessment_id: str, code: str) -> str:
        return urn("fhir", "Observation", *self.scope, assessment_id, code)

    def careplan(self, plan_id: str) -> str:
        return urn("fhir", "CarePlan", *self.scope, plan_id)

    def request(self, plan_id: str, s: SessionRecord) -> str:
        return urn("fhir", "ServiceRequest", *self.scope, plan_id, s.treatment, s.number, s.occurrence)

    def procedure(self, plan_id: str, s: SessionRecord) -> str:
        return urn("fhir", "Procedure", *self.scope, plan_id, s.treatment, s.number, s.occurrence)

    def fact(self, kind: str, *parts: object) -> str:
        return urn("fhir", kind, *self.scope, "fact", *parts)


def standard_codings(codings: Iterable[StandardCoding]) -> list[dict[str, Any]]:
    return [{"system": STANDARD_URIS[c.system], "code": c.code, "display": c.display} for c in codings]


def _with_standard(cc: dict[str, Any], kb: KnowledgeBase, of: str, concept: str) -> dict[str, Any]:
    """A cicatrix concept with the standard codes that hold for it wherever used (codes.yaml)."""
    m = kb.standard_codes(of, concept)
    if m is None or not m.on_records():
        return cc
    return {**cc, "coding": [*standard_codings(m.on_records()), *cc["coding"]]}


# --- export ------------------------------------------------------------------------------


def patient_resource(record: PatientRecord, full_url: str) -> FhirPatient:
    p = record.patient
    if p is None:
        raise ExportError("clinical.phototype", "the patient's Fitzpatrick phototype is not recorded; record it first")
    identifiers: list[dict[str, Any]] = [
        {
            "use": "usual",
            "type": _cc(V2_0203, "MR", "Medical record number"),
            "system": scoped_system(PATIENT_ID_SYSTEM, record.clinic),
            "value": record.id,
        }
    ]
    for x in record.identifiers:
        ident: dict[str, Any] = {"value": x.value}
        if x.system:
            ident["system"] = x.system
        if x.type:
            ident["type"] = _cc(V2_0203, x.type)
        identifiers.append(ident)
    data: dict[str, Any] = {
        "id": full_url.removeprefix("urn:uuid:"),
        "identifier": identifiers,
        "extension": [
            {
                "url": EXT_PHOTOTYPE,
                "valueCodeableConcept": _cc(PHOTOTYPE, p.phototype.value, f"Type {p.phototype}"),
            }
        ],
    }
    # the screening facts are resources of their own (safety_facts.py), not a JSON extension
    if record.name and record.name.display:
        name: dict[str, Any] = {"use": "official", "text": record.name.display}
        if record.name.given:
            name["given"] = list(record.name.given)
        if record.name.family:
            name["family"] = record.name.family
        data["name"] = [name]
    telecom = []
    if record.telecom.phone:
        telecom.append({"system": "phone", "value": record.telecom.phone})
    if record.telecom.email:
        telecom.append({"system": "email", "value": record.telecom.email})
    if telecom:
        data["telecom"] = telecom
    if p.sex:
        data["gender"] = p.sex
    if p.birth_date:
        data["birthDate"] = p.birth_date
    return FhirPatient(**data)


def _row_component(row: ScoreRow) -> dict[str, Any]:
    ext = [{"url": EXT_ROW_COUNT, "valueInteger": row.count}]
    return {
        "code": _cc(SCORES, row.id, row.label),
        "valueInteger": row.points,
        "extension": ext,
    }


def _score_obs(keys: _Keys, a: AssessmentRecord, code: str, value: int, rows: Iterable[ScoreRow]) -> Observation:
    full = keys.obs(a.id, code)
    data: dict[str, Any] = {
        "id": full.removeprefix("urn:uuid:"),
        "status": "final",
        "category": [_cc(OBS_CATEGORY, "exam", "Exam")],
        "code": _cc(SCORES, code, _SCORE_TITLES[code]),
        "subject": _ref(keys.patient()),
        "focus": [_ref(keys.condition())],
        "effectiveDateTime": a.assessment.date,
        "valueInteger": value,
    }
    components = [_row_component(r) for r in rows]
    if components:
        data["component"] = components
    if a.scores.severity and code != "ecca":
        data["interpretation"] = [_cc(SCORES, f"severity-{a.scores.severity}", a.scores.severity)]
    return Observation(**data)


def assessment_observations(keys: _Keys, a: AssessmentRecord) -> list[tuple[str, Observation]]:
    """The score Observations of one assessment, plus a panel that carries its exact input."""
    s = a.scores
    out = [
        _score_obs(
            keys,
            a,
            "goodman-baron-quantitative",
            s.goodman_baron_quantitative,
            s.goodman_baron_quantitative_rows,
        ),
        _score_obs(keys, a, "ecca", s.ecca, s.ecca_items),
    ]
    if s.goodman_baron_qualitative is not None:
        out.append(_score_obs(keys, a, "goodman-baron-qualitative", s.goodman_baron_qualitative, ()))
    panel_url = keys.obs(a.id, "assessment")
    panel = Observation(
        id=panel_url.removeprefix("urn:uuid:"),
        identifier=[{"system": scoped_system(ASSESSMENT_ID_SYSTEM, keys.clinic), "value": a.id}],
        status="final",
        category=[_cc(OBS_CATEGORY, "exam", "Exam")],
        code=_cc(SCORES, "assessment", "Acne scar assessment"),
        subject=_ref(keys.patient()),
        focus=[_ref(keys.condition())],
        effectiveDateTime=a.assessment.date,
        bodySite=_regions_cc(a.assessment.regions)[0] if a.assessment.regions else None,
        hasMember=[_ref(f"urn:uuid:{o.id}") for o in out],
        extension=[
            _json_ext(EXT_ASSESSMENT, to_data(a.assessment)),
            _json_ext(EXT_SCORES, to_data(a.scores)),
        ],
    )
    return [(panel_url, panel), *((f"urn:uuid:{o.id}", o) for o in out)]


def _regions_cc(regions: Iterable[str]) -> list[dict[str, Any]]:
    return [_cc(REGIONS, r, r.replace("_", " ")) for r in regions]


def condition_resource(keys: _Keys, record: PatientRecord, kb: KnowledgeBase) -> Condition:
    regions: list[str] = []
    for a in record.assessments:
        for r in a.assessment.regions:
            if r not in regions:
                regions.append(r)
    data: dict[str, Any] = {
        "id": keys.condition().removeprefix("urn:uuid:"),
        "clinicalStatus": _cc("http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "Active"),
        "category": [
            _cc(
                "http://terminology.hl7.org/CodeSystem/condition-category",
                "problem-list-item",
                "Problem List Item",
            )
        ],
        "code": _with_standard(
            _cc(f"{CS}/conditions", "acne-scarring", "Acne scarring"), kb, "problem", "acne-scarring"
        ),
        "subject": _ref(keys.patient()),
    }
    if regions:
        data["bodySite"] = _regions_cc(regions)
    if record.assessments:
        first = min(a.assessment.date for a in record.assessments)
        data["recordedDate"] = first
        data["evidence"] = [{"detail": [_ref(keys.obs(a.id, "assessment")) for a in record.assessments]}]
    return Condition(**data)


def finding_conditions(keys: _Keys, record: PatientRecord, kb: KnowledgeBase) -> list[tuple[str, Condition]]:
    """What the latest assessment saw that screening reads (active inflammatory acne, keloid
    scars), as Conditions coded in cicatrix's systems and in the standard codes codes.yaml gives:
    how another system, and the PlanDefinitions' applicability conditions, see them. Rebuilt
    from the assessments on import, like the acne-scarring Condition."""
    if not record.assessments:
        return []
    latest = max(record.assessments, key=lambda a: a.assessment.date).assessment
    lesions = {e.type for e in latest.active_lesions if e.count > 0}
    scars = {e.type for e in latest.scars if e.count > 0}
    found: list[tuple[str, dict[str, Any]]] = []
    for cid, cond in sorted(kb.conditions.items()):
        if lesions & set(cond.triggers.active_lesions_any):
            found.append((cid, _with_standard(_cc(SAFETY_CONDITIONS, cid, cond.name), kb, "condition", cid)))
    for sid in sorted(scars):
        if any(sid in c.triggers.scars_any for c in kb.conditions.values()) and sid in kb.scar_types:
            cc = _cc(SCAR_TYPES, sid, kb.scar_types[sid].name)
            found.append((f"scar:{sid}", _with_standard(cc, kb, "scar_type", sid)))
    evidence = [_ref(keys.obs(a.id, "assessment")) for a in record.assessments if a.assessment.date == latest.date]
    out = []
    for key, code in found:
        full = urn("fhir", "Condition", *keys.scope, "finding", key)
        out.append(
            (
                full,
                Condition(
                    id=full.removeprefix("urn:uuid:"),
                    clinicalStatus=_cc("http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "Active"),
                    category=[
                        _cc(
                            "http://terminology.hl7.org/CodeSystem/condition-category",
                            "encounter-diagnosis",
                            "Encounter Diagnosis",
                        )
                    ],
                    code=code,
                    subject=_ref(keys.patient()),
                    recordedDate=latest.date,
                    evidence=[{"detail": evidence}],
                ),
            )
        )
    return out


def careplan_resource(keys: _Keys, record: PatientRecord, pr: PlanRecord) -> CarePlan:
    plan = pr.plan
    names = treatment_names(plan)
    activities: list[dict[str, Any]] = [
        {"reference": _ref(keys.request(pr.id, s))} for s in record.course_sessions()
    ]
    for step in care_steps(plan):
        for e in step.entries:
            detail: dict[str, Any] = {
                "status": "not-started",
                "description": e.text,
                "scheduledPeriod": {"start": e.date, "end": e.until or e.date},
                "kind": "CommunicationRequest",
                "code": _cc(CARE_STEPS, e.code or e.kind, step_title(step, names)),
            }
            if e.treatment:
                detail["productCodeableConcept"] = _cc(TREATMENTS, e.treatment, names.get(e.treatment))
            activities.append({"detail": detail})
    recommended = "; ".join(f"{r.rank}. {r.name}" for r in plan.recommended)
    data: dict[str, Any] = {
        "id": keys.careplan(pr.id).removeprefix("urn:uuid:"),
        "identifier": [{"system": scoped_system(PLAN_ID_SYSTEM, keys.clinic), "value": pr.id}],
        "status": "active" if pr.status == "approved" else "draft",
        "intent": "plan",
        "title": "Acne scar treatment plan",
        "description": f"Recommended: {recommended}" if recommended else "No treatment recommended",
        "subject": _ref(keys.patient()),
        "addresses": [_ref(keys.condition())],
        # the protocols it follows, published by `cicatrix export plandefinition`
        "instantiatesCanonical": [
            plan_definition_url(tid) for tid in dict.fromkeys(s.treatment for s in plan.course.sessions)
        ]
        or None,
        "note": [{"text": plan.notice}],
        "extension": [_json_ext(EXT_PLAN, to_data(plan))],
    }
    if pr.assessment_id:
        data["supportingInfo"] = [_ref(keys.obs(pr.assessment_id, "assessment"))]
    dates = [s.date for s in plan.course.sessions] + ([plan.course.follow_up] if plan.course.follow_up else [])
    if dates:
        data["period"] = {"start": min(dates), "end": max(dates)}
    if activities:
        data["activity"] = activities
    return CarePlan(**data)


def session_resources(
    keys: _Keys, record: PatientRecord, pr: PlanRecord, kb: KnowledgeBase
) -> list[tuple[str, Resource]]:
    names = treatment_names(pr.plan)
    out: list[tuple[str, Resource]] = []
    for s in record.course_sessions():
        name = names.get(s.treatment, s.treatment)
        code = _with_standard(_cc(TREATMENTS, s.treatment, name), kb, "treatment", s.treatment)
        req_url = keys.request(pr.id, s)
        out.append(
            (
                req_url,
                ServiceRequest(
                    id=req_url.removeprefix("urn:uuid:"),
                    status=_SESSION_REQUEST_STATUS[s.status],
                    intent="plan" if pr.status == "proposed" else "order",
                    code=code,
                    subject=_ref(keys.patient()),
                    basedOn=[_ref(keys.careplan(pr.id))],
                    reasonReference=[_ref(keys.condition())],
                    occurrenceDateTime=s.date,
                    patientInstruction=f"{name}, session {s.number}",
                    extension=[
                        {"url": EXT_SESSION_NUMBER, "valuePositiveInt": s.number},
                        {"url": EXT_SESSION_OCCURRENCE, "valuePositiveInt": s.occurrence},
                        {"url": EXT_SESSION_SEQUENCE, "valueUnsignedInt": s.sequence},
                    ],
                ),
            )
        )
        if s.status in ("done", "missed"):
            proc_url = keys.procedure(pr.id, s)
            proc: dict[str, Any] = {
                "id": proc_url.removeprefix("urn:uuid:"),
                "status": "completed" if s.status == "done" else "not-done",
                "code": code,
                "subject": _ref(keys.patient()),
                "basedOn": [_ref(req_url)],
                "reasonReference": [_ref(keys.condition())],
            }
            if s.status == "done":
                proc["performedDateTime"] = s.date
                if s.procedure is not None:
                    proc.update(_procedure_note(s.procedure))
            else:
                proc["statusReason"] = _cc(f"{CS}/session-status", "missed", "Missed session")
            out.append((proc_url, Procedure(**proc)))
    return out


def _procedure_note(n: ProcedureNote) -> dict[str, Any]:
    """A procedure note's parts of the Procedure: treated areas as bodySite, each field as a
    coded extension (field id and the value with its unit), and one readable note."""
    out: dict[str, Any] = {}
    if n.regions:
        out["bodySite"] = _regions_cc(n.regions)
    if n.details:
        out["extension"] = [
            {
                "url": EXT_PROCEDURE_DETAIL,
                "extension": [{"url": "field", "valueCode": d.id}, {"url": "value", "valueString": d.text}],
            }
            for d in n.details
        ]
    lines = ["; ".join(f"{d.label}: {d.text}" for d in n.details)] if n.details else []
    out_notes = [t for t in (*lines, n.note) if t]
    if out_notes:
        out["note"] = [{"text": t} for t in out_notes]
    return out


def record_to_bundle(
    record: PatientRecord, timestamp: datetime | None = None, kb: KnowledgeBase | None = None
) -> Bundle:
    """The patient's whole record as one FHIR R4B collection Bundle, stamped `timestamp` (now
    by default). Its id is a hash of its content: the same record gives the same id, any change
    a new one, so a receiver can tell a re-send from an update. `kb` (the bundled knowledge by
    default) gives the labels of recorded terms and the standard codes (codes.yaml)."""
    if kb is None:
        from cicatrix.knowledge.loader import load_knowledge

        kb = load_knowledge()
    stamp = (timestamp or datetime.now(UTC)).replace(microsecond=0)
    keys = _Keys(record.id, record.clinic)
    entries: list[tuple[str, Resource]] = [(keys.patient(), patient_resource(record, keys.patient()))]
    if record.patient is not None:
        entries.extend(fact_resources(record.patient, kb, stamp.date(), keys.fact, keys.patient()))
    if record.assessments or record.plan:
        entries.append((keys.condition(), condition_resource(keys, record, kb)))
        entries.extend(finding_conditions(keys, record, kb))
    for a in record.assessments:
        entries.extend(assessment_observations(keys, a))
    if record.plan:
        entries.append((keys.careplan(record.plan.id), careplan_resource(keys, record, record.plan)))
        entries.extend(session_resources(keys, record, record.plan, kb))
    bundle = Bundle(type="collection", entry=[{"fullUrl": url, "resource": res} for url, res in entries])
    digest = hashlib.sha256(bundle.model_dump_json(exclude_none=True).encode()).hexdigest()
    bundle.id = str(stable_uuid("fhir", "Bundle", *keys.scope, digest))
    bundle.timestamp = stamp
    return bundle


def bundle_json(bundle: Bundle) -> str:
    return bundle.model_dump_json(exclude_none=True, indent=2)


# --- import ------------------------------------------------------------------------------


def _fhir_error(resource_type: str, exc: ValidationError) -> ExportError:
    err = exc.errors(include_url=False)[0]
    path = resource_type
    for part in err["loc"]:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "is not an element of " + resource_type
    return ExportError(path, msg)


def _validate(cls: type[Resource], data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise ExportError(where, "must be a JSON object")
    rt = data.get("resourceType")
    if rt != cls.get_resource_type():
        raise ExportError(f"{where}.resourceType", f"must be {cls.get_resource_type()!r}, got {rt!r}")
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        raise _fhir_error(where, exc) from None


def _ext(resource: Any, url: str) -> Any:
    for e in resource.extension or ():
        if e.url == url:
            return e
    return None


def _json_from_ext(resource: Any, url: str, where: str) -> Any:
    e = _ext(resource, url)
    if e is None or e.valueString is None:
        return None
    try:
        return json.loads(e.valueString)
    except json.JSONDecodeError:
        raise ExportError(f"{where}.extension({url})", "is not valid JSON") from None


def patient_from_fhir(data: Any, where: str = "Patient", facts: Facts | None = None) -> PatientRecord:
    """A FHIR Patient as a record without clinical history; errors name the element.

    A standard Patient from another system is accepted: its names, telecom and identifiers are
    kept, and without a phototype (cicatrix's extension, or the phototype Observation among
    `facts`) the phototype is "not yet recorded" (`patient` None), which planning and the
    exports then ask for. Its record id is cicatrix's identifier when it has one, else "" (the
    importing clinic assigns one). `facts`: the safety facts the Bundle's resources carry
    (safety_facts.py); an older export's screening extension is read too."""
    facts = facts or Facts()
    res: FhirPatient = _validate(FhirPatient, data, where)
    pid = ""
    clinic = None
    others: list[ExternalId] = []
    for ident in res.identifier or ():
        ours, scope = _split_system(ident.system, PATIENT_ID_SYSTEM)
        if ours and ident.value:
            pid, clinic = ident.value, scope
        # Record numbers only: a social security or licence number is not cicatrix's to keep.
        elif ident.value and "MR" in _codes(ident.type, V2_0203):
            others.append(ExternalId(system=ident.system, value=ident.value, type="MR"))
    name = None
    if res.name:
        n = next((n for n in res.name if n.use == "official"), res.name[0])
        name = PersonName(text=n.text, given=tuple(g for g in n.given or () if g), family=n.family)
    phone = next((t.value for t in res.telecom or () if t.system == "phone" and t.value), None)
    email = next((t.value for t in res.telecom or () if t.system == "email" and t.value), None)
    if res.gender not in (None, "female", "male", "other", "unknown"):
        raise ExportError(f"{where}.gender", f"unknown gender {res.gender!r}")
    common: dict[str, Any] = {
        "id": pid,
        "clinic": clinic,
        "name": name,
        "telecom": Telecom(phone=phone, email=email),
        "identifiers": tuple(others),
    }
    ext = _ext(res, EXT_PHOTOTYPE)
    phototype = facts.phototype
    if ext is not None and ext.valueCodeableConcept is not None:
        codes = [c.code for c in ext.valueCodeableConcept.coding or () if c.system == PHOTOTYPE]
        if not codes or codes[0] not in Phototype.__members__:
            raise ExportError(
                f"{where}.extension.valueCodeableConcept.coding",
                f"phototype must be one of I-VI in {PHOTOTYPE}",
            )
        if phototype not in (None, codes[0]):
            raise ExportError(
                f"{where}.extension({EXT_PHOTOTYPE})",
                f"says phototype {codes[0]}, the phototype Observation says {phototype}",
            )
        phototype = codes[0]
    if phototype is None:
        if _ext(res, EXT_SCREENING) is not None or facts.found:
            raise ExportError(
                f"{where}.extension",
                f"screening facts need the phototype (an Observation coded {SAFETY_FACTS}#{PHOTOTYPE_FACT}, "
                f"or the extension {EXT_PHOTOTYPE})",
            )
        return PatientRecord(**common, patient=None, sex=res.gender, birth_date=res.birthDate)
    screening = _json_from_ext(res, EXT_SCREENING, where) or {}
    if not isinstance(screening, dict):
        raise ExportError(f"{where}.extension({EXT_SCREENING})", "must be a JSON object")
    for key in ("history", "medications"):
        if screening.get(key):
            common[f"{key}_element"] = f"{where}.extension({EXT_SCREENING}).{key}"
    screening = facts.merge_into(screening)
    try:
        patient = msgspec.convert(
            {
                **screening,
                "id": pid or None,
                "phototype": phototype,
                "sex": res.gender,
                "birth_date": res.birthDate,
            },
            Patient,
        )
    except msgspec.ValidationError as exc:
        loc, message = describe(exc)
        raise ExportError(f"{where}.extension({EXT_SCREENING}).{loc}", message) from None
    return PatientRecord(**common, patient=patient)


Entry = tuple[str, str | None, dict[str, Any]]  # (element path, fullUrl, resource)


def _entries_by_type(entries: list[Any], max_entries: int) -> dict[str, list[Entry]]:
    """The Bundle's resources by type, each with its element path and fullUrl; refuses an
    oversized Bundle and one that holds a resource twice (the same fullUrl, or the same type and
    id: FHIR's bdl-7)."""
    if len(entries) > max_entries:
        raise ExportError(
            "Bundle.entry",
            f"holds {len(entries)} entries; an import takes at most {max_entries} (CICATRIX_FHIR_MAX_ENTRIES)",
        )
    by_type: dict[str, list[Entry]] = {}
    urls: dict[str, int] = {}
    ids: dict[tuple[str, str], int] = {}
    for i, entry in enumerate(entries):
        res = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(res, dict) or "resourceType" not in res:
            raise ExportError(f"Bundle.entry[{i}].resource", "is missing or has no resourceType")
        url = entry.get("fullUrl")
        if url is not None:
            if not isinstance(url, str):
                raise ExportError(f"Bundle.entry[{i}].fullUrl", "must be a string")
            if url in urls:
                raise ExportError(
                    f"Bundle.entry[{i}].fullUrl",
                    f"repeats the fullUrl of entry {urls[url]}: a Bundle holds each resource once",
                )
            urls[url] = i
        if res.get("id") is not None:
            key = (str(res["resourceType"]), str(res["id"]))
            if key in ids:
                raise ExportError(
                    f"Bundle.entry[{i}].resource.id",
                    f"repeats the {key[0]} id of entry {ids[key]}: a Bundle holds each resource once",
                )
            ids[key] = i
        by_type.setdefault(str(res["resourceType"]), []).append((f"Bundle.entry[{i}].resource", url, res))
    return by_type


def _codes(concept: Any, system: str) -> list[str]:
    return [c.code for c in (concept.coding if concept else None) or () if c.system == system and c.code]


def _reference_of(url: str | None, res: dict[str, Any]) -> set[str]:
    """How other entries may point at this one: its fullUrl, or `Type/id`."""
    out = {url} if url else set()
    if res.get("id"):
        out.add(f"{res['resourceType']}/{res['id']}")
    return out


class _Skipped:
    """What an import read but does not use (an outside system's Conditions, Encounters, ...):
    counted by resource type for the report, never a reason to refuse the Bundle."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def add(self, kind: str, n: int = 1) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + n


_READ = {"Patient", "Observation", "CarePlan", "ServiceRequest", "Procedure", "Condition", "MedicationStatement"}


def bundle_to_record(
    data: Any,
    patient_id: str | None = None,
    *,
    max_entries: int = DEFAULT_MAX_ENTRIES,
    skipped: dict[str, int] | None = None,
) -> PatientRecord:
    """Read a Bundle written by `record_to_bundle`, or any collection or transaction Bundle with
    one Patient (a Synthea export): resources cicatrix does not use are counted into `skipped`
    by type and otherwise ignored."""
    if not isinstance(data, dict):
        raise ExportError("Bundle", "must be a JSON object")
    if data.get("resourceType") != "Bundle":
        raise ExportError("Bundle.resourceType", f"must be 'Bundle', got {data.get('resourceType')!r}")
    entries = data.get("entry") or []
    if not isinstance(entries, list):
        raise ExportError("Bundle.entry", "must be a list")
    by_type = _entries_by_type(entries, max_entries)
    skip = _Skipped()
    for kind, found in by_type.items():
        if kind not in _READ:
            skip.add(kind, len(found))
    facts = Facts()
    # cicatrix writes one Condition (acne scarring), rebuilt from the assessments, and one per
    # history term (a safety fact)
    for where, _url, raw in by_type.get("Condition", []):
        cond: Condition = _validate(Condition, raw, where)
        rebuilt = _codes(cond.code, f"{CS}/conditions") + _codes(cond.code, SAFETY_CONDITIONS) + _codes(
            cond.code, SCAR_TYPES
        )  # from the assessments
        if not facts.read_condition(cond) and not rebuilt:
            skip.add("Condition")
    for where, _url, raw in by_type.get("MedicationStatement", []):
        if not facts.read_medication(_validate(MedicationStatement, raw, where), where):
            skip.add("MedicationStatement")
    observations: list[tuple[str, str | None, dict[str, Any], Observation]] = []
    for where, url, raw in by_type.get("Observation", []):
        obs: Observation = _validate(Observation, raw, where)
        if not facts.read_observation(obs, where):
            observations.append((where, url, raw, obs))
    patients = by_type.get("Patient", [])
    if len(patients) != 1:
        raise ExportError("Bundle.entry", f"needs exactly one Patient, found {len(patients)}")
    where, _url, raw = patients[0]
    person = patient_from_fhir(raw, where, facts)
    pid = patient_id or person.id
    clinic = person.clinic
    keys = _Keys(pid, clinic)

    assessments: list[AssessmentRecord] = []
    scores_seen: dict[str, dict[str, int]] = {}
    panel_refs: dict[str, str] = {}  # every way to point at an assessment panel -> its id
    for where, url, raw, obs in observations:
        codes = set(_codes(obs.code, SCORES))
        if "assessment" in codes:
            aid = next(
                (i.value for i in obs.identifier or () if _split_system(i.system, ASSESSMENT_ID_SYSTEM)[0]),
                None,
            )
            if not aid:
                raise ExportError(f"{where}.identifier", "an assessment needs its assessment id")
            if any(a.id == aid for a in assessments):
                raise ExportError(f"{where}.identifier", "repeats the assessment id of an earlier Observation")
            try:
                assessment = msgspec.convert(_json_from_ext(obs, EXT_ASSESSMENT, where), Assessment)
                scores = msgspec.convert(_json_from_ext(obs, EXT_SCORES, where), Scores)
            except msgspec.ValidationError as exc:
                loc, message = describe(exc)
                raise ExportError(f"{where}.extension.{loc}", message) from None
            assessments.append(AssessmentRecord(id=aid, assessment=assessment, scores=scores))
            for ref in _reference_of(url, raw):
                panel_refs[ref] = aid
        elif codes & set(_SCORE_TITLES):
            for code in codes & set(_SCORE_TITLES):
                scores_seen.setdefault(obs.id or "", {})[code] = int(obs.valueInteger or 0)
        else:
            skip.add("Observation")
    # The structured scores are what other systems read; refuse a Bundle where they disagree.
    for a in assessments:
        expected = {
            "goodman-baron-quantitative": a.scores.goodman_baron_quantitative,
            "ecca": a.scores.ecca,
            "goodman-baron-qualitative": a.scores.goodman_baron_qualitative,
        }
        for code, value in expected.items():
            seen = scores_seen.get(keys.obs(a.id, code).removeprefix("urn:uuid:"), {}).get(code)
            if value is not None and seen is not None and seen != value:
                raise ExportError(
                    f"Observation({code}).valueInteger",
                    f"is {seen} but the assessment's scores say {value}",
                )

    plan_record = None
    plan_refs: set[str] = set()
    ours = [(w, u, r) for w, u, r in by_type.get("CarePlan", []) if _has_ext(r, EXT_PLAN)]
    skip.add("CarePlan", len(by_type.get("CarePlan", [])) - len(ours))
    if len(ours) > 1:
        raise ExportError("Bundle.entry", "holds more than one cicatrix CarePlan")
    for where, url, raw in ours:
        cp: CarePlan = _validate(CarePlan, raw, where)
        try:
            plan = msgspec.convert(_json_from_ext(cp, EXT_PLAN, where), Plan)
        except msgspec.ValidationError as exc:
            loc, message = describe(exc)
            raise ExportError(f"{where}.extension({EXT_PLAN}).{loc}", message) from None
        plan_id = next(
            (i.value for i in cp.identifier or () if _split_system(i.system, PLAN_ID_SYSTEM)[0]),
            None,
        )
        if not plan_id:
            raise ExportError(f"{where}.identifier", "a plan needs its plan id")
        if cp.status not in ("active", "draft"):
            raise ExportError(f"{where}.status", f"must be active or draft, got {cp.status!r}")
        aid = None
        for info in cp.supportingInfo or ():
            aid = panel_refs.get(info.reference or "", aid)
        plan_record = PlanRecord(
            id=plan_id,
            status="approved" if cp.status == "active" else "proposed",
            plan=plan,
            assessment_id=aid,
        )
        plan_refs = _reference_of(url, raw)

    # which session each Procedure records, by every way it may point at its ServiceRequest
    procedures: dict[str, str] = {}
    for where, _url, raw in by_type.get("Procedure", []):
        proc: Procedure = _validate(Procedure, raw, where)
        if not _codes(proc.code, TREATMENTS):
            skip.add("Procedure")
            continue
        for b in proc.basedOn or ():
            if (b.reference or "") in procedures:
                raise ExportError(f"{where}.basedOn", "records a session that an earlier Procedure already records")
            procedures[b.reference or ""] = proc.status or ""
    course = {(s.treatment, s.number) for s in plan_record.plan.course.sessions} if plan_record else set()
    sessions: list[SessionRecord] = []
    booked: dict[tuple[str, int, int], str] = {}
    occurrences: dict[tuple[str, int], int] = {}
    for where, url, raw in by_type.get("ServiceRequest", []):
        sr: ServiceRequest = _validate(ServiceRequest, raw, where)
        number_ext = _ext(sr, EXT_SESSION_NUMBER)
        treatment = next(iter(_codes(sr.code, TREATMENTS)), None)
        if number_ext is None and treatment is None:
            skip.add("ServiceRequest")  # another system's order
            continue
        if number_ext is None or treatment is None or number_ext.valuePositiveInt is None:
            raise ExportError(f"{where}.code", "a session needs a cicatrix treatment code and number")
        if not isinstance(sr.occurrenceDateTime, date):
            raise ExportError(f"{where}.occurrenceDateTime", "must be a date (YYYY-MM-DD)")
        if plan_record is None:
            raise ExportError(where, "is a session, but the Bundle holds no CarePlan")
        if plan_refs and not any((b.reference or "") in plan_refs for b in sr.basedOn or ()):
            raise ExportError(f"{where}.basedOn", "a session must point at the Bundle's CarePlan")
        number = number_ext.valuePositiveInt
        occ_ext = _ext(sr, EXT_SESSION_OCCURRENCE)
        seq_ext = _ext(sr, EXT_SESSION_SEQUENCE)
        occurrence = occ_ext.valuePositiveInt if occ_ext and occ_ext.valuePositiveInt else None
        if occurrence is None:  # an older export: occurrences in Bundle order
            occurrence = occurrences.get((treatment, number), 0) + 1
        occurrences[(treatment, number)] = max(occurrence, occurrences.get((treatment, number), 0))
        proc_status = next((procedures[r] for r in _reference_of(url, raw) if r in procedures), None)
        status: SessionStatus
        if proc_status == "completed":
            status = "done"
        elif proc_status == "not-done":
            status = "missed"
        elif sr.status == "revoked":
            status = "cancelled"
        else:
            status = "planned"
        if (treatment, number, occurrence) in booked:
            raise ExportError(where, f"repeats {treatment} session {number} of an earlier ServiceRequest")
        if status in ("planned", "done") and any(
            st in ("planned", "done") and (t, n) == (treatment, number) for (t, n, _o), st in booked.items()
        ):
            raise ExportError(where, f"books {treatment} session {number} twice (neither was missed or cancelled)")
        booked[(treatment, number, occurrence)] = status
        if status == "planned" and (treatment, number) not in course:
            raise ExportError(where, f"plans {treatment} session {number}, which is not in the CarePlan's course")
        sessions.append(
            SessionRecord(
                treatment=treatment,
                number=number,
                date=sr.occurrenceDateTime,
                status=status,
                occurrence=occurrence,
                sequence=int(seq_ext.valueUnsignedInt or 0) if seq_ext else 0,
            )
        )
    if skipped is not None:
        for kind, n in skip.counts.items():
            if n:
                skipped[kind] = skipped.get(kind, 0) + n
    patient = msgspec.structs.replace(person.patient, id=pid) if person.patient is not None else None
    return msgspec.structs.replace(
        person,
        id=pid,
        patient=patient,
        assessments=tuple(assessments),
        plan=plan_record,
        sessions=tuple(sessions),
    )


def _has_ext(raw: dict[str, Any], url: str) -> bool:
    return any(isinstance(e, dict) and e.get("url") == url for e in raw.get("extension") or ())


def comparable(bundle: Bundle | dict[str, Any], *, across_clinics: bool = False) -> dict[str, Any]:
    """A Bundle as plain JSON without the parts that legitimately differ between exports.

    `across_clinics`: also without what names the exporting clinic (a record imported into
    another clinic is that clinic's record): every `urn:uuid` is renumbered in order of first
    appearance, identifier systems lose their clinic scope, and the Bundle id (a hash of the
    content) goes."""
    data = bundle if isinstance(bundle, dict) else json.loads(bundle_json(bundle))
    data = dict(data)
    data.pop("timestamp", None)
    data.pop("meta", None)
    if not across_clinics:
        return data
    data.pop("id", None)
    text = json.dumps(data)
    seen: dict[str, str] = {}
    text = re.sub(
        r"urn:uuid:[0-9a-f-]{36}",
        lambda m: seen.setdefault(m.group(0), f"urn:uuid:#{len(seen) + 1}"),
        text,
    )
    text = re.sub(r'(https://cicatrix\.org/fhir/sid/[a-z-]+)/[0-9a-f-]{36}"', r'\1"', text)
    text = re.sub(r'"id": "([0-9a-f-]{36})"', lambda m: f'"id": "{seen.get("urn:uuid:" + m.group(1), "?")}"', text)
    return dict(json.loads(text))


def record_from_fhir(
    data: Any, *, max_entries: int = DEFAULT_MAX_ENTRIES, skipped: dict[str, int] | None = None
) -> PatientRecord:
    """A FHIR Patient (a new patient) or a Bundle (a whole record, cicatrix's or another
    system's) of at most `max_entries` entries; what it does not use is counted into `skipped`."""
    if isinstance(data, dict) and data.get("resourceType") == "Patient":
        return patient_from_fhir(data)
    if isinstance(data, dict) and data.get("resourceType") == "Bundle":
        return bundle_to_record(data, max_entries=max_entries, skipped=skipped)
    got = data.get("resourceType") if isinstance(data, dict) else type(data).__name__
    raise ExportError("resourceType", f"must be 'Patient' or 'Bundle', got {got!r}")
