"""Load the bundled knowledge base, apply a clinic's overrides, validate, and fingerprint it.

A broken file fails loudly with `KnowledgeError`, naming the file and the entry.
Overrides mirror the bundled layout: an entry with the same `id` is deep-merged
(mappings merge, lists and values replace), a new `id` is added.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, get_args

import msgspec

from cicatrix.knowledge.frozen import Frozen, describe
from cicatrix.knowledge.models import (
    AftercareGroup,
    AftercareTerm,
    Agent,
    CodeMapping,
    Condition,
    Decision,
    EducationTopic,
    EvidenceLevelInfo,
    KnowledgeBase,
    Lesion,
    Mark,
    Matcher,
    MatrixCell,
    MessageTemplate,
    Phototype,
    Policy,
    ProcedureField,
    Region,
    SafetyRules,
    Scales,
    ScarType,
    SequencingRule,
    Source,
    Step,
    Term,
    Treatment,
    TreatmentGroup,
)
from cicatrix.knowledge.vocabulary import normal_form, term_table

OVERRIDES_ENV = "CICATRIX_KNOWLEDGE_DIR"

# collection name -> (file or folder, model)
_COLLECTIONS: dict[str, tuple[str, type[Frozen]]] = {
    "sources": ("sources.yaml", Source),
    "phototypes": ("phototypes.yaml", Phototype),
    "scar_types": ("scar_types.yaml", ScarType),
    "marks": ("marks.yaml", Mark),
    "lesions": ("lesions.yaml", Lesion),
    "conditions": ("conditions.yaml", Condition),
    "vocabulary": ("vocabulary.yaml", Term),
    "agents": ("agents.yaml", Agent),
    "groups": ("groups.yaml", TreatmentGroup),
    "education": ("education.yaml", EducationTopic),
    "messages": ("messages.yaml", MessageTemplate),
    "aftercare": ("aftercare.yaml", AftercareTerm),
    "sequencing": ("sequencing.yaml", SequencingRule),
    "codes": ("codes.yaml", CodeMapping),
    "treatments": ("treatments", Treatment),
    "regions": ("regions.yaml", Region),
    "procedure_fields": ("procedure_notes.yaml", ProcedureField),
}


class KnowledgeError(ValueError):
    """A knowledge file that cannot be used; the message names the file and the entry."""

    def __init__(self, file: str, entry: str | None, message: str) -> None:
        self.file = file
        self.entry = entry
        self.detail = message
        where = f"{file}" + (f", entry {entry!r}" if entry else "")
        super().__init__(f"knowledge error in {where}: {message}")


def bundled_dir() -> Path:
    return Path(__file__).parent / "data"


def _read_yaml(path: Path, label: str) -> Any:
    import yaml  # only on a cache miss: a cached start never parses YAML

    loader_cls = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml is several times faster
    try:
        with path.open("rb") as fh:
            return yaml.load(fh, Loader=loader_cls)
    except yaml.YAMLError as exc:
        raise KnowledgeError(label, None, f"not valid YAML: {exc}") from None
    except OSError as exc:
        raise KnowledgeError(label, None, f"cannot be read: {exc.strerror}") from None


def _files(root: Path, name: str) -> Iterator[tuple[Path, str]]:
    """Files for one collection: a single file, or every *.yaml in a folder."""
    target = root / name
    if target.is_dir():
        for p in sorted(target.glob("*.yaml")):
            yield p, f"{name}/{p.name}"
    elif target.is_file():
        yield target, name


def _entries(data: Any, label: str) -> list[dict[str, Any]]:
    if data is None:
        return []
    items = data if isinstance(data, list) else [data]
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise KnowledgeError(label, f"#{i + 1}", "each entry must be a mapping")
        if not isinstance(item.get("id"), str) or not item["id"]:
            raise KnowledgeError(label, f"#{i + 1}", "each entry needs a string 'id'")
        out.append(item)
    return out


def deep_merge(base: Any, over: Any) -> Any:
    """Mappings merge key by key; anything else in the override replaces the base."""
    if isinstance(base, dict) and isinstance(over, dict):
        merged = dict(base)
        for k, v in over.items():
            merged[k] = deep_merge(base[k], v) if k in base else v
        return merged
    return over


def _error_text(exc: msgspec.ValidationError) -> str:
    loc, message = describe(exc)
    return f"{loc or '(entry)'}: {message}"


def _inherit_sources(data: Any, key: str) -> Any:
    """Let care steps inherit sources and evidence level from the protocol or rule they sit in."""
    if not isinstance(data, dict) or not isinstance(data.get(key), list):
        return data
    filled = []
    for step in data[key]:
        if isinstance(step, dict):
            step = {"sources": data.get("sources", ()), "evidence_level": data.get("evidence_level"), **step}
        filled.append(step)
    return {**data, key: filled}


def _fill_treatment(data: dict[str, Any]) -> dict[str, Any]:
    """Apply step inheritance inside one treatment: its protocol's steps."""
    return {**data, "protocol": _inherit_sources(data.get("protocol"), "steps")}


def _fill_safety(data: dict[str, Any]) -> dict[str, Any]:
    """Apply step inheritance inside one condition's decisions: each decision's added steps."""
    decisions = data.get("decisions")
    if not isinstance(decisions, list):
        return data
    return {**data, "decisions": [_inherit_sources(d, "add_steps") for d in decisions]}


SAFETY_DIR = "safety"

# one layer of the safety matrix: condition id -> (its file's data, file label)
_Layer = dict[str, tuple[dict[str, Any], str]]


def _load_safety(root: Path, overrides: Path | None) -> tuple[_Layer, _Layer]:
    """The bundled and the clinic's `safety/*.yaml` files, kept apart: a clinic's decision
    overrides the bundled ones cell by cell instead of replacing a condition's whole list."""
    layers: list[_Layer] = []
    for base, prefix in ((root, ""), (overrides, f"{overrides.name}/" if overrides else "")):
        layer: _Layer = {}
        if base is not None:
            for path, label in _files(base, SAFETY_DIR):
                for e in _entries(_read_yaml(path, prefix + label), prefix + label):
                    if e["id"] in layer:
                        raise KnowledgeError(prefix + label, e["id"], "duplicate id")
                    layer[e["id"]] = (e, prefix + label)
        layers.append(layer)
    return layers[0], layers[1]


def _load_raw(root: Path, overrides: Path | None) -> tuple[dict[str, Any], dict[str, str]]:
    """Read every collection as {id: (dict, file)}; returns raw data and override marks."""
    raw: dict[str, Any] = {}
    overridden: dict[str, str] = {}
    for coll, (name, _model) in _COLLECTIONS.items():
        entries: dict[str, tuple[dict[str, Any], str]] = {}
        for path, label in _files(root, name):
            for e in _entries(_read_yaml(path, label), label):
                if e["id"] in entries:
                    raise KnowledgeError(label, e["id"], "duplicate id")
                entries[e["id"]] = (e, label)
        if overrides is not None:
            for path, label in _files(overrides, name):
                olabel = f"{overrides.name}/{label}"
                for e in _entries(_read_yaml(path, olabel), olabel):
                    base = entries.get(e["id"], ({}, olabel))[0]
                    entries[e["id"]] = (deep_merge(base, e), olabel)
                    overridden[f"{coll}:{e['id']}"] = olabel
        raw[coll] = entries
    raw["safety"], raw["safety_clinic"] = _load_safety(root, overrides)
    for cid, (_data, olabel) in raw["safety_clinic"].items():
        overridden[f"safety:{cid}"] = olabel
    for single in ("knowledge.yaml", "scales.yaml"):
        data = _read_yaml(root / single, single)
        if overrides is not None and (overrides / single).is_file():
            olabel = f"{overrides.name}/{single}"
            data = deep_merge(data, _read_yaml(overrides / single, olabel))
            overridden[single.removesuffix(".yaml")] = olabel
        if not isinstance(data, dict):
            raise KnowledgeError(single, None, "must be a mapping")
        raw[single] = data
    return raw, overridden


def _validate(raw: dict[str, Any], overridden: dict[str, str]) -> KnowledgeBase:
    built: dict[str, Any] = {}
    for coll, (_name, model) in _COLLECTIONS.items():
        items = {}
        for eid, (data, label) in raw[coll].items():
            try:
                items[eid] = msgspec.convert(_fill_treatment(data) if coll == "treatments" else data, model)
            except msgspec.ValidationError as exc:
                raise KnowledgeError(label, eid, _error_text(exc)) from None
        built[coll] = items
    meta = raw["knowledge.yaml"]
    try:
        levels = {lv["id"]: msgspec.convert(lv, EvidenceLevelInfo) for lv in meta.get("evidence_levels", [])}
        policy = msgspec.convert(meta.get("policy"), Policy)
        labels = msgspec.convert(meta.get("labels") or {}, dict[str, dict[str, str]])
    except msgspec.ValidationError as exc:
        raise KnowledgeError("knowledge.yaml", None, _error_text(exc)) from None
    try:
        scales = msgspec.convert(raw["scales.yaml"], Scales)
    except msgspec.ValidationError as exc:
        raise KnowledgeError("scales.yaml", None, _error_text(exc)) from None
    safety, safety_files = _safety_rules(raw["safety"], raw["safety_clinic"])
    canonical = json.dumps(
        {
            k: ({i: d for i, (d, _f) in v.items()} if k in _COLLECTIONS or k.startswith("safety") else v)
            for k, v in raw.items()
        },
        sort_keys=True,
        default=str,
    )
    version = meta.get("version")
    if not isinstance(version, str):
        raise KnowledgeError("knowledge.yaml", None, "version: must be a string")
    kb = KnowledgeBase(
        version=version,
        fingerprint=hashlib.sha256(canonical.encode()).hexdigest(),
        sources=built["sources"],
        phototypes=built["phototypes"],
        evidence_levels=levels,
        scar_types=built["scar_types"],
        marks=built["marks"],
        lesions=built["lesions"],
        conditions=built["conditions"],
        vocabulary=built["vocabulary"],
        agents=built["agents"],
        treatments=built["treatments"],
        groups=built["groups"],
        safety=safety,
        matrix={},
        sequencing=tuple(built["sequencing"].values()),
        education=built["education"],
        messages=built["messages"],
        aftercare=built["aftercare"],
        scales=scales,
        policy=policy,
        codes=built["codes"],
        labels=labels,
        overridden=overridden,
        regions=built["regions"],
        procedure_fields=built["procedure_fields"],
    )
    files = {c: {i: f for i, (_d, f) in raw[c].items()} for c in _COLLECTIONS}
    check_references(kb, files)
    check_labels(kb, files)
    matrix = resolve_matrix(kb, safety_files)
    check_safety(kb, matrix, safety_files)
    return msgspec.structs.replace(kb, matrix=matrix)


# per condition, each decision's file label and layer (0 = the clinic's, 1 = bundled), aligned with
# SafetyRules.decisions
_DecisionFiles = dict[str, tuple[tuple[str, int], ...]]


def _safety_rules(bundled: _Layer, clinic: _Layer) -> tuple[dict[str, SafetyRules], _DecisionFiles]:
    """Each condition's decisions, the clinic's first, then the bundled ones."""
    rules: dict[str, SafetyRules] = {}
    files: _DecisionFiles = {}
    for cid in dict.fromkeys([*bundled, *clinic]):
        decisions: list[Decision] = []
        where: list[tuple[str, int]] = []
        for layer_no, layer in enumerate((clinic, bundled)):
            if cid not in layer:
                continue
            data, label = layer[cid]
            try:
                part = msgspec.convert(_fill_safety(data), SafetyRules)
            except msgspec.ValidationError as exc:
                raise KnowledgeError(label, cid, _error_text(exc)) from None
            decisions += part.decisions
            where += [(label, layer_no)] * len(part.decisions)
        rules[cid] = SafetyRules(id=cid, decisions=tuple(decisions))
        files[cid] = tuple(where)
    return rules, files


def resolve_matrix(kb: KnowledgeBase, files: _DecisionFiles) -> dict[str, dict[str, MatrixCell]]:
    """One decision for every condition x treatment, or a KnowledgeError naming the cell.

    A decision naming the treatment beats one naming a group it belongs to, whichever layer each
    is in; at equal specificity a clinic's layer beats the bundled one, and two decisions of one
    layer for one cell are ambiguous. So a clinic changes a cell the bundled data decides by name
    only by naming the treatment too (a group rule cannot quietly weaken, say, keloid x
    micro-needling from exclude to warn), and a treatment a clinic adds inherits the decisions of
    its groups.
    """
    matrix: dict[str, dict[str, MatrixCell]] = {}
    for cid in kb.conditions:
        rules = kb.safety.get(cid)
        row: dict[str, MatrixCell] = {}
        for tid, t in kb.treatments.items():
            cell = _cell(cid, tid, t, rules, files.get(cid, ()))
            if cell is None:
                label = f"{SAFETY_DIR}/{cid}.yaml"
                raise KnowledgeError(
                    label,
                    cid,
                    f"no decision for condition {cid!r} x treatment {tid!r}: declare one for the treatment "
                    f"or for one of its groups ({', '.join(t.groups)})",
                )
            row[tid] = cell
        matrix[cid] = row
    return matrix


def _cell(
    cid: str, tid: str, t: Treatment, rules: SafetyRules | None, where: tuple[tuple[str, int], ...]
) -> MatrixCell | None:
    if rules is None:
        return None
    groups = set(t.groups)
    for specific in (True, False):
        for layer in (0, 1):
            hits = [
                i
                for i, d in enumerate(rules.decisions)
                if where[i][1] == layer and (tid in d.treatments if specific else not groups.isdisjoint(d.groups))
            ]
            if len(hits) > 1:
                named = "the treatment" if specific else "its groups"
                raise KnowledgeError(
                    where[hits[1]][0],
                    cid,
                    f"ambiguous: decisions #{_number(hits[0], where)} and #{_number(hits[1], where)} both name "
                    f"{named} for condition {cid!r} x treatment {tid!r}",
                )
            if hits:
                i = hits[0]
                d = rules.decisions[i]
                via = "treatment" if specific else "group:" + next(g for g in d.groups if g in groups)
                return MatrixCell(decision=i, via=via, file=where[i][0])
    return None


def _number(i: int, where: tuple[tuple[str, int], ...]) -> int:
    """A decision's 1-based position in its own file."""
    return sum(1 for j in range(i + 1) if where[j] == where[i])


def check_safety(kb: KnowledgeBase, matrix: dict[str, dict[str, MatrixCell]], files: _DecisionFiles) -> None:
    """Every safety file is for a known condition and names known treatments, groups and sources."""
    for cid, rules in kb.safety.items():
        if cid not in kb.conditions:
            label = files[cid][0][0]
            raise KnowledgeError(label, cid, f"unknown condition {cid!r} (conditions.yaml has no such id)")
        for i, d in enumerate(rules.decisions):
            label = files[cid][i][0]
            where = f"decisions[{_number(i, files[cid]) - 1}]"
            for t_id in d.treatments:
                if t_id not in kb.treatments:
                    raise KnowledgeError(label, cid, f"{where}.treatments: unknown treatment {t_id!r}")
            for g in d.groups:
                if g not in kb.groups:
                    raise KnowledgeError(label, cid, f"{where}.groups: unknown group {g!r}")
            _need_sources(kb, label, cid, d.sources, f"{where}.sources")
            _need_steps(kb, label, cid, d.add_steps, f"{where}.add_steps")
    for cid, row in matrix.items():
        for tid, cell in row.items():
            d = kb.safety[cid].decisions[cell.decision]
            if d.decision == "delay" and kb.treatments[tid].schedule != "sessions":
                raise KnowledgeError(
                    cell.file,
                    cid,
                    f"a delay applies to treatments booked in sessions; {tid!r} is daily care "
                    "(exclude or warn instead)",
                )


def _need_sources(kb: KnowledgeBase, label: str, eid: str, ids: tuple[str, ...], where: str) -> None:
    for s in ids:
        if s not in kb.sources:
            raise KnowledgeError(label, eid, f"{where}: unknown source {s!r}")


def _need_steps(kb: KnowledgeBase, label: str, eid: str, steps: tuple[Step, ...], where: str) -> None:
    for i, st in enumerate(steps):
        _need_sources(kb, label, eid, st.sources, f"{where}[{i}].sources")
        for field, names in (("uses", st.uses), ("avoids", st.avoids)):
            for name in names:
                if name not in kb.agents and name not in kb.treatments:
                    raise KnowledgeError(label, eid, f"{where}[{i}].{field}: unknown agent or treatment {name!r}")


# the one problem cicatrix records (the FHIR Condition every record is about)
PROBLEMS = ("acne-scarring",)


def check_codes(kb: KnowledgeBase, files: dict[str, str]) -> None:
    """Each mapping names a concept that exists, under the id `<of>:<concept>`, with sources, and
    a standard code says one thing: a system's code is mapped to one cicatrix concept per site."""
    known = {
        "problem": set(PROBLEMS),
        "condition": set(kb.conditions),
        "treatment": set(kb.treatments),
        "mark": set(kb.marks),
        "scar_type": set(kb.scar_types),
    }
    for mid, m in kb.codes.items():
        label = files[mid]
        if mid != f"{m.of}:{m.concept}":
            raise KnowledgeError(label, mid, f"id must be '{m.of}:{m.concept}' (of:concept)")
        if m.concept not in known[m.of]:
            raise KnowledgeError(label, mid, f"concept: unknown {m.of} {m.concept!r}")
        _need_sources(kb, label, mid, m.sources, "sources")
        seen: set[tuple[str, str, str | None]] = set()
        for c in m.codings:
            key = (c.system, c.code, c.site)
            if key in seen:
                raise KnowledgeError(label, mid, f"codings: {c.system} {c.code} is listed twice")
            seen.add(key)


# The label groups the service and the engine need, with the codes each must label; a code
# outside these (a clinic's own status) may be added in an override.
REQUIRED_LABELS: dict[str, tuple[str, ...]] = {
    "plan_status": ("proposed", "approved", "superseded"),
    "session_status": ("planned", "done", "missed", "cancelled"),
    "plan_edit": ("approve", "edit", "override", "reschedule", "import"),
    "severity": ("mild", "moderate", "severe"),
    "severity_basis": ("goodman_baron_qualitative", "nothing_recorded"),
    "sex": ("female", "male", "other", "unknown"),
}
_CODE_LIKE = re.compile(r"^[a-z0-9]+(?:_[a-z0-9]+)+$")


def _refuse_code_like(label: str, where: str, eid: str | None, text: str) -> None:
    if not text.strip():
        raise KnowledgeError(where, eid, "needs a label people can read (it is empty)")
    if _CODE_LIKE.match(text.strip()) or "_" in text:
        raise KnowledgeError(where, eid, f"{label} {text!r} looks like a code; give the words people read")


def check_labels(kb: KnowledgeBase, files: dict[str, dict[str, str]]) -> None:
    """Every code people may see has a label, and no label is itself a code (issue 14 §6)."""
    bases = (*REQUIRED_LABELS["severity_basis"], kb.scales.severity_fallback.basis)
    needed = {**REQUIRED_LABELS, "severity_basis": bases}
    for group, codes in needed.items():
        have = kb.labels.get(group, {})
        for code in codes:
            if code not in have:
                raise KnowledgeError("knowledge.yaml", f"labels.{group}", f"no label for {code!r}")
    for group, entries in kb.labels.items():
        for code, text in entries.items():
            _refuse_code_like("label", "knowledge.yaml", f"labels.{group}.{code}", text)
    named: dict[str, tuple[Mapping[str, Any], str]] = {
        "treatments": (kb.treatments, "name"),
        "conditions": (kb.conditions, "name"),
        "vocabulary": (kb.vocabulary, "label"),
        "scar_types": (kb.scar_types, "name"),
        "marks": (kb.marks, "name"),
        "lesions": (kb.lesions, "name"),
        "agents": (kb.agents, "name"),
        "education": (kb.education, "title"),
    }
    for coll, (collection, attr) in named.items():
        for eid, entry in collection.items():
            _refuse_code_like(attr, files.get(coll, {}).get(eid, coll), eid, str(getattr(entry, attr)))


def check_references(kb: KnowledgeBase, files: dict[str, dict[str, str]]) -> None:
    """Every id an entry names must exist: sources, targets, condition codes, treatments."""

    def need_sources(label: str, eid: str, ids: tuple[str, ...], where: str) -> None:
        _need_sources(kb, label, eid, ids, where)

    def need_steps(label: str, eid: str, steps: tuple[Step, ...], where: str) -> None:
        _need_steps(kb, label, eid, steps, where)

    targets = set(kb.scar_types) | set(kb.marks) | set(kb.lesions)
    colls = ("phototypes", "scar_types", "marks", "lesions", "conditions", "vocabulary", "agents", "groups")
    for coll in (*colls, "education", "messages", "aftercare"):
        for eid, entry in getattr(kb, coll).items():
            need_sources(files[coll][eid], eid, entry.sources, "sources")
    _check_aftercare(kb, files["aftercare"])
    for seq in kb.sequencing:
        need_sources(files["sequencing"][seq.id], seq.id, seq.sources, "sources")
    for cid, cond in kb.conditions.items():
        label = files["conditions"][cid]
        for lesion in cond.triggers.active_lesions_any:
            if lesion not in kb.lesions:
                raise KnowledgeError(label, cid, f"triggers.active_lesions_any: unknown lesion {lesion!r}")
        for scar in cond.triggers.scars_any:
            if scar not in kb.scar_types:
                raise KnowledgeError(label, cid, f"triggers.scars_any: unknown scar type {scar!r}")
        for field, kind, codes in (
            ("history_any", "history", cond.triggers.history_any),
            ("medications_any", "medication", cond.triggers.medications_any),
        ):
            for code in codes:
                term = kb.vocabulary.get(code)
                if term is None or term.kind != kind or term.recorded_as is not None:
                    raise KnowledgeError(
                        label, cid, f"triggers.{field}: {code!r} is not a {kind} code of vocabulary.yaml"
                    )
    check_vocabulary(kb, files["vocabulary"])
    check_codes(kb, files["codes"])
    for tid, t in kb.treatments.items():
        label = files["treatments"][tid]
        need_sources(label, tid, t.sources, "sources")
        need_sources(label, tid, t.protocol.sources, "protocol.sources")
        need_steps(label, tid, t.protocol.steps, "protocol.steps")
        if t.protocol.maintenance:
            need_sources(label, tid, t.protocol.maintenance.sources, "protocol.maintenance.sources")
        for i, ind in enumerate(t.indications):
            if ind.target not in targets:
                raise KnowledgeError(label, tid, f"indications[{i}].target: unknown target {ind.target!r}")
            need_sources(label, tid, ind.sources, f"indications[{i}].sources")
        for group in t.groups:
            if group not in kb.groups:
                raise KnowledgeError(label, tid, f"groups: unknown group {group!r} (see groups.yaml)")
        if t.preferred_for:
            need_sources(label, tid, t.preferred_for.sources, "preferred_for.sources")
    for aid, agent in kb.agents.items():
        for t_id in agent.treatments:
            if t_id not in kb.treatments:
                raise KnowledgeError(files["agents"][aid], aid, f"treatments: unknown treatment {t_id!r}")
    _check_pause_texts(kb, files["agents"], files["treatments"])
    for seq in kb.sequencing:
        for t_id in seq.first + seq.then:
            if t_id not in kb.treatments:
                raise KnowledgeError(files["sequencing"][seq.id], seq.id, f"unknown treatment {t_id!r}")
    for g in kb.policy.global_rules:
        if g.condition is not None and g.condition not in kb.conditions:
            raise KnowledgeError("knowledge.yaml", g.code, f"unknown condition {g.condition!r}")
        for lesion in g.lesions_any:
            if lesion not in kb.lesions:
                raise KnowledgeError("knowledge.yaml", g.code, f"lesions_any: unknown lesion {lesion!r}")
    for tid, t in kb.treatments.items():
        if t.alternative is not None:
            label = files["treatments"][tid]
            need_sources(label, tid, t.alternative.sources, "alternative.sources")
            for other in t.alternative.to:
                if other not in kb.treatments or other == tid:
                    raise KnowledgeError(label, tid, f"alternative.to: unknown treatment {other!r}")
                if kb.treatments[other].alternative is not None:
                    raise KnowledgeError(label, tid, f"alternative.to: {other!r} is itself an alternative")
    _check_procedure_fields(kb, files["procedure_fields"])
    used_levels = {"V", "V-low", "U", "protocol"}
    if missing := used_levels - set(kb.evidence_levels):
        raise KnowledgeError("knowledge.yaml", None, f"evidence_levels: missing {sorted(missing)}")
    scales = kb.scales
    matchers: list[tuple[str, Matcher]] = []
    for row in scales.goodman_baron_quantitative.rows:
        matchers += [(row.id, m) for m in row.match]
    for arow in scales.goodman_baron_quantitative.area_rows:
        matchers += [(arow.id, m) for m in arow.match]
    for item in scales.ecca.items:
        matchers += [(item.id, m) for m in item.match]
    if scales.ecca.by_diameter is not None:
        matchers += [("ecca.by_diameter", Matcher(scar=s)) for s in scales.ecca.by_diameter.scars]
    for where, entry in scales.sourced():
        need_sources("scales.yaml", where, entry.sources, "sources")
    for rid, m in matchers:
        if m.scar is not None and m.scar not in kb.scar_types:
            raise KnowledgeError("scales.yaml", rid, f"unknown scar type {m.scar!r}")
        if m.mark is not None and m.mark not in kb.marks:
            raise KnowledgeError("scales.yaml", rid, f"unknown mark {m.mark!r}")


def _check_procedure_fields(kb: KnowledgeBase, files: dict[str, str]) -> None:
    """A procedure-note field names treatments booked in sessions, and cites known sources."""
    for fid, f in kb.procedure_fields.items():
        _need_sources(kb, files[fid], fid, f.sources, "sources")
        for t_id in f.treatments:
            t = kb.treatments.get(t_id)
            if t is None:
                raise KnowledgeError(files[fid], fid, f"treatments: unknown treatment {t_id!r}")
            if t.schedule != "sessions":
                raise KnowledgeError(files[fid], fid, f"treatments: {t_id!r} is daily care, it has no sessions")


def _check_aftercare(kb: KnowledgeBase, files: dict[str, str]) -> None:
    """The check-in page and the adverse-event form need every group, a "no problem" answer
    and signs to pick from where an answer offers them."""
    groups: tuple[AftercareGroup, ...] = get_args(AftercareGroup)
    for group in groups:
        if not kb.aftercare_terms(group):
            raise KnowledgeError("aftercare.yaml", None, f"needs at least one {group!r} entry")
    answers = kb.aftercare_terms("check_in_answer")
    if all(a.needs_attention for a in answers):
        raise KnowledgeError("aftercare.yaml", None, "one check_in_answer must not need attention (all is well)")
    for a in answers:
        if a.signs_from is None:
            continue
        topic = kb.education.get(a.signs_from)
        if topic is None or not topic.signs:
            raise KnowledgeError(
                files[a.id], a.id, f"signs_from: {a.signs_from!r} is not an education topic with signs"
            )


def check_vocabulary(kb: KnowledgeBase, files: dict[str, str]) -> None:
    """Every code is its own normal form, and no word means two codes (after `normal_form`)."""
    for code in kb.vocabulary:
        if normal_form(code) != code:
            raise KnowledgeError(files[code], code, f"id must be written as its normal form {normal_form(code)!r}")
    _table, clashes = term_table(kb.vocabulary)
    for word, first, second in clashes:
        if first == second:
            raise KnowledgeError(files[second], second, f"synonyms: {word!r} has no letters or digits")
        raise KnowledgeError(
            files[second], second, f"synonyms: {word!r} already means {first!r} (synonyms must be unique across codes)"
        )


def _steps_in(obj: object) -> Iterator[Step]:
    """Every care step inside `obj`, at any depth of structs, tuples and mappings."""
    if isinstance(obj, Step):
        yield obj
    elif isinstance(obj, msgspec.Struct):
        for f in obj.__struct_fields__:
            yield from _steps_in(getattr(obj, f))
    elif isinstance(obj, tuple | list):
        for v in obj:
            yield from _steps_in(v)
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _steps_in(v)


def _check_pause_texts(kb: KnowledgeBase, agent_files: dict[str, str], treatment_files: dict[str, str]) -> None:
    """An agent that a continuous treatment's step uses and any step avoids is paused by the
    timeline around procedures, which dates the agent's stop_text and resume_text: both needed."""

    def agents_of(name: str) -> set[str]:
        # a step names an agent, or a treatment that stands for the agents it prescribes
        return {name} if name in kb.agents else {a for a, ag in kb.agents.items() if name in ag.treatments}

    for tid, t in kb.treatments.items():
        for st in _steps_in(t):
            uses, avoids = {a for n in st.uses for a in agents_of(n)}, {a for n in st.avoids for a in agents_of(n)}
            if both := sorted(uses & avoids):
                msg = f"step {st.code or st.text[:30]!r} both uses and avoids {both[0]!r}"
                raise KnowledgeError(treatment_files[tid], tid, msg)
    # wherever the data keeps steps (protocols, rules, any other table), an avoid pauses daily care
    avoided = {a for st in _steps_in(kb) for n in st.avoids for a in agents_of(n)}
    for t in kb.treatments.values():
        if t.schedule != "continuous":
            continue
        for st in _steps_in(t):
            for a in sorted({a for n in st.uses for a in agents_of(n)} & avoided):
                agent = kb.agents[a]
                if not (agent.stop_text and agent.resume_text):
                    raise KnowledgeError(
                        agent_files[a],
                        a,
                        f"stop_text and resume_text: required, because {t.id} uses {a} every day and a "
                        "procedure's step avoids it, so the timeline pauses it",
                    )


def load_knowledge(overrides: Path | str | None = None, *, cache: bool = True) -> KnowledgeBase:
    """The knowledge base in force: bundled data, plus a clinic's overrides directory if given.

    A validated knowledge base is cached, keyed by the bytes of every file it was built from,
    so an edit to any data or override file is seen at the next load.
    """
    over = Path(overrides) if overrides else None
    if over is not None and not over.is_dir():
        raise KnowledgeError(str(over), None, "overrides directory does not exist")
    key = _cache_key(over) if cache else None
    if key is not None and (hit := _cache_read(key)) is not None:
        return hit
    raw, overridden = _load_raw(bundled_dir(), over)
    kb = _validate(raw, overridden)
    if key is not None:
        _cache_write(key, kb)
    return kb


def cache_dir() -> Path | None:
    if os.environ.get("CICATRIX_NO_CACHE"):
        return None
    base = os.environ.get("CICATRIX_CACHE_DIR") or os.environ.get("XDG_CACHE_HOME")
    return Path(base) / "cicatrix" if base else Path.home() / ".cache" / "cicatrix"


def _cache_key(over: Path | None) -> str | None:
    from cicatrix import __version__

    digest = hashlib.sha256(__version__.encode())
    # the models' and loader's own source: a schema change must never read a stale cache
    here = Path(__file__)
    for code in (here, *(here.with_name(n) for n in ("models.py", "frozen.py", "vocabulary.py"))):
        digest.update(code.read_bytes())
    roots = [bundled_dir()] + ([over] if over is not None else [])
    for root in roots:
        for path in sorted(root.rglob("*.yaml")):
            digest.update(str(path.relative_to(root)).encode())
            try:
                digest.update(path.read_bytes())
            except OSError:
                return None  # unreadable: load normally and let the loader name the file
    digest.update(str(over).encode())
    return digest.hexdigest()


def _cache_read(key: str) -> KnowledgeBase | None:
    folder = cache_dir()
    if folder is None:
        return None
    try:
        data = (folder / f"kb-{key}.msgpack").read_bytes()
        # typed decoding re-checks every type and constraint, so a damaged file cannot slip through
        return msgspec.msgpack.decode(data, type=KnowledgeBase)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):  # missing or stale: load normally
        return None


def _cache_write(key: str, kb: KnowledgeBase) -> None:
    import tempfile

    folder = cache_dir()
    if folder is None:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        cached = sorted(folder.glob("kb-*.msgpack"), key=lambda p: p.stat().st_mtime)
        for stale in cached[:-15]:  # keep the newest few: one per data/override version in use
            stale.unlink(missing_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, delete=False, suffix=".tmp") as fh:
            fh.write(msgspec.msgpack.encode(kb))
        os.replace(fh.name, folder / f"kb-{key}.msgpack")
    except OSError:
        return  # a read-only home is fine: the cache is only a speed-up


def overrides_from_env() -> Path | None:
    value = os.environ.get(OVERRIDES_ENV)
    return Path(value) if value else None
