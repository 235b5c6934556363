"""Out-of-range values in a case are bad input on the CLI: exit 2 and one line naming the field,
never a traceback (year 9999 overflowed the course's date arithmetic)."""

from __future__ import annotations

import json

from tests.cli.test_plan_cli import cli
from tests.conftest import make_case


def test_a_start_in_year_9999_is_exit_2_naming_the_field() -> None:
    case = make_case(scars=[{"type": "rolling", "count": 3}], preferences={"start": "9999-12-01"})
    r = cli("plan", "-", "--format", "json", stdin=json.dumps(case))
    assert r.returncode == 2, r.stderr
    assert "preferences.start" in r.stderr and "Traceback" not in r.stderr


def test_a_count_of_ten_to_the_thirty_is_exit_2() -> None:
    case = make_case(scars=[{"type": "rolling", "count": 10**30}])
    r = cli("plan", "-", "--format", "json", stdin=json.dumps(case))
    assert r.returncode == 2, r.stderr
    assert "assessment.scars[0].count" in r.stderr
