"""What the engine returns: scores, a screened and ranked plan, a dated course and a timeline.

The JSON shape of `Plan` is a public contract (`cicatrix plan --format json`, the API and
the exports read it), so fields are only ever added, never renamed.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from cicatrix.knowledge.frozen import Frozen

Severity = Literal["mild", "moderate", "severe"]


class Message(Frozen, frozen=True, kw_only=True):
    """A coded statement; the code is stable, the message is for people."""

    code: str
    message: str


class ScoreRow(Frozen, frozen=True, kw_only=True):
    """One row of a scale, so a score can always be explained line by line."""

    id: str
    label: str
    inputs: tuple[str, ...]
    count: int
    area_cm2: float | None = None
    multiplier: int | None = None
    grade: int | None = None
    points: int


class Scores(Frozen, frozen=True, kw_only=True):
    goodman_baron_quantitative: int
    goodman_baron_quantitative_rows: tuple[ScoreRow, ...]
    ecca: int
    ecca_items: tuple[ScoreRow, ...]
    goodman_baron_qualitative: int | None
    severity: Severity | None
    severity_basis: str
    warnings: tuple[Message, ...] = ()


class Recommendation(Frozen, frozen=True, kw_only=True):
    treatment: str
    name: str
    rank: int
    score: float
    targets: tuple[str, ...]
    rationale: str
    sources: tuple[str, ...]
    evidence_level: str
    warnings: tuple[Message, ...] = ()
    adjustments: tuple[Message, ...] = ()
    scheduled: bool = False


class Exclusion(Frozen, frozen=True, kw_only=True):
    treatment: str
    name: str
    reasons: tuple[Message, ...]


class Education(Frozen, frozen=True, kw_only=True):
    topic: str
    text: str
    sources: tuple[str, ...] = ()


class Session(Frozen, frozen=True, kw_only=True):
    treatment: str
    number: int
    date: dt.date
    earliest: dt.date | None = None
    latest: dt.date | None = None


class Maintenance(Frozen, frozen=True, kw_only=True):
    treatment: str
    date: dt.date
    text: str


class Course(Frozen, frozen=True, kw_only=True):
    sessions: tuple[Session, ...] = ()
    maintenance: tuple[Maintenance, ...] = ()
    follow_up: dt.date | None = None
    notes: tuple[Message, ...] = ()


TimelineKind = Literal["session", "avoid", "do", "expect", "follow_up", "maintenance"]
TimelinePhase = Literal["pre", "day_of", "post", "ongoing"]


class TimelineEntry(Frozen, frozen=True, kw_only=True):
    """One instruction for the patient; `date` is the day it starts, `until` the last day.

    `uses` and `avoids` are the agents (or treatments) it tells the patient to apply or to keep
    away from, copied from its care step, so a timeline can be checked on its own: no day both
    prescribes and forbids the same agent (engine/agents.py).
    """

    date: dt.date
    until: dt.date | None = None
    session: int | None = None
    treatment: str | None = None
    kind: TimelineKind
    phase: TimelinePhase | None = None
    text: str
    code: str | None = None
    sources: tuple[str, ...] = ()
    uses: tuple[str, ...] = ()
    avoids: tuple[str, ...] = ()

    def applies_on(self, day: dt.date) -> bool:
        return self.date <= day <= (self.until or self.date)


class Plan(Frozen, frozen=True, kw_only=True):
    """The engine's proposal. A clinician approves every plan before it is used."""

    case_id: str | None
    knowledge_version: str
    notice: str
    scores: Scores
    recommended: tuple[Recommendation, ...]
    excluded: tuple[Exclusion, ...]
    warnings: tuple[Message, ...]
    education: tuple[Education, ...]
    course: Course
    timeline: tuple[TimelineEntry, ...]
