"""The patient's messages as people see them, and the patient's choices over them.

- what was sent, when, on which channel, with its status: a patient's own list (their pages),
  a patient's list for the clinic, and the clinic's whole outbox (failed messages first to see);
- the choices (channels, quiet hours, kinds opted out of), edited by the patient or by staff;
- the one-click opt-out behind a message's signed link (`/u/{token}`), without a login.

Every change of choices recomputes the outbox in the same unit of work (`outbox.refresh`), so
an opt-out is honoured at once: nothing of that kind still waiting is sent.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cicatrix.knowledge.models import KnowledgeBase
from cicatrix.service import audit, links, outbox, patients
from cicatrix.service.context import Context
from cicatrix.service.errors import Invalid
from cicatrix.service.policy import require
from cicatrix.service.schemas import MessageChoicesIn, MessageChoicesOut, MessageOut, MessagePage
from cicatrix.storage.models import Message, MessageChoice, Patient

OPT_OUT_KINDS = ("reminders", "check_ins", "recalls")


def out(kb: KnowledgeBase, m: Message) -> MessageOut:
    template = kb.messages.get(m.template)
    return MessageOut(
        id=m.id,
        patient_id=m.patient_id,
        template=m.template,
        label=template.label if template else m.template,
        category=m.category,
        channel=m.channel,
        due=m.due,
        status=m.status,
        attempts=m.attempts,
        sent_at=m.sent_at,
        last_error=m.last_error,
    )


def for_patient(ctx: Context, patient_id: int, limit: int = 200, offset: int = 0) -> MessagePage:
    """A patient's messages, newest due first (their own, or any of the clinic's for staff)."""
    p = patients.load(ctx, patient_id, "message.read")
    where = Message.patient_id == p.id
    total = ctx.db.scalar(select(func.count()).select_from(Message).where(where)) or 0
    rows = ctx.db.scalars(select(Message).where(where).order_by(Message.due.desc(), Message.id.desc())
                          .limit(limit).offset(offset))  # fmt: skip
    audit.record(ctx, "list", "message", None, patient_id=p.id, detail=f"results={total}")
    return MessagePage(total=total, limit=limit, offset=offset, items=[out(ctx.kb, m) for m in rows])


Status = Literal["pending", "sending", "sent", "failed", "withdrawn", "skipped"]


def for_clinic(ctx: Context, status: Status | None = None, limit: int = 200, offset: int = 0) -> MessagePage:
    """The clinic's outbox: what was sent, when, to whom (patient and channel), and how it went."""
    require(ctx.actor, "message.clinic")
    where = [Message.clinic_id == ctx.actor.clinic_id]
    if status is not None:
        where.append(Message.status == status)
    total = ctx.db.scalar(select(func.count()).select_from(Message).where(*where)) or 0
    rows = ctx.db.scalars(select(Message).where(*where).order_by(Message.due.desc(), Message.id.desc())
                          .limit(limit).offset(offset))  # fmt: skip
    audit.record(ctx, "list", "message", None, detail=f"clinic results={total}")
    return MessagePage(total=total, limit=limit, offset=offset, items=[out(ctx.kb, m) for m in rows])


def _choices_out(db: Session, p: Patient) -> MessageChoicesOut:
    row = db.get(MessageChoice, p.id)
    c = outbox.choices_of(db, p)
    return MessageChoicesOut(
        patient_id=p.id,
        channels=list(c.channels),
        quiet_start=row.quiet_start if row else None,
        quiet_end=row.quiet_end if row else None,
        opted_out=[k for k in OPT_OUT_KINDS if k in c.opted_out],
        stored=row is not None,
    )


def get_choices(ctx: Context, patient_id: int) -> MessageChoicesOut:
    p = patients.load(ctx, patient_id, "message.choices")
    audit.record(ctx, "read", "message_choice", p.id, patient_id=p.id)
    return _choices_out(ctx.db, p)


def _store(db: Session, p: Patient, channels: list[str], quiet: tuple[str | None, str | None],
           opted_out: list[str], now: datetime) -> None:  # fmt: skip
    row = db.get(MessageChoice, p.id)
    if row is None:
        row = MessageChoice(patient_id=p.id, clinic_id=p.clinic_id)
        db.add(row)
    row.channels = list(dict.fromkeys(channels))
    row.quiet_start, row.quiet_end = quiet
    row.opted_out = [k for k in OPT_OUT_KINDS if k in opted_out]
    row.updated_at = now
    db.flush()


def set_choices(ctx: Context, patient_id: int, body: MessageChoicesIn) -> MessageChoicesOut:
    """Store the patient's choices and recompute what is still to be sent, in one transaction."""
    p = patients.load(ctx, patient_id, "message.choices")
    if (body.quiet_start is None) != (body.quiet_end is None):
        field = "quiet_end" if body.quiet_end is None else "quiet_start"
        raise Invalid(field, "give both ends of the quiet hours, or neither")
    if body.quiet_start is not None and body.quiet_start == body.quiet_end:
        raise Invalid("quiet_end", "quiet hours must end at another time than they start")
    for ch in body.channels:
        if ch == "email" and not p.email:
            raise Invalid("channels", "no e-mail address is recorded for this patient; add one first", value=ch)
        if ch == "sms" and not p.phone:
            raise Invalid("channels", "no phone number is recorded for this patient; add one first", value=ch)
    _store(ctx.db, p, list(body.channels), (body.quiet_start, body.quiet_end), list(body.opted_out), ctx.now)
    for kind in body.opted_out:
        outbox.withdraw_kind(ctx.db, p.id, kind, ctx.now)
    outbox.refresh(ctx.db, ctx.kb, p.id, ctx.now)
    audit.record(ctx, "update", "message_choice", p.id, patient_id=p.id)
    return _choices_out(ctx.db, p)


def dev_folder_items(ctx: Context, data_dir: Path, limit: int = 100) -> list[dict[str, Any]]:
    """The development channel's folder (`messaging.files`), newest first: what `make run` and
    the demo "sent" when no provider is configured. Staff only, like the outbox."""
    from cicatrix.messaging.config import dev_folder

    require(ctx.actor, "message.clinic")
    folder = dev_folder(data_dir)
    if not folder.is_dir():
        return []
    files = sorted((f for f in folder.iterdir() if not f.name.startswith(".")), key=lambda f: f.stat().st_mtime,
                   reverse=True)[:limit]  # fmt: skip
    out = []
    for f in files:
        raw = f.read_bytes()
        if f.name.endswith(".eml"):
            mail = message_from_bytes(raw, policy=policy.default)
            to, subject = str(mail.get("To", "")), str(mail.get("Subject", ""))
        else:
            head, _, body = raw.decode("utf-8", "replace").partition("\n\n")
            to, subject = head.removeprefix("To: "), body.strip()
        written = datetime.fromtimestamp(f.stat().st_mtime, UTC)
        out.append({"name": f.name, "to": to, "subject": subject, "written": written})
    audit.record(ctx, "list", "message", None, detail=f"dev folder results={len(out)}")
    return out


# ---- one-click opt-out (no login) ----


def kind_label(kb: KnowledgeBase, kind: str) -> str:
    """What an opt-out stops, in the templates' own words: "Check-in", or every kind's labels."""
    kinds = OPT_OUT_KINDS if kind == "all" else (kind,)
    return ", ".join(m.label for m in kb.messages.values() if m.category in kinds or kind == "all")


def read_opt_out(secret: str, token: str, now: datetime) -> tuple[int, str]:
    """(patient id, kind) a valid opt-out link grants; `links.LinkInvalid` otherwise."""
    subject = links.verify(secret, token, purpose="opt_out", now=now)
    patient, kind = subject.get("patient"), subject.get("kind")
    if not isinstance(patient, int) or kind not in (*OPT_OUT_KINDS, "all"):
        raise links.LinkInvalid("This link is not valid. Please use the latest message from your clinic.")
    return patient, str(kind)


def opt_out(db: Session, kb: KnowledgeBase, secret: str, token: str, now: datetime, ip: str | None) -> str:
    """Apply an opt-out link at once (the page's confirm button, or an RFC 8058 one-click POST):
    the kind is added to the patient's opt-outs (`all`: no channel at all) and every waiting
    message it covers is withdrawn. Returns the kind. Applying it twice changes nothing."""
    patient_id, kind = read_opt_out(secret, token, now)
    p = db.get(Patient, patient_id)
    if p is None:
        raise links.LinkInvalid("This link is not valid. Please use the latest message from your clinic.")
    current = outbox.choices_of(db, p)
    row = db.get(MessageChoice, p.id)
    quiet = (row.quiet_start, row.quiet_end) if row else (None, None)
    if kind == "all":
        _store(db, p, [], quiet, sorted(current.opted_out), now)
        for k in (*OPT_OUT_KINDS, "changes"):
            outbox.withdraw_kind(db, p.id, k, now)
    else:
        _store(db, p, list(current.channels), quiet, sorted({*current.opted_out, kind}), now)
        outbox.withdraw_kind(db, p.id, kind, now)
    outbox.refresh(db, kb, p.id, now)
    audit.record_anonymous(db, "opt_out", "message_choice", p.id, clinic_id=p.clinic_id, patient_id=p.id, ip=ip,
                           detail=kind)  # fmt: skip
    return kind
