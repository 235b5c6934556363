"""iCalendar export: sessions as timed events with a reminder, care steps as all-day events.

UIDs come from patient, treatment, session number and step key (never dates), so a
calendar app that re-imports or re-fetches the feed updates events in place. SEQUENCE
rises when an event's time or content changes, which is what makes clients accept the
update (RFC 5545 3.8.7.4).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from icalendar import Alarm, Calendar, Component, Event

from cicatrix.engine.result import Plan
from cicatrix.exports.care import care_steps, step_title, treatment_names
from cicatrix.exports.errors import ExportError
from cicatrix.exports.ids import stable_uuid

PRODID = "-//cicatrix//acne scar care plan//EN"
DEFAULT_TZ = "Europe/London"


@dataclass(frozen=True)
class CalendarOptions:
    """Clinic-side settings for a patient's calendar."""

    tz: str = DEFAULT_TZ
    appointment_time: time = time(9, 0)
    # (treatment, session number) -> local start time, for sessions booked at another time
    appointment_times: Mapping[tuple[str, int], time] = field(default_factory=dict)
    duration: timedelta = timedelta(hours=1)
    clinic_name: str = "Your clinic"
    location: str | None = None
    # (treatment, session number) -> how many times that session was re-scheduled
    sequences: Mapping[tuple[str, int], int] = field(default_factory=dict)

    def zone(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise ExportError("tz", f"unknown time zone {self.tz!r}") from None


def _uid(patient_id: str, treatment: str | None, session: int | None, code: str) -> str:
    return f"{stable_uuid('ics', patient_id, treatment, session, code)}@cicatrix"


def _lines(title: str, items: tuple[str, ...]) -> list[str]:
    return [title, *(f"- {t}" for t in items)] if items else []


def _previous_events(previous: Calendar | bytes | str | None) -> dict[str, Component]:
    if previous is None:
        return {}
    cal = previous if isinstance(previous, Calendar) else Calendar.from_ical(previous)
    return {str(ev["UID"]): ev for ev in cal.walk("VEVENT")}


def _ical_text(value: Any) -> str:
    raw = value.to_ical()
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def _fingerprint(ev: Component) -> tuple[str, ...]:
    """What counts as a change for SEQUENCE: when, what, where."""
    return tuple(
        _ical_text(ev[k]) if k in ev else "" for k in ("DTSTART", "DTEND", "SUMMARY", "DESCRIPTION", "LOCATION")
    )


def build_calendar(
    plan: Plan,
    patient_id: str,
    options: CalendarOptions | None = None,
    *,
    previous: Calendar | bytes | str | None = None,
    stamp: datetime | None = None,
) -> Calendar:
    """The patient's calendar for an approved plan.

    `previous` is the calendar last issued for this patient: events keep its SEQUENCE when
    unchanged and bump it when moved or edited. `options.sequences` gives a floor per
    session, for callers that count re-schedules instead of keeping old calendars.
    """
    opts = options or CalendarOptions()
    zone = opts.zone()
    stamp = stamp or datetime.now(UTC)
    names = treatment_names(plan)
    steps = care_steps(plan)
    prev = _previous_events(previous)

    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", f"{opts.clinic_name}: your treatment plan")
    cal.add("x-wr-timezone", opts.tz)

    events: list[tuple[Event, int]] = []
    day_of = {(s.treatment, s.session): s for s in steps if s.offset == 0 and s.until == 0}
    for s in plan.course.sessions:
        name = names.get(s.treatment, s.treatment)
        local = opts.appointment_times.get((s.treatment, s.number), opts.appointment_time)
        start = datetime.combine(s.date, local, tzinfo=zone)
        ev = Event()
        ev.add("uid", _uid(patient_id, s.treatment, s.number, "session"))
        ev.add("summary", f"{name}: session {s.number} at {opts.clinic_name}")
        ev.add("dtstart", start)
        ev.add("dtend", start + opts.duration)
        if opts.location:
            ev.add("location", opts.location)
        block = day_of.get((s.treatment, s.number))
        desc = [f"{name}, session {s.number}."]
        if block:
            desc += _lines("On the day, do:", block.do) + _lines("Avoid:", block.avoid)
        ev.add("description", "\n".join(desc))
        ev.add("categories", ["cicatrix", "session"])
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", f"Tomorrow: {name} session {s.number} at {opts.clinic_name}")
        alarm.add("trigger", timedelta(days=-1))
        ev.add_component(alarm)
        events.append((ev, opts.sequences.get((s.treatment, s.number), 0)))

    for step in steps:
        ev = Event()
        ev.add("uid", _uid(patient_id, step.treatment, step.session, step.key))
        ev.add("summary", step_title(step, names))
        ev.add("dtstart", step.start)
        ev.add("dtend", step.end + timedelta(days=1))  # DTEND of an all-day event is exclusive
        desc = _lines("Do:", step.do) + _lines("Avoid:", step.avoid) + _lines("Expect:", step.expect)
        ev.add("description", "\n".join(desc))
        ev.add("transp", "TRANSPARENT")
        ev.add("categories", ["cicatrix", step.kind])
        floor = opts.sequences.get((step.treatment, step.session), 0) if step.treatment and step.session else 0
        events.append((ev, floor))

    for ev, floor in events:
        old = prev.get(str(ev["UID"]))
        seq = floor
        if old is not None:
            old_seq = int(old.get("SEQUENCE", 0))
            seq = max(seq, old_seq + (1 if _fingerprint(old) != _fingerprint(ev) else 0))
        ev.add("sequence", seq)
        ev.add("dtstamp", stamp)
        cal.add_component(ev)
    cal.add_missing_timezones()
    return cal


def calendar_bytes(
    plan: Plan,
    patient_id: str,
    options: CalendarOptions | None = None,
    *,
    previous: Calendar | bytes | str | None = None,
    stamp: datetime | None = None,
) -> bytes:
    data: bytes = build_calendar(plan, patient_id, options, previous=previous, stamp=stamp).to_ical()
    return data


def parse_time(value: str, field_name: str = "time") -> time:
    try:
        return time.fromisoformat(value)
    except ValueError:
        raise ExportError(field_name, f"expected HH:MM, got {value!r}") from None
