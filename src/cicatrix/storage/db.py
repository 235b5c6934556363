"""Engines and sessions: SQLite with WAL and foreign keys, or PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

import anyio.to_thread
import msgspec
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from cicatrix.storage.models import (
    CHECK_IN_ONCE,
    NO_DOUBLE_PRACTITIONER,
    NO_DOUBLE_ROOM,
    ONE_APPOINTMENT_PER_SESSION,
    ONE_APPROVED_PLAN,
    ONE_MRN_PER_CLINIC,
)
from cicatrix.storage.settings import Settings


def utcnow() -> datetime:
    return datetime.now(UTC)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see make_engine)
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    # FULL: a write acknowledged to a client survives power loss, not just a process kill.
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


T = TypeVar("T")


class WriteConflict(Exception):
    """Another transaction changed or claimed the same rows first, so nothing was written.

    The unit of work raises it for the two ways the database refuses a concurrent write: a
    row whose version moved on since it was read (SQLAlchemy's `StaleDataError` from a
    `version_id_col`), and a guard index that only one transaction may satisfy (one approved
    plan per patient). Every entry point answers it as a service `Conflict`: 409 on the API and
    the web pages, exit 2 on the command line; never a 500."""

    status = 409
    code = "conflict"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.extra: dict[str, object] = {}

    def as_dict(self) -> dict[str, object]:
        return {"code": self.code, "field": self.field, "message": self.message}


_STALE = WriteConflict("version", "this record changed since you read it; reload it and apply your change again")
# SQLite names the columns of a failed unique index, PostgreSQL names the index.
_GUARDS = {
    (ONE_APPROVED_PLAN, "plan.patient_id"): WriteConflict(
        "status",
        "another plan of this patient was approved at the same moment; reload the patient to see "
        "which plan is in force, and approve this one again if it should replace it",
    ),
    (NO_DOUBLE_PRACTITIONER,): WriteConflict(
        "start", "the practitioner was booked for this time at the same moment; choose another slot"
    ),
    (NO_DOUBLE_ROOM,): WriteConflict(
        "start", "the room was booked for this time at the same moment; choose another slot"
    ),
    (ONE_APPOINTMENT_PER_SESSION, "appointment.session_id"): WriteConflict(
        "session_id", "this session was booked at the same moment; reload the course to see its appointment"
    ),
    (ONE_MRN_PER_CLINIC, "patient.clinic_id, patient.mrn"): WriteConflict(
        "mrn",
        "another patient of this clinic has this record number (saved at the same moment); search for it, "
        "or give this patient another number",
    ),
    # two first answers to one check-in at once (a double tap, two devices): one is kept
    (CHECK_IN_ONCE, "check_in.session_id, check_in.day"): WriteConflict(
        "answer", "this check-in was answered at the same moment; reload the page to see the answer kept"
    ),
}


def _conflict(exc: Exception) -> WriteConflict | None:
    """The `WriteConflict` a concurrent-write failure stands for; None for any other error."""
    if isinstance(exc, StaleDataError):
        return WriteConflict(_STALE.field, _STALE.message)
    if isinstance(exc, IntegrityError):
        orig = exc.orig
        diag = getattr(orig, "diag", None)
        said = {getattr(diag, "constraint_name", None), str(orig).rpartition(": ")[2]}
        for names, guard in _GUARDS.items():
            if said & set(names):
                return WriteConflict(guard.field, guard.message)
    return None


@contextmanager
def _conflicts() -> Iterator[None]:
    try:
        yield
    except (StaleDataError, IntegrityError) as exc:
        conflict = _conflict(exc)
        if conflict is None:
            raise
        raise conflict from exc


def _json_text(value: Any) -> str:
    return msgspec.json.encode(value).decode()


# JSON columns (a stored plan is ~19 KB) are written and read with msgspec, several times
# faster than the standard library's json that both drivers use otherwise; same JSON values.
_JSON = {"json_serializer": _json_text, "json_deserializer": msgspec.json.decode}


def _server_options(settings: Settings) -> dict[str, Any]:
    """Pool options for a database server; the pre-ping turns a restarted server into a
    reconnect instead of one failed request per pooled connection."""
    return {
        "hide_parameters": True,
        "pool_size": settings.pool_size,
        "max_overflow": settings.pool_size,
        "pool_pre_ping": True,
        **_JSON,
    }


def make_engine(settings: Settings) -> Engine:
    """Create the engine; parameters are hidden from error messages so no personal data leaks."""
    url = settings.url
    if url.startswith("sqlite"):
        from cicatrix.storage.files import private_database

        private_database(settings.sqlite_path)  # 0600 before SQLite creates it (and its WAL)
        engine = create_engine(
            url,
            hide_parameters=True,
            connect_args={"check_same_thread": False, "timeout": 10},
            **_JSON,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling defers BEGIN; emit it ourselves so reads and
        # writes in one unit of work see one snapshot and writers queue on busy_timeout.
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
        return engine
    return create_engine(url, **_server_options(settings))


def _async_capable(engine: Engine) -> bool:
    """PostgreSQL through psycopg 3, whose driver also speaks asyncio."""
    return engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg"


class Database:
    """An engine plus its session factory; one per process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = make_engine(settings)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.runs_on_event_loop = _async_capable(self.engine)
        # An asyncio engine's connections belong to the event loop that opened them.
        self._async_engines: WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncEngine] = WeakKeyDictionary()

    def session(self) -> Session:
        """A bare session, for migrations, seeding and tests; requests and commands use `run`."""
        return self.sessions()

    async def run(self, work: Callable[[Session], T]) -> T:
        """The unit of work: run `work(session)` in one transaction, commit once when it returns,
        roll back when it raises. `work` never commits; this is the one place that does.

        On PostgreSQL the same synchronous code runs on the event loop itself (SQLAlchemy's
        `AsyncSession.run_sync`): each query awaits psycopg's asyncio connection, so a request
        costs no thread hand-offs and the worker's other requests run while it waits. SQLite
        has no asyncio driver, so there `work` runs in one worker thread."""
        if self.runs_on_event_loop:
            with _conflicts():
                async with AsyncSession(self._async_engine(), expire_on_commit=False) as session, session.begin():
                    return await session.run_sync(work)
        return await anyio.to_thread.run_sync(self.run_sync, work)

    def run_sync(self, work: Callable[[Session], T]) -> T:
        """`run` for synchronous callers (the web pages' worker threads, the command line)."""
        with _conflicts(), self.sessions.begin() as session:
            return work(session)

    def transaction(self) -> AbstractContextManager[Session]:
        """`with database.transaction() as db:` one unit of work as a block (seeding, tests):
        commits at the end of the block, rolls back if it raises."""
        return self._transaction()

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        with _conflicts(), self.sessions.begin() as session:
            yield session

    def ping(self) -> None:
        """One round trip to the database (the health check), outside any unit of work."""
        with self.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")

    def _async_engine(self) -> AsyncEngine:
        loop = asyncio.get_running_loop()
        engine = self._async_engines.get(loop)
        if engine is None:
            engine = create_async_engine(self.settings.url, **_server_options(self.settings))
            self._async_engines[loop] = engine
        return engine

    async def aclose(self) -> None:
        """Close the asyncio connections of the running event loop (at application shutdown)."""
        engine = self._async_engines.pop(asyncio.get_running_loop(), None)
        if engine is not None:
            await engine.dispose()

    def dispose(self) -> None:
        self.engine.dispose()

    def migrated(self) -> bool:
        """Whether `cicatrix db upgrade` ever ran here (the accounts table exists), so a command
        on an empty database can say so instead of failing on a missing table."""
        from sqlalchemy import inspect

        with self.engine.connect() as conn:
            return bool(inspect(conn).has_table("user_account"))
