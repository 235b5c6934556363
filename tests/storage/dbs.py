"""Throwaway databases for tests: a SQLite file under tmp_path, or a PostgreSQL database
created and dropped per test (`CICATRIX_TEST_POSTGRES_URL` points at the `test` database)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from cicatrix.storage.settings import Settings

PG_ENV = "CICATRIX_TEST_POSTGRES_URL"
# Set by CI (.ci/run): there, a PostgreSQL test that cannot run fails instead of skipping.
REQUIRE_ENV = "CICATRIX_REQUIRE_POSTGRES"
# `-m "not postgres"` deselects the PostgreSQL half; `-m postgres` runs only it.
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def pg_url() -> str:
    url = os.environ.get(PG_ENV)
    if not url:
        why = f"{PG_ENV} is not set: PostgreSQL back end not tested in this run"
        if os.environ.get(REQUIRE_ENV):
            pytest.fail(f"{why}, but {REQUIRE_ENV} says it must be")
        pytest.skip(why)
    return url


@contextmanager
def temp_database(backend: str, tmp_path: Path) -> Iterator[Settings]:
    if backend == "sqlite":
        yield Settings(data_dir=tmp_path / "data", secret_key="test-secret")
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin_url = make_url(pg_url())
    name = f"cicatrix_t_{uuid.uuid4().hex}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield Settings(
            data_dir=tmp_path / "data",
            database_url=admin_url.set(database=name).render_as_string(hide_password=False),
            secret_key="test-secret",
            pool_size=4,
        )
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
