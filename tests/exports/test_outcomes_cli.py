from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from cicatrix.exports.outcomes import outcomes_csv
from cicatrix.service.records import outcomes_rows

EXAMPLE = Path(__file__).resolve().parents[2] / "src/cicatrix/examples/moderate_mixed_phototype_iv.json"


def test_outcomes_are_deidentified_and_shift_dates_per_patient(world) -> None:  # type: ignore[no-untyped-def]
    world.new_plan("P1")  # a second assessment for P1
    with world.database.transaction() as db:
        text = outcomes_csv(outcomes_rows(world.ctx("clinician", db), b"secret"))
        again = outcomes_csv(outcomes_rows(world.ctx("clinician", db), b"secret"))
        other = outcomes_csv(outcomes_rows(world.ctx("clinician", db), b"other"))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 3  # P1 twice, P2 once; clinic B's patient is not included
    assert text == again and text != other
    for banned in ("Patient P1", "MRN-P1", "1990-01-02"):
        assert banned not in text
    p1 = [r for r in rows if r["subject"] == rows[0]["subject"]]
    assert len(p1) == 2 and {r["phototype"] for r in rows} <= {"I", "II", "III", "IV", "V", "VI"}
    assert p1[0]["days_from_first_assessment"] == "0"


class _Result:
    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def _cli(*args: str, stdin: str | None = None) -> _Result:
    """Run the real `cicatrix` app in-process (same parsing, same exit codes, faster than a subprocess)."""
    from typer.testing import CliRunner

    from cicatrix.cli.main import app

    r = CliRunner().invoke(app, list(args), input=stdin)
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise r.exception
    return _Result(r.exit_code, r.stdout, r.stderr)


def test_cli_bad_input_is_one_line_and_exit_2() -> None:
    r = _cli("export", "ics", str(EXAMPLE), "--tz", "Mars/Olympus")
    assert r.returncode == 2 and r.stderr.strip() == "error: --tz: unknown time zone 'Mars/Olympus'"
    r = _cli("export", "pdf", "-", stdin=json.dumps({"patient": {}}))
    assert r.returncode == 2 and "Traceback" not in r.stderr and "phototype" in r.stderr
    r = _cli("export", "plandefinition", "--treatment", "nope")
    assert r.returncode == 2 and r.stderr.startswith("error: --treatment:")


def test_cli_ics_from_stdin_parses() -> None:
    from icalendar import Calendar

    r = _cli("export", "ics", "-", stdin=EXAMPLE.read_text())
    assert r.returncode == 0, r.stderr
    assert list(Calendar.from_ical(r.stdout).walk("VEVENT"))
