"""What approving a new plan does to the running course's bookings, decided in one place.

A clinic approves a new plan while sessions of the running course are booked. Before it is
confirmed the clinician sees, per booking, whether it is kept (same date), moved (old and new
date) or cancelled, and which sessions only the new plan has (added); approving then does
exactly that (`plans.approve`). Sessions already given (done) or missed are history: they stay
with the plan they were given under and are not part of the change.

Bookings are `course_session` rows today. `booking_effects` is the one function that pairs
them with the new course, so whatever a booking later carries (an appointment with a time,
practitioner and room) follows the row it is attached to: a kept or moved booking keeps its row.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal, Protocol

Effect = Literal["kept", "moved", "cancelled", "added"]


class Booked(Protocol):
    """A booked session as `booking_effects` reads it (a `CourseSession` row)."""

    @property
    def id(self) -> int: ...
    @property
    def treatment(self) -> str: ...
    @property
    def number(self) -> int: ...
    @property
    def date(self) -> date: ...


@dataclass(frozen=True)
class BookingEffect:
    effect: Effect
    treatment: str
    number: int  # in the new plan; in the old one for a cancelled booking
    old_date: date | None
    new_date: date | None
    session_id: int | None  # the booking kept, moved or cancelled
    new_session_id: int | None  # the new plan's own row for this session (replaced by a kept booking)


def booking_effects(booked: Sequence[Booked], proposed: Sequence[Booked]) -> list[BookingEffect]:
    """Pair the running course's planned bookings with the new plan's planned sessions.

    Per treatment, the bookings in date order meet the new sessions in number order: the first
    booked micro-needling becomes the new plan's first micro-needling, and so on (a new plan
    numbers its course from 1, whatever was given before). A pair on one date is kept, on two
    dates moved; a booking left over is cancelled; a new session left over is added. The result
    is in date order (new date first), cancellations by their old date."""
    by_treatment: dict[str, list[Booked]] = {}
    for b in sorted(booked, key=lambda s: (s.date, s.id)):
        by_treatment.setdefault(b.treatment, []).append(b)
    new_by_treatment: dict[str, list[Booked]] = {}
    for n in sorted(proposed, key=lambda s: (s.number, s.date, s.id)):
        new_by_treatment.setdefault(n.treatment, []).append(n)
    out: list[BookingEffect] = []
    for t in dict.fromkeys([*by_treatment, *new_by_treatment]):
        old, new = by_treatment.get(t, []), new_by_treatment.get(t, [])
        for i in range(max(len(old), len(new))):
            b = old[i] if i < len(old) else None
            n = new[i] if i < len(new) else None
            if b is not None and n is not None:
                kind: Effect = "kept" if b.date == n.date else "moved"
                out.append(BookingEffect(kind, t, n.number, b.date, n.date, b.id, n.id))
            elif b is not None:
                out.append(BookingEffect("cancelled", t, b.number, b.date, None, b.id, None))
            elif n is not None:
                out.append(BookingEffect("added", t, n.number, None, n.date, None, n.id))
    out.sort(key=lambda e: (e.new_date or e.old_date or date.min, e.treatment, e.number))
    return out


def token(effects: Sequence[BookingEffect], versions: dict[int, int]) -> str:
    """A short fingerprint of a change and the booking versions it was computed from: the
    approval sends back the one it showed, and a booking changed since is a 409, not a surprise."""
    data = [
        (
            e.effect,
            e.treatment,
            e.number,
            str(e.old_date),
            str(e.new_date),
            e.session_id,
            versions.get(e.session_id or 0),
        )
        for e in effects
    ]
    return hashlib.sha256(json.dumps(data).encode()).hexdigest()[:32]
