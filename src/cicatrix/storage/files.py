"""Files holding patient data are readable by their owner only (0600), whatever the umask.

The SQLite database is created 0600 before SQLite first opens it; SQLite gives its `-wal`
and `-shm` files the database file's permissions. An existing database (or WAL) that others
can read is tightened when the service opens it. Backups are written 0600 too. See
docs/security.md for encryption at rest, which these permissions do not replace.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE = 0o600


def private_dir(path: Path) -> None:
    """Create a directory (and parents) that only its owner can list, if it does not exist."""
    if not path.exists():
        path.mkdir(parents=True, mode=0o700, exist_ok=True)


def private_file(path: Path) -> None:
    """Create `path` empty with mode 0600 if missing; tighten it to 0600 if others can read it."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE)
    except FileExistsError:
        tighten(path)
    else:
        os.close(fd)


def tighten(path: Path) -> None:
    """Drop group and other permissions from an existing file (owner's own bits kept)."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if mode & 0o077:
        os.chmod(path, mode & 0o700)


def private_database(db_path: Path) -> None:
    """The SQLite file and its companions, before the first connection."""
    private_dir(db_path.parent)
    private_file(db_path)
    for suffix in ("-wal", "-shm", "-journal"):
        tighten(db_path.with_name(db_path.name + suffix))
