"""Approving a new plan while sessions are booked: the effect on each booking is decided by one
function (`changeover.booking_effects`), shown before it is confirmed, and then done exactly."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from cicatrix.service.changeover import booking_effects


@dataclass(frozen=True)
class S:
    id: int
    treatment: str
    number: int
    date: date


def test_pairs_bookings_with_the_new_course_per_treatment_in_order() -> None:
    booked = [
        S(1, "microneedling", 2, date(2027, 1, 4)),
        S(2, "microneedling", 3, date(2027, 2, 15)),
        S(3, "subcision", 1, date(2027, 1, 10)),
    ]
    new = [
        S(10, "microneedling", 1, date(2027, 1, 4)),
        S(11, "microneedling", 2, date(2027, 2, 22)),
        S(12, "microneedling", 3, date(2027, 4, 5)),
        S(13, "tca_cross", 1, date(2027, 1, 20)),
    ]
    got = {(e.effect, e.treatment, e.number, e.old_date, e.new_date, e.session_id, e.new_session_id)
           for e in booking_effects(booked, new)}  # fmt: skip
    assert got == {
        ("kept", "microneedling", 1, date(2027, 1, 4), date(2027, 1, 4), 1, 10),
        ("moved", "microneedling", 2, date(2027, 2, 15), date(2027, 2, 22), 2, 11),
        ("added", "microneedling", 3, None, date(2027, 4, 5), None, 12),
        ("cancelled", "subcision", 1, date(2027, 1, 10), None, 3, None),
        ("added", "tca_cross", 1, None, date(2027, 1, 20), None, 13),
    }


def test_every_booking_and_every_new_session_has_exactly_one_effect() -> None:
    booked = [S(i, "t", i, date(2027, 1, i)) for i in range(1, 6)]
    new = [S(10 + i, "t", i, date(2027, 1, i + (i % 2))) for i in range(1, 4)]
    effects = booking_effects(booked, new)
    assert sorted(e.session_id for e in effects if e.session_id) == [1, 2, 3, 4, 5]
    assert sorted(e.new_session_id for e in effects if e.new_session_id) == [11, 12, 13]
    assert [e.effect for e in effects if e.effect == "cancelled"] == ["cancelled", "cancelled"]


def test_nothing_booked_means_every_session_is_added_and_nothing_new_cancels_everything() -> None:
    new = [S(1, "t", 1, date(2027, 1, 1))]
    assert [e.effect for e in booking_effects([], new)] == ["added"]
    assert [e.effect for e in booking_effects(new, [])] == ["cancelled"]
