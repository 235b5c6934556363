"""Free slots: inside opening hours, never over a booking, the earliest first, nothing skipped.

The property test compares with a brute-force oracle that tries every grid time for every
practitioner and room, which is too slow for a clinic but obviously right.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cicatrix.engine.slots import Booking, ClinicCalendar, OpeningHours, free_slots, public_holidays

WEEKDAYS = ClinicCalendar(
    hours=(
        *(OpeningHours(weekday=d, opens=time(9), closes=time(17)) for d in range(5)),
        OpeningHours(weekday=5, opens=time(9), closes=time(13)),
    )
)
HOUR = timedelta(hours=1)


def _at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm))


def test_no_slot_on_sundays_holidays_or_closures() -> None:
    christmas = date(2026, 12, 25)  # a Friday
    closed = public_holidays("GB", "ENG", date(2026, 12, 1), date(2027, 1, 31)) | {date(2026, 12, 24)}
    cal = ClinicCalendar(hours=WEEKDAYS.hours, closed=closed)
    assert christmas in closed and date(2026, 12, 28) in closed  # Boxing Day (a Saturday)'s substitute
    slots = free_slots(cal, {"dr-a": []}, {"room-1": []}, HOUR, date(2026, 12, 24), date(2027, 1, 2), limit=500)
    days = {s.start.date() for s in slots}
    assert days == {date(2026, 12, 29), date(2026, 12, 30), date(2026, 12, 31), date(2027, 1, 2)}
    assert all(s.start.time() >= time(9) and s.end.time() <= time(17) for s in slots)
    assert max(s.end for s in slots if s.start.date() == date(2027, 1, 2)).time() == time(13)  # Saturday
    assert cal.next_open_day(christmas) == date(2026, 12, 29)


def test_unknown_country_names_it() -> None:
    with pytest.raises(ValueError, match="'XX'"):
        public_holidays("XX", None, date(2027, 1, 1), date(2027, 12, 31))


def test_practitioner_and_room_must_both_be_free() -> None:
    day = date(2027, 1, 11)  # a Monday
    doctor = {"dr-a": [Booking(start=_at(day, 9), end=_at(day, 10, 30))]}
    rooms = {
        "laser": [Booking(start=_at(day, 10, 30), end=_at(day, 12))],
        "needling": [Booking(start=_at(day, 9), end=_at(day, 17))],
    }
    (first, second) = free_slots(WEEKDAYS, doctor, rooms, HOUR, day, day, limit=2)
    assert (first.start, first.room) == (_at(day, 12), "laser")
    assert second.start == _at(day, 12, 15)


def test_lunch_break_and_the_clinic_now() -> None:
    cal = ClinicCalendar(
        hours=(
            OpeningHours(weekday=0, opens=time(9), closes=time(12, 30)),
            OpeningHours(weekday=0, opens=time(13, 30), closes=time(18)),
        )
    )
    day = date(2027, 1, 11)
    slots = free_slots(cal, {"dr-a": []}, {"room": []}, HOUR, day, day, not_before=_at(day, 11, 40), limit=3)
    assert [s.start.time() for s in slots] == [time(13, 30), time(13, 45), time(14)]  # 11:45 would end at 12:45


@st.composite
def _clinic(draw: st.DrawFn) -> tuple[dict[str, list[Booking]], dict[str, list[Booking]], timedelta, datetime | None]:
    day0 = date(2027, 3, 1)

    def bookings() -> st.SearchStrategy[list[Booking]]:
        one = st.tuples(st.integers(0, 6), st.integers(8 * 4, 17 * 4), st.integers(1, 12)).map(
            lambda x: Booking(
                start=datetime.combine(day0 + timedelta(days=x[0]), time()) + timedelta(minutes=15 * x[1]),
                end=datetime.combine(day0 + timedelta(days=x[0]), time()) + timedelta(minutes=15 * (x[1] + x[2])),
            )
        )
        return st.lists(one, max_size=12)

    people = {f"p{i}": draw(bookings()) for i in range(draw(st.integers(1, 3)))}
    rooms = {f"r{i}": draw(bookings()) for i in range(draw(st.integers(1, 3)))}
    duration = timedelta(minutes=15 * draw(st.integers(1, 8)))
    now = draw(
        st.none() | st.integers(0, 6 * 24 * 4).map(lambda m: datetime.combine(day0, time()) + timedelta(minutes=15 * m))
    )
    return people, rooms, duration, now


def _oracle(people, rooms, duration, first, last, now, limit):  # type: ignore[no-untyped-def]
    out = []
    d = first
    while d <= last:
        for opens, closes in WEEKDAYS.periods(d):
            t = datetime.combine(d, opens)
            while t + duration <= datetime.combine(d, closes):
                ok_time = now is None or t >= now
                for p, pb in sorted(people.items()):
                    if not ok_time or any(b.start < t + duration and t < b.end for b in pb):
                        continue
                    room = next(
                        (
                            r
                            for r, rb in sorted(rooms.items())
                            if not any(b.start < t + duration and t < b.end for b in rb)
                        ),
                        None,
                    )
                    if room is not None:
                        out.append((t, p, room))
                t += timedelta(minutes=15)
        d += timedelta(days=1)
    return sorted(out)[:limit]


@settings(max_examples=150, deadline=None)
@given(_clinic(), st.integers(1, 40))
def test_slots_are_exactly_the_earliest_free_pairs(clinic, limit: int) -> None:  # type: ignore[no-untyped-def]
    people, rooms, duration, now = clinic
    first, last = date(2027, 3, 1), date(2027, 3, 7)
    got = free_slots(WEEKDAYS, people, rooms, duration, first, last, not_before=now, limit=limit)
    assert [(s.start, s.practitioner, s.room) for s in got] == _oracle(people, rooms, duration, first, last, now, limit)
