"""Issue 13 §1: importing into an empty database says what to do, in one line and exit 2,
instead of a traceback (before `db upgrade`) or a bare "no such account" (before any account)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .test_outcomes_cli import _cli
from .test_outside_records import SYNTHEA


@pytest.fixture
def empty_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in ("CICATRIX_DATABASE_URL", "CICATRIX_KNOWLEDGE_DIR", "CICATRIX_SECRET_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CICATRIX_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def _one_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


def test_import_before_db_upgrade_says_to_upgrade(empty_dir: Path) -> None:
    r = _cli("import", "fhir", str(SYNTHEA), "--actor", "dr-a")
    assert r.returncode == 2 and r.stdout == ""
    assert _one_line(r.stderr) == (
        "error: database: has no cicatrix tables yet; run `cicatrix db upgrade`, then `cicatrix user create`"
    )


def test_import_into_an_upgraded_empty_database_says_how_to_create_the_actor(empty_dir: Path) -> None:
    assert _cli("db", "upgrade").returncode == 0
    r = _cli("import", "fhir", str(SYNTHEA), "--actor", "dr-a")
    assert r.returncode == 2 and r.stdout == ""
    assert "cicatrix user create --username dr-a --role clinician" in _one_line(r.stderr)
    # following the advice, the import goes through and reports what it did not use
    r = _cli("user", "create", "--username", "dr-a", "--role", "clinician", "--password-stdin",
             stdin="a-long-enough-pass-1\n")  # fmt: skip
    assert r.returncode == 0, r.stderr
    r = _cli("import", "fhir", str(SYNTHEA), "--actor", "dr-a")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "imported patient 1",
        "skipped (not used by cicatrix): 1 CarePlan, 1 Condition, 1 Encounter, 1 Observation, 1 Procedure",
    ]
