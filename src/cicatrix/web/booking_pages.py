"""The front desk's pages: the clinic's day and week, a patient's bookings, booking a session.

Everything here goes through `service.appointments` (the policy's `appointment.read` and
`appointment.book`): names, times, rooms and treatment labels, never clinical content. A
re-booking to another day shows the re-flowed course first and saves only when confirmed.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from cicatrix.params import Id
from cicatrix.service import appointments, patients, plans
from cicatrix.service.booking_schemas import BookIn, CancelIn, StatusIn
from cicatrix.service.errors import Conflict, Invalid, NotFound
from cicatrix.service.policy import roles_with
from cicatrix.web.core import FormState, Page, Posted, WebRoute, empty_form, read_form, roles

router = APIRouter(route_class=WebRoute, include_in_schema=False)
BOOKERS = roles(*roles_with("appointment.book"))
READERS = roles(*roles_with("appointment.read"))

STATUS_LABELS = {
    "booked": "booked",
    "arrived": "arrived",
    "no_show": "did not come",
    "cancelled": "cancelled",
    "done": "done",
    "planned": "to book",
    "missed": "missed",
}


def _day(raw: str, default: date) -> date:
    try:
        return date.fromisoformat(raw) if raw else default
    except ValueError:
        return default


# ---------- the clinic's day and week ----------


@router.get("/calendar", response_class=HTMLResponse)
def calendar_page(
    day: str = "", view: str = "day", by: str = "practitioner", page: Page = Depends(READERS)
) -> Response:
    first = _day(day, page.ctx.today)
    days = 7 if view == "week" else 1
    if days == 7:
        first -= timedelta(days=first.weekday())
    by = "room" if by == "room" else "practitioner"
    cal = appointments.clinic_days(page.ctx, first, days, by)  # type: ignore[arg-type]
    key = "room_id" if by == "room" else "practitioner_id"
    grid: dict[tuple[date, int], list[Any]] = {}
    for a in cal.appointments:
        grid.setdefault((a.start.date(), getattr(a, key)), []).append(a)
    step = timedelta(days=days)
    return page.render(
        "booking/calendar.html",
        title="Appointments",
        cal=cal,
        grid=grid,
        view="week" if days == 7 else "day",
        by=by,
        prev=(first - step).isoformat(),
        next=(first + step).isoformat(),
        status_labels=STATUS_LABELS,
    )


def _back(form: FormState, fallback: str) -> str:
    target = form.value("back")
    return target if target.startswith("/") and not target.startswith("//") else fallback


@router.post("/appointments/{appointment_id}/{action}", response_class=HTMLResponse)
def appointment_action(appointment_id: Id, action: str, posted: Posted, page: Page = Depends(BOOKERS)) -> Response:
    """Arrival, no-show, undo and cancel from the calendar or a patient's bookings."""
    form = read_form(posted)
    version = int(form.value("version")) if form.value("version").isdigit() else None
    back = _back(form, "/calendar")
    try:
        if action == "arrived":
            page.step(appointments.arrive, appointment_id, StatusIn(version=version))
        elif action == "no-show":
            page.step(appointments.no_show, appointment_id, StatusIn(version=version))
        elif action == "undo":
            page.step(appointments.undo, appointment_id, StatusIn(version=version))
        elif action == "cancel":
            reason = form.value("reason").strip() or "cancelled at the front desk"
            page.step(appointments.cancel, appointment_id, CancelIn(version=version, reason=reason))
        else:
            raise NotFound("action", "no such action")
    except (Conflict, Invalid) as exc:
        return page.render("booking/refused.html", title="Not recorded", message=exc.message, back=back,
                           status_code=exc.status)  # fmt: skip
    return RedirectResponse(back, status_code=303)


# ---------- a patient's bookings ----------


@router.get("/patients/{patient_id}/bookings", response_class=HTMLResponse)
def patient_bookings(patient_id: Id, page: Page = Depends(BOOKERS)) -> Response:
    schedule = plans.schedule(page.ctx, patient_id)
    every = appointments.for_patient(page.ctx, patient_id)
    booked = {a.session_id: a for a in every if a.status in ("booked", "arrived")}
    history = [a for a in every if a.status not in ("booked", "arrived")]
    patient = patients.get(page.ctx, patient_id)
    label = {t: v.plain_name for t, v in page.ctx.kb.treatments.items()}
    return page.render(
        "booking/patient.html",
        title=f"Bookings for {patient.name}",
        patient=patient,
        sessions=[s for s in schedule.sessions if s.status in ("planned", "done")],
        booked=booked,
        history=history,
        label=label,
        status_labels=STATUS_LABELS,
    )


# ---------- booking one session ----------


def _book_page(page: Page, session_id: int, form: FormState, preview: Any = None, status: int = 200) -> Response:
    first = _day(form.value("first"), page.ctx.today) if form.value("first") else None
    pid = int(form.value("practitioner_id")) if form.value("practitioner_id").isdigit() else None
    rid = int(form.value("room_id")) if form.value("room_id").isdigit() else None
    found = appointments.slots(page.ctx, session_id, first, None, pid, rid, 24)
    return page.render(
        "booking/book.html",
        title="Book a session",
        s=found,
        form=form,
        practitioners=appointments.practitioners(page.ctx),
        rooms=[r for r in appointments.rooms(page.ctx) if r.active],
        preview=preview,
        patient_id=form.value("patient_id"),
        status_code=status,
    )


@router.get("/sessions/{session_id}/book", response_class=HTMLResponse)
def book_form(
    session_id: Id, first: str = "", practitioner_id: str = "", room_id: str = "", page: Page = Depends(BOOKERS)
) -> Response:
    form = empty_form(first=first, practitioner_id=practitioner_id, room_id=room_id)
    return _book_page(page, session_id, form)


@router.post("/sessions/{session_id}/book", response_class=HTMLResponse)
def book_submit(session_id: Id, posted: Posted, page: Page = Depends(BOOKERS)) -> Response:
    """A slot chosen (or a time typed with a reason, outside the window). When the day differs
    from the session's planned day the course re-flows: the first post previews it."""
    form = read_form(posted)
    try:
        start = datetime.fromisoformat(form.value("start"))
        if start.tzinfo is None:
            raise ValueError
    except ValueError:
        form.errors["start"] = "Choose a slot."
        return _book_page(page, session_id, form, status=422)
    pid, rid = form.value("practitioner_id"), form.value("room_id")
    if not (pid.isdigit() and rid.isdigit()):
        form.errors["start"] = "Choose a slot with a practitioner and a room."
        return _book_page(page, session_id, form, status=422)
    confirmed = form.value("action") == "confirm"
    body = dict(start=start, practitioner_id=int(pid), room_id=int(rid),
                override_reason=form.value("override_reason").strip() or None)  # fmt: skip
    try:
        preview = page.step(appointments.book, session_id, BookIn(**body, dry_run=True))  # type: ignore[arg-type]
        if preview.moved and not confirmed:
            return _book_page(page, session_id, form, preview=preview)
        made = page.step(appointments.book, session_id, BookIn(**body))  # type: ignore[arg-type]
    except Conflict as exc:
        nxt = exc.extra.get("next_slots") or []
        form.errors["start"] = exc.message + (" The next free slot is listed first below." if nxt else "")
        return _book_page(page, session_id, form, status=409)
    except Invalid as exc:
        form.errors[exc.field or "start"] = exc.message
        return _book_page(page, session_id, form, status=422)
    return RedirectResponse(f"/patients/{made.appointment.patient_id}/bookings?booked={made.appointment.id}",
                            status_code=303)  # fmt: skip


# ---------- the handout ----------


@router.get("/patients/{patient_id}/handout", response_class=HTMLResponse)
def patient_handout(patient_id: Id, page: Page = Depends(roles(*roles_with("handout.print")))) -> Response:
    from cicatrix.service import handouts
    from cicatrix.web.clinician import handout_page

    return handout_page(page, handouts.for_patient(page.ctx, patient_id))
