"""iCalendar export: sessions as timed events with a reminder, care steps as all-day events.

UIDs come from patient, treatment, session number and step key (never dates), so a
calendar app that re-imports or re-fetches the feed updates events in place. SEQUENCE
rises when an event's time or content changes, which is what makes clients accept the
update (RFC 5545 3.8.7.4). Re-date counts are kept per session *instance* (a missed session
and its replacement are two instances of one numbered session): the highest count of a
session's instances is the floor for its event and its care blocks, and the follow-up and
maintenance visits, which move with any session, take the sum of the counts they depend on.

What a calendar user lives with: summaries short enough for a phone's month view, the treatment
named as the handout names it; a daily routine that lasts months is one short event on the day
it starts (its text in the description), not a banner across every day; reminders the day before
a session, on the morning pre-care starts, and a week before the follow-up. The time zone is a
rule-based VTIMEZONE (see vtimezone.py), which every client reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from icalendar import Alarm, Calendar, Component, Event

from cicatrix.engine.result import Plan
from cicatrix.exports.care import care_steps, step_title, treatment_names
from cicatrix.exports.errors import ExportError
from cicatrix.exports.ids import stable_uuid
from cicatrix.exports.vtimezone import vtimezone
from cicatrix.knowledge.models import KnowledgeBase

PRODID = "-//cicatrix//acne scar care plan//EN"
DEFAULT_TZ = "Europe/London"


@dataclass(frozen=True)
class CalendarOptions:
    """Clinic-side settings for a patient's calendar."""

    tz: str = DEFAULT_TZ
    appointment_time: time = time(9, 0)
    # (treatment, session number) -> local start time, for sessions booked at another time
    appointment_times: Mapping[tuple[str, int], time] = field(default_factory=dict)
    # (treatment, session number) -> the booked start (an aware datetime, e.g. an appointment's);
    # wins over the times above
    starts: Mapping[tuple[str, int], datetime] = field(default_factory=dict)
    duration: timedelta = timedelta(hours=1)
    clinic_name: str = "Your clinic"
    location: str | None = None
    # (treatment, session number, occurrence) -> how many times that session *instance* was
    # re-dated. A missed session and its replacement are two instances of one numbered session
    # (occurrence 1, 2, ... in booking order, as in the FHIR export), each with its own count.
    sequences: Mapping[tuple[str, int, int], int] = field(default_factory=dict)
    # treatment id -> the name the handout uses (the knowledge base's plain name)
    names: Mapping[str, str] = field(default_factory=dict)

    def session_floor(self, treatment: str, number: int) -> int:
        """The SEQUENCE floor of a numbered session's event: the highest count of any of its
        instances. The replacement of a missed session is booked one above the missed one, so the
        event rises when it moves; the lower count of the missed instance never pulls it back."""
        return max((n for (t, num, _occ), n in self.sequences.items() if (t, num) == (treatment, number)), default=0)

    def moved_total(self, treatment: str | None = None) -> int:
        """All re-dates (of one treatment's instances, or of every instance): never falls, and
        rises with any moved session, which is what the follow-up and maintenance visits follow."""
        return sum(n for (t, _num, _occ), n in self.sequences.items() if treatment is None or t == treatment)

    def session_start(self, treatment: str, number: int, day: date) -> datetime:
        """When a session starts: its booked start, else the day at the clinic's appointment time."""
        booked = self.starts.get((treatment, number))
        if booked is not None:
            return booked
        local = self.appointment_times.get((treatment, number), self.appointment_time)
        return datetime.combine(day, local, tzinfo=self.zone())

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
    opts.zone()  # an unknown zone is refused before anything is built
    stamp = stamp or datetime.now(UTC)
    names = {**treatment_names(plan), **opts.names}
    steps = care_steps(plan)
    prev = _previous_events(previous)

    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", f"{opts.clinic_name}: your treatment plan")
    cal.add("x-wr-timezone", opts.tz)

    events: list[tuple[Event, int]] = []
    totals: dict[str, int] = {}
    for s in plan.course.sessions:
        totals[s.treatment] = max(totals.get(s.treatment, 0), s.number)
    day_of = {(s.treatment, s.session): s for s in steps if s.offset == 0 and s.until == 0}
    for s in plan.course.sessions:
        name = names.get(s.treatment, s.treatment)
        start = opts.session_start(s.treatment, s.number, s.date)
        ev = Event()
        ev.add("uid", _uid(patient_id, s.treatment, s.number, "session"))
        count = f" {s.number}/{totals[s.treatment]}" if totals[s.treatment] > 1 else ""
        ev.add("summary", f"{name}{count}")
        ev.add("dtstart", start)
        ev.add("dtend", start + opts.duration)
        ev.add("location", opts.location or opts.clinic_name)
        block = day_of.get((s.treatment, s.number))
        desc = [f"{name}, session {s.number} of {totals[s.treatment]}, at {opts.clinic_name}."]
        if block:
            desc += _lines("On the day, do:", block.do) + _lines("Avoid:", block.avoid)
        ev.add("description", "\n".join(desc))
        ev.add("categories", ["cicatrix", "session"])
        ev.add_component(_alarm(timedelta(days=-1), f"Tomorrow: {name} at {opts.clinic_name}"))
        events.append((ev, opts.session_floor(s.treatment, s.number)))

    for step in steps:
        if step.offset == 0 and step.until == 0 and step.session is not None:
            continue  # the day itself: already in the session's description
        ev = Event()
        ev.add("uid", _uid(patient_id, step.treatment, step.session, step.key))
        ev.add("summary", step_title(step, names))
        desc = _lines("Do:", step.do) + _lines("Avoid:", step.avoid) + _lines("Expect:", step.expect)
        routine = step.session is None and step.kind in ("do", "avoid", "expect") and step.end > step.start
        ev.add("dtstart", step.start)
        if routine:
            # a months-long daily routine: one event on the day it starts, not a banner on every day
            ev.add("dtend", step.start + timedelta(days=1))
            desc = [f"Every day from {step.start:%d %B %Y} until {step.end:%d %B %Y}:", *desc]
        else:
            ev.add("dtend", step.end + timedelta(days=1))  # DTEND of an all-day event is exclusive
        ev.add("description", "\n".join(desc))
        ev.add("transp", "TRANSPARENT")
        ev.add("categories", ["cicatrix", step.kind])
        if step.offset is not None and step.until is not None and step.until < 0:
            what = names.get(step.treatment or "", step.treatment or "your treatment")
            ev.add_component(_alarm(timedelta(hours=8), f"Pre-care starts today, for {what} {step.session}"))
        if step.kind == "follow_up":
            ev.add_component(_alarm(timedelta(days=-7), "In a week: your follow-up assessment"))
        if step.treatment and step.session:
            floor = opts.session_floor(step.treatment, step.session)
        elif step.kind == "follow_up":
            floor = opts.moved_total()
        elif step.kind == "maintenance":
            floor = opts.moved_total(step.treatment or "")
        else:
            # a daily routine and its pauses around procedures: their dates follow the whole
            # course, so any moved session may move them. The total never falls and rises with
            # every move; without `previous` it may also raise a routine that did not move,
            # which a client only re-reads.
            floor = opts.moved_total()
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
    days = [s.date for s in plan.course.sessions] + [st.start for st in steps] + [st.end for st in steps]
    if days:
        # a year either side, so a client's recurring look-ups around the course stay right
        cal.add_component(vtimezone(opts.tz, min(days) - timedelta(days=366), max(days) + timedelta(days=732)))
    return cal


def _alarm(trigger: timedelta, text: str) -> Alarm:
    """A display reminder; `trigger` is relative to the event's start (all-day events: midnight)."""
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", text)
    alarm.add("trigger", trigger)
    return alarm


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


def calendar_etag(raw: bytes) -> str:
    """A weak validator for a calendar's content: equal whenever every event is the same.

    DTSTAMP says when the file was made, so it differs on every fetch; it is left out, which is
    why the tag is weak (RFC 9110 8.8.3: semantically equivalent, not byte-identical).
    """
    import hashlib

    digest = hashlib.sha256()
    for line in raw.splitlines():
        if not line.startswith(b"DTSTAMP"):
            digest.update(line)
    return f'W/"{digest.hexdigest()[:32]}"'


def plain_names(kb: KnowledgeBase) -> dict[str, str]:
    """Treatment names as the handout prints them."""
    return {tid: t.plain_name for tid, t in kb.treatments.items()}


def parse_time(value: str, field_name: str = "time") -> time:
    try:
        return time.fromisoformat(value)
    except ValueError:
        raise ExportError(field_name, f"expected HH:MM, got {value!r}") from None


def session_event_bytes(
    patient_id: str,
    treatment: str,
    number: int,
    title: str,
    day: date,
    at: time,
    options: CalendarOptions | None = None,
    *,
    sequence: int = 0,
    stamp: datetime | None = None,
) -> bytes:
    """One session as a calendar of its own, for an e-mail attachment: the same UID as the
    session's event in `build_calendar`, so a calendar app that has the subscription, or an
    earlier attachment, updates that event instead of adding a second one."""
    opts = options or CalendarOptions()
    zone = opts.zone()
    start = datetime.combine(day, at, tzinfo=zone)
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("method", "PUBLISH")
    ev = Event()
    ev.add("uid", _uid(patient_id, treatment, number, "session"))
    ev.add("summary", title)
    ev.add("dtstart", start)
    ev.add("dtend", start + opts.duration)
    ev.add("location", opts.location or opts.clinic_name)
    ev.add("description", f"{title}, at {opts.clinic_name}.")
    ev.add("categories", ["cicatrix", "session"])
    ev.add("sequence", sequence)
    ev.add("dtstamp", stamp or datetime.now(UTC))
    ev.add_component(_alarm(timedelta(days=-1), f"Tomorrow: {title} at {opts.clinic_name}"))
    cal.add_component(ev)
    cal.add_component(vtimezone(opts.tz, day - timedelta(days=366), day + timedelta(days=366)))
    data: bytes = cal.to_ical()
    return data
