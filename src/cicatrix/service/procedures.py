"""A session's procedure note: what was done, with what, where.

The fields come from the knowledge data (`procedure_notes.yaml`: device, needle depth and passes
for micro-needling; wavelength, energy and density for lasers; product and lot number for fillers
and steroids; treated areas, anaesthetic and a free-text note for every treatment), so a clinic
adds or narrows a field without code. Values are checked against the field's kind, bounds and
choices, and a refusal names the field (`values.needle_depth_mm`). Only clinicians write or read
notes (`policy`: `session.procedure`); the note is stored with the session, version-checked.
"""

from __future__ import annotations

import math
from typing import Any

from cicatrix.exports.record import ProcedureDetail, ProcedureNote
from cicatrix.knowledge.models import KnowledgeBase, ProcedureField
from cicatrix.service import audit
from cicatrix.service.context import Context
from cicatrix.service.errors import Conflict, Invalid
from cicatrix.service.plans import load_session, session_out
from cicatrix.service.schemas import ProcedureIn, SessionOut

EMPTY = (None, "", [])


def fields_for(kb: KnowledgeBase, treatment: str) -> tuple[ProcedureField, ...]:
    return kb.procedure_fields_for(treatment)


def _number(f: ProcedureField, raw: Any, where: str) -> float | int:
    if isinstance(raw, bool):
        raise Invalid(where, f"{f.label} must be a number", value=raw)
    if isinstance(raw, str):
        try:
            raw = float(raw.strip().replace(",", "."))
        except ValueError:
            raise Invalid(where, f"{f.label} must be a number", value=raw) from None
    if not isinstance(raw, (int, float)) or not math.isfinite(raw):
        raise Invalid(where, f"{f.label} must be a number", value=str(raw))
    if f.kind == "integer":
        if float(raw) != int(raw):
            raise Invalid(where, f"{f.label} must be a whole number", value=raw)
        raw = int(raw)
    assert f.minimum is not None and f.maximum is not None
    if not f.minimum <= raw <= f.maximum:
        raise Invalid(where, f"{f.label} must be between {f.minimum:g} and {f.maximum:g} {f.unit}", value=raw)
    return raw


def _value(kb: KnowledgeBase, f: ProcedureField, raw: Any, where: str) -> Any:
    if f.kind in ("number", "integer"):
        return _number(f, raw, where)
    if f.kind == "text":
        if not isinstance(raw, str):
            raise Invalid(where, f"{f.label} must be text", value=str(raw)[:100])
        text = raw.strip()
        if len(text) > f.max_length:
            raise Invalid(where, f"{f.label} is longer than {f.max_length} characters")
        return text
    if f.kind == "choice":
        ids = [c.id for c in f.choices]
        if raw not in ids:
            labels = ", ".join(c.label for c in f.choices)
            raise Invalid(where, f"{f.label} must be one of: {labels}", value=str(raw)[:100])
        return raw
    # regions: a list of region ids
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not all(isinstance(r, str) for r in raw):
        raise Invalid(where, f"{f.label} must be a list of body regions", value=str(raw)[:100])
    for i, r in enumerate(raw):
        if r not in kb.regions:
            raise Invalid(f"{where}[{i}]", f"{f.label}: unknown body region", value=r[:64])
    return list(dict.fromkeys(raw))


def check(kb: KnowledgeBase, treatment: str, values: dict[str, Any]) -> dict[str, Any]:
    """The note's values, checked and normalised; blanks are left out. `Invalid` names the field."""
    fields = {f.id: f for f in fields_for(kb, treatment)}
    name = kb.treatments[treatment].name if treatment in kb.treatments else treatment
    out: dict[str, Any] = {}
    for key, raw in values.items():
        where = f"values.{key}"
        f = fields.get(key)
        if f is None:
            raise Invalid(where, f"not a field of the {name} procedure note", value=key[:64])
        if raw in EMPTY or (isinstance(raw, str) and not raw.strip()):
            continue
        out[key] = _value(kb, f, raw, where)
    if not out:
        raise Invalid("values", "the procedure note is empty: fill in at least one field")
    return {k: out[k] for k in fields if k in out}  # in the knowledge data's order


def _shown(f: ProcedureField, kb: KnowledgeBase, value: Any) -> str:
    if f.kind in ("number", "integer"):
        return f"{value:g} {f.unit}" if isinstance(value, (int, float)) else str(value)
    if f.kind == "choice":
        return next((c.label for c in f.choices if c.id == value), str(value))
    if f.kind == "regions":
        return ", ".join(kb.regions[r].label if r in kb.regions else r for r in value)
    return str(value)


def describe(kb: KnowledgeBase, treatment: str, values: dict[str, Any]) -> ProcedureNote:
    """A stored note as people read it (labels and units from the knowledge data): the course
    history and the FHIR Procedure show this. The free-text field `note` and the treated areas
    are kept apart; a field the knowledge data no longer has is shown under its id."""
    fields = {f.id: f for f in kb.procedure_fields.values()}
    regions: tuple[str, ...] = ()
    details: list[ProcedureDetail] = []
    note = None
    for key, value in values.items():
        f = fields.get(key)
        if key == "note" and isinstance(value, str):
            note = value
        elif f is not None and f.kind == "regions" and isinstance(value, list):
            regions = tuple(str(r) for r in value)
            details.append(ProcedureDetail(id=key, label=f.label, text=_shown(f, kb, value)))
        elif f is not None:
            details.append(ProcedureDetail(id=key, label=f.label, text=_shown(f, kb, value)))
        else:
            details.append(ProcedureDetail(id=key, label=key.replace("_", " "), text=str(value)))
    return ProcedureNote(regions=regions, details=tuple(details), note=note)


def record(ctx: Context, session_id: int, body: ProcedureIn) -> SessionOut:
    """Store (or correct) the procedure note of a session that was given."""
    s = load_session(ctx, session_id, "session.procedure")
    if s.status != "done":
        raise Conflict("status", f"a procedure note is recorded for a session given (this one is {s.status})")
    if s.version != body.session_version:
        raise Conflict(
            "session_version",
            "the session changed since you read it; reload the course and record the note again",
            current_version=s.version,
        )
    s.procedure = check(ctx.kb, s.treatment, body.values)
    audit.record(ctx, "procedure", "course_session", s.id, patient_id=s.patient_id)
    ctx.db.flush()
    return session_out(ctx, s)
