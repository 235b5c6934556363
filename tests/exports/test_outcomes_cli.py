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
    subjects = {r["subject"] for r in rows}
    p1 = next(g for g in ([r for r in rows if r["subject"] == s] for s in subjects) if len(g) == 2)
    assert {r["phototype"] for r in rows} <= {"I", "II", "III", "IV", "V", "VI", "*"}
    assert sorted(r["days_from_first_assessment"] for r in p1)[0] == "0"


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


def test_outcome_subjects_never_look_numeric_and_rows_are_shuffled_by_seed(world) -> None:  # type: ignore[no-untyped-def]
    """R and spreadsheets read "12e345678901" as a number; each export's seed orders the rows."""
    import re

    for _ in range(3):
        world.new_plan("P2")
    with world.database.transaction() as db:
        orders = {
            seed: [f"{r['subject']}{r['days_from_first_assessment']}" for r in outcomes_rows(world.ctx("clinician", db), seed)]
            for seed in (b"a", b"b", b"c", b"d", b"e", b"f")
        }
    assert all(re.fullmatch(r"s[0-9a-f]{12}", s[:13]) for o in orders.values() for s in o)
    # the same subjects' rows in a different order under some other seed (not sorted by patient)
    shapes = {tuple(sorted(range(len(o)), key=lambda i, o=o: o[i])) for o in orders.values()}
    assert len(shapes) > 1


def test_k_anonymity_suppresses_rare_combinations_and_the_rest_of_their_patients_rows() -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from cicatrix.exports.outcomes import K_ANONYMITY, QUASI_IDENTIFIERS, k_anonymise

    row = st.fixed_dictionaries(
        {
            "subject": st.sampled_from([f"s{i:012x}" for i in range(12)]),
            "phototype": st.sampled_from(["II", "III", "IV"]),
            "sex": st.sampled_from(["female", "male"]),
            "age_band": st.sampled_from(["20-29", "30-39"]),
            "treatments_planned": st.sampled_from(["microneedling", "subcision"]),
            "ecca": st.integers(0, 200),
        }
    )

    @settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(row, max_size=60))
    def check(rows: list[dict[str, object]]) -> None:
        out = k_anonymise(rows)
        assert [r["ecca"] for r in out] == [r["ecca"] for r in rows]  # nothing dropped or reordered
        kept: dict[tuple[object, ...], set[object]] = {}
        for r in out:
            if r["suppressed"] == 0:
                kept.setdefault(tuple(r[q] for q in QUASI_IDENTIFIERS), set()).add(r["subject"])
            else:
                assert all(r[q] == "*" for q in QUASI_IDENTIFIERS)
        assert all(len(s) >= K_ANONYMITY for s in kept.values())  # every shown combination: >= k patients
        for r in out:  # a patient is suppressed everywhere or nowhere
            assert {x["suppressed"] for x in out if x["subject"] == r["subject"]} == {r["suppressed"]}

    check()


def test_five_patients_sharing_a_combination_keep_it() -> None:
    from cicatrix.exports.outcomes import k_anonymise

    common = {"phototype": "III", "sex": "female", "age_band": "30-39", "treatments_planned": "microneedling"}
    rows = [{"subject": f"s{i}", **common} for i in range(5)] + [{"subject": "s9", **common, "phototype": "VI"}]
    out = k_anonymise(rows)
    assert [r["suppressed"] for r in out] == [0, 0, 0, 0, 0, 1]
    assert out[0]["phototype"] == "III" and out[5]["phototype"] == "*"
