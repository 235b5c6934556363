"""Reading the audit trail (admins): filtered by patient, user, action and dates, a page at a
time or as CSV. Events hold ids only; the trail shows the acting account's username (admins
see it on the users page already) and never a patient's name. Every read of the trail is
itself an audit event."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, func, or_, select

from cicatrix.service import audit
from cicatrix.service.context import Context
from cicatrix.service.errors import Invalid
from cicatrix.service.policy import require
from cicatrix.service.schemas import AuditFilter, AuditOut, AuditPage
from cicatrix.storage.models import AuditEvent, User

CSV_COLUMNS = ("id", "at", "user_id", "username", "role", "action", "entity", "entity_id", "patient_id", "ip", "detail")
CSV_MAX_ROWS = 100_000


def _start_of(day: date, tz: str) -> datetime:
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(tz))


def _where(ctx: Context, f: AuditFilter) -> list[ColumnElement[bool]]:
    # The clinic's events, and failed logins for usernames that exist nowhere (no clinic):
    # attacks on the service show in every clinic's trail.
    unknown_user = and_(AuditEvent.clinic_id.is_(None), AuditEvent.action == "login_failed")
    where: list[ColumnElement[bool]] = [or_(AuditEvent.clinic_id == ctx.actor.clinic_id, unknown_user)]
    if f.patient_id is not None:
        where.append(AuditEvent.patient_id == f.patient_id)
    if f.user_id is not None:
        where.append(AuditEvent.user_id == f.user_id)
    if f.action:
        where.append(AuditEvent.action == f.action)
    if f.since and f.until and f.since > f.until:
        raise Invalid("until", "must be on or after the first day", value=f.until.isoformat())
    if f.since:
        where.append(AuditEvent.at >= _start_of(f.since, ctx.actor.timezone))
    if f.until:
        where.append(AuditEvent.at < _start_of(f.until + timedelta(days=1), ctx.actor.timezone))
    return where


def _described(f: AuditFilter) -> str | None:
    parts = [f"{k}={v}" for k, v in f.model_dump(exclude_none=True).items()]
    return ", ".join(parts)[:200] or None


def _usernames(ctx: Context, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = ctx.db.execute(
        select(User.id, User.username).where(User.clinic_id == ctx.actor.clinic_id, User.id.in_(ids))
    ).all()
    return {uid: name for uid, name in rows}


def search(ctx: Context, f: AuditFilter | None = None, limit: int = 100, offset: int = 0) -> AuditPage:
    """A page of the clinic's audit trail, newest first."""
    require(ctx.actor, "audit.read")
    f = f or AuditFilter()
    if not 1 <= limit <= 500:
        raise Invalid("limit", "must be between 1 and 500", value=limit)
    if offset < 0:
        raise Invalid("offset", "must be 0 or more", value=offset)
    where = _where(ctx, f)
    total = ctx.db.scalar(select(func.count()).select_from(AuditEvent).where(*where)) or 0
    rows = ctx.db.scalars(select(AuditEvent).where(*where).order_by(AuditEvent.id.desc()).limit(limit).offset(offset))
    items = [AuditOut.model_validate(e, from_attributes=True) for e in rows]
    names = _usernames(ctx, {e.user_id for e in items if e.user_id is not None})
    items = [e.model_copy(update={"username": names.get(e.user_id) if e.user_id else None}) for e in items]
    audit.record(ctx, "read", "audit", None, detail=_described(f))
    return AuditPage(items=items, total=total, limit=limit, offset=offset)


def actions(ctx: Context) -> list[str]:
    """The actions recorded in the clinic's trail, for the filter's choices."""
    require(ctx.actor, "audit.read")
    where = _where(ctx, AuditFilter())
    return list(ctx.db.scalars(select(AuditEvent.action).where(*where).distinct().order_by(AuditEvent.action)))


def export_csv(ctx: Context, f: AuditFilter | None = None) -> str:
    """The filtered trail as CSV (oldest first, at most `CSV_MAX_ROWS` rows); the export is
    audited with its filter."""
    require(ctx.actor, "audit.read")
    f = f or AuditFilter()
    where = _where(ctx, f)
    rows = list(ctx.db.scalars(select(AuditEvent).where(*where).order_by(AuditEvent.id).limit(CSV_MAX_ROWS)))
    names = _usernames(ctx, {e.user_id for e in rows if e.user_id is not None})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in _csv_rows(rows, names):
        writer.writerow(row)
    audit.record(ctx, "export", "audit", None, detail=_described(f))
    return out.getvalue()


def _csv_rows(rows: list[AuditEvent], names: dict[int, str]) -> Iterator[list[str]]:
    for e in rows:
        yield [
            str(e.id), e.at.isoformat(), _cell(e.user_id), names.get(e.user_id, "") if e.user_id else "",
            e.role or "", e.action, e.entity, _cell(e.entity_id), _cell(e.patient_id), e.ip or "",
            _safe(e.detail or ""),
        ]  # fmt: skip


def _cell(v: object) -> str:
    return "" if v is None else str(v)


def _safe(text: str) -> str:
    """A cell a spreadsheet will not run as a formula (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
