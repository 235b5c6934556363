"""Rule-based VTIMEZONE blocks: one observance per clock-change rule, as RFC 5545 3.6.5 shows.

icalendar's own generator lists each year's clock changes as one comma-separated RDATE. Mozilla's
ical.js (Thunderbird) and vobject read only the first of those dates, so every later winter or
summer was placed an hour off. Real calendars publish rules instead ("last Sunday of October at
02:00"), and every client reads them. This module derives those rules from the IANA database
through `zoneinfo`: it finds each transition between two dates, groups transitions that follow
one yearly rule (same month, weekday, week of the month, local time and offsets), and writes one
STANDARD or DAYLIGHT observance per run of consecutive years, with an RRULE (and an UNTIL where the
rule stops). A transition that follows no yearly pattern gets an observance of its own.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import groupby
from zoneinfo import ZoneInfo

from icalendar import Timezone, TimezoneDaylight, TimezoneStandard

_DAY = timedelta(days=1)
_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


@dataclass(frozen=True)
class _Transition:
    at: datetime  # UTC instant
    before: timedelta  # UTC offset in force until `at`
    after: timedelta  # UTC offset from `at`
    dst: bool  # daylight saving time from `at`
    name: str  # abbreviation from `at`

    @property
    def local(self) -> datetime:
        """The wall-clock time of the change, in the offset before it (how DTSTART states it)."""
        return (self.at + self.before).replace(tzinfo=None)

    def rule_key(self) -> tuple[object, ...]:
        lt = self.local
        return (self.dst, self.before, self.after, self.name, lt.month, lt.weekday(), lt.time())

    def week(self) -> tuple[int, bool]:
        """Which weekday of the month it is (1-5), and whether it is that month's last one."""
        lt = self.local
        days_in_month = calendar.monthrange(lt.year, lt.month)[1]
        return (lt.day - 1) // 7 + 1, lt.day + 7 > days_in_month


def _offset(zone: ZoneInfo, at: datetime) -> tuple[timedelta, bool, str]:
    local = at.astimezone(zone)
    return local.utcoffset() or timedelta(0), bool(local.dst()), local.tzname() or ""


def transitions(zone: ZoneInfo, first: date, last: date) -> list[_Transition]:
    """Every change of UTC offset or daylight-saving state between two dates (UTC days)."""
    out: list[_Transition] = []
    t = datetime(first.year, first.month, first.day, tzinfo=UTC)
    end = datetime(last.year, last.month, last.day, tzinfo=UTC) + _DAY
    state = _offset(zone, t)
    while t < end:
        nxt = t + _DAY
        new = _offset(zone, nxt)
        if new[:2] != state[:2]:
            lo, hi = t, nxt  # the change lies in (lo, hi]: narrow it to the minute
            while hi - lo > timedelta(minutes=1):
                mid = lo + (hi - lo) / 2
                mid = mid.replace(second=0, microsecond=0)
                if mid <= lo:
                    mid = lo + timedelta(minutes=1)
                if _offset(zone, mid)[:2] == state[:2]:
                    lo = mid
                else:
                    hi = mid
            out.append(_Transition(at=hi, before=state[0], after=new[0], dst=new[1], name=new[2]))
        state, t = new, nxt
    return out


def _byday(run: list[_Transition]) -> str | None:
    """The RRULE BYDAY that every transition of the run satisfies, or None."""
    weekday = _WEEKDAYS[run[0].local.weekday()]
    weeks = [tr.week() for tr in run]
    if all(is_last for _n, is_last in weeks):
        return f"-1{weekday}"
    if len({n for n, _last in weeks}) == 1:
        return f"{weeks[0][0]}{weekday}"
    return None


def _runs(group: list[_Transition]) -> list[list[_Transition]]:
    """Split one rule's transitions into runs of consecutive years that share a BYDAY."""
    runs: list[list[_Transition]] = []
    for tr in group:
        run = runs[-1] if runs else None
        if run is not None and tr.local.year == run[-1].local.year + 1 and _byday([*run, tr]) is not None:
            run.append(tr)
        else:
            runs.append([tr])
    return runs


def _observance(run: list[_Transition], open_ended: bool) -> TimezoneStandard | TimezoneDaylight:
    first = run[0]
    obs = TimezoneDaylight() if first.dst else TimezoneStandard()
    obs.add("dtstart", first.local)
    obs.add("tzoffsetfrom", first.before)
    obs.add("tzoffsetto", first.after)
    if first.name:
        obs.add("tzname", first.name)
    if len(run) > 1:
        rule: dict[str, object] = {"freq": "yearly", "bymonth": first.local.month, "byday": _byday(run)}
        if not open_ended:
            rule["until"] = run[-1].at
        obs.add("rrule", rule)
    return obs


def vtimezone(tzid: str, first: date, last: date) -> Timezone:
    """A VTIMEZONE for `tzid` that is right for every date from `first` to `last` (and on, where the
    rules in force at `last` continue)."""
    zone = ZoneInfo(tzid)
    found = transitions(zone, first, last)
    tz = Timezone()
    tz.add("tzid", tzid)
    if not found:
        offset, dst, name = _offset(zone, datetime(first.year, first.month, first.day, tzinfo=UTC))
        obs = TimezoneDaylight() if dst else TimezoneStandard()
        obs.add("dtstart", datetime(1970, 1, 1))
        obs.add("tzoffsetfrom", offset)
        obs.add("tzoffsetto", offset)
        if name:
            obs.add("tzname", name)
        tz.add_component(obs)
        return tz
    last_year = found[-1].local.year
    ordered = sorted(found, key=lambda tr: (tr.rule_key(), tr.at))
    runs: list[list[_Transition]] = []
    for _key, group in groupby(ordered, key=_Transition.rule_key):
        runs += _runs(list(group))
    # a rule still in force in the last year keeps going: no UNTIL, so later dates stay right
    latest = {id(run): run[-1].local.year >= last_year - 1 and len(run) > 1 for run in runs}
    for run in sorted(runs, key=lambda r: r[0].at):
        tz.add_component(_observance(run, open_ended=latest[id(run)]))
    return tz
