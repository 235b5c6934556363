"""The unit of work: one transaction per request or command, owned by one piece of code.

An entry point (an API route, a web page, a CLI command) never opens, commits or rolls back a
transaction. It hands a function of the session to `Database.run` (async) or
`Database.run_sync` (`cicatrix.storage.db`), which:

1. begins the transaction before the first query;
2. runs the function: find out who acts (`Actor`), build the `Context`, call the use case;
3. commits once when the function returns; the audit events the use case queued are
   inserted by that commit, so they stand or fall with the change they record;
4. rolls everything back when the function raises.

Use cases never commit, so they compose: `plans.assess` stores an assessment and proposes a
plan in one transaction, a page reads four things in one.

`step` is the one nesting: a use case inside a larger unit of work whose refusal the caller
shows instead of failing (a web form displayed again with its errors).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy.orm import Session

from cicatrix.knowledge.models import KnowledgeBase
from cicatrix.service import audit
from cicatrix.service.clock import clinic_today
from cicatrix.service.context import Actor, Context


def context(db: Session, actor: Actor, kb: KnowledgeBase, now: datetime, ip: str | None = None) -> Context:
    """The use case's context inside a unit of work: who acts, and "today" on the wall
    calendar of the actor's clinic at the instant `now`. Every entry point builds it here."""
    return Context(db=db, actor=actor, kb=kb, ip=ip, today=clinic_today(actor.timezone, now), now=now)


@contextmanager
def step(db: Session) -> Iterator[None]:
    """A savepoint: when the block raises, its writes and the audit events it queued are
    undone and the exception goes on; the enclosing unit of work keeps what came before."""
    mark = audit.mark(db)
    savepoint = db.begin_nested()
    try:
        yield
    except BaseException:
        if savepoint.is_active:
            savepoint.rollback()
        audit.discard_since(db, mark)
        raise
    savepoint.commit()
