"""Delivery: claim due outbox rows, render them, hand them to a provider, record the result.

One `Dispatcher` per process: the in-process one of `cicatrix serve` (SQLite, the embedded
default) or each `cicatrix worker` (PostgreSQL, any number on any host). They coordinate only
through the database:

1. **claim** (one short transaction): up to `batch` rows that are due (`pending` and
   `next_attempt_at <= now`) or whose lease has run out (`sending`, `lease_until < now`: their
   worker died) are selected `FOR UPDATE SKIP LOCKED` (so concurrent workers take disjoint rows
   without waiting) and marked `sending` with this worker's name and a lease.
2. **send** (one transaction per group of `group` messages): the rows are locked again
   (`FOR UPDATE`) and sent only if still `sending` under this worker's lease: a re-flow that
   withdrew one in between wins, and a re-flow that comes during the send waits for the lock and
   finds it sent. The provider gets the idempotency key; the rows become `sent` in the same
   transaction.
3. a worker killed between the provider's acceptance and the commit leaves the row `sending`;
   when the lease runs out another worker sends it again with the **same key**, which the
   provider (or the mail store keyed on Message-ID) recognises: at least once to the provider,
   once to the patient.

Failures: a transient one (server down, 4xx, timeout) puts the row back to `pending` with
exponential backoff (`backoff_s * 2**(attempts-1)`, capped); after `max_attempts`, or at once for
a permanent one, it is `failed`, which the clinic sees on its Messages page. Nothing personal is
logged: message ids, templates, channels and classes of failure only.

On PostgreSQL the transaction that marks a message sent commits without waiting for the disk
(`synchronous_commit = off`, for that transaction only): a mark lost in a crash of the database
server is a message offered to the provider again under its key, which is the at-least-once
the design already has; it makes a worker several times faster on a busy disk.

On SQLite the send transaction is not held open during the provider call (a write lock there
stops the whole clinic): the row is checked just before sending, so the window in which a
re-flow can miss a message already handed over is the provider call itself.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, text, update
from sqlalchemy.orm import Session

from cicatrix.engine.outbox import render
from cicatrix.exports.ics import CalendarOptions, session_event_bytes
from cicatrix.knowledge.models import KnowledgeBase
from cicatrix.messaging.outgoing import Attachment, DeliveryError, Outgoing, Permanent, Provider, Transient
from cicatrix.service import checkins, links
from cicatrix.service.outbox import place_of
from cicatrix.storage.db import Database
from cicatrix.storage.models import Clinic, CourseSession, Message, Patient

log = logging.getLogger("cicatrix.delivery")

Clock = Callable[[], datetime]
OPT_OUT_VALID = timedelta(days=180)
WITH_CALENDAR = ("day_before", "booked", "moved")


@dataclass(frozen=True)
class DeliveryOptions:
    batch: int = 100  # rows claimed per round trip
    group: int = 20  # messages sent per transaction (a re-flow waits for at most one group)
    lease_s: float = 120.0
    max_attempts: int = 8
    backoff_s: float = 60.0
    backoff_max_s: float = 6 * 3600.0
    public_url: str = "http://localhost:8000"


@dataclass
class Counts:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0
    lost: int = 0  # withdrawn or taken over while we held it

    def add(self, other: Counts) -> None:
        for f in ("sent", "retried", "failed", "skipped", "lost"):
            setattr(self, f, getattr(self, f) + getattr(other, f))

    @property
    def handled(self) -> int:
        return self.sent + self.retried + self.failed + self.skipped + self.lost


def worker_name() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}"


@dataclass
class Dispatcher:
    database: Database
    kb: KnowledgeBase
    providers: Mapping[str, Provider]
    secret: str
    clock: Clock
    options: DeliveryOptions = field(default_factory=DeliveryOptions)
    owner: str = field(default_factory=worker_name)

    # ---- claim ----

    def claim(self) -> list[int]:
        """Take up to `batch` due rows under a lease (one transaction)."""
        now = self.clock()
        until = now + timedelta(seconds=self.options.lease_s)

        def work(db: Session) -> list[int]:
            due = (
                select(Message.id)
                .where(
                    or_(
                        (Message.status == "pending") & (Message.next_attempt_at <= now),
                        (Message.status == "sending") & (Message.lease_until < now),
                    )
                )
                .order_by(Message.next_attempt_at, Message.id)
                .limit(self.options.batch)
                .with_for_update(skip_locked=True)
            )
            ids = list(db.scalars(due))
            if ids:
                db.execute(
                    update(Message)
                    .where(Message.id.in_(ids))
                    .values(status="sending", lease_owner=self.owner, lease_until=until,
                            attempts=Message.attempts + 1, updated_at=now)
                    .execution_options(synchronize_session=False)
                )
            return ids

        return self.database.run_sync(work)

    # ---- render ----

    def _link(self, purpose: str, subject: dict[str, int | str], expires: datetime, route: str) -> str:
        token = links.sign(self.secret, purpose=purpose, subject=subject, expires=expires)
        return f"{self.options.public_url.rstrip('/')}/{route}/{token}"

    def _outgoing(self, m: Message, patient: Patient, clinic: Clinic, s: CourseSession | None) -> Outgoing | str:
        """The rendered message, or why it cannot be sent (a reason without personal data)."""
        to = patient.email if m.channel == "email" else patient.phone
        if not to:
            return f"no {'e-mail address' if m.channel == 'email' else 'phone number'}"
        template = self.kb.messages.get(m.template)
        if template is None:
            return "unknown template"
        now = self.clock()
        base = self.options.public_url.rstrip("/")
        if m.template == "check_in" and s is not None:
            day = (m.due.astimezone(ZoneInfo(clinic.timezone)).date() - s.date).days
            link = checkins.checkin_url(base, self.secret, s.id, day, m.due)  # what /c/{token} opens
        else:
            link = f"{base}/me"
        kind = m.category if m.category != "changes" else "all"
        unsubscribe = self._link("opt_out", {"patient": patient.id, "kind": kind}, now + OPT_OUT_VALID, "u")
        subject, body = render(template, m.channel, m.context, link)  # type: ignore[arg-type]
        attachments: tuple[Attachment, ...] = ()
        if m.channel == "email" and m.template in WITH_CALENDAR and s is not None:
            opts = CalendarOptions(tz=clinic.timezone, clinic_name=" ".join(clinic.name.split()),
                                   location=place_of(clinic))  # fmt: skip
            at = time.fromisoformat(m.context.get("time", "09:00"))
            title = m.context.get("treatment", "Your appointment")
            ics = session_event_bytes(patient.mrn or f"cicatrix-{patient.id}", s.treatment, s.number, title, s.date, at,
                                      opts, sequence=s.sequence, stamp=now)  # fmt: skip
            attachments = (Attachment("appointment.ics", "text/calendar; method=PUBLISH", ics),)
        return Outgoing(
            key=m.key,
            channel=m.channel,
            to=to,
            subject=subject,
            text=body,
            sender_name=" ".join(clinic.name.split()),
            unsubscribe=unsubscribe,
            attachments=attachments,
        )

    def _prepare(self, ids: list[int]) -> list[tuple[int, Outgoing | str]]:
        def work(db: Session) -> list[tuple[int, Outgoing | str]]:
            rows = list(db.scalars(select(Message).where(Message.id.in_(ids)).order_by(Message.next_attempt_at)))
            people = {p.id: p for p in db.scalars(select(Patient).where(Patient.id.in_({m.patient_id for m in rows})))}
            clinics = {c.id: c for c in db.scalars(select(Clinic).where(Clinic.id.in_({m.clinic_id for m in rows})))}
            sids = {m.session_id for m in rows if m.session_id is not None}
            sessions = {s.id: s for s in db.scalars(select(CourseSession).where(CourseSession.id.in_(sids)))}
            return [
                (m.id, self._outgoing(m, people[m.patient_id], clinics[m.clinic_id],
                                      sessions.get(m.session_id) if m.session_id else None))
                for m in rows
            ]

        return self.database.run_sync(work)

    # ---- send ----

    def _backoff(self, attempts: int) -> timedelta:
        s = self.options.backoff_s * (2 ** max(0, attempts - 1))
        return timedelta(seconds=min(s, self.options.backoff_max_s))

    def _settle(self, db: Session, m: Message, result: str | DeliveryError | None, provider_id: str | None) -> str:
        now = self.clock()
        m.lease_owner, m.lease_until, m.updated_at = None, None, now
        if result is None:
            m.status, m.sent_at, m.provider_id, m.last_error = "sent", now, (provider_id or "")[:200], None
            return "sent"
        if isinstance(result, str):
            m.status, m.last_error = "skipped", result
            return "skipped"
        m.last_error = result.reason
        if isinstance(result, Permanent) or m.attempts >= self.options.max_attempts:
            m.status = "failed"
            return "failed"
        m.status, m.next_attempt_at = "pending", now + self._backoff(m.attempts)
        return "retried"

    def _attempt(self, message_id: int, outgoing: Outgoing | str) -> tuple[str | DeliveryError | None, str | None]:
        """(outcome, provider id): None for sent, a reason string for skipped, or the error."""
        if isinstance(outgoing, str):
            return outgoing, None
        provider = self.providers.get(outgoing.channel)
        if provider is None:
            return Permanent(f"no {outgoing.channel} provider configured"), None
        try:
            return None, provider.send(outgoing)
        except DeliveryError as exc:
            return exc, None
        except Exception as exc:  # a provider bug must not stop delivery of the others
            log.exception("message %s: provider error", message_id)
            return Transient(f"error {type(exc).__name__}"), None

    def _mine(self, db: Session, ids: list[int], lock: bool) -> dict[int, Message]:
        """The rows still ours to send: not withdrawn by a change, not taken over after our lease
        ran out. With `lock`, they stay locked until the transaction ends."""
        q = select(Message).where(Message.id.in_(ids))
        rows = db.scalars(q.with_for_update() if lock else q)
        return {m.id: m for m in rows if m.status == "sending" and m.lease_owner == self.owner}

    def _send_group(self, group: list[tuple[int, Outgoing | str]]) -> list[str]:
        """Send a few messages and record the results.

        PostgreSQL: one transaction locks the group's rows, sends, marks them and commits, so a
        re-flow that wants one of them waits for the group (a few messages) and then finds it
        sent; a re-flow that came first has withdrawn it and it is not sent. SQLite: the rows
        are checked, sent, then marked in a second transaction (no write lock held while a
        provider answers)."""
        ids = [i for i, _ in group]
        if self.database.engine.dialect.name == "postgresql":

            def work(db: Session) -> list[str]:
                # "Sent" need not wait for the disk: a mark lost in a database crash only means
                # the message is offered again under the same key, which the provider drops.
                db.execute(text("SET LOCAL synchronous_commit = off"))
                mine = self._mine(db, ids, lock=True)
                return [
                    self._settle(db, mine[i], *self._attempt(i, o)) if i in mine else "lost" for i, o in group
                ]

            return self.database.run_sync(work)
        mine = set(self.database.run_sync(lambda db: self._mine(db, ids, lock=False)))
        results = {i: self._attempt(i, o) for i, o in group if i in mine}

        def settle(db: Session) -> list[str]:
            still = self._mine(db, ids, lock=False)
            return [self._settle(db, still[i], *results[i]) if i in results and i in still else "lost" for i in ids]

        return self.database.run_sync(settle)

    def deliver(self, ids: list[int]) -> Counts:
        counts = Counts()
        prepared = self._prepare(ids)
        size = self.options.group
        for start in range(0, len(prepared), size):
            group = prepared[start : start + size]
            for (message_id, outgoing), what in zip(group, self._send_group(group), strict=True):
                setattr(counts, what, getattr(counts, what) + 1)
                if what != "sent":
                    reason = outgoing if isinstance(outgoing, str) else what
                    log.info("message %s: %s (%s)", message_id, what, reason)
        return counts

    def run_once(self) -> Counts:
        """Claim one batch and deliver it; an empty `Counts` when nothing was due."""
        ids = self.claim()
        return self.deliver(ids) if ids else Counts()

    def drain(self, limit: int = 1_000_000) -> Counts:
        """Deliver until nothing is due at the clock's current instant (tests, `--once`)."""
        total = Counts()
        while total.handled < limit:
            c = self.run_once()
            if c.handled == 0:
                break
            total.add(c)
        return total

    def run(self, stop: threading.Event, idle_s: float = 5.0) -> None:
        """Deliver until `stop` is set; sleep `idle_s` between empty polls."""
        log.info("delivery worker %s started (batch %d, lease %ss)", self.owner, self.options.batch,
                 int(self.options.lease_s))  # fmt: skip
        try:
            while not stop.is_set():
                try:
                    c = self.run_once()
                except Exception:  # the database restarting, say: log, wait, go on
                    log.exception("delivery batch failed; retrying")
                    c = Counts()
                    stop.wait(idle_s)
                if c.handled:
                    log.info("delivered: %d sent, %d to retry, %d failed, %d skipped", c.sent, c.retried,
                             c.failed, c.skipped)  # fmt: skip
                elif not stop.is_set():
                    stop.wait(idle_s)
        finally:
            for p in self.providers.values():
                p.close()
            log.info("delivery worker %s stopped", self.owner)


def dispatcher(
    database: Database, kb: KnowledgeBase, clock: Clock, options: DeliveryOptions | None = None,
    providers: Mapping[str, Provider] | None = None,
) -> Dispatcher:  # fmt: skip
    """A dispatcher configured from the environment (`messaging.config`) and the settings."""
    from cicatrix.messaging.config import providers_from_env

    settings = database.settings
    opts = options or DeliveryOptions(public_url=settings.public_url)
    chosen = providers if providers is not None else providers_from_env(settings.data_dir)
    return Dispatcher(database, kb, chosen, settings.resolved_secret(), clock, opts)
