"""A patient's record as the exports see it, independent of how the service stores it.

The FHIR export reads this and the FHIR import produces it, so "import then export gives
the same Bundle" can be checked without a database, and the service only has to map its
tables to and from this one shape.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from cicatrix.engine.case import Assessment, Patient
from cicatrix.engine.result import Plan, Scores
from cicatrix.knowledge.frozen import Frozen

SessionStatus = Literal["planned", "done", "missed", "cancelled"]
PlanStatus = Literal["proposed", "approved"]


class PersonName(Frozen, frozen=True, kw_only=True):
    text: str | None = None
    given: tuple[str, ...] = ()
    family: str | None = None

    @property
    def display(self) -> str:
        return self.text or " ".join([*self.given, self.family or ""]).strip()


class AssessmentRecord(Frozen, frozen=True, kw_only=True):
    id: str
    assessment: Assessment
    scores: Scores


class PlanRecord(Frozen, frozen=True, kw_only=True):
    id: str
    status: PlanStatus
    plan: Plan
    assessment_id: str | None = None


class ProcedureDetail(Frozen, frozen=True, kw_only=True):
    """One field of a procedure note as people read it: "Needle depth", "1.5 mm"."""

    id: str
    label: str
    text: str


class ProcedureNote(Frozen, frozen=True, kw_only=True):
    """What a clinician recorded about a session given (the service formats the knowledge
    data's labels and units in): the treated regions, the other fields, the free-text note."""

    regions: tuple[str, ...] = ()
    details: tuple[ProcedureDetail, ...] = ()
    note: str | None = None


class SessionRecord(Frozen, frozen=True, kw_only=True):
    """One session *instance*. A missed session and its replacement share treatment and number,
    so `occurrence` (1, 2, ... in the order they were booked) tells them apart; `sequence` is
    how often this instance was re-dated (the calendar's SEQUENCE floor)."""

    treatment: str
    number: int
    date: dt.date
    status: SessionStatus = "planned"
    occurrence: int = 1
    sequence: int = 0
    procedure: ProcedureNote | None = None


class ExternalId(Frozen, frozen=True, kw_only=True):
    """An identifier another system gave the patient (a hospital's record number), kept as sent."""

    system: str | None = None
    value: str
    type: str | None = None  # the v2-0203 code, e.g. "MR"


class Telecom(Frozen, frozen=True, kw_only=True):
    phone: str | None = None
    email: str | None = None


class PatientRecord(Frozen, frozen=True, kw_only=True):
    """Who the patient is, what was assessed, what was approved and what was given.

    `clinic` is a stable key of the clinic whose record number `id` is: the same record number
    in two clinics is two patients, so every FHIR id and identifier system is scoped by it."""

    id: str
    clinic: str | None = None
    name: PersonName | None = None
    telecom: Telecom = Telecom()
    identifiers: tuple[ExternalId, ...] = ()
    # the engine's clinical fields: phototype, birth date, sex, history... None when the sending
    # system recorded no phototype (a standard Patient): then only `sex` and `birth_date` are known
    patient: Patient | None = None
    sex: str | None = None
    birth_date: dt.date | None = None
    # the elements the history and medication terms were read from, for messages that name them
    # (an older export carried them in a screening extension)
    history_element: str = "Condition.code"
    medications_element: str = "MedicationStatement.medicationCodeableConcept"
    assessments: tuple[AssessmentRecord, ...] = ()
    plan: PlanRecord | None = None
    sessions: tuple[SessionRecord, ...] = ()

    def course_sessions(self) -> tuple[SessionRecord, ...]:
        """Recorded sessions, or the approved plan's course when none were recorded yet."""
        if self.sessions:
            return self.sessions
        if self.plan is None:
            return ()
        return tuple(
            SessionRecord(treatment=s.treatment, number=s.number, date=s.date) for s in self.plan.plan.course.sessions
        )
