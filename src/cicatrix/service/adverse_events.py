"""Adverse events: what went wrong after a session, recorded by a clinician against it.

Kind, severity and outcome are ids of the knowledge base (aftercare.yaml), so the words are the
clinic's and the outcomes export can count them per treatment and phototype. An event can be
started from a check-in that needs attention, which it then acknowledges. Edits are version
checked (a stale `version` is 409, and two edits racing leave one, through the row's
`version_id_col`). Clinicians only (`adverse_event.*` in the policy): the record of a
complication is the clinicians', like their notes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from cicatrix.knowledge.models import AftercareGroup
from cicatrix.service import audit, checkins, patients, plans
from cicatrix.service.context import Context
from cicatrix.service.errors import Conflict, Invalid, NotFound
from cicatrix.service.schemas import (
    AdverseEventIn,
    AdverseEventOut,
    AdverseEventUpdate,
    CheckInOut,
    PatientOut,
    SessionOut,
)
from cicatrix.storage.db import utcnow
from cicatrix.storage.models import AdverseEvent, CheckIn, CourseSession

_WORDS: dict[str, AftercareGroup] = {"kind": "adverse_event", "severity": "severity", "outcome": "outcome"}


def _term(ctx: Context, field: str, value: str) -> str:
    term = ctx.kb.aftercare.get(value)
    if term is None or term.group != _WORDS[field]:
        offered = ", ".join(t.id for t in ctx.kb.aftercare_terms(_WORDS[field]))
        raise Invalid(field, f"must be one of: {offered}", value=value)
    return value


def _onset(ctx: Context, s: CourseSession, onset: date) -> date:
    if onset < s.date:
        raise Invalid("onset", "is before the session the event is recorded against", value=onset.isoformat())
    if onset > ctx.today:
        raise Invalid("onset", "is in the future", value=onset.isoformat())
    return onset


def out(ctx: Context, e: AdverseEvent, s: CourseSession) -> AdverseEventOut:
    label = checkins.label_of
    return AdverseEventOut(
        id=e.id,
        patient_id=e.patient_id,
        session_id=e.session_id,
        session_date=s.date,
        treatment=s.treatment,
        check_in_id=e.check_in_id,
        kind=e.kind,
        kind_label=label(ctx.kb, e.kind),
        severity=e.severity,
        severity_label=label(ctx.kb, e.severity),
        outcome=e.outcome,
        outcome_label=label(ctx.kb, e.outcome),
        onset=e.onset,
        note=e.note,
        recorded_by=e.recorded_by,
        recorded_at=e.recorded_at,
        updated_by=e.updated_by,
        updated_at=e.updated_at,
        version=e.version,
    )


def session_for(ctx: Context, session_id: int) -> CourseSession:
    """A session of the actor's clinic an adverse event may be recorded against (404 otherwise)."""
    s = ctx.db.get(CourseSession, session_id)
    if s is None or s.clinic_id != ctx.actor.clinic_id:
        raise NotFound("session_id", "no such session")
    patients.load(ctx, s.patient_id, "adverse_event.write")
    return s


def create(ctx: Context, session_id: int, body: AdverseEventIn) -> AdverseEventOut:
    s = session_for(ctx, session_id)
    if s.status not in ("planned", "done"):
        raise Conflict("session_id", f"this session was {s.status}; record the event against the session given")
    check_in: CheckIn | None = None
    if body.check_in_id is not None:
        check_in = ctx.db.get(CheckIn, body.check_in_id)
        if check_in is None or check_in.session_id != s.id:
            raise Invalid("check_in_id", "is not a check-in of this session", value=body.check_in_id)
    e = AdverseEvent(
        clinic_id=s.clinic_id,
        patient_id=s.patient_id,
        session_id=s.id,
        check_in_id=body.check_in_id,
        kind=_term(ctx, "kind", body.kind),
        severity=_term(ctx, "severity", body.severity),
        outcome=_term(ctx, "outcome", body.outcome),
        onset=_onset(ctx, s, body.onset),
        note=(body.note or "").strip() or None,
        recorded_by=ctx.actor.user_id,
        recorded_at=utcnow(),
    )
    ctx.db.add(e)
    ctx.db.flush()
    audit.record(ctx, "create", "adverse_event", e.id, patient_id=s.patient_id)
    if check_in is not None:
        checkins.mark_acknowledged(ctx, check_in)
    ctx.db.flush()
    return out(ctx, e, s)


def _load(ctx: Context, event_id: int, permission: str) -> tuple[AdverseEvent, CourseSession]:
    e = ctx.db.get(AdverseEvent, event_id)
    if e is None or e.clinic_id != ctx.actor.clinic_id:
        raise NotFound("adverse_event_id", "no such adverse event")
    patients.load(ctx, e.patient_id, permission)
    s = ctx.db.get(CourseSession, e.session_id)
    assert s is not None  # foreign key
    return e, s


def get(ctx: Context, event_id: int) -> AdverseEventOut:
    e, s = _load(ctx, event_id, "adverse_event.read")
    audit.record(ctx, "read", "adverse_event", e.id, patient_id=e.patient_id)
    return out(ctx, e, s)


def update(ctx: Context, event_id: int, body: AdverseEventUpdate) -> AdverseEventOut:
    """Change what was recorded (usually the outcome as the event resolves); `version` as read."""
    e, s = _load(ctx, event_id, "adverse_event.write")
    if e.version != body.version:
        raise Conflict(
            "version",
            "the adverse event changed since you read it; reload it and apply your change again",
            current_version=e.version,
        )
    if body.kind is not None:
        e.kind = _term(ctx, "kind", body.kind)
    if body.severity is not None:
        e.severity = _term(ctx, "severity", body.severity)
    if body.outcome is not None:
        e.outcome = _term(ctx, "outcome", body.outcome)
    if body.onset is not None:
        e.onset = _onset(ctx, s, body.onset)
    if "note" in body.model_fields_set:
        e.note = (body.note or "").strip() or None
    e.updated_by = ctx.actor.user_id
    e.updated_at = utcnow()
    ctx.db.flush()
    audit.record(ctx, "update", "adverse_event", e.id, patient_id=e.patient_id)
    return out(ctx, e, s)


def for_patient(ctx: Context, patient_id: int) -> list[AdverseEventOut]:
    """A patient's adverse events, newest onset first (clinicians only)."""
    p = patients.load(ctx, patient_id, "adverse_event.read")
    rows = ctx.db.execute(
        select(AdverseEvent, CourseSession)
        .join(CourseSession, CourseSession.id == AdverseEvent.session_id)
        .where(AdverseEvent.patient_id == p.id)
        .order_by(AdverseEvent.onset.desc(), AdverseEvent.id.desc())
    ).all()
    audit.record(ctx, "list", "adverse_event", None, patient_id=p.id, detail=f"results={len(rows)}")
    return [out(ctx, e, s) for e, s in rows]


@dataclass(frozen=True)
class EventForm:
    """What the adverse-event form shows around its fields: the session, its patient, and the
    check-in it was started from."""

    session: SessionOut
    patient: PatientOut
    check_in: CheckInOut | None


def form_view(ctx: Context, session_id: int, check_in_id: int | None = None) -> EventForm:
    s = session_for(ctx, session_id)
    check_in = None
    if check_in_id is not None:
        row, cs = checkins.load(ctx, check_in_id, "checkin.read")
        if row.session_id != s.id:
            raise NotFound("check_in_id", "no such check-in of this session")
        check_in = checkins.out(ctx, row, cs)
    return EventForm(plans.session_out(ctx, s), patients.get(ctx, s.patient_id), check_in)
