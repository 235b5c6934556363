"""Load the bundled knowledge base, apply a clinic's overrides, validate, and fingerprint it.

A broken file fails loudly with `KnowledgeError`, naming the file and the entry.
Overrides mirror the bundled layout: an entry with the same `id` is deep-merged
(mappings merge, lists and values replace), a new `id` is added.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec

from cicatrix.knowledge.frozen import Frozen, describe
from cicatrix.knowledge.models import (
    Agent,
    Condition,
    EducationTopic,
    EvidenceLevelInfo,
    KnowledgeBase,
    Lesion,
    Mark,
    Matcher,
    Phototype,
    Policy,
    Scales,
    ScarType,
    SequencingRule,
    Source,
    Step,
    Treatment,
)

OVERRIDES_ENV = "CICATRIX_KNOWLEDGE_DIR"

# collection name -> (file or folder, model)
_COLLECTIONS: dict[str, tuple[str, type[Frozen]]] = {
    "sources": ("sources.yaml", Source),
    "phototypes": ("phototypes.yaml", Phototype),
    "scar_types": ("scar_types.yaml", ScarType),
    "marks": ("marks.yaml", Mark),
    "lesions": ("lesions.yaml", Lesion),
    "conditions": ("conditions.yaml", Condition),
    "agents": ("agents.yaml", Agent),
    "education": ("education.yaml", EducationTopic),
    "sequencing": ("sequencing.yaml", SequencingRule),
    "treatments": ("treatments", Treatment),
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
    """Apply step inheritance inside one treatment: its protocol's steps and every rule's added steps."""
    out = dict(data)
    out["protocol"] = _inherit_sources(out.get("protocol"), "steps")

    def rules(items: Any) -> Any:
        return [_inherit_sources(r, "add_steps") for r in items] if isinstance(items, list) else items

    contra = out.get("contraindications")
    if isinstance(contra, dict):
        out["contraindications"] = {k: rules(v) for k, v in contra.items()}
    if "phototype_cautions" in out:
        out["phototype_cautions"] = rules(out["phototype_cautions"])
    return out


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
    except msgspec.ValidationError as exc:
        raise KnowledgeError("knowledge.yaml", None, _error_text(exc)) from None
    try:
        scales = msgspec.convert(raw["scales.yaml"], Scales)
    except msgspec.ValidationError as exc:
        raise KnowledgeError("scales.yaml", None, _error_text(exc)) from None
    canonical = json.dumps(
        {
            k: ({i: d for i, (d, _f) in v.items()} if isinstance(v, dict) and k in _COLLECTIONS else v)
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
        agents=built["agents"],
        treatments=built["treatments"],
        sequencing=tuple(built["sequencing"].values()),
        education=built["education"],
        scales=scales,
        policy=policy,
        overridden=overridden,
    )
    check_references(kb, {c: {i: f for i, (_d, f) in raw[c].items()} for c in _COLLECTIONS})
    return kb


def check_references(kb: KnowledgeBase, files: dict[str, dict[str, str]]) -> None:
    """Every id an entry names must exist: sources, targets, condition codes, treatments."""

    def need_sources(label: str, eid: str, ids: tuple[str, ...], where: str) -> None:
        for s in ids:
            if s not in kb.sources:
                raise KnowledgeError(label, eid, f"{where}: unknown source {s!r}")

    def need_steps(label: str, eid: str, steps: tuple[Step, ...], where: str) -> None:
        for i, st in enumerate(steps):
            need_sources(label, eid, st.sources, f"{where}[{i}].sources")
            for field, names in (("uses", st.uses), ("avoids", st.avoids)):
                for name in names:
                    if name not in kb.agents and name not in kb.treatments:
                        raise KnowledgeError(label, eid, f"{where}[{i}].{field}: unknown agent or treatment {name!r}")

    targets = set(kb.scar_types) | set(kb.marks) | set(kb.lesions)
    for coll in ("phototypes", "scar_types", "marks", "lesions", "conditions", "agents", "education"):
        for eid, entry in getattr(kb, coll).items():
            need_sources(files[coll][eid], eid, entry.sources, "sources")
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
        for i, rule in enumerate(t.rules()):
            if rule.code not in kb.conditions:
                raise KnowledgeError(label, tid, f"rule #{i + 1}: unknown condition code {rule.code!r}")
            need_sources(label, tid, rule.sources, f"rule {rule.code}.sources")
            need_steps(label, tid, rule.add_steps, f"rule {rule.code}.add_steps")
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
        if g.condition not in kb.conditions:
            raise KnowledgeError("knowledge.yaml", g.code, f"unknown condition {g.condition!r}")
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
    for rid, m in matchers:
        if m.scar is not None and m.scar not in kb.scar_types:
            raise KnowledgeError("scales.yaml", rid, f"unknown scar type {m.scar!r}")
        if m.mark is not None and m.mark not in kb.marks:
            raise KnowledgeError("scales.yaml", rid, f"unknown mark {m.mark!r}")


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
    for code in (Path(__file__), Path(__file__).with_name("models.py"), Path(__file__).with_name("frozen.py")):
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
