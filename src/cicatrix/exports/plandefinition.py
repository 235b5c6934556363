"""Treatment protocols from the knowledge base as FHIR R4B PlanDefinitions.

Each treatment becomes a PlanDefinition whose actions are its sessions (each after the
previous one by the protocol's interval, as a `relatedAction` offset range) with the care
steps nested under each session, timed relative to it; ActivityDefinitions describe the
session procedure and each care step once. Sources become citation `relatedArtifact`s.
Everything clinical comes from the knowledge base in force, overrides included.
"""

from __future__ import annotations

import re
from typing import Any

from fhir.resources.R4B.activitydefinition import ActivityDefinition
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.plandefinition import PlanDefinition

from cicatrix.knowledge.models import KnowledgeBase, Step, Treatment

BASE = "https://cicatrix.org/fhir"
UCUM = "http://unitsofmeasure.org"
TREATMENTS = f"{BASE}/CodeSystem/treatments"
CARE_STEPS = f"{BASE}/CodeSystem/care-steps"
EVIDENCE = f"{BASE}/CodeSystem/evidence-level"


def _fhir_id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9\-.]", "-", text)[:64]


def _days(n: int) -> dict[str, Any]:
    return {"value": n, "unit": "days" if n != 1 else "day", "system": UCUM, "code": "d"}


def _cc(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


def _citations(kb: KnowledgeBase, ids: list[str]) -> list[dict[str, Any]]:
    out = []
    for sid in dict.fromkeys(ids):
        src = kb.sources.get(sid)
        art: dict[str, Any] = {"type": "citation", "label": sid}
        art["citation"] = src.citation if src else sid
        if src and src.url:
            art["url"] = src.url
        out.append(art)
    return out


def _step_code(step: Step, i: int) -> str:
    return step.code or f"step-{i + 1}"


def _step_timing(step: Step, session_action: str) -> dict[str, Any]:
    """Place a step relative to its session's start: before, on, or after, and for how long."""
    until = step.until if step.until is not None else step.offset
    if step.offset < 0:
        rel: dict[str, Any] = {
            "actionId": session_action,
            "relationship": "before-start",
            "offsetDuration": _days(-step.offset),
        }
    elif step.offset == 0:
        rel = {"actionId": session_action, "relationship": "concurrent-with-start"}
    else:
        rel = {
            "actionId": session_action,
            "relationship": "after-start",
            "offsetDuration": _days(step.offset),
        }
    return {"relatedAction": [rel], "timingDuration": _days(until - step.offset + 1)}


def _activity_url(treatment: Treatment, code: str) -> str:
    return f"{BASE}/ActivityDefinition/{_fhir_id(f'{treatment.id}-{code}')}"


def activity_definitions(kb: KnowledgeBase, t: Treatment) -> list[ActivityDefinition]:
    common = {"status": "active", "version": kb.label, "publisher": "cicatrix"}
    out = [
        ActivityDefinition(
            id=_fhir_id(f"{t.id}-session"),
            url=_activity_url(t, "session"),
            name=_fhir_id(f"{t.id}_session").replace("-", "_"),
            title=f"{t.name}: session",
            description=t.summary,
            kind="ServiceRequest",
            intent="plan",
            code=_cc(TREATMENTS, t.id, t.name),
            relatedArtifact=_citations(kb, list(t.sources)),
            **common,
        )
    ]
    seen: set[str] = set()
    for i, step in enumerate(t.protocol.steps):
        code = _step_code(step, i)
        if code in seen:
            continue
        seen.add(code)
        out.append(
            ActivityDefinition(
                id=_fhir_id(f"{t.id}-{code}"),
                url=_activity_url(t, code),
                title=f"{t.name}: {code.replace('_', ' ')}",
                description=step.text,
                kind="CommunicationRequest",
                intent="plan",
                code=_cc(CARE_STEPS, code, step.kind),
                doNotPerform=step.kind == "avoid",
                relatedArtifact=_citations(kb, list(step.sources)),
                **common,
            )
        )
    return out


def plan_definition(kb: KnowledgeBase, t: Treatment) -> PlanDefinition:
    p = t.protocol
    actions: list[dict[str, Any]] = []
    n_sessions = p.sessions.max if t.schedule == "sessions" else 1
    for k in range(1, n_sessions + 1):
        aid = f"session-{k}"
        children = []
        for i, step in enumerate(p.steps):
            code = _step_code(step, i)
            children.append(
                {
                    "id": f"{aid}-{_fhir_id(code)}",
                    "title": code.replace("_", " "),
                    "description": step.text,
                    "code": [_cc(CARE_STEPS, code, step.kind)],
                    "definitionCanonical": _activity_url(t, code),
                    **_step_timing(step, aid),
                }
            )
        action: dict[str, Any] = {
            "id": aid,
            "title": f"{t.name}: session {k}",
            "code": [_cc(TREATMENTS, t.id, t.name)],
            "definitionCanonical": _activity_url(t, "session"),
            "requiredBehavior": "must" if k <= p.sessions.min else "could",
        }
        if k > 1 and p.interval_days is not None:
            action["relatedAction"] = [
                {
                    "actionId": f"session-{k - 1}",
                    "relationship": "after-start",
                    "offsetRange": {
                        "low": _days(p.interval_days.min),
                        "high": _days(p.interval_days.max),
                    },
                }
            ]
        if children:
            action["action"] = children
        actions.append(action)
    if p.maintenance:
        actions.append(
            {
                "id": "maintenance",
                "title": f"{t.name}: maintenance",
                "description": p.maintenance.text,
                "definitionCanonical": _activity_url(t, "session"),
                "relatedAction": [
                    {
                        "actionId": f"session-{n_sessions}",
                        "relationship": "after-end",
                        "offsetDuration": {
                            "value": p.maintenance.every_months,
                            "unit": "months",
                            "system": UCUM,
                            "code": "mo",
                        },
                    }
                ],
            }
        )
    sources = list(t.sources) + list(p.sources)
    for step in p.steps:
        sources.extend(step.sources)
    return PlanDefinition(
        id=_fhir_id(t.id),
        url=f"{BASE}/PlanDefinition/{_fhir_id(t.id)}",
        version=kb.label,
        name=re.sub(r"\W", "_", t.id),
        title=t.name,
        subtitle=t.plain_name,
        type=_cc(
            "http://terminology.hl7.org/CodeSystem/plan-definition-type",
            "clinical-protocol",
            "Clinical Protocol",
        ),
        status="active",
        publisher="cicatrix",
        description=t.summary,
        usage=p.notes,
        topic=[_cc(EVIDENCE, p.evidence_level, f"Evidence level {p.evidence_level}")],
        relatedArtifact=_citations(kb, sources),
        action=actions,
    )


def protocol_bundle(kb: KnowledgeBase, treatments: list[str] | None = None) -> Bundle:
    """Every protocol (or the named ones) with its ActivityDefinitions, as one Bundle."""
    entries: list[dict[str, Any]] = []
    for tid in treatments or sorted(kb.treatments):
        t = kb.treatments[tid]
        resources: list[PlanDefinition | ActivityDefinition] = [plan_definition(kb, t), *activity_definitions(kb, t)]
        for res in resources:
            entries.append({"fullUrl": res.url, "resource": res})
    return Bundle(type="collection", entry=entries)
