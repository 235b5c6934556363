"""Records and Bundles to import: a plan made for one patient, carried by another's record.

That is what a careless or hostile Bundle looks like: the CarePlan says `active` (approved) and
schedules whatever it likes, while the Patient's facts say some of it must not happen.
"""

from __future__ import annotations

import json
from typing import Any

from msgspec.structs import replace

from cicatrix.engine import parse_case, plan_case
from cicatrix.exports.fhir import bundle_json, record_to_bundle
from cicatrix.exports.record import AssessmentRecord, PatientRecord, PersonName, PlanRecord
from cicatrix.knowledge.models import KnowledgeBase
from tests.storage.world import ASSESSMENT, PREFS

KELOID = {"phototype": "III", "history": ["keloid"]}


def record_for(
    kb: KnowledgeBase,
    rid: str,
    patient: dict[str, Any],
    assessment: dict[str, Any] | None = None,
    preferences: dict[str, Any] | None = None,
    status: str = "approved",
) -> PatientRecord:
    """`patient`'s record, whose plan the engine made for the same assessment and preferences
    but for a phototype III patient with no contraindication at all."""
    assessment = assessment or ASSESSMENT
    preferences = PREFS if preferences is None else preferences
    clear = {"patient": {"phototype": "III"}, "assessment": assessment, "preferences": preferences}
    plan = plan_case(parse_case(clear, kb), kb)
    facts = parse_case({"patient": patient, "assessment": assessment}, kb)
    return PatientRecord(
        id=rid,
        name=PersonName(text=f"Imported {rid}"),
        patient=replace(facts.patient, id=rid),
        assessments=(AssessmentRecord(id="a-1", assessment=facts.assessment, scores=plan.scores),),
        plan=PlanRecord(id="plan-1", status=status, plan=plan, assessment_id="a-1"),  # type: ignore[arg-type]
    )


def bundle_for(kb: KnowledgeBase, rid: str, patient: dict[str, Any], **kw: Any) -> dict[str, Any]:
    """The same record as FHIR JSON, as another system sends it."""
    data: dict[str, Any] = json.loads(bundle_json(record_to_bundle(record_for(kb, rid, patient, **kw))))
    return data
