""""A server is using this SQLite database": an advisory lock that `db restore` respects.

Every serving process holds a shared `flock` on `<database>.lock` for as long as it serves
(`api/app.py`, the application's lifespan); `db restore` takes the lock exclusively, without
waiting, and refuses when it cannot: restoring under a live server made acknowledged writes
vanish. The operating system drops the lock when a process ends, even by `kill -9`, so a
crashed server never leaves a stale lock. A server that starts while a restore runs refuses
to start. PostgreSQL restores go through `pg_restore`, outside this lock (docs/service.md).
On systems without `fcntl` (Windows) there is no lock; stop the server by hand.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cicatrix.storage.files import PRIVATE, private_dir

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


class DatabaseInUse(RuntimeError):
    pass


def lock_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".lock")


def _open(db_path: Path) -> int:
    private_dir(db_path.parent)
    return os.open(lock_path(db_path), os.O_RDWR | os.O_CREAT, PRIVATE)


def hold_shared(db_path: Path) -> int | None:
    """Take the serving lock; returns the descriptor to pass to `release` (None: no locking)."""
    if fcntl is None:
        return None
    fd = _open(db_path)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise DatabaseInUse(f"{db_path} is being restored; start the server when the restore has finished") from None
    return fd


def release(fd: int | None) -> None:
    if fd is not None:
        os.close(fd)  # closing the descriptor drops its lock


@contextmanager
def exclusive(db_path: Path) -> Iterator[None]:
    """Hold the database alone (for a restore), or raise DatabaseInUse at once."""
    if fcntl is None:
        yield
        return
    fd = _open(db_path)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DatabaseInUse(
                f"a cicatrix server is using {db_path}; stop it (every worker) before restoring"
            ) from None
        yield
    finally:
        os.close(fd)
