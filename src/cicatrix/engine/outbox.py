"""Which messages a patient gets, and when: the plan's instructions, carried to the right day.

Pure, like the rest of the core: from an approved plan, the appointment times, the clinic's time
zone and the patient's choices, it returns every message still to come, each with the instant it
is due (UTC), its channel and an idempotency key. The service stores them in the outbox in the
same transaction as the change that caused them, and recomputes them whenever the plan or a
booking changes: a message whose key is no longer in the new set is stale (a reminder for a moved
session) and is withdrawn, never sent.

What a message says comes from the knowledge base: the template (messages.yaml) and the
instructions (the plan's timeline, that is the treatments' care steps). A message is rendered
when it is delivered, so its link (signed, expiring) is fresh; the key covers everything it will
say, so a changed instruction is a new message.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

import msgspec

from cicatrix.engine.result import Plan, TimelineEntry
from cicatrix.knowledge.models import KnowledgeBase, MessageCategory, MessageTemplate

Channel = Literal["email", "sms"]


class QuietHours(msgspec.Struct, frozen=True, kw_only=True):
    """No message between `start` and `end` local time (may span midnight, e.g. 21:00-08:00)."""

    start: time
    end: time

    def holds(self, t: time) -> bool:
        if self.start <= self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end


class Choices(msgspec.Struct, frozen=True, kw_only=True):
    """The patient's say over messages: channels, quiet hours, and the kinds they opted out of."""

    channels: tuple[Channel, ...] = ("email",)
    quiet: QuietHours | None = None
    opted_out: frozenset[MessageCategory] = frozenset()


class OutboxItem(msgspec.Struct, frozen=True, kw_only=True):
    key: str  # idempotency key: same message, same key, across recomputations and workers
    template: str
    channel: Channel
    due: datetime  # UTC
    treatment: str | None = None
    session: int | None = None
    context: dict[str, str]  # placeholder values except {link}, which delivery fills in


def _local(day: date, at: str, zone: ZoneInfo, quiet: QuietHours | None) -> datetime:
    """The UTC instant of `at` on `day` in the clinic's zone, kept out of the patient's quiet hours
    and on its own day: a send in the evening part of overnight quiet hours goes half an hour
    before they begin (a day-before reminder must not slip to the appointment's morning); any
    other send inside them waits until they end."""
    t = time.fromisoformat(at)
    local = datetime.combine(day, t)
    if quiet is not None and quiet.holds(t):
        if quiet.start > quiet.end and t >= quiet.start:
            local = datetime.combine(day, quiet.start) - timedelta(minutes=30)
        else:
            local = datetime.combine(day, quiet.end)
    return local.replace(tzinfo=zone).astimezone(UTC)


def _instructions(entries: Iterable[TimelineEntry]) -> str:
    return "\n".join(f"- {text}" for text in dict.fromkeys(e.text for e in entries if e.kind != "session"))


def _elapsed(days: int) -> str:
    return "a week" if days == 7 else f"{days} day" + ("s" if days != 1 else "")


@lru_cache(maxsize=8192)
def _fmt_day(d: date) -> str:
    return f"{d:%A} {d.day} {d:%B}"


def _content(template: str, anchor: str, context: Mapping[str, str]) -> bytes:
    """What a message will say and what it is about, as bytes: the part of its key shared by
    every channel (encoded once per message, not once per channel)."""
    return msgspec.json.encode([template, anchor, sorted(context.items())])


def _key(patient: str, channel: str, content: bytes) -> str:
    digest = hashlib.sha256(f"{patient}\x00{channel}\x00".encode())
    digest.update(content)
    return digest.hexdigest()[:40]


def plan_messages(
    plan: Plan,
    kb: KnowledgeBase,
    *,
    patient: str,
    clinic: str,
    place: str,
    tz: str,
    choices: Choices,
    now: datetime,
    appointment_times: Mapping[tuple[str, int], time] | None = None,
    default_time: time = time(9, 0),
    names: Mapping[str, str] | None = None,
) -> tuple[OutboxItem, ...]:
    """Every message still due (at or after `now`) for the plan, ordered by due time."""
    zone = ZoneInfo(tz)
    times = appointment_times or {}
    names = names or {tid: t.plain_name for tid, t in kb.treatments.items()}
    by_session: dict[tuple[str, int], list[TimelineEntry]] = {}
    for e in plan.timeline:
        if e.treatment is not None and e.session is not None:
            by_session.setdefault((e.treatment, e.session), []).append(e)
    drafts: list[tuple[MessageTemplate, date, str, str | None, int | None, dict[str, str]]] = []

    def base(treatment: str | None, day: date, at: time | None) -> dict[str, str]:
        ctx = {"clinic": clinic, "place": place, "day": _fmt_day(day)}
        if treatment is not None:
            ctx["treatment"] = names.get(treatment, treatment)
        if at is not None:
            ctx["time"] = f"{at:%H:%M}"
        return ctx

    templates = [m for m in kb.messages.values() if m.anchor != "event" and m.category not in choices.opted_out]
    for s in plan.course.sessions:
        entries = by_session.get((s.treatment, s.number), [])
        at = times.get((s.treatment, s.number), default_time)
        starting: dict[date, list[TimelineEntry]] = {}  # the instructions that start on each day
        for e in entries:
            if e.kind != "session" and e.date != s.date:
                starting.setdefault(e.date, []).append(e)
        for m in templates:
            if m.anchor in ("pre_care_start", "post_care_start"):
                before = m.anchor == "pre_care_start"
                for first in sorted(d for d in starting if (d < s.date) == before):
                    ctx = base(s.treatment, s.date, at) | {"instructions": _instructions(starting[first])}
                    drafts.append((m, first, f"{s.date}:{first}", s.treatment, s.number, ctx))
            elif m.anchor == "session":
                for d in m.days:
                    day = s.date + timedelta(days=d)
                    ctx = base(s.treatment, s.date, at)
                    if m.id == "check_in":
                        ctx["elapsed"] = _elapsed(d)
                    else:  # the instructions for the day it speaks of: the session day, or today after it
                        about = s.date if d < 0 else day
                        ctx["instructions"] = _instructions(e for e in entries if e.applies_on(about))
                    drafts.append((m, day, f"{s.date}:{d}", s.treatment, s.number, ctx))
    for m in templates:
        if m.anchor == "follow_up" and plan.course.follow_up is not None:
            for d in m.days:
                fu = plan.course.follow_up
                drafts.append((m, fu + timedelta(days=d), f"{fu}:{d}", None, None, base(None, fu, None)))
        elif m.anchor == "maintenance":
            for mt in plan.course.maintenance:
                for d in m.days:
                    ctx = base(mt.treatment, mt.date, None) | {"instructions": mt.text}
                    drafts.append((m, mt.date + timedelta(days=d), f"{mt.date}:{d}", mt.treatment, None, ctx))

    out: list[OutboxItem] = []
    for m, day, anchor, treatment, session, ctx in drafts:
        due = _local(day, m.send_at, zone, choices.quiet)
        if due < now:
            continue
        content = _content(m.id, f"{treatment}:{session}:{anchor}", ctx)
        for channel in choices.channels:
            key = _key(patient, channel, content)
            out.append(
                OutboxItem(
                    key=key, template=m.id, channel=channel, due=due, treatment=treatment, session=session, context=ctx
                )
            )
    out.sort(key=lambda i: (i.due, i.template, i.treatment or "", i.session or 0, i.channel))
    return tuple(out)


def event_messages(
    template: MessageTemplate,
    *,
    patient: str,
    clinic: str,
    place: str,
    tz: str,
    choices: Choices,
    now: datetime,
    treatment_name: str,
    treatment: str,
    session: int,
    day: date,
    at: time,
    ref: str = "",
) -> tuple[OutboxItem, ...]:
    """A booking change (`booked`, `moved`, `cancelled`) told at once: due `now`, or when the
    patient's quiet hours end. The key covers the session and its new day and time, so a session
    moved twice gets two messages and recomputing the same change gives the same key; `ref` (the
    booking it is about) tells apart the same slot booked again after a cancellation."""
    if template.category in choices.opted_out:
        return ()
    zone = ZoneInfo(tz)
    local = now.astimezone(zone)
    due = now
    if choices.quiet is not None and choices.quiet.holds(local.time().replace(tzinfo=None)):
        end = datetime.combine(local.date(), choices.quiet.end, tzinfo=zone)
        due = (end if end > local else end + timedelta(days=1)).astimezone(UTC)
    ctx = {"clinic": clinic, "place": place, "day": _fmt_day(day), "treatment": treatment_name, "time": f"{at:%H:%M}"}
    content = _content(template.id, f"{treatment}:{session}:{day}:{at}" + (f":{ref}" if ref else ""), ctx)
    return tuple(
        OutboxItem(
            key=_key(patient, channel, content),
            template=template.id,
            channel=channel,
            due=due,
            treatment=treatment,
            session=session,
            context=ctx,
        )
        for channel in choices.channels
    )


def render(template: MessageTemplate, channel: Channel, context: Mapping[str, str], link: str) -> tuple[str, str]:
    """(subject, body) for one channel; `link` is the signed, expiring link made at delivery."""
    values = {**dict.fromkeys(("treatment", "time", "instructions", "elapsed"), ""), **context, "link": link}
    body = (template.sms if channel == "sms" else template.text).format_map(values)
    return template.subject.format_map(values), body
