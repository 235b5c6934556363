"""Appointments, free slots, the clinic's day and week, rooms and the clinic's calendar."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from cicatrix.api.deps import Call
from cicatrix.params import DateParam, Id
from cicatrix.service import appointments, clinic_calendar
from cicatrix.service.booking_schemas import (
    AppointmentOut,
    BookIn,
    BookingOut,
    CancelIn,
    ClinicCalendarIn,
    ClinicCalendarOut,
    ClinicDayOut,
    PractitionerOut,
    RoomIn,
    RoomOut,
    SlotsOut,
    StatusIn,
)

router = APIRouter(tags=["appointments"])


@router.get(
    "/sessions/{session_id}/slots", response_model=SlotsOut, summary="Free slots for a session (its window by default)"
)
async def session_slots(
    call: Call,
    session_id: Id,
    first: Annotated[DateParam | None, Query()] = None,
    last: Annotated[DateParam | None, Query()] = None,
    practitioner_id: Annotated[int | None, Query(ge=1)] = None,
    room_id: Annotated[int | None, Query(ge=1)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> SlotsOut:
    return await call(appointments.slots, session_id, first, last, practitioner_id, room_id, limit)


@router.post(
    "/sessions/{session_id}/appointment",
    response_model=BookingOut,
    status_code=201,
    summary="Book or re-book a session (409 with next_slots when the slot is taken; dry_run previews)",
)
async def book(session_id: Id, body: BookIn, call: Call) -> BookingOut:
    return await call(appointments.book, session_id, body)


@router.get("/appointments/{appointment_id}", response_model=AppointmentOut, summary="An appointment")
async def get_appointment(appointment_id: Id, call: Call) -> AppointmentOut:
    return await call(appointments.get, appointment_id)


@router.post("/appointments/{appointment_id}/cancel", response_model=AppointmentOut, summary="Cancel, with a reason")
async def cancel(appointment_id: Id, body: CancelIn, call: Call) -> AppointmentOut:
    return await call(appointments.cancel, appointment_id, body)


@router.post(
    "/appointments/{appointment_id}/arrived", response_model=AppointmentOut, summary="The patient arrived (on the day)"
)
async def arrived(appointment_id: Id, body: StatusIn, call: Call) -> AppointmentOut:
    return await call(appointments.arrive, appointment_id, body)


@router.post(
    "/appointments/{appointment_id}/no-show", response_model=AppointmentOut, summary="The patient did not come"
)
async def no_show(appointment_id: Id, body: StatusIn, call: Call) -> AppointmentOut:
    return await call(appointments.no_show, appointment_id, body)


@router.post(
    "/appointments/{appointment_id}/undo", response_model=AppointmentOut, summary="Undo today's arrival or no-show"
)
async def undo(appointment_id: Id, body: StatusIn, call: Call) -> AppointmentOut:
    return await call(appointments.undo, appointment_id, body)


@router.get(
    "/patients/{patient_id}/appointments", response_model=list[AppointmentOut], summary="A patient's appointments"
)
async def patient_appointments(patient_id: Id, call: Call) -> list[AppointmentOut]:
    return await call(appointments.for_patient, patient_id)


@router.get(
    "/calendar", response_model=ClinicDayOut, summary="The clinic's appointments by day, per practitioner or room"
)
async def clinic_days(
    call: Call,
    first: Annotated[DateParam | None, Query(alias="date", description="default: the clinic's today")] = None,
    days: Annotated[int, Query(ge=1, le=31)] = 1,
    by: Literal["practitioner", "room"] = "practitioner",
) -> ClinicDayOut:
    return await call(appointments.clinic_days, first, days, by)


@router.get("/practitioners", response_model=list[PractitionerOut], summary="Clinicians who can be booked")
async def practitioners(call: Call) -> list[PractitionerOut]:
    return await call(appointments.practitioners)


@router.get("/rooms", response_model=list[RoomOut], summary="Rooms and devices")
async def rooms(call: Call) -> list[RoomOut]:
    return await call(appointments.rooms)


@router.post("/rooms", response_model=RoomOut, status_code=201, summary="Add a room or device (admins)")
async def add_room(body: RoomIn, call: Call) -> RoomOut:
    return await call(appointments.add_room, body)


@router.put("/rooms/{room_id}", response_model=RoomOut, summary="Rename or retire a room (admins)")
async def update_room(room_id: Id, body: RoomIn, call: Call) -> RoomOut:
    return await call(appointments.update_room, room_id, body)


@router.get("/clinic/calendar", response_model=ClinicCalendarOut, summary="Opening hours, closures, holidays (admins)")
async def get_calendar(call: Call) -> ClinicCalendarOut:
    return await call(clinic_calendar.get)


@router.put(
    "/clinic/calendar", response_model=ClinicCalendarOut, summary="Set opening hours, closures, country (admins)"
)
async def put_calendar(body: ClinicCalendarIn, call: Call) -> ClinicCalendarOut:
    return await call(clinic_calendar.update, body)
