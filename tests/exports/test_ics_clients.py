"""The calendar as real clients read it: Mozilla's ical.js (Thunderbird) under Node, and vobject.

Both once placed winter sessions an hour off, because they read only the first date of the
comma-separated RDATE that icalendar's time-zone generator writes. Each session must land at its
local time, in both hemispheres, through each client's own time-zone handling of our VTIMEZONE.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import vobject

from cicatrix.exports.ics import CalendarOptions, calendar_bytes

from .conftest import make_plan

JS = Path(__file__).with_name("js")
STAMP = datetime(2027, 1, 1, 12, 0, tzinfo=UTC)
# a winter and a summer session in each hemisphere, and a zone without clock changes
SESSIONS = [date(2027, 1, 11), date(2027, 4, 19), date(2027, 7, 12), date(2027, 11, 8), date(2028, 2, 7)]
ZONES = ["Europe/London", "America/New_York", "Australia/Sydney", "America/Sao_Paulo", "Asia/Tokyo"]


def _ical_js(raw: bytes) -> list[dict[str, Any]]:
    node = shutil.which("node")
    if node is None or not (JS / "node_modules" / "ical.js").is_dir():
        if os.environ.get("CI"):
            pytest.fail("Node.js and tests/exports/js/node_modules are required in CI (scripts/test.sh installs them)")
        pytest.skip("Node.js or ical.js not installed (scripts/test.sh installs it)")
    out = subprocess.run([node, str(JS / "read_ics.mjs")], input=raw, capture_output=True, check=False, timeout=60)
    assert out.returncode == 0, out.stderr.decode()
    events: list[dict[str, Any]] = json.loads(out.stdout)
    return events


def _expected(tz: str, day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=ZoneInfo(tz)).astimezone(UTC)


@pytest.mark.parametrize("tz", ZONES)
def test_ical_js_places_every_session_at_its_local_time(tz: str) -> None:
    plan = make_plan(SESSIONS)
    raw = calendar_bytes(plan, "p-1", CalendarOptions(tz=tz, appointment_time=time(9, 0)), stamp=STAMP)
    events = _ical_js(raw)
    sessions = sorted((e for e in events if "/" in e["summary"]), key=lambda e: e["start"])
    assert len(sessions) == len(SESSIONS)
    for ev, day in zip(sessions, SESSIONS, strict=True):
        got = datetime.fromisoformat(ev["start"].replace("Z", "+00:00"))
        assert got == _expected(tz, day, time(9, 0)), (tz, day, ev["start"])
        assert ev["start_zone"] == tz
        assert ev["alarms"] == [-86400]  # the day before
    # all-day care blocks stay dates, whatever the zone
    assert all(len(e["start"]) == 10 for e in events if "/" not in e["summary"])


@pytest.mark.parametrize("tz", ZONES)
def test_vobject_places_every_session_at_its_local_time(tz: str) -> None:
    plan = make_plan(SESSIONS)
    raw = calendar_bytes(plan, "p-1", CalendarOptions(tz=tz, appointment_time=time(14, 30)), stamp=STAMP)
    cal = vobject.readOne(raw.decode())
    starts = sorted(
        ev.dtstart.value.astimezone(UTC)
        for ev in cal.vevent_list
        if isinstance(ev.dtstart.value, datetime)
    )
    assert starts == [_expected(tz, d, time(14, 30)) for d in SESSIONS]


def test_ical_js_sees_sequence_rise_on_every_moved_event() -> None:
    first = calendar_bytes(make_plan(SESSIONS[:3]), "p-1", stamp=STAMP)
    moved = make_plan([SESSIONS[0], SESSIONS[1] + timedelta(days=7), SESSIONS[2] + timedelta(days=7)])
    opts = CalendarOptions(sequences={("microneedling", 2, 1): 1, ("microneedling", 3, 1): 1})
    second = calendar_bytes(moved, "p-1", opts, previous=first, stamp=STAMP)
    before = {e["uid"]: e for e in _ical_js(first)}
    after = {e["uid"]: e for e in _ical_js(second)}
    assert before.keys() == after.keys()
    for uid, ev in after.items():
        moved_event = (ev["start"], ev["end"]) != (before[uid]["start"], before[uid]["end"])
        if moved_event:  # sessions, their care blocks, follow-up and maintenance alike
            assert ev["sequence"] > before[uid]["sequence"], ev["summary"]
        else:
            assert ev["sequence"] == before[uid]["sequence"], ev["summary"]
    assert any(e["summary"] == "Follow-up assessment" and e["sequence"] > 0 for e in after.values())
