"""Request and response shapes of appointments, rooms and the clinic's calendar."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from cicatrix.service.bounds import Day, Instant, RecordId, Version
from cicatrix.service.schemas import Reason, ShortText

_IN = ConfigDict(extra="forbid")

AppointmentStatus = Literal["booked", "arrived", "no_show", "cancelled", "done"]
CountryCode = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Z]{2}$")]
SubdivisionCode = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Z0-9]{1,10}$")]


# ---------- the clinic's calendar ----------


class OpeningPeriod(BaseModel):
    model_config = _IN

    weekday: int = Field(ge=0, le=6, description="0 = Monday … 6 = Sunday")
    opens: time
    closes: time

    @model_validator(mode="after")
    def _order(self) -> OpeningPeriod:
        if self.closes <= self.opens:
            raise ValueError(f"closes ({self.closes:%H:%M}) must be after opens ({self.opens:%H:%M})")
        return self


class Closure(BaseModel):
    model_config = _IN

    date: Day
    reason: ShortText


class ClinicCalendarIn(BaseModel):
    model_config = _IN

    hours: list[OpeningPeriod] = Field(min_length=1, max_length=50)
    closures: list[Closure] = Field(default_factory=list, max_length=1000)
    country: CountryCode | None = Field(
        default=None, description="ISO 3166-1 alpha-2: its public holidays close the clinic"
    )
    subdivision: SubdivisionCode | None = Field(default=None, description="e.g. SCT for Scotland (GB)")
    version: Version | None = Field(default=None, description="the version read; stale is 409")


class HolidayOut(BaseModel):
    date: date
    name: str


class ClinicCalendarOut(BaseModel):
    hours: list[OpeningPeriod]
    closures: list[Closure]
    country: str | None
    subdivision: str | None
    timezone: str
    version: int = Field(description="0: the defaults, never saved")
    holidays: list[HolidayOut] = Field(description="the country's public holidays this year and next")


# ---------- rooms ----------


class RoomIn(BaseModel):
    model_config = _IN

    name: ShortText
    active: bool = True


class RoomOut(BaseModel):
    id: int
    name: str
    active: bool


class PractitionerOut(BaseModel):
    id: int
    name: str


# ---------- appointments ----------


class WindowOut(BaseModel):
    earliest: date
    latest: date


class SlotOut(BaseModel):
    start: datetime
    end: datetime
    practitioner_id: int
    practitioner: str
    room_id: int
    room: str


class SlotsOut(BaseModel):
    session_id: int
    treatment: str
    treatment_label: str
    number: int
    planned: date
    window: WindowOut
    duration_minutes: int
    first_day: date
    last_day: date
    slots: list[SlotOut]


class BookIn(BaseModel):
    model_config = _IN

    start: Instant = Field(description="with its offset, e.g. 2026-12-07T10:00:00+00:00")
    practitioner_id: RecordId
    room_id: RecordId
    override_reason: Reason | None = Field(
        default=None, description="needed to book outside the session's window; audited"
    )
    session_version: Version | None = Field(default=None, description="the session's version as read; stale is 409")
    dry_run: bool = Field(default=False, description="show what would change (the re-flowed course), save nothing")


class AppointmentOut(BaseModel):
    id: int
    session_id: int
    patient_id: int
    patient_name: str
    treatment: str
    treatment_label: str
    number: int
    start: datetime = Field(description="in the clinic's time zone")
    end: datetime
    practitioner_id: int
    practitioner: str
    room_id: int
    room: str
    status: AppointmentStatus
    override_reason: str | None
    cancel_reason: str | None
    arrived_at: datetime | None
    undo_until: date | None = Field(description="the last day the current status can be undone, if it can")
    version: int


class SessionMove(BaseModel):
    session_id: int
    treatment: str
    treatment_label: str
    number: int
    from_date: date
    to_date: date


class BookingOut(BaseModel):
    appointment: AppointmentOut
    moved: list[SessionMove] = Field(description="later sessions the re-booking re-flowed")
    unbooked: list[int] = Field(description="appointments of moved sessions, cancelled to be booked again")
    outside_window: bool
    preview: bool


class StatusIn(BaseModel):
    model_config = _IN

    version: Version | None = Field(default=None, description="the appointment's version as read; stale is 409")


class SessionUndoIn(BaseModel):
    model_config = _IN

    session_version: Version | None = Field(default=None, description="the session's version as read; stale is 409")


class CancelIn(StatusIn):
    reason: Reason


class CalendarDayOut(BaseModel):
    date: date
    open: bool
    periods: list[tuple[time, time]]
    closed_reason: str | None


class ClinicDayOut(BaseModel):
    """The appointments from `first` to `last`, grouped for the day/week calendar."""

    first: date
    last: date
    by: Literal["practitioner", "room"]
    days: list[CalendarDayOut]
    columns: list[PractitionerOut]
    appointments: list[AppointmentOut]


class SessionPlace(BaseModel):
    """Where and when a session is booked: the ICS export and the message outbox read this."""

    session_id: int
    appointment_id: int
    start: datetime
    end: datetime
    timezone: str
    practitioner: str
    room: str
