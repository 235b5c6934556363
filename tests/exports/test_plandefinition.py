from __future__ import annotations

import re
from itertools import pairwise

from fhir.resources.R4B.bundle import Bundle

from cicatrix.exports.plandefinition import CARE_STEPS, identifier_name, plan_definition, protocol_bundle
from cicatrix.knowledge.loader import load_knowledge
from cicatrix.knowledge.models import KnowledgeBase


def _rel(action: object) -> dict[str, object]:
    (rel,) = action.relatedAction  # type: ignore[attr-defined]
    return rel  # type: ignore[no-any-return]


def test_microneedling_protocol_as_plandefinition(kb: KnowledgeBase) -> None:
    pd = plan_definition(kb, kb.treatments["microneedling"])
    sessions = [a for a in pd.action if re.fullmatch(r"session-\d+", a.id)]
    assert [a.id for a in sessions] == ["session-1", "session-2", "session-3"]
    assert [a.requiredBehavior for a in sessions] == ["must", "could", "could"]
    # 6-8 weeks apart: 42-56 days after the previous session's start
    for prev, a in pairwise(sessions):
        rel = _rel(a)
        assert (rel.actionId, rel.relationship) == (prev.id, "after-start")
        assert (rel.offsetRange.low.value, rel.offsetRange.low.code) == (42, "d")
        assert rel.offsetRange.high.value == 56
    # care steps are siblings of their session, timed against it (a child cannot precede its parent)
    assert all(not a.action for a in pd.action)
    steps = {c.code[0].coding[0].code: c for c in pd.action if c.id.startswith("session-2-")}
    pre = steps["pre_avoid_actives"]
    assert (_rel(pre).relationship, _rel(pre).offsetDuration.value) == ("before-start", 3)
    assert pre.timingDuration.value == 3  # days -3, -2, -1
    assert _rel(pre).actionId == "session-2"
    assert "retinoids" in pre.description
    assert pre.title == "Avoid, the 3 days before the session"
    day1 = steps["d1_no_exfoliants"]
    assert (_rel(day1).relationship, _rel(day1).offsetDuration.value) == ("after-start", 1)
    assert day1.timingDuration.value == 1
    d27 = steps["d2_7_dryness"]
    assert (_rel(d27).offsetDuration.value, d27.timingDuration.value) == (2, 6)  # days 2-7
    day_of = steps["day_no_antiinflammatories"]
    assert _rel(day_of).relationship == "concurrent-with-start"
    (maint,) = [a for a in pd.action if a.id == "maintenance"]
    assert _rel(maint).offsetDuration.value == 12 and _rel(maint).offsetDuration.code == "mo"
    cites = {r.label: r for r in pd.relatedArtifact}
    assert "seed-002" in cites and cites["seed-002"].type == "citation"
    assert "Micro-Needling" in cites["seed-002"].citation


def test_every_protocol_exports_and_validates(kb: KnowledgeBase) -> None:
    bundle = protocol_bundle(kb)
    again = Bundle.model_validate_json(bundle.model_dump_json(exclude_none=True))
    pds = [e.resource for e in again.entry if e.resource.get_resource_type() == "PlanDefinition"]
    assert {p.name for p in pds} == {identifier_name(t) for t in kb.treatments}
    urls = {e.fullUrl for e in again.entry}
    text = bundle.model_dump_json(exclude_none=True)
    canonicals = re.findall(r'"definitionCanonical":"([^"]+)"', text)
    assert canonicals
    for canonical in canonicals:  # every definitionCanonical resolves inside the bundle
        assert canonical in urls, canonical


def test_overrides_flow_into_the_export(tmp_path: object) -> None:
    from pathlib import Path

    d = Path(str(tmp_path)) / "treatments"
    d.mkdir()
    (d / "microneedling.yaml").write_text(
        "id: microneedling\nprotocol:\n  interval_days: {min: 28, max: 35}\n", encoding="utf-8"
    )
    kb = load_knowledge(Path(str(tmp_path)))
    pd = plan_definition(kb, kb.treatments["microneedling"])
    (second,) = [a for a in pd.action if a.id == "session-2"]
    rel = _rel(second)
    assert (rel.offsetRange.low.value, rel.offsetRange.high.value) == (28, 35)


def test_receiving_systems_get_identifiers_words_and_the_code_systems(kb: KnowledgeBase) -> None:
    bundle = protocol_bundle(kb)
    data = bundle.model_dump(exclude_none=True)
    resources = [e["resource"] for e in data["entry"]]
    for res in resources:  # cnl-0: a name is usable as an identifier
        if "name" in res:
            assert re.fullmatch(r"[A-Z][A-Za-z0-9_]{0,254}", res["name"]), res["name"]
    text = bundle.model_dump_json(exclude_none=True)
    assert "doNotPerform" not in text  # an avoid step tells the patient; it is not a message not to send
    assert "shared/seeds" not in text and ".txt" not in text  # no internal file paths in citations
    for res in resources:
        for action in res.get("action", []):
            assert "_" not in action["title"], action["title"]  # titles in words, not codes
    systems = {r["url"]: r for r in resources if r["resourceType"] == "CodeSystem"}
    assert {"treatments", "care-steps", "evidence-level", "safety-facts", "history", "medications",
            "fitzpatrick-phototype", "conditions", "safety-conditions", "marks", "scar-types"} == {
        r["id"] for r in systems.values()
    }  # fmt: skip
    # every cicatrix code the protocols' conditions look for is published, and so is the ConceptMap
    found = re.findall(r"system = '(https://cicatrix\.org/[^']+)' and code in \('([^']+)'", text)
    assert len(set(found)) > 5
    for system, code in found:
        assert code in {c["code"] for c in systems[system]["concept"]}, (system, code)
    (cmap,) = [r for r in resources if r["resourceType"] == "ConceptMap"]
    mapped = {(g["source"].rsplit("/", 1)[1], e["code"], t["code"]) for g in cmap["group"] for e in g["element"]
              for t in e["target"]}  # fmt: skip
    assert ("conditions", "acne-scarring", "L90.5") in mapped and ("treatments", "dermabrasion", "15780") in mapped
    for g in cmap["group"]:  # its sources are published CodeSystems
        assert g["source"] in systems and all(e["code"] in {c["code"] for c in systems[g["source"]]["concept"]}
                                              for e in g["element"])  # fmt: skip
    listed = {c["code"] for c in systems[CARE_STEPS]["concept"]}
    used = set(re.findall(r'"system":"' + re.escape(CARE_STEPS) + r'","code":"([^"]+)"', text))
    assert used and used <= listed
