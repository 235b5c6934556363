"""Care steps: the plan's timeline grouped the way a patient lives it around each session.

A session's instructions fall into a few blocks (the pre-care hold, the day itself, day 1,
days 2-7, ...). A block is keyed by its day offsets relative to its session, not by its
dates, so moving a session moves the block but keeps its identity (calendar UIDs, PDF rows).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import date

from cicatrix.engine.result import Plan, TimelineEntry


@dataclass(frozen=True)
class CareStep:
    key: str  # stable within a session: "d-3..-1", "d+0", "d+1", "d+2..+7", "follow_up", ...
    treatment: str | None
    session: int | None
    start: date
    end: date  # inclusive
    offset: int | None  # first day relative to the session; None when not tied to one
    until: int | None
    kind: str  # the first entry's kind; a block may mix do/avoid/expect
    entries: tuple[TimelineEntry, ...]

    @property
    def avoid(self) -> tuple[str, ...]:
        return tuple(e.text for e in self.entries if e.kind == "avoid")

    @property
    def do(self) -> tuple[str, ...]:
        return tuple(e.text for e in self.entries if e.kind not in ("avoid", "expect"))

    @property
    def expect(self) -> tuple[str, ...]:
        return tuple(e.text for e in self.entries if e.kind == "expect")

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(e.code for e in self.entries if e.code)


def treatment_names(plan: Plan) -> dict[str, str]:
    names = {r.treatment: r.name for r in plan.recommended}
    names.update({x.treatment: x.name for x in plan.excluded if x.treatment not in names})
    return names


def session_dates(plan: Plan) -> dict[tuple[str, int], date]:
    return {(s.treatment, s.number): s.date for s in plan.course.sessions}


def _offset_key(off: int, until: int) -> str:
    return f"d{off:+d}" if off == until else f"d{off:+d}..{until:+d}"


def care_steps(plan: Plan) -> list[CareStep]:
    """Group timeline entries (other than the sessions themselves) into dated care blocks."""
    sessions = session_dates(plan)
    groups: dict[tuple[str | None, int | None, str], list[TimelineEntry]] = {}
    offsets: dict[tuple[str | None, int | None, str], tuple[int | None, int | None]] = {}
    repeats: dict[tuple[str | None, str, str], int] = {}
    for e in sorted(plan.timeline, key=lambda e: (e.date, e.until or e.date)):
        if e.kind == "session":
            continue
        anchor = sessions.get((e.treatment, e.session)) if e.treatment and e.session else None
        if anchor is not None:
            off = (e.date - anchor).days
            until = ((e.until or e.date) - anchor).days
            key = _offset_key(off, until)
            offsets[(e.treatment, e.session, key)] = (off, until)
        else:
            # Not tied to a session (follow-up, maintenance, ongoing advice): key by what it is
            # and its order among its kind, which survives a re-scheduled course.
            base = f"{e.kind}:{e.code or e.phase or ''}"
            n = repeats.get((e.treatment, base, e.text), 0)
            repeats[(e.treatment, base, e.text)] = n + 1
            key = base if n == 0 else f"{base}#{n + 1}"
            if e.code is None:
                key += ":" + str(abs(hash_text(e.text)))
            offsets.setdefault((e.treatment, None, key), (None, None))
        groups.setdefault((e.treatment, e.session if anchor else None, key), []).append(e)
    out = []
    for (treatment, session, key), entries in groups.items():
        first_day, last_day = offsets[(treatment, session, key)]
        out.append(
            CareStep(
                key=key,
                treatment=treatment,
                session=session,
                start=min(e.date for e in entries),
                end=max(e.until or e.date for e in entries),
                offset=first_day,
                until=last_day,
                kind=entries[0].kind,
                entries=tuple(entries),
            )
        )
    out.sort(key=lambda s: (s.start, s.end, s.treatment or "", s.session or 0, s.key))
    return out


def hash_text(text: str) -> int:
    """A short deterministic hash (Python's hash() is salted per process)."""

    return zlib.crc32(text.encode("utf-8"))


def step_title(step: CareStep, names: dict[str, str]) -> str:
    """A short plain-words name for a block, such as 'After Micro-needling 2: days 2-7'.

    Short because a phone's month view shows only the first dozen or so characters.
    """
    name = names.get(step.treatment or "", step.treatment or "Care")
    label = f"{name} {step.session}" if step.session else name
    off, until = step.offset, step.until
    if off is None or until is None:
        if step.kind == "follow_up":
            return "Follow-up assessment"
        if step.kind == "maintenance":
            return f"{name}: maintenance"
        return f"{name}: start"
    if until < 0:
        return f"Before {label} ({-off} day{'s' if off != -1 else ''})"
    if off < 0:
        return f"{label}: from {-off} days before to day {until}"
    if off == 0 and until == 0:
        return f"{label}: on the day"
    if off == until:
        return f"After {label}: day {off}"
    return f"After {label}: days {off}–{until}"
