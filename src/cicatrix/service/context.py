"""Who is acting, on which database, with which knowledge base, from where, and on which day."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy.orm import Session

from cicatrix.knowledge.models import KnowledgeBase


@dataclass(frozen=True)
class Actor:
    user_id: int
    clinic_id: int
    role: str
    patient_id: int | None = None  # set for role "patient": the only record they may see
    token_id: int | None = None
    via: str = "bearer"  # bearer | session | cli | calendar
    timezone: str = "UTC"  # the clinic's, for the clinic's "today" (service.clock)
    # logged in without the second factor the account needs: may only set it up (service/totp.py)
    enrol_only: bool = False


@dataclass
class Context:
    db: Session
    actor: Actor
    kb: KnowledgeBase
    ip: str | None = None
    today: date = field(default_factory=date.today)
    # The instant of the request (the entry point's clock): what the outbox counts "still to
    # come" from, so a test or a simulated clock decides it, not the wall clock.
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
