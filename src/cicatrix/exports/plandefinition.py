"""Treatment protocols from the knowledge base as FHIR R4B PlanDefinitions.

Each treatment becomes a PlanDefinition whose actions are its sessions (each after the
previous one by the protocol's interval, as a `relatedAction` offset range) and, beside them,
each session's care steps, timed relative to that session with a `relatedAction` of their own.
Siblings, not children: a child action cannot be timed before its parent, and a pre-care step
is (CPG-on-FHIR times actions the same way). ActivityDefinitions describe the session
procedure and each care step once; an "avoid" step is a communication that *tells* the patient
what to avoid (never `doNotPerform`, which would mean "do not send this message"). Names are
usable as identifiers (cnl-0), titles are words, and the cicatrix CodeSystems the resources use
are published in the same Bundle. Sources become citation `relatedArtifact`s.
Everything clinical comes from the knowledge base in force, overrides included.
"""

from __future__ import annotations

import re
from typing import Any

from fhir.resources.R4B.activitydefinition import ActivityDefinition
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.codesystem import CodeSystem
from fhir.resources.R4B.conceptmap import ConceptMap
from fhir.resources.R4B.plandefinition import PlanDefinition

from cicatrix.exports.safety_facts import (
    FLAGS,
    HISTORY,
    ISOTRETINOIN,
    MEDICATIONS,
    PHOTOTYPE,
    PHOTOTYPE_FACT,
    SAFETY_FACTS,
    STANDARD_URIS,
    condition_expression,
    flag_label,
)
from cicatrix.knowledge.models import KnowledgeBase, Step, Treatment

BASE = "https://cicatrix.org/fhir"
UCUM = "http://unitsofmeasure.org"
TREATMENTS = f"{BASE}/CodeSystem/treatments"
CARE_STEPS = f"{BASE}/CodeSystem/care-steps"
EVIDENCE = f"{BASE}/CodeSystem/evidence-level"


def _fhir_id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9\-.]", "-", text)[:64]


def plan_definition_url(treatment_id: str) -> str:
    """The canonical URL of a treatment's protocol; care plans point here (instantiatesCanonical)."""
    return f"{BASE}/PlanDefinition/{_fhir_id(treatment_id)}"


def identifier_name(text: str) -> str:
    """A computable name (cnl-0: `^[A-Z]([A-Za-z0-9_]){0,254}$`): 'chemical_peel_deep' -> 'ChemicalPeelDeep'."""
    name = "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", text) if part)
    return (name if name[:1].isalpha() else f"X{name}")[:255]


_KIND_WORDS = {"avoid": "Avoid", "do": "Do", "expect": "What to expect"}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def step_when(step: Step) -> str:
    """When a step applies, relative to its session, in words."""
    off = step.offset
    until = step.until if step.until is not None else off
    if until < 0:
        if until == -1:
            return "the day before the session" if off == -1 else f"the {_plural(-off, 'day')} before the session"
        return f"from {_plural(-off, 'day')} to {_plural(-until, 'day')} before the session"
    if off < 0:
        end = "the day of the session" if until == 0 else f"{_plural(until, 'day')} after it"
        return f"from {_plural(-off, 'day')} before the session to {end}"
    if off == 0:
        return "on the day of the session" if until == 0 else f"from the day of the session to day {until} after it"
    if off == until:
        return f"day {off} after the session"
    return f"days {off} to {until} after the session"


def step_title(step: Step) -> str:
    return f"{_KIND_WORDS[step.kind]}, {step_when(step)}"


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
            name=identifier_name(f"{t.id}_session"),
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
                name=identifier_name(f"{t.id}_{code}"),
                title=f"{t.plain_name}: {step_title(step).lower()}",
                description=step.text,
                usage=f"Tell the patient: {step.text}",
                kind="CommunicationRequest",
                intent="plan",
                code=_cc(CARE_STEPS, code, step_title(step)),
                relatedArtifact=_citations(kb, list(step.sources)),
                **common,
            )
        )
    return out


# the decisions of the safety matrix that keep a treatment from being given now
_NOT_APPLIED = {"exclude": "not given", "delay": "waits"}


def applicability(kb: KnowledgeBase, t: Treatment) -> list[dict[str, Any]]:
    """The treatment's contraindications and waits (the safety matrix in force, clinic layer
    included) as `action.condition`s: one applicability condition per safety condition, a
    FHIRPath expression over the patient's record Bundle (`%context`, as `cicatrix export fhir`
    writes it) that is true when the condition does *not* hold. All must be true for an action
    to apply. Precautions (`warn`) keep the treatment and are not conditions."""
    out = []
    for cid, row in kb.matrix.items():
        if t.id not in row:
            continue
        decision = kb.decision(cid, t.id)
        if decision.decision not in _NOT_APPLIED:
            continue
        cond = kb.conditions[cid]
        expr = condition_expression(cond, kb)
        what = _NOT_APPLIED[decision.decision]
        out.append(
            {
                "kind": "applicability",
                "expression": {
                    "language": "text/fhirpath",
                    "expression": f"({expr}).not()",
                    "description": f"Not when: {cond.name} ({what}). {' '.join((decision.message or '').split())}",
                },
            }
        )
    return out


def plan_definition(kb: KnowledgeBase, t: Treatment) -> PlanDefinition:
    p = t.protocol
    actions: list[dict[str, Any]] = []
    conditions = applicability(kb, t)
    n_sessions = p.sessions.max if t.schedule == "sessions" else 1
    for k in range(1, n_sessions + 1):
        aid = f"session-{k}"
        action: dict[str, Any] = {
            "id": aid,
            "title": f"{t.name}: session {k}",
            "code": [_cc(TREATMENTS, t.id, t.name)],
            "definitionCanonical": _activity_url(t, "session"),
            "requiredBehavior": "must" if k <= p.sessions.min else "could",
        }
        if conditions:
            action["condition"] = conditions
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
        actions.append(action)
        for i, step in enumerate(p.steps):
            code = _step_code(step, i)
            actions.append(
                {
                    "id": f"{aid}-{_fhir_id(code)}",
                    "title": step_title(step),
                    "description": step.text,
                    "code": [_cc(CARE_STEPS, code, step_title(step))],
                    "definitionCanonical": _activity_url(t, code),
                    **_step_timing(step, aid),
                    **({"condition": conditions} if conditions else {}),
                }
            )
    if p.maintenance:
        actions.append(
            {
                "id": "maintenance",
                "title": f"{t.name}: maintenance",
                "description": p.maintenance.text,
                "definitionCanonical": _activity_url(t, "session"),
                **({"condition": conditions} if conditions else {}),
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
        url=plan_definition_url(t.id),
        version=kb.label,
        name=identifier_name(t.id),
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


def code_systems(kb: KnowledgeBase) -> list[CodeSystem]:
    """The cicatrix code systems the protocols and care plans use, for concepts that have no
    standard code: treatments, care steps and evidence levels."""
    common = {"status": "active", "version": kb.label, "publisher": "cicatrix", "caseSensitive": True}
    treatments = [{"code": tid, "display": t.name, "definition": t.summary} for tid, t in sorted(kb.treatments.items())]
    steps: dict[str, dict[str, str]] = {}
    for _tid, t in sorted(kb.treatments.items()):
        for i, step in enumerate(t.protocol.steps):
            steps.setdefault(_step_code(step, i), {"display": step_title(step), "definition": step.text})
    for kind, words in _KIND_WORDS.items():  # entries without a code of their own carry their kind
        steps.setdefault(kind, {"display": words, "definition": f"A care instruction: {words.lower()}."})
    levels = [{"code": lv.id, "display": lv.label, "definition": lv.meaning} for lv in kb.evidence_levels.values()]
    facts = [{"code": PHOTOTYPE_FACT, "display": "Fitzpatrick skin phototype"}]
    facts += [{"code": f, "display": flag_label(kb, f)} for f in FLAGS]
    terms: dict[str, list[dict[str, str]]] = {"history": [], "medication": []}
    for code, term in sorted(kb.vocabulary.items()):
        if term.recorded_as is None or code == ISOTRETINOIN:
            terms[term.kind].append({"code": code, "display": term.label.split(" (")[0]})
    phototypes = [
        {"code": pid, "display": f"Type {pid}", "definition": ph.sun_response} for pid, ph in kb.phototypes.items()
    ]
    findings = {
        "conditions": [{"code": "acne-scarring", "display": "Acne scarring"}],
        "safety-conditions": [
            {"code": cid, "display": c.name, "definition": c.description} for cid, c in sorted(kb.conditions.items())
        ],
        "marks": [{"code": mid, "display": m.name} for mid, m in sorted(kb.marks.items())],
        "scar-types": [{"code": sid, "display": st.name} for sid, st in sorted(kb.scar_types.items())],
    }
    care_steps = [{"code": c, **v} for c, v in sorted(steps.items())]
    return [
        CodeSystem(
            id="treatments", url=TREATMENTS, name="CicatrixTreatments", content="complete", concept=treatments, **common
        ),
        # "fragment": a clinic's protocols and precautions may add steps of their own
        CodeSystem(
            id="care-steps", url=CARE_STEPS, name="CicatrixCareSteps", content="fragment", concept=care_steps, **common
        ),
        # the patient's safety facts (exports/safety_facts.py): no standard code found for these
        CodeSystem(
            id="safety-facts", url=SAFETY_FACTS, name="CicatrixSafetyFacts", content="complete", concept=facts, **common
        ),
        CodeSystem(
            id="history", url=HISTORY, name="CicatrixHistory", content="complete", concept=terms["history"], **common
        ),
        CodeSystem(
            id="medications",
            url=MEDICATIONS,
            name="CicatrixMedications",
            content="complete",
            concept=terms["medication"],
            **common,
        ),
        CodeSystem(
            id="fitzpatrick-phototype",
            url=PHOTOTYPE,
            name="CicatrixFitzpatrickPhototype",
            content="complete",
            concept=phototypes,
            **common,
        ),
        *(
            CodeSystem(
                id=key,
                url=f"{BASE}/CodeSystem/{key}",
                name=identifier_name(f"cicatrix_{key}"),
                content="complete",
                concept=concepts,
                **common,
            )
            for key, concepts in findings.items()
        ),
        CodeSystem(
            id="evidence-level",
            url=EVIDENCE,
            name="CicatrixEvidenceLevel",
            content="complete",
            concept=levels,
            **common,
        ),
    ]


# the cicatrix CodeSystem of each kind of concept codes.yaml maps
_SOURCE_SYSTEMS = {
    "problem": f"{BASE}/CodeSystem/conditions",
    "condition": f"{BASE}/CodeSystem/safety-conditions",
    "treatment": TREATMENTS,
    "mark": f"{BASE}/CodeSystem/marks",
    "scar_type": f"{BASE}/CodeSystem/scar-types",
}
CONCEPT_MAP = f"{BASE}/ConceptMap/standard-codes"


def concept_map(kb: KnowledgeBase) -> ConceptMap:
    """codes.yaml as a FHIR ConceptMap: each cicatrix concept a source gives a standard code for,
    with how the two relate, and the site a code holds for (a CPT facial or non-facial peel)."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for m in kb.codes.values():
        for c in m.codings:
            target: dict[str, Any] = {"code": c.code, "display": c.display, "equivalence": c.equivalence}
            comments = [x for x in (f"site: {c.site}" if c.site else None, m.note) if x]
            if comments:
                target["comment"] = "; ".join(" ".join(x.split()) for x in comments)
            elements = groups.setdefault((_SOURCE_SYSTEMS[m.of], STANDARD_URIS[c.system]), [])
            element = next((e for e in elements if e["code"] == m.concept), None)
            if element is None:
                element = {"code": m.concept, "target": []}
                elements.append(element)
            element["target"].append(target)
    return ConceptMap(
        id="standard-codes",
        url=CONCEPT_MAP,
        version=kb.label,
        name="CicatrixStandardCodes",
        title="cicatrix concepts with a sourced standard code",
        status="active",
        publisher="cicatrix",
        description=(
            "Only codes a source gives (codes.yaml). Concepts not listed have no sourced standard code; "
            "map them with a terminology server ($translate, $lookup)."
        ),
        group=[{"source": src, "target": tgt, "element": el} for (src, tgt), el in groups.items()],
    )


def protocol_bundle(kb: KnowledgeBase, treatments: list[str] | None = None) -> Bundle:
    """Every protocol (or the named ones) with its ActivityDefinitions and the cicatrix CodeSystems, as one Bundle."""
    entries: list[dict[str, Any]] = []
    for tid in treatments or sorted(kb.treatments):
        t = kb.treatments[tid]
        resources: list[PlanDefinition | ActivityDefinition] = [plan_definition(kb, t), *activity_definitions(kb, t)]
        for res in resources:
            entries.append({"fullUrl": res.url, "resource": res})
    for cs in code_systems(kb):
        entries.append({"fullUrl": cs.url, "resource": cs})
    cm = concept_map(kb)
    entries.append({"fullUrl": cm.url, "resource": cm})
    return Bundle(type="collection", entry=entries)
