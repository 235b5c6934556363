"""Shared pieces of the outbox tests: a settable clock, a patient who can be written to, a
dispatcher on the loopback SMTP sink, and reading the outbox rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from cicatrix.messaging.email import SmtpConfig, SmtpProvider
from cicatrix.service import patients, plans
from cicatrix.service.delivery import DeliveryOptions, Dispatcher, dispatcher
from cicatrix.service.schemas import AssessmentIn, PatientUpdate
from cicatrix.storage.models import Message
from tests.messaging.sink import SmtpSink
from tests.storage.world import ASSESSMENT, World


@dataclass
class SimClock:
    """The dispatcher's clock, moved by the test: no sleeping."""

    t: datetime

    def __call__(self) -> datetime:
        return self.t


def reachable(world: World, who: str = "P1", email: str = "p1@example.com", phone: str | None = None) -> None:
    """Record the patient's e-mail (and phone) through the service, as front desk would."""

    def work(db: Any) -> None:
        ctx = world.ctx("clinician", db)
        pid = world.patients[who]
        p = patients.get(ctx, pid)
        patients.update(ctx, pid, PatientUpdate(version=p.version, email=email, phone=phone))

    world.database.run_sync(work)


def approved_course(world: World, start: date, who: str = "P1", now: datetime | None = None) -> dict[str, Any]:
    """A new micro-needling plan for the patient starting on `start`, approved (at `now`)."""

    def work(db: Any) -> dict[str, Any]:
        ctx = world.ctx("clinician", db)
        if now is not None:
            ctx.now = now
        made = plans.assess(ctx, world.patients[who], AssessmentIn(
            assessment=ASSESSMENT, preferences={"start": start.isoformat(), "treatments": ["microneedling"]}))  # fmt: skip
        assert made.plan is not None
        p = plans.approve(ctx, made.plan.id, made.plan.version)
        return {"plan_id": p.id, "version": p.version, "sessions": p.sessions, "plan": p.plan}

    return world.database.run_sync(work)


def rows(world: World, **where: Any) -> list[Message]:
    with world.database.transaction() as db:
        q = select(Message).order_by(Message.due, Message.id)
        for k, v in where.items():
            q = q.where(getattr(Message, k) == v)
        return list(db.scalars(q))


def smtp_dispatcher(world: World, sink: SmtpSink, clock: SimClock, **options: Any) -> Dispatcher:
    provider = SmtpProvider(SmtpConfig(host="127.0.0.1", port=sink.port, security="none", sender="c@example.com",
                                       timeout_s=5))  # fmt: skip
    opts = DeliveryOptions(**{"public_url": "https://clinic.example", **options})
    return dispatcher(world.database, world.kb, clock, opts, providers={"email": provider, "sms": provider})
