"""Free appointment slots: when a practitioner and a room are both free, inside the clinic's hours.

A pure function over immutable inputs, like the rest of the core: the clinic's calendar (opening
hours per weekday, closures, public holidays), the bookings that already hold each practitioner
and each room, the treatment's duration and the window the protocol allows (a session's earliest
and latest dates). The service reads the bookings; the database's own constraint (an exclusion
constraint on PostgreSQL, a check in the write transaction on SQLite) is what finally prevents a
double booking, so a slot offered here can still be lost to a faster colleague, and the service
then offers the next ones.

Times are local wall-clock times in the clinic's zone: opening hours are stated that way, and a
day's slots do not move when the clocks change.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime, time, timedelta

import msgspec


class OpeningHours(msgspec.Struct, frozen=True, kw_only=True):
    """One opening period on a weekday (0 = Monday); a day may have several (a lunch break)."""

    weekday: int
    opens: time
    closes: time

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise ValueError(f"weekday must be 0 (Monday) to 6 (Sunday), got {self.weekday}")
        if self.closes <= self.opens:
            raise ValueError(f"closes ({self.closes}) must be after opens ({self.opens})")


class ClinicCalendar(msgspec.Struct, frozen=True, kw_only=True):
    """When the clinic sees patients: weekly hours, minus closures and public holidays."""

    hours: tuple[OpeningHours, ...]
    closed: frozenset[date] = frozenset()  # the clinic's own closures and the country's holidays

    def periods(self, day: date) -> tuple[tuple[time, time], ...]:
        """The opening periods of one day, in order; none on a closed day."""
        if day in self.closed:
            return ()
        return tuple(sorted((h.opens, h.closes) for h in self.hours if h.weekday == day.weekday()))

    def is_open(self, day: date) -> bool:
        return bool(self.periods(day))

    def next_open_day(self, day: date, limit_days: int = 366) -> date | None:
        """`day` itself when open, else the first open day after it (None if none within a year)."""
        for k in range(limit_days + 1):
            d = day + timedelta(days=k)
            if self.is_open(d):
                return d
        return None


def public_holidays(country: str, subdivision: str | None, first: date, last: date) -> frozenset[date]:
    """The country's public holidays between two dates, from the `holidays` package.

    Raises ValueError naming the country or subdivision when the package does not know it.
    """
    import holidays  # only booking needs it; planning never pays for the import

    try:
        table = holidays.country_holidays(country, subdiv=subdivision, years=range(first.year, last.year + 1))
    except NotImplementedError:
        raise ValueError(f"unknown country code {country!r} (ISO 3166-1 alpha-2, e.g. GB, FR, US)") from None
    except (KeyError, ValueError) as exc:
        raise ValueError(f"unknown subdivision {subdivision!r} for {country}: {exc}") from None
    return frozenset(d for d in table if first <= d <= last)


class Booking(msgspec.Struct, frozen=True, kw_only=True):
    """A time a resource (a practitioner or a room) is taken, local wall-clock times."""

    start: datetime
    end: datetime


class Slot(msgspec.Struct, frozen=True, kw_only=True):
    start: datetime
    end: datetime
    practitioner: str
    room: str


class Busy:
    """One resource's bookings, sorted, for fast look-ups (built once per request, not stored)."""

    __slots__ = ("ends", "starts")

    def __init__(self, bookings: Sequence[Booking]) -> None:
        # merged into disjoint intervals, so the one before a time is the only one that can reach it
        self.starts: list[datetime] = []
        self.ends: list[datetime] = []
        for start, end in sorted((b.start, b.end) for b in bookings):
            if self.ends and start <= self.ends[-1]:
                self.ends[-1] = max(self.ends[-1], end)
            else:
                self.starts.append(start)
                self.ends.append(end)

    def next_free(self, start: datetime, length: timedelta) -> datetime:
        """The earliest time at or after `start` when the resource is free for `length`."""
        t = start
        i = max(bisect_left(self.starts, t) - 1, 0)
        while i < len(self.starts):
            s, e = self.starts[i], self.ends[i]
            if e <= t:
                i += 1
                continue
            if s >= t + length:
                return t
            t = max(t, e)
            i += 1
        return t


def _align(t: datetime, origin: datetime, step: timedelta) -> datetime:
    """Round `t` up to the next whole step from `origin` (slots start on the quarter hour)."""
    over = (t - origin) % step
    return t if not over else t + (step - over)


def free_slots(
    calendar: ClinicCalendar,
    practitioners: Mapping[str, Sequence[Booking]],
    rooms: Mapping[str, Sequence[Booking]],
    duration: timedelta,
    first_day: date,
    last_day: date,
    *,
    not_before: datetime | None = None,
    step: timedelta = timedelta(minutes=15),
    limit: int = 10,
) -> list[Slot]:
    """The earliest `limit` slots from `first_day` to `last_day` (inclusive) when one of the
    practitioners and one of the rooms are both free for `duration`, in opening hours.

    Ordered by start time, then practitioner and room names. `not_before` (the clinic's "now")
    keeps slots out of the past.
    """
    if duration <= timedelta(0) or step <= timedelta(0) or limit <= 0:
        return []
    busy_p = {name: Busy(b) for name, b in sorted(practitioners.items())}
    busy_r = {name: Busy(b) for name, b in sorted(rooms.items())}
    out: list[Slot] = []
    for day in _days(first_day, last_day):
        for opens, closes in calendar.periods(day):
            period_start = datetime.combine(day, opens)
            period_end = datetime.combine(day, closes)
            earliest = period_start if not_before is None else max(period_start, not_before)
            out += _slots_in_period(busy_p, busy_r, duration, earliest, period_start, period_end, step, limit)
        if len(out) >= limit:
            break
    out.sort(key=lambda s: (s.start, s.practitioner, s.room))
    return out[:limit]


def _days(first: date, last: date) -> Iterator[date]:
    d = first
    while d <= last:
        yield d
        d += timedelta(days=1)


def _slots_in_period(
    busy_p: Mapping[str, Busy],
    busy_r: Mapping[str, Busy],
    duration: timedelta,
    earliest: datetime,
    origin: datetime,
    period_end: datetime,
    step: timedelta,
    limit: int,
) -> list[Slot]:
    """Every start on the step grid in one opening period when a practitioner and a room are both
    free (the first free room by name), at most `limit` per practitioner."""
    out: list[Slot] = []
    for p_name, p_busy in busy_p.items():
        t = _align(earliest, origin, step)
        found = 0
        while t + duration <= period_end and found < limit:
            free_at = _align(p_busy.next_free(t, duration), origin, step)
            if free_at != t:  # the practitioner is busy: jump to when they are free
                t = free_at
                continue
            room, soonest = _first_free_room(busy_r, t, duration)
            if room is not None:
                out.append(Slot(start=t, end=t + duration, practitioner=p_name, room=room))
                found += 1
                t += step
            else:  # every room is taken: jump to when the first one frees up
                t = max(t + step, _align(soonest, origin, step)) if soonest is not None else period_end
    return out


def _first_free_room(
    busy_r: Mapping[str, Busy], t: datetime, duration: timedelta
) -> tuple[str | None, datetime | None]:
    """The first room (by name) free at `t` for `duration`; else None and the soonest time any
    room frees up (None when there are no rooms). Stops at the first free room."""
    soonest: datetime | None = None
    for name, r_busy in busy_r.items():
        at = r_busy.next_free(t, duration)
        if at == t:
            return name, t
        if soonest is None or at < soonest:
            soonest = at
    return None, soonest
