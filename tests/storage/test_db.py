"""`Database.run`: the unit of work every API request runs in, on both back ends."""

from __future__ import annotations

import asyncio
import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cicatrix.storage import migrate
from cicatrix.storage.db import Database, utcnow
from cicatrix.storage.models import Clinic
from cicatrix.storage.settings import Settings


def _run(coro):  # type: ignore[no-untyped-def]
    """`asyncio.run` in a thread of its own: the main thread may already have a running loop
    (Playwright's sync API, used by the browser tests, keeps one for the whole session)."""
    out: dict = {}  # type: ignore[type-arg]

    def target() -> None:
        try:
            out["value"] = asyncio.run(coro)
        except BaseException as exc:  # re-raised in the test's thread
            out["error"] = exc

    t = threading.Thread(target=target)
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]
    return out["value"]


def _clinics(database: Database) -> list[str]:
    with database.session() as db:
        return list(db.scalars(select(Clinic.name).order_by(Clinic.id)))


def _add(name: str):  # type: ignore[no-untyped-def]
    def work(db: Session) -> str:
        db.add(Clinic(name=name, created_at=utcnow()))
        db.flush()
        return threading.current_thread().name

    return work


def test_run_commits_once_when_the_work_returns_and_rolls_back_when_it_raises(settings: Settings) -> None:
    """The unit of work owns the transaction: the work never commits, `run` does."""
    migrate.upgrade(settings)
    database = Database(settings)

    async def main() -> None:
        await database.run(_add("returned"))

        def fails(db: Session) -> None:
            _add("failed")(db)
            raise LookupError("the use case failed")

        with pytest.raises(LookupError, match="the use case failed"):
            await database.run(fails)
        await database.aclose()

    try:
        _run(main())
        database.run_sync(_add("returned, sync"))
        with pytest.raises(LookupError):
            database.run_sync(lambda db: (_add("failed, sync")(db), (_ for _ in ()).throw(LookupError()))[0])
        assert _clinics(database) == ["returned", "returned, sync"]
    finally:
        database.dispose()


def test_use_cases_never_commit() -> None:
    """Only the unit of work (`Database.run`, `run_sync`, `transaction`) commits or rolls back a
    session (a savepoint of `unit_of_work.step` or a preview is the use case's own)."""
    import re
    from pathlib import Path

    import cicatrix

    root = Path(cicatrix.__file__).parent
    offenders = [
        f"{path.relative_to(root)}:{n}"
        for path in sorted(root.rglob("*.py"))
        if path.parts[-2] not in ("migrations", "versions")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\b(db|session)\.(commit|rollback)\(\)", line) and not line.lstrip().startswith("#")
    ]
    assert offenders == []


def test_run_answers_other_requests_while_one_waits_for_the_database(settings: Settings) -> None:
    """On PostgreSQL the unit of work runs on the event loop itself, and eight that each wait
    0.3 s in the database finish together, not one after another (2.4 s). SQLite has no
    asyncio driver: there it runs in a worker thread, never blocking the loop."""
    migrate.upgrade(settings)
    database = Database(settings)
    pg = database.engine.dialect.name == "postgresql"

    def wait(db: Session) -> str:
        db.execute(select(func.pg_sleep(0.3)) if pg else select(1))
        return threading.current_thread().name

    async def main() -> tuple[float, list[str], str]:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        names = await asyncio.gather(*(database.run(wait) for _ in range(8 if pg else 2)))
        elapsed = loop.time() - t0
        await database.aclose()
        return elapsed, list(names), threading.current_thread().name  # the event loop's thread

    try:
        elapsed, names, loop_thread = _run(main())
    finally:
        database.dispose()
    if pg:
        assert set(names) == {loop_thread}, "PostgreSQL work must not need a thread"
        assert elapsed < 1.2, f"the units of work ran one after another ({elapsed:.2f} s)"
    else:
        assert loop_thread not in names
