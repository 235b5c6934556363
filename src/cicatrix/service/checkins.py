"""Check-ins after a session: the one-tap page a message links to, and what needs attention.

A check-in message (days 1, 3 and 7 after a session) carries a signed, expiring link,
`checkin_url`, that grants one thing: answering that check-in. The page it opens shows only
that day's instructions for that session (from the plan's own timeline) and the answers of the
knowledge base (aftercare.yaml: "as expected", "worse than expected", "I have one of these"
with the signs of "when to call the clinic"): no name, no diagnosis, no other date. The link
acts as the patient (user id 0 in the audit trail, `via="check_in"`), like a calendar link.

An answer that needs attention (`AftercareTerm.needs_attention`) puts the patient on the
clinicians' dashboard with the answer until a clinician acknowledges it; recording an adverse
event from the check-in acknowledges it too (`service.adverse_events`). The answer can be
changed on the clinic's day it was first given; after that the page shows it and asks the
patient to call the clinic.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

import msgspec
from sqlalchemy import select

from cicatrix.engine.result import Plan as EnginePlan
from cicatrix.knowledge.models import AftercareTerm, KnowledgeBase
from cicatrix.service import audit, links, patients, unit_of_work
from cicatrix.service.clock import clinic_today
from cicatrix.service.context import Actor, Context
from cicatrix.service.errors import Conflict, Invalid, NotFound, RateLimited
from cicatrix.service.links import LinkInvalid
from cicatrix.service.policy import require, require_patient_access
from cicatrix.service.schemas import CheckInAnswerIn, CheckInOut
from cicatrix.storage.db import utcnow
from cicatrix.storage.models import CheckIn, Clinic, CourseSession, Patient, Plan

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

PURPOSE = "check_in"
# A link works for a week from when its message is rendered: long enough to answer a day-7
# check-in on a weekend, short enough that an old phone in a drawer opens nothing.
LINK_VALID = timedelta(days=7)
MAX_DAY = 60  # a check-in is about the days after a session
MAX_CHANGES = 20  # changes of one answer in its day: more is not a patient changing their mind
ATTENTION_LIMIT = 100

_GONE = (
    "This check-in is no longer needed: your appointment was moved or cancelled. "
    "Please contact your clinic if you need help."
)
_EARLY = "This check-in opens after your appointment."
_INVALID = "This link is not valid. Please use the latest message from your clinic."


def checkin_url(base_url: str, secret: str, session_id: int, day: int, now: datetime) -> str:
    """The link a check-in message carries (the outbox renders it at delivery): signed with the
    app's secret, for one session and day, valid for `LINK_VALID` from `now`."""
    token = links.sign(secret, purpose=PURPOSE, subject={"session": session_id, "day": day}, expires=now + LINK_VALID)
    return f"{base_url.rstrip('/')}/c/{token}"


@dataclass(frozen=True)
class Choice:
    id: str
    label: str
    needs_attention: bool = False
    signs: tuple[Choice, ...] = ()


@dataclass(frozen=True)
class CheckInPage:
    """What the one-tap page shows: nothing that names the patient, a diagnosis or a date."""

    day: int
    instructions: tuple[tuple[str, str], ...]  # (kind: do / avoid / expect ..., text)
    answers: tuple[Choice, ...]
    answer: str | None  # the answer given, if any
    signs: tuple[str, ...]
    note: str
    can_change: bool
    clinic_name: str


@dataclass(frozen=True)
class _Link:
    ctx: Context
    session: CourseSession
    day: int
    clinic: Clinic


def _open(db: Session, kb: KnowledgeBase, secret: str, token: str, now: datetime, ip: str | None) -> _Link:
    """The session and day a valid link grants, with a context acting as its patient; `LinkInvalid`
    (a message for people) for a forged, expired or stale link."""
    subject = links.verify(secret, token, purpose=PURPOSE, now=now)
    session_id, day = subject.get("session"), subject.get("day")
    if not isinstance(session_id, int) or not isinstance(day, int) or not 1 <= day <= MAX_DAY:
        raise LinkInvalid(_INVALID)
    s = db.get(CourseSession, session_id)
    if s is None or patients.reachable_by_link(db, s.patient_id) is None:
        raise LinkInvalid(_INVALID)
    if s.status not in ("planned", "done"):
        raise LinkInvalid(_GONE)
    clinic = db.get(Clinic, s.clinic_id)
    assert clinic is not None  # foreign key
    actor = Actor(
        user_id=0,
        clinic_id=s.clinic_id,
        role="patient",
        patient_id=s.patient_id,
        via="check_in",
        timezone=clinic.timezone,
    )
    ctx = unit_of_work.context(db, actor, kb, now, ip)
    if ctx.today < s.date:
        raise LinkInvalid(_EARLY)
    return _Link(ctx, s, day, clinic)


def answer_choices(kb: KnowledgeBase) -> tuple[Choice, ...]:
    """The answers a check-in offers, with the signs to pick from, all from the knowledge base."""
    out = []
    for a in kb.aftercare_terms("check_in_answer"):
        signs: tuple[Choice, ...] = ()
        if a.signs_from is not None and a.signs_from in kb.education:
            signs = tuple(Choice(x.id, x.label) for x in kb.education[a.signs_from].signs)
        out.append(Choice(a.id, a.label, a.needs_attention, signs))
    return tuple(out)


def _instructions(ctx: Context, s: CourseSession, day: int) -> tuple[tuple[str, str], ...]:
    """That day's instructions for that session, from the plan's own timeline: the entries of
    the session's care steps that apply `day` days after it (dated from the plan's course, which
    a re-flow keeps in step with the bookings)."""
    plan = ctx.db.get(Plan, s.plan_id)
    if plan is None:  # pragma: no cover - foreign key
        return ()
    proposal = msgspec.convert(plan.proposal, EnginePlan)
    on = s.date
    for cs in proposal.course.sessions:
        if cs.treatment == s.treatment and cs.number == s.number:
            on = cs.date
            break
    target = on + timedelta(days=day)
    entries = (
        (e.kind, e.text)
        for e in proposal.timeline
        if e.treatment == s.treatment and e.session == s.number and e.kind != "session" and e.applies_on(target)
    )
    return tuple(dict.fromkeys(entries))


def _row(ctx: Context, s: CourseSession, day: int) -> CheckIn | None:
    return ctx.db.scalar(select(CheckIn).where(CheckIn.session_id == s.id, CheckIn.day == day))


def _local_day(ctx: Context, at: datetime) -> date:
    return clinic_today(ctx.actor.timezone, at)


def _page(link: _Link, row: CheckIn | None) -> CheckInPage:
    ctx = link.ctx
    return CheckInPage(
        day=link.day,
        instructions=_instructions(ctx, link.session, link.day),
        answers=answer_choices(ctx.kb),
        answer=row.answer if row else None,
        signs=tuple(row.signs or ()) if row else (),
        note=(row.note or "") if row else "",
        can_change=row is None or _local_day(ctx, row.answered_at) == ctx.today,
        clinic_name=" ".join(link.clinic.name.split()),
    )


def view(db: Session, kb: KnowledgeBase, secret: str, token: str, now: datetime, ip: str | None) -> CheckInPage:
    """The page a check-in link opens; audited as a read by the patient through the link."""
    link = _open(db, kb, secret, token, now, ip)
    row = _row(link.ctx, link.session, link.day)
    audit.record(
        link.ctx,
        "read",
        "check_in",
        row.id if row else None,
        patient_id=link.session.patient_id,
        detail=f"link session:{link.session.id} day:{link.day}",
    )
    return _page(link, row)


def _checked(kb: KnowledgeBase, body: CheckInAnswerIn) -> AftercareTerm:
    term = kb.aftercare.get(body.answer)
    if term is None or term.group != "check_in_answer":
        raise Invalid("answer", "choose one of the answers", value=body.answer)
    choices = answer_choices(kb)
    offered = {c.id for c in next(c for c in choices if c.id == term.id).signs}
    if not offered and body.signs:
        with_signs = [c.label for c in choices if c.signs]
        raise Invalid(
            "signs",
            f"the signs you ticked go with “{with_signs[0]}”: choose it, or untick them"
            if with_signs
            else "this answer has no signs to choose",
        )
    if offered and not body.signs:
        raise Invalid("signs", "tick at least one of the signs, or choose another answer")
    for i, sign in enumerate(body.signs):
        if sign not in offered:
            raise Invalid(f"signs[{i}]", "tick only the signs offered", value=sign)
    return term


def answer(
    db: Session, kb: KnowledgeBase, secret: str, token: str, body: CheckInAnswerIn, now: datetime, ip: str | None
) -> CheckInPage:
    """Store the patient's answer (or change it, on the day it was first given). An answer
    that needs attention goes back on the dashboard even if an earlier one was acknowledged."""
    link = _open(db, kb, secret, token, now, ip)
    ctx, s = link.ctx, link.session
    term = _checked(kb, body)
    note = (body.note or "").strip() or None
    row = _row(ctx, s, link.day)
    if row is None:
        row = CheckIn(
            clinic_id=s.clinic_id,
            patient_id=s.patient_id,
            session_id=s.id,
            day=link.day,
            answer=term.id,
            signs=list(dict.fromkeys(body.signs)),
            note=note,
            needs_attention=term.needs_attention,
            answered_at=now,
            changed_at=now,
            changes=0,
        )
        db.add(row)
        db.flush()
        audit.record(ctx, "create", "check_in", row.id, patient_id=s.patient_id, detail=f"answer:{term.id}")
        return _page(link, row)
    if _local_day(ctx, row.answered_at) != ctx.today:
        raise Conflict(
            "answer", "This check-in was answered on an earlier day. If anything has changed, please call the clinic."
        )
    if row.changes >= MAX_CHANGES:
        raise RateLimited("answer", "This answer has been changed too often today. Please call the clinic.")
    row.answer = term.id
    row.signs = list(dict.fromkeys(body.signs))
    row.note = note
    row.changed_at = now
    row.changes += 1
    if term.needs_attention:  # a new answer that needs a look is news, whatever was acknowledged before
        row.acknowledged_at = None
        row.acknowledged_by = None
    row.needs_attention = term.needs_attention
    db.flush()
    audit.record(ctx, "update", "check_in", row.id, patient_id=s.patient_id, detail=f"answer:{term.id}")
    return _page(link, row)


# --- the clinic's side ------------------------------------------------------------------------


def label_of(kb: KnowledgeBase, term_id: str) -> str:
    """The label people read for a stored after-care id; a word a clinic has since removed from
    its knowledge base shows in plain words rather than as a code."""
    term = kb.aftercare.get(term_id)
    return term.label if term is not None else term_id.replace("_", " ").capitalize()


def sign_labels(kb: KnowledgeBase, answer_id: str, signs: list[str]) -> list[str]:
    term = kb.aftercare.get(answer_id)
    topic = kb.education.get(term.signs_from) if term and term.signs_from else None
    known = {x.id: x.label for x in topic.signs} if topic else {}
    return [known.get(x, x.replace("_", " ").capitalize()) for x in signs]


def out(ctx: Context, row: CheckIn, s: CourseSession) -> CheckInOut:
    kb = ctx.kb
    return CheckInOut(
        id=row.id,
        patient_id=row.patient_id,
        session_id=row.session_id,
        session_date=s.date,
        treatment=s.treatment,
        day=row.day,
        answer=row.answer,
        answer_label=label_of(kb, row.answer),
        signs=list(row.signs or []),
        sign_labels=sign_labels(kb, row.answer, list(row.signs or [])),
        note=row.note,
        needs_attention=row.needs_attention,
        answered_at=row.answered_at,
        changed_at=row.changed_at,
        acknowledged_by=row.acknowledged_by,
        acknowledged_at=row.acknowledged_at,
        version=row.version,
    )


def for_patient(ctx: Context, patient_id: int) -> list[CheckInOut]:
    """A patient's check-in answers, newest first (clinicians; the patient their own)."""
    p = patients.load(ctx, patient_id, "checkin.read")
    rows = ctx.db.execute(
        select(CheckIn, CourseSession)
        .join(CourseSession, CourseSession.id == CheckIn.session_id)
        .where(CheckIn.patient_id == p.id)
        .order_by(CheckIn.changed_at.desc(), CheckIn.id.desc())
    ).all()
    audit.record(ctx, "list", "check_in", None, patient_id=p.id, detail=f"results={len(rows)}")
    return [out(ctx, r, s) for r, s in rows]


def load(ctx: Context, check_in_id: int, permission: str) -> tuple[CheckIn, CourseSession]:
    """A check-in of the actor's clinic that the actor may reach (404 otherwise, without saying
    whether it exists)."""
    row = ctx.db.get(CheckIn, check_in_id)
    if row is None or row.clinic_id != ctx.actor.clinic_id:
        raise NotFound("check_in_id", "no such check-in")
    try:
        require_patient_access(ctx.actor, permission, row.patient_id)
    except NotFound:
        raise NotFound("check_in_id", "no such check-in") from None
    s = ctx.db.get(CourseSession, row.session_id)
    assert s is not None  # foreign key
    return row, s


def mark_acknowledged(ctx: Context, row: CheckIn) -> None:
    """Take a check-in off the dashboard (acknowledging, or an adverse event recorded from it)."""
    if row.acknowledged_at is None:
        row.acknowledged_at = utcnow()
        row.acknowledged_by = ctx.actor.user_id
        audit.record(ctx, "acknowledge", "check_in", row.id, patient_id=row.patient_id)


def acknowledge(ctx: Context, check_in_id: int, version: int) -> CheckInOut:
    """A clinician has seen the answer: it leaves the dashboard (and stays in the history)."""
    row, s = load(ctx, check_in_id, "checkin.acknowledge")
    if row.version != version:
        raise Conflict(
            "version", "the answer changed since you read it; reload it and look again", current_version=row.version
        )
    mark_acknowledged(ctx, row)
    ctx.db.flush()
    return out(ctx, row, s)


@dataclass(frozen=True)
class Attention:
    """A check-in on the dashboard: who, which answer, when."""

    check_in_id: int
    patient_id: int
    patient_name: str
    session_id: int
    treatment_name: str
    day: int
    answer_label: str
    sign_labels: tuple[str, ...]
    note: str | None
    changed_at: datetime
    version: int


def needing_attention(ctx: Context) -> list[Attention]:
    """The clinic's answers that need a clinician's look and have not been acknowledged, newest
    first. The caller (the dashboard) audits each patient shown."""
    require(ctx.actor, "checkin.read")
    rows = ctx.db.execute(
        select(CheckIn, CourseSession, Patient.name)
        .join(CourseSession, CourseSession.id == CheckIn.session_id)
        .join(Patient, Patient.id == CheckIn.patient_id)
        .where(
            CheckIn.clinic_id == ctx.actor.clinic_id,
            CheckIn.needs_attention.is_(True),
            CheckIn.acknowledged_at.is_(None),
            Patient.archived.is_(False),
        )
        .order_by(CheckIn.changed_at.desc(), CheckIn.id.desc())
        .limit(ATTENTION_LIMIT)
    ).all()
    kb = ctx.kb
    return [
        Attention(
            check_in_id=r.id,
            patient_id=r.patient_id,
            patient_name=name,
            session_id=s.id,
            treatment_name=kb.treatments[s.treatment].name if s.treatment in kb.treatments else s.treatment,
            day=r.day,
            answer_label=label_of(kb, r.answer),
            sign_labels=tuple(sign_labels(kb, r.answer, list(r.signs or []))),
            note=r.note,
            changed_at=r.changed_at,
            version=r.version,
        )
        for r, s, name in rows
    ]
