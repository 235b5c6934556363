"""Plans: propose from an assessment, approve, edit with a reason, run the course.

Every change goes back through the engine, so the safety screening applies to edits too:
an excluded treatment is only ever scheduled under an explicit clinician override with a
reason, and that override is stored with the plan and audited.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

import msgspec
from pydantic import TypeAdapter
from pydantic_core import to_json
from sqlalchemy import TextClause, bindparam, select, text, update
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from cicatrix.engine.case import Case, CaseError
from cicatrix.engine.plan import ClinicianOverride, plan_case
from cicatrix.engine.reschedule import reschedule_plan
from cicatrix.engine.result import Plan as EnginePlan
from cicatrix.engine.timeline import instructions_for
from cicatrix.knowledge.frozen import to_data
from cicatrix.service import (
    assessments,
    audit,
    booking_events,
    changeover,
    clinic_calendar,
    outbox,
    patients,
    policy,
    queries,
    screening,
)
from cicatrix.service.booking_schemas import SessionUndoIn
from cicatrix.service.clock import zone_of
from cicatrix.service.context import Context
from cicatrix.service.errors import Conflict, Invalid, NotFound
from cicatrix.service.policy import (
    PLAN_STATUSES_SEEN,
    may_see_field,
    may_see_plan,
    plan_statuses,
    require_patient_access,
)
from cicatrix.service.schemas import (
    AssessmentCreated,
    AssessmentIn,
    BookingEffectOut,
    DayOut,
    OverrideIn,
    OverrideOut,
    PlanChangeOut,
    PlanCreate,
    PlanEditIn,
    PlanEditOut,
    PlanOut,
    PlanSummary,
    ScheduleOut,
    SessionDoneIn,
    SessionMissedIn,
    SessionOut,
    TodayOut,
    WithdrawIn,
)
from cicatrix.storage.db import utcnow
from cicatrix.storage.models import Appointment, Assessment, CourseSession, Patient, Plan, PlanEdit

# ---------- shaping ----------


def session_out(ctx: Context, s: CourseSession) -> SessionOut:
    return _seen(ctx, SessionOut.model_validate(s, from_attributes=True))


def _seen(ctx: Context, s: SessionOut) -> SessionOut:
    """The session as the actor's role may see it: its note and procedure note only for
    clinicians (`policy.FIELDS_SEEN`)."""
    hide: dict[str, None] = {}
    if s.note is not None and not may_see_field(ctx.actor, "session.note"):
        hide["note"] = None
    if s.procedure is not None and not may_see_field(ctx.actor, "session.procedure"):
        hide["procedure"] = None
    return s.model_copy(update=hide) if hide else s


# The hot reads are built once: SQLAlchemy memoises a statement's cache key on the object, so
# reusing it skips constructing and hashing the expression on every request.
_SESSIONS = (
    select(CourseSession)
    .where(CourseSession.plan_id == bindparam("plan_id"))
    .order_by(CourseSession.date, CourseSession.id)
)
_EDITS = select(PlanEdit).where(PlanEdit.plan_id == bindparam("plan_id")).order_by(PlanEdit.id)


def _sessions(ctx: Context, plan_id: int) -> list[CourseSession]:
    return list(ctx.db.scalars(_SESSIONS, {"plan_id": plan_id}))


def _plan_fields(r: Any) -> dict[str, Any]:
    """PlanOut's own fields from a plan row: an ORM `Plan` or a row of the one-statement read."""
    return {
        "id": r.id,
        "patient_id": r.patient_id,
        "assessment_id": r.assessment_id,
        "status": r.status,
        "version": r.version,
        "knowledge_version": r.knowledge_version,
        "created_by": r.created_by,
        "created_at": r.created_at,
        "approved_by": r.approved_by,
        "approved_at": r.approved_at,
        "preferences": r.preferences or {},
        "overrides": [OverrideOut(**o) for o in (r.overrides or [])],
    }


def out(
    ctx: Context,
    p: Plan,
    preview: bool = False,
    sessions: list[CourseSession] | None = None,
    edits: list[PlanEdit] | None = None,
) -> PlanOut:
    """The plan as the API shows it. A caller that has just created the plan passes its
    sessions and edits (already flushed, in order), saving two queries."""
    if edits is None:
        edits = list(ctx.db.scalars(_EDITS, {"plan_id": p.id}))
    if sessions is None:
        sessions = _sessions(ctx, p.id)
    return PlanOut(
        **_plan_fields(p),
        plan=p.proposal,
        sessions=[session_out(ctx, s) for s in sessions],
        edits=[
            PlanEditOut(
                id=e.id,
                user_id=e.user_id,
                at=e.at,
                kind=e.kind,
                reason=e.reason,
                override=e.override,
                change=e.change or {},
                from_version=e.from_version,
            )
            for e in edits
        ],
        preview=preview,
    )


def summary(p: Plan) -> PlanSummary:
    return PlanSummary.model_validate(p, from_attributes=True)


# ---------- engine calls ----------


def _case(ctx: Context, a: Assessment, preferences: dict[str, Any]) -> Case:
    return assessments.parse(ctx, {**a.input, "preferences": preferences})


def _overrides(ctx: Context, case: Case, given: list[OverrideIn], field: str) -> None:
    """An override must name a treatment the screening actually excludes for this patient."""
    if given:
        screening.check_overrides(ctx, screening.screen_case(ctx, case), given, field)


def _run(ctx: Context, case: Case, overrides: list[dict[str, Any]]) -> EnginePlan:
    """The engine's plan, with every session and the follow-up on a day the clinic is open."""
    from cicatrix.engine.booking import fit_to_calendar
    from cicatrix.service.clinic_calendar import calendar_for

    ovs = tuple(ClinicianOverride(o["treatment"], o["reason"]) for o in overrides)
    return fit_to_calendar(plan_case(case, ctx.kb, ovs), case, ctx.kb, calendar_for(ctx), ovs)


def _with_start(ctx: Context, case: Case, preferences: dict[str, Any], overrides: list[dict[str, Any]]) -> Case:
    """The case with a start: the preferred one, else the first open day at which every care
    step before the first session falls on or after today (`engine.booking.default_start`);
    `preferences` gets it too, so the stored plan and every re-flow start from the same day."""
    from cicatrix.engine.booking import default_start
    from cicatrix.service.clinic_calendar import calendar_for

    if case.preferences.start is not None:
        return case
    ovs = tuple(ClinicianOverride(o["treatment"], o["reason"]) for o in overrides)
    start = default_start(case, ctx.kb, ctx.today, calendar_for(ctx), ovs)
    preferences["start"] = start.isoformat()
    return msgspec.structs.replace(case, preferences=msgspec.structs.replace(case.preferences, start=start))


def _check_requested(plan: EnginePlan, treatments: list[str] | None, field: str) -> None:
    """The safety invariant for edits: a requested treatment that stays excluded is refused."""
    excluded = {e.treatment: e for e in plan.excluded}
    for i, t in enumerate(treatments or []):
        if t in excluded:
            why = "; ".join(f"{r.code}: {r.message}" for r in excluded[t].reasons)
            raise Invalid(
                f"{field}[{i}]",
                f"{t} is excluded for this patient ({why}); scheduling it needs an override with a reason",
                value=t,
            )


def _sync_sessions(
    ctx: Context, p: Plan, plan: EnginePlan, existing: list[CourseSession] | None = None
) -> list[CourseSession]:
    """Replace the planned sessions with the engine's course; given or missed ones stay.
    Returns the rows it added (`existing=[]`: a new plan, nothing to look up)."""
    if existing is None:
        existing = _sessions(ctx, p.id)
    added: list[CourseSession] = []
    kept = {(s.treatment, s.number) for s in existing if s.status == "done"}
    old_planned = {(s.treatment, s.number): s for s in existing if s.status == "planned"}
    for s in plan.course.sessions:
        key = (s.treatment, s.number)
        if key in kept:
            continue
        row = old_planned.pop(key, None)
        if row is None:
            added.append(
                CourseSession(
                    clinic_id=p.clinic_id,
                    patient_id=p.patient_id,
                    plan_id=p.id,
                    treatment=s.treatment,
                    number=s.number,
                    date=s.date,
                    status="planned",
                    sequence=0,
                )
            )
            ctx.db.add(added[-1])
        elif row.date != s.date:
            row.date = s.date
            row.sequence += 1
    for row in old_planned.values():
        row.status = "cancelled"
        row.sequence += 1
    return added


def _stale(p: Plan, version: int | None) -> None:
    if version is not None and p.version != version:
        raise Conflict(
            "version",
            "the plan changed since you read it; reload it and apply your change again",
            current_version=p.version,
        )


def _stale_session(s: CourseSession, version: int | None) -> None:
    if version is not None and s.version != version:
        raise Conflict(
            "session_version",
            "the session changed since you read it; reload the course and record it again",
            current_version=s.version,
        )


def _lock_patient(ctx: Context, patient_id: int) -> None:
    """Serialise approvals of one patient's plans: on PostgreSQL the patient row is locked
    (`FOR NO KEY UPDATE`, which still lets rows referencing the patient be written) until the
    unit of work ends, so a concurrent approval waits and then sees this one. SQLite's
    `BEGIN IMMEDIATE` already runs writers one at a time and the clause is left out there."""
    ctx.db.execute(select(Patient.id).where(Patient.id == patient_id).with_for_update(key_share=True))


def _flush(ctx: Context) -> None:
    try:
        ctx.db.flush()
    except StaleDataError:  # the unit of work rolls back
        raise Conflict("version", "the plan changed since you read it; reload it") from None


# ---------- use cases ----------


def _new_plan(ctx: Context, a: Assessment, case: Case, preferences: dict[str, Any], given: list[OverrideIn]) -> PlanOut:
    """Propose, store and return a new plan (its sessions and edits are known: no re-read)."""
    _overrides(ctx, case, given, "overrides")
    now = utcnow()
    ovs = [
        {"treatment": o.treatment, "reason": o.reason, "by": ctx.actor.user_id, "at": now.isoformat()} for o in given
    ]
    preferences = dict(preferences)
    case = _with_start(ctx, case, preferences, ovs)
    plan = _run(ctx, case, ovs)
    # A proposal may list a requested treatment as excluded (the engine says why); only an
    # edit that insists on scheduling one is refused. What is scheduled passes the one gate.
    screening.screen_plan(ctx, case, plan, {o.treatment for o in given})
    p = Plan(
        clinic_id=a.clinic_id,
        patient_id=a.patient_id,
        assessment_id=a.id,
        proposal=to_data(plan),
        preferences=preferences,
        overrides=ovs,
        knowledge_version=plan.knowledge_version,
        status="proposed",
        created_by=ctx.actor.user_id,
        created_at=now,
    )
    ctx.db.add(p)
    ctx.db.flush()
    supersede_proposals(ctx, p.patient_id, f"replaced by plan {p.id}", keep=p.id)
    edits = record_overrides(ctx, p, given, now, from_version=0)
    added = _sync_sessions(ctx, p, plan, existing=[])
    audit.record(ctx, "create", "plan", p.id, patient_id=p.patient_id)
    ctx.db.flush()
    added.sort(key=lambda s: (s.date, s.id))
    return out(ctx, p, sessions=added, edits=edits)


def assess(ctx: Context, patient_id: int, body: AssessmentIn) -> AssessmentCreated:
    """Store an assessment and, by default, propose a plan from it, in one transaction."""
    a, case = assessments.add(ctx, patient_id, body)
    plan_out = None
    if not body.generate_plan:  # a new assessment makes the older proposals out of date either way
        supersede_proposals(ctx, patient_id, f"assessment {a.id} recorded since")
    if body.generate_plan:
        require_patient_access(ctx.actor, "plan.create", patient_id)
        plan_out = _new_plan(ctx, a, case, body.preferences or {}, [])
    result = AssessmentCreated(assessment=assessments.out(ctx, a), plan=plan_out)
    return result


def generate(ctx: Context, assessment_id: int, body: PlanCreate) -> PlanOut:
    a = assessments.load(ctx, assessment_id, "plan.create")
    prefs = body.preferences if body.preferences is not None else a.input.get("preferences", {})
    case = _case(ctx, a, prefs)
    result = _new_plan(ctx, a, case, prefs, body.overrides)
    return result


def _load(ctx: Context, plan_id: int, permission: str) -> Plan:
    p = ctx.db.get(Plan, plan_id)
    if p is None or p.clinic_id != ctx.actor.clinic_id:
        raise NotFound("plan_id", "no such plan")
    try:
        require_patient_access(ctx.actor, permission, p.patient_id)
    except NotFound:
        raise NotFound("plan_id", "no such plan") from None
    if not may_see_plan(ctx.actor, p.status):
        raise NotFound("plan_id", "no such plan")
    return p


def get(ctx: Context, plan_id: int) -> PlanOut:
    p = _load(ctx, plan_id, "plan.read")
    audit.record(ctx, "read", "plan", p.id, patient_id=p.patient_id)
    result = out(ctx, p)
    return result


def current(ctx: Context, patient_id: int) -> PlanOut:
    """The running course: the approved plan; for clinicians, the newest proposal while
    nothing is approved (`queries.current_plan`; a newer proposal is `proposed_change`)."""
    require_patient_access(ctx.actor, "plan.read", patient_id)
    # The patient check and the plan lookup in one statement (the hottest read of the API).
    query = queries.current_with_patient(plan_statuses(ctx.actor))
    row = ctx.db.execute(query, {"patient_id": patient_id}).first()
    if row is None or row.clinic_id != ctx.actor.clinic_id:
        raise NotFound("patient_id", "no such patient")
    p = row.Plan
    if p is None:
        raise NotFound("plan", "this patient has no plan yet")
    audit.record(ctx, "read", "plan", p.id, patient_id=p.patient_id)
    result = out(ctx, p)
    return result


# `current()` for the API on PostgreSQL, in one statement: the patient's clinic, the running
# course (the approved plan first, else the newest proposal the role sees), its sessions and
# edits (as JSON arrays) and the stored plan JSON as text, which goes into the response as it
# is instead of being parsed, validated and serialised again (~19 KB).
_PG_CURRENT = """
SELECT pt.clinic_id AS patient_clinic_id, p.id, p.patient_id, p.assessment_id, p.status, p.version,
       p.knowledge_version, p.created_by, p.created_at, p.approved_by, p.approved_at,
       p.preferences, p.overrides, p.proposal::text AS proposal,
       (SELECT json_agg(s ORDER BY s.date, s.id) FROM course_session s WHERE s.plan_id = p.id)::text
           AS sessions,
       (SELECT json_agg(json_build_object('id', e.id, 'user_id', e.user_id, 'at', e.at, 'kind', e.kind,
                                          'reason', e.reason, 'override', e.override,
                                          'change', coalesce(e.change, '{}'::json),
                                          'from_version', e.from_version) ORDER BY e.id)
          FROM plan_edit e WHERE e.plan_id = p.id)::text AS edits
  FROM patient pt
  LEFT JOIN plan p ON p.id = (SELECT o.id FROM plan o
                               WHERE o.patient_id = pt.id AND o.status IN :statuses
                               ORDER BY (o.status = 'approved') DESC, o.id DESC LIMIT 1)
 WHERE pt.id = :patient_id
"""


@lru_cache(maxsize=8)
def _pg_current(statuses: tuple[str, ...]) -> TextClause:
    return text(_PG_CURRENT).bindparams(bindparam("statuses", statuses, expanding=True), bindparam("patient_id"))


_SESSION_LIST = TypeAdapter(list[SessionOut])
_EDIT_LIST = TypeAdapter(list[PlanEditOut])
_HEAD = {"plan", "sessions", "edits", "preview"}
_TAIL = {"sessions", "edits", "preview"}


def current_json(ctx: Context, patient_id: int) -> bytes:
    """`current()` as the API sends it (JSON bytes): the same checks, audit event and body."""
    if ctx.db.get_bind().dialect.name != "postgresql":
        return to_json(current(ctx, patient_id))
    require_patient_access(ctx.actor, "plan.read", patient_id)
    query = _pg_current(plan_statuses(ctx.actor))
    row = ctx.db.execute(query, {"patient_id": patient_id}).first()
    if row is None or row.patient_clinic_id != ctx.actor.clinic_id:
        raise NotFound("patient_id", "no such patient")
    if row.id is None:
        raise NotFound("plan", "this patient has no plan yet")
    audit.record(ctx, "read", "plan", row.id, patient_id=row.patient_id)
    result = PlanOut(
        **_plan_fields(row),
        plan={},
        sessions=[_seen(ctx, s) for s in _SESSION_LIST.validate_json(row.sessions or "[]")],
        edits=_EDIT_LIST.validate_json(row.edits or "[]"),
    )
    # The body in the model's field order, with the stored plan JSON spliced in verbatim.
    head = to_json(result, exclude=_HEAD)
    tail = to_json(result, include=_TAIL)
    body = b"".join((head[:-1], b',"plan":', row.proposal.encode(), b",", tail[1:]))
    return body


def list_for_patient(ctx: Context, patient_id: int) -> list[PlanSummary]:
    pt = patients.load(ctx, patient_id, "plan.read")
    q = select(Plan).where(Plan.patient_id == pt.id, Plan.status.in_(PLAN_STATUSES_SEEN.get(ctx.actor.role, ())))
    rows = ctx.db.scalars(q.order_by(Plan.id.desc())).all()
    audit.record(ctx, "list", "plan", None, patient_id=pt.id, detail=f"results={len(rows)}")
    result = [summary(p) for p in rows]
    return result


def _retire(ctx: Context, p: Plan, status: str, reason: str, kind: str) -> None:
    """Take a plan out of force (superseded or withdrawn): its planned sessions are cancelled,
    given and missed ones stay as history; the change is an edit in its history and audited."""
    from_version = p.version
    p.status = status
    planned = ctx.db.scalars(
        select(CourseSession).where(CourseSession.plan_id == p.id, CourseSession.status == "planned")
    ).all()
    booking_events.unbook(ctx, planned, f"the plan was {status}")  # their appointments go with them
    ctx.db.execute(
        update(CourseSession)
        .where(CourseSession.plan_id == p.id, CourseSession.status == "planned")
        .values(status="cancelled", sequence=CourseSession.sequence + 1, version=CourseSession.version + 1)
        .execution_options(synchronize_session="fetch")
    )
    ctx.db.add(
        PlanEdit(
            plan_id=p.id,
            user_id=ctx.actor.user_id,
            at=utcnow(),
            kind=kind,
            reason=reason,
            override=False,
            change={"status": status},
            from_version=from_version,
        )
    )
    audit.record(ctx, kind, "plan", p.id, patient_id=p.patient_id)


def supersede_proposals(ctx: Context, patient_id: int, reason: str, keep: int | None = None) -> list[int]:
    """Supersede the patient's unapproved proposals (all but `keep`): a new assessment or a
    new proposal makes them out of date, so they do not pile up on the dashboard."""
    stale = ctx.db.scalars(
        select(Plan).where(Plan.patient_id == patient_id, Plan.status == "proposed", Plan.id != (keep or 0))
    ).all()
    for old in stale:
        _retire(ctx, old, "superseded", reason, "supersede")
    return [old.id for old in stale]


def withdraw(ctx: Context, plan_id: int, body: WithdrawIn) -> PlanOut:
    """Discard a proposal with a reason; it stays in the history as `withdrawn`."""
    p = _load(ctx, plan_id, "plan.withdraw")
    _stale(p, body.version)
    if p.status != "proposed":
        raise Conflict("status", f"only a proposed plan can be withdrawn (this one is {p.status})")
    _retire(ctx, p, "withdrawn", body.reason, "withdraw")
    _flush(ctx)
    result = out(ctx, p)
    return result


def _running(ctx: Context, p: Plan) -> Plan | None:
    """The approved plan a proposal would replace."""
    return ctx.db.scalar(
        select(Plan).where(Plan.patient_id == p.patient_id, Plan.status == "approved", Plan.id != p.id)
    )


def _change(ctx: Context, p: Plan, running: Plan | None) -> tuple[PlanChangeOut, list[changeover.BookingEffect]]:
    """What approving `p` would do to the running course's bookings (`changeover`)."""
    old_rows = _sessions(ctx, running.id) if running is not None else []
    booked = [s for s in old_rows if s.status == "planned"]
    proposed = [s for s in _sessions(ctx, p.id) if s.status == "planned"]
    effects = changeover.booking_effects(booked, proposed)
    old_t = {s.treatment for s in booked}
    new_t = {s.treatment for s in proposed}
    change = PlanChangeOut(
        plan_id=p.id,
        running_plan_id=running.id if running is not None else None,
        treatments_added=sorted(new_t - old_t),
        treatments_removed=sorted(old_t - new_t),
        bookings=[BookingEffectOut.model_validate(e, from_attributes=True) for e in effects],
        done=sum(1 for s in old_rows if s.status == "done"),
        token=changeover.token(effects, {s.id: s.version for s in booked}),
    )
    return change, effects


def proposed_change(ctx: Context, plan_id: int) -> PlanChangeOut:
    """A proposal beside the running course: the treatments and bookings it would change."""
    p = _load(ctx, plan_id, "plan.read")
    if p.status != "proposed":
        raise Conflict("status", f"only a proposed plan changes the course (this one is {p.status})")
    audit.record(ctx, "read", "plan", p.id, patient_id=p.patient_id, detail="change")
    return _change(ctx, p, _running(ctx, p))[0]


def approval_preview(ctx: Context, plan_id: int, version: int, start: date | None = None) -> PlanChangeOut:
    """The dry run of `approve` (with the same `start`): the same checks, what it would do,
    nothing changed (a chosen start is tried in a savepoint that is rolled back)."""
    p = _load(ctx, plan_id, "plan.approve")
    _stale(p, version)
    if p.status != "proposed":
        raise Conflict("status", f"only a proposed plan can be approved (this one is {p.status})")
    trial = ctx.db.begin_nested() if start is not None else None
    try:
        if start is not None:
            _start_at(ctx, p, start, version)
        _screen_against_current_facts(ctx, p)
        change = _change(ctx, p, _running(ctx, p))[0]
    finally:
        if trial is not None:
            trial.rollback()
    audit.record(ctx, "preview", "plan", p.id, patient_id=p.patient_id, detail="approve")
    return change


def approve(
    ctx: Context, plan_id: int, version: int, expected_change: str | None = None, start: date | None = None
) -> PlanOut:
    """A clinician takes responsibility for the plan and it becomes the running course.

    The approved plan it replaces is superseded; each of its bookings is kept, moved or
    cancelled as `changeover.booking_effects` pairs it with the new course (the preview showed
    exactly this: `expected_change` is its token), and a kept or moved booking keeps its row,
    now in the new plan. Given and missed sessions stay with the old plan as history. Older
    proposals of the patient are superseded too. A `start` chosen at approval re-plans the
    course from it first (`_start_at`)."""
    p = _load(ctx, plan_id, "plan.approve")
    _lock_patient(ctx, p.patient_id)
    _stale(p, version)
    if p.status != "proposed":
        raise Conflict("status", f"only a proposed plan can be approved (this one is {p.status})")
    if start is not None:
        _start_at(ctx, p, start, version)
    _screen_against_current_facts(ctx, p)
    now = utcnow()
    old = _running(ctx, p)
    change, effects = _change(ctx, p, old)
    if expected_change is not None and expected_change != change.token:
        raise Conflict(
            "expected_change",
            "the booked sessions changed since the preview; review what approving does now and confirm again",
        )
    rows = {s.id: s for s in (_sessions(ctx, old.id) if old is not None else [])}
    rows.update({s.id: s for s in _sessions(ctx, p.id)})
    for e in effects:
        if e.effect in ("kept", "moved") and e.session_id is not None and e.new_session_id is not None:
            booking, placeholder = rows[e.session_id], rows[e.new_session_id]
            ctx.db.delete(placeholder)
            ctx.db.flush()  # the new plan's own row goes before the booking takes its place
            booking.plan_id = p.id
            booking.number = e.number
            if e.effect == "moved":
                assert e.new_date is not None
                booking_events.unbook(ctx, [booking], "the new plan moved this session; book it again")
                booking.date = e.new_date
                booking.sequence += 1
            audit.record(
                ctx,
                "rebook" if e.effect == "moved" else "keep",
                "course_session",
                booking.id,
                patient_id=p.patient_id,
                detail=f"plan {p.id}",
            )
        elif e.effect == "cancelled" and e.session_id is not None:
            audit.record(ctx, "cancel", "course_session", e.session_id, patient_id=p.patient_id, detail=f"plan {p.id}")
    _flush(ctx)
    if old is not None:
        _retire(ctx, old, "superseded", f"replaced by plan {p.id}", "supersede")
    for stale in ctx.db.scalars(
        select(Plan).where(Plan.patient_id == p.patient_id, Plan.status == "proposed", Plan.id < p.id)
    ).all():
        _retire(ctx, stale, "superseded", f"plan {p.id} approved", "supersede")
    _flush(ctx)  # the old plan leaves "approved" before this one enters it (one approved per patient)
    p.status = "approved"
    p.approved_by = ctx.actor.user_id
    p.approved_at = now
    ctx.db.add(
        PlanEdit(
            plan_id=p.id,
            user_id=ctx.actor.user_id,
            at=now,
            kind="approve",
            reason="approved",
            override=False,
            change={"bookings": [b.model_dump(mode="json") for b in change.bookings]} if change.bookings else {},
            from_version=version,
        )
    )
    audit.record(ctx, "approve", "plan", p.id, patient_id=p.patient_id)
    _flush(ctx)
    outbox.refresh(ctx.db, ctx.kb, p.patient_id, ctx.now)  # the course's messages, in this transaction
    result = out(ctx, p)
    return result


def _start_at(ctx: Context, p: Plan, start: date, version: int) -> None:
    """The preferred start chosen at the approval step: the proposal is planned again from it
    (the same engine, gate and calendar as any edit), recorded in its history, then approved."""
    if start < ctx.today:
        raise Invalid("start", f"{start.isoformat()} is in the past (today is {ctx.today.isoformat()})")
    prefs = dict(p.preferences or {})
    if prefs.get("start") == start.isoformat():
        return
    prefs["start"] = start.isoformat()
    a = ctx.db.get(Assessment, p.assessment_id)
    assert a is not None
    case = _case(ctx, a, prefs)
    plan = _run(ctx, case, list(p.overrides or []))
    screening.screen_plan(ctx, case, plan, {o["treatment"] for o in p.overrides or []})
    p.proposal = to_data(plan)
    p.preferences = prefs
    ctx.db.add(
        PlanEdit(
            plan_id=p.id,
            user_id=ctx.actor.user_id,
            at=utcnow(),
            kind="edit",
            reason="start chosen at approval",
            override=False,
            change={"start": prefs["start"]},
            from_version=version,
        )
    )
    _sync_sessions(ctx, p, plan)


def record_overrides(
    ctx: Context, p: Plan, overrides: Iterable[OverrideIn], at: datetime, from_version: int
) -> list[PlanEdit]:
    """Each clinician override of a plan, as an edit in its history and an audit event."""
    edits = []
    for o in overrides:
        edit = PlanEdit(
            plan_id=p.id,
            user_id=ctx.actor.user_id,
            at=at,
            kind="override",
            reason=o.reason,
            override=True,
            change={"treatment": o.treatment},
            from_version=from_version,
        )
        ctx.db.add(edit)
        edits.append(edit)
        audit.record(ctx, "override", "plan", p.id, patient_id=p.patient_id, detail=o.treatment)
    return edits


def _screen_against_current_facts(
    ctx: Context, p: Plan, proposal: EnginePlan | None = None, field: str = "plan"
) -> None:
    """The gate once more, with the patient as recorded now: a proposal made before the patient
    became pregnant, or started tacrolimus, must not become the running course at approval, and
    a re-flowed course (`proposal`, a missed session's) must not be written over such a change."""
    a = ctx.db.get(Assessment, p.assessment_id)
    patient = ctx.db.get(Patient, p.patient_id)
    assert a is not None and patient is not None
    now_case = {**a.input, "patient": assessments.case_patient(patient), "preferences": p.preferences or {}}
    overridden = {o["treatment"] for o in p.overrides or [] if str(o.get("reason", "")).strip()}
    stored: list[CourseSession] = []
    if proposal is None:
        proposal = msgspec.convert(p.proposal, EnginePlan)
        # at approval, the rows stored with the proposal too (an import's recorded sessions,
        # screened at import against the facts of then)
        stored = [row for row in _sessions(ctx, p.id) if row.status == "planned"]
    screening.screen_plan(ctx, assessments.parse(ctx, now_case), proposal, overridden, sessions=stored, field=field)


def _fork(ctx: Context, running: Plan) -> Plan:
    """A new proposal that starts as a copy of the running course: editing an approved plan
    must not take the course away from the patient while the change waits for approval."""
    p = Plan(
        clinic_id=running.clinic_id,
        patient_id=running.patient_id,
        assessment_id=running.assessment_id,
        proposal=running.proposal,
        preferences=dict(running.preferences or {}),
        overrides=list(running.overrides or []),
        knowledge_version=running.knowledge_version,
        status="proposed",
        created_by=ctx.actor.user_id,
        created_at=utcnow(),
    )
    ctx.db.add(p)
    ctx.db.flush()
    supersede_proposals(ctx, p.patient_id, f"replaced by plan {p.id}", keep=p.id)
    # The running plan's version moves too (its row is rewritten, `version_id_col`): of two
    # clinicians editing the course they both read, the second gets a 409, not a second proposal.
    flag_modified(running, "preferences")
    _flush(ctx)
    audit.record(ctx, "create", "plan", p.id, patient_id=p.patient_id, detail=f"edit of plan {running.id}")
    return p


def edit(ctx: Context, plan_id: int, body: PlanEditIn, if_match: int | None = None) -> PlanOut:
    """Re-plan with changed preferences or overrides; the plan needs approval again.

    A proposal is edited in place. An approved plan is the running course: the edit becomes a
    new proposal beside it (`_fork`; the answer is that proposal, with a new id), and the
    course runs unchanged until a clinician approves the proposal."""
    p = _load(ctx, plan_id, "plan.edit")
    version = if_match if if_match is not None else body.version
    _stale(p, version)
    if p.status in ("superseded", "withdrawn"):
        raise Conflict("status", f"a {p.status} plan cannot be edited")
    if p.status == "approved":
        p = _fork(ctx, p)
    a = ctx.db.get(Assessment, p.assessment_id)
    assert a is not None
    prefs = dict(p.preferences or {})
    change: dict[str, Any] = {}
    if body.treatments is not None:
        prefs["treatments"] = body.treatments
        change["treatments"] = body.treatments
    if body.start is not None:
        prefs["start"] = body.start.isoformat()
        change["start"] = prefs["start"]
    if body.max_downtime_days is not None:
        prefs["max_downtime_days"] = body.max_downtime_days
        change["max_downtime_days"] = body.max_downtime_days
    if not change and not body.overrides:
        raise Invalid("treatments", "nothing to change: give treatments, start, max_downtime_days or overrides")
    case = _case(ctx, a, prefs)
    _overrides(ctx, case, body.overrides, "overrides")
    now = utcnow()
    ovs = {o["treatment"]: o for o in (p.overrides or [])}
    for o in body.overrides:
        ovs[o.treatment] = {
            "treatment": o.treatment,
            "reason": o.reason,
            "by": ctx.actor.user_id,
            "at": now.isoformat(),
        }
    plan = _run(ctx, case, list(ovs.values()))
    _check_requested(plan, body.treatments, "treatments")
    screening.screen_plan(ctx, case, plan, set(ovs))  # the one gate every stored plan passes
    p.proposal = to_data(plan)
    p.preferences = prefs
    p.overrides = list(ovs.values())
    p.knowledge_version = plan.knowledge_version
    p.status = "proposed"
    p.approved_by = None
    p.approved_at = None
    if change:
        ctx.db.add(
            PlanEdit(
                plan_id=p.id,
                user_id=ctx.actor.user_id,
                at=now,
                kind="edit",
                reason=body.reason,
                override=False,
                change=change,
                from_version=version,
            )
        )
    record_overrides(ctx, p, body.overrides, now, from_version=version)
    _sync_sessions(ctx, p, plan)
    audit.record(ctx, "update", "plan", p.id, patient_id=p.patient_id)
    _flush(ctx)
    outbox.refresh(ctx.db, ctx.kb, p.patient_id, ctx.now)  # a proposal sends nothing: withdrawn until approved
    result = out(ctx, p)
    return result


def load_session(ctx: Context, session_id: int, permission: str) -> CourseSession:
    """A session of the actor's clinic that the role may act on (`permission`); 404 otherwise."""
    s = ctx.db.get(CourseSession, session_id)
    if s is None or s.clinic_id != ctx.actor.clinic_id:
        raise NotFound("session_id", "no such session")
    try:
        require_patient_access(ctx.actor, permission, s.patient_id)
    except NotFound:
        raise NotFound("session_id", "no such session") from None
    return s


def _session(ctx: Context, session_id: int) -> tuple[CourseSession, Plan]:
    s = load_session(ctx, session_id, "session.record")
    p = ctx.db.get(Plan, s.plan_id)
    assert p is not None
    if p.status != "approved":
        raise Conflict("status", "sessions are recorded against an approved plan; approve it first")
    if s.status != "planned":
        raise Conflict("status", f"this session is already {s.status}")
    return s, p


def record_done(ctx: Context, session_id: int, body: SessionDoneIn) -> SessionOut:
    s, p = _session(ctx, session_id)
    _stale(p, body.version)
    _stale_session(s, body.session_version)
    if s.date > ctx.today:
        raise Conflict(
            "status",
            f"this session is planned for {s.date.isoformat()}; it can be recorded as done on or after that day",
        )
    booking_events.settle(ctx, s, "done")  # first: its query flushes, and the session's version moves once
    s.status = "done"
    s.recorded_by = ctx.actor.user_id
    s.recorded_at = ctx.now
    s.note = body.note
    audit.record(ctx, "session_done", "course_session", s.id, patient_id=s.patient_id)
    ctx.db.flush()
    result = session_out(ctx, s)
    return result


def _next_open_day(ctx: Context, day: date) -> date:
    from cicatrix.service.clinic_calendar import calendar_for

    return calendar_for(ctx).next_open_day(day) or day


def reflowed(ctx: Context, p: Plan, s: CourseSession, new_date: date, *, earlier: bool = False) -> EnginePlan:
    """The plan's course with session `s` on `new_date` and every later session moved by the
    same number of days (`engine.reschedule`), then on the clinic's open days. A re-dated
    session never lands in the past (422 `new_date`)."""
    from cicatrix.engine.booking import fit_to_calendar
    from cicatrix.service.clinic_calendar import calendar_for

    if new_date < ctx.today:
        raise Invalid("new_date", f"{new_date.isoformat()} is in the past (today is {ctx.today.isoformat()})")
    calendar = calendar_for(ctx)
    if not calendar.is_open(new_date):
        raise Invalid("new_date", f"the clinic is closed on {new_date.isoformat()}")
    a = ctx.db.get(Assessment, p.assessment_id)
    assert a is not None
    case = _case(ctx, a, p.preferences or {})
    try:
        kept = tuple(ClinicianOverride(o["treatment"], o["reason"]) for o in (p.overrides or []))
        proposal = msgspec.convert(p.proposal, EnginePlan)
        plan = reschedule_plan(proposal, case, ctx.kb, s.treatment, s.number, new_date, kept, earlier=earlier)
        plan = fit_to_calendar(plan, case, ctx.kb, calendar, kept)
    except CaseError as exc:
        field = "new_date" if exc.field == "new_date" else "session_id"
        raise Invalid(field, exc.message, value=str(exc.value)) from None
    # Re-flowing writes the plan anew (a missed session, a re-booking, earlier or later): it passes
    # the gate, with the patient's facts as they are now. Why it fails is clinical: a role that may
    # not see the plan is told only that it needs a clinician.
    try:
        _screen_against_current_facts(ctx, p, plan, field="session_id")
    except Invalid as exc:
        if policy.may_see_field(ctx.actor, "plan"):
            raise
        raise Invalid(
            "session_id",
            "this course cannot be re-dated until a clinician has reviewed it; please ask a clinician",
        ) from exc
    return plan


def apply_reflow(
    ctx: Context,
    p: Plan,
    plan: EnginePlan,
    s: CourseSession,
    new_date: date,
    reason: str,
    from_version: int,
    *,
    tell: bool = True,
) -> list[Appointment]:
    """Store a re-flowed course: the planned sessions follow it, the plan keeps it, and the
    history says who moved which session from when to when. Returns the appointments the re-flow
    cancelled (announced to the patient unless `tell` is False)."""
    old_date = s.date
    before = {row.id: row.date for row in _sessions(ctx, p.id) if row.status == "planned"}
    _sync_sessions(ctx, p, plan)
    p.proposal = to_data(plan)
    after = _sessions(ctx, p.id)
    moved = [r for r in after if r.id in before and (r.status, r.date) != ("planned", before[r.id])]
    unbooked = booking_events.unbook(
        ctx, [row for row in moved if row.id != s.id], "the course was re-flowed; book it again", tell=tell
    )
    ctx.db.add(
        PlanEdit(
            plan_id=p.id,
            user_id=ctx.actor.user_id,
            at=utcnow(),
            kind="reschedule",
            reason=reason,
            override=False,
            change={
                "treatment": s.treatment,
                "number": s.number,
                "from": old_date.isoformat(),
                "to": new_date.isoformat(),
            },
            from_version=from_version,
        )
    )
    return unbooked


def undo_done(ctx: Context, session_id: int, body: SessionUndoIn) -> SessionOut:
    """Undo "done" recorded today (the clinic's day): a slip of the finger at the desk is put
    right the same day, audited; after that the record stands."""
    s = load_session(ctx, session_id, "session.record")
    _stale_session(s, body.session_version)
    if s.status != "done":
        raise Conflict("status", f"only a session recorded as done can be undone; this one is {s.status}")
    zone = zone_of(clinic_calendar.timezone(ctx))
    if s.recorded_at is None or s.recorded_at.astimezone(zone).date() != ctx.today:
        raise Conflict("status", "only a session recorded as done today can be undone")
    s.status = "planned"
    s.recorded_by = None
    s.recorded_at = None
    booking_events.reopen(ctx, s)
    audit.record(ctx, "undo", "course_session", s.id, patient_id=s.patient_id, detail="done")
    ctx.db.flush()
    result = session_out(ctx, s)
    return result


def record_missed(ctx: Context, session_id: int, body: SessionMissedIn) -> PlanOut:
    """Mark a session missed and re-flow the rest of the course through the engine."""
    s, p = _session(ctx, session_id)
    _stale(p, body.version)
    _stale_session(s, body.session_version)
    new_date = body.new_date or _next_open_day(ctx, max(ctx.today, s.date) + timedelta(days=1))
    plan = reflowed(ctx, p, s, new_date)
    now = utcnow()
    version = p.version
    # A preview changes nothing: its writes happen in a savepoint that is rolled back.
    preview = ctx.db.begin_nested() if body.dry_run else None
    # a booked session's cancellation is told by `settle`; an unbooked one's new day as a move
    was_booked = booking_events.active_for_session(ctx.db, s.id) is not None
    booking_events.settle(ctx, s, "cancelled", "the session was recorded as missed")
    s.status = "missed"
    s.recorded_by = ctx.actor.user_id
    s.recorded_at = now
    s.note = body.note
    rebooked = CourseSession(
        clinic_id=s.clinic_id,
        patient_id=s.patient_id,
        plan_id=p.id,
        treatment=s.treatment,
        number=s.number,
        date=new_date,
        status="planned",
        sequence=s.sequence + 1,
    )
    ctx.db.add(rebooked)
    ctx.db.flush()
    apply_reflow(ctx, p, plan, s, new_date, f"missed {s.treatment} session {s.number}", version)
    _flush(ctx)
    if p.status == "approved":  # the re-flowed course's messages, and the move told, in this transaction
        outbox.refresh(ctx.db, ctx.kb, p.patient_id, ctx.now)
        if not was_booked:
            outbox.announce(ctx.db, ctx.kb, rebooked, "moved", ctx.now)
    result = out(ctx, p, preview=body.dry_run)
    if preview is not None:
        preview.rollback()
        audit.record(ctx, "preview", "course_session", session_id, patient_id=result.patient_id)
    else:
        audit.record(ctx, "session_missed", "course_session", s.id, patient_id=s.patient_id)
    return result


def schedule(ctx: Context, patient_id: int) -> ScheduleOut:
    """The sessions of the plan in force: what front desk needs, without clinical detail."""
    pt = patients.load(ctx, patient_id, "schedule.read")
    p = queries.current_plan(ctx, pt.id)
    rows = _sessions(ctx, p.id) if p is not None else []
    audit.record(ctx, "read", "schedule", p.id if p else None, patient_id=pt.id)
    result = ScheduleOut(patient_id=pt.id, plan_id=p.id if p else None, sessions=[session_out(ctx, s) for s in rows])
    return result


def today(ctx: Context, patient_id: int, day: date | None = None, days: int = 1) -> TodayOut:
    """What to do, avoid and expect on a day (and the days after), from the approved plan."""
    if not 1 <= days <= 31:
        raise Invalid("days", "must be between 1 and 31", value=days)
    pt = patients.load(ctx, patient_id, "timeline.read")
    p = queries.current_plan(ctx, pt.id, approved_only=True)
    if p is None:
        raise NotFound("plan", "this patient has no approved plan yet")
    first = day or ctx.today
    timeline = msgspec.convert(p.proposal, EnginePlan).timeline
    out_days = []
    for i in range(days):
        d = first + timedelta(days=i)
        entries = [to_data(e) for e in instructions_for(timeline, d)]
        out_days.append(DayOut(date=d, entries=entries))
    nxt = ctx.db.scalar(
        select(CourseSession)
        .where(CourseSession.plan_id == p.id, CourseSession.status == "planned", CourseSession.date >= first)
        .order_by(CourseSession.date, CourseSession.id)
        .limit(1)
    )
    audit.record(ctx, "read", "timeline", p.id, patient_id=pt.id)
    result = TodayOut(
        patient_id=pt.id,
        plan_id=p.id,
        days=out_days,
        next_session=session_out(ctx, nxt) if nxt else None,
    )
    return result
