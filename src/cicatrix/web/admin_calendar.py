"""The admin's page for the clinic's calendar (opening hours, closures, country) and its rooms."""

from __future__ import annotations

from datetime import date, time

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from cicatrix.params import Id
from cicatrix.service import appointments, clinic_calendar
from cicatrix.service.booking_schemas import ClinicCalendarIn, RoomIn
from cicatrix.service.errors import Conflict, Invalid
from cicatrix.service.policy import roles_with
from cicatrix.web.core import FormState, Page, Posted, WebRoute, empty_form, read_form, roles

router = APIRouter(route_class=WebRoute, include_in_schema=False)
ADMIN = roles(*roles_with("clinic.manage"))
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _form_of(page: Page) -> FormState:
    cal = clinic_calendar.get(page.ctx)
    values: dict[str, str] = {"country": cal.country or "", "subdivision": cal.subdivision or "",
                              "version": str(cal.version)}  # fmt: skip
    for h in cal.hours:  # one period per weekday on this page (the API takes several)
        values.setdefault(f"opens_{h.weekday}", f"{h.opens:%H:%M}")
        values[f"closes_{h.weekday}"] = f"{h.closes:%H:%M}"
    values["closures"] = "\n".join(f"{c.date.isoformat()} {c.reason}" for c in cal.closures)
    return empty_form(**values)


def _page(page: Page, form: FormState, status: int = 200) -> Response:
    cal = clinic_calendar.get(page.ctx)
    return page.render(
        "admin/calendar.html",
        title="Opening hours and rooms",
        form=form,
        weekdays=list(enumerate(WEEKDAYS)),
        holidays=cal.holidays,
        timezone=cal.timezone,
        rooms=appointments.rooms(page.ctx),
        status_code=status,
    )


@router.get("/admin/calendar", response_class=HTMLResponse)
def calendar_page(page: Page = Depends(ADMIN)) -> Response:
    return _page(page, _form_of(page))


def _parse(form: FormState) -> dict[str, object]:
    hours = []
    for d in range(7):
        opens, closes = form.value(f"opens_{d}").strip(), form.value(f"closes_{d}").strip()
        if not opens and not closes:
            continue
        try:
            hours.append({"weekday": d, "opens": time.fromisoformat(opens), "closes": time.fromisoformat(closes)})
        except ValueError:
            form.errors[f"opens_{d}"] = f"{WEEKDAYS[d]}: give both times as HH:MM, or leave both empty (closed)."
    closures = []
    for n, line in enumerate(form.value("closures").splitlines(), 1):
        if not line.strip():
            continue
        day, _, reason = line.strip().partition(" ")
        try:
            closures.append({"date": date.fromisoformat(day), "reason": reason.strip() or "closed"})
        except ValueError:
            form.errors["closures"] = f"Line {n}: start with the date as YYYY-MM-DD, then the reason."
    version = form.value("version")
    return {"hours": hours, "closures": closures, "country": form.value("country").strip() or None,
            "subdivision": form.value("subdivision").strip() or None,
            "version": int(version) if version.isdigit() and version != "0" else None}  # fmt: skip


@router.post("/admin/calendar", response_class=HTMLResponse)
def calendar_save(posted: Posted, page: Page = Depends(ADMIN)) -> Response:
    form = read_form(posted)
    data = _parse(form)
    if not form.errors:
        try:
            page.step(clinic_calendar.update, ClinicCalendarIn.model_validate(data))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = first["loc"][0] if first["loc"] else "hours"
            form.errors["closures" if where == "closures" else "country" if where in ("country", "subdivision")
                        else "opens_0"] = str(first["msg"])  # fmt: skip
        except (Invalid, Conflict) as exc:
            form.errors[exc.field if exc.field in ("country", "subdivision", "closures") else "country"] = exc.message
    if form.errors:
        return _page(page, form, status=422)
    return RedirectResponse("/admin/calendar?done=settings_saved", status_code=303)


@router.post("/admin/rooms", response_class=HTMLResponse)
def room_add(posted: Posted, page: Page = Depends(ADMIN)) -> Response:
    form = read_form(posted)
    try:
        page.step(appointments.add_room, RoomIn(name=form.value("name")))
    except (ValidationError, Conflict) as exc:
        errors = empty_form(**_form_of(page).values)
        errors.errors["room_name"] = exc.message if isinstance(exc, Conflict) else "Give the room a name."
        return _page(page, errors, status=422)
    return RedirectResponse("/admin/calendar?done=settings_saved", status_code=303)


@router.post("/admin/rooms/{room_id}", response_class=HTMLResponse)
def room_update(room_id: Id, posted: Posted, page: Page = Depends(ADMIN)) -> Response:
    form = read_form(posted)
    try:
        page.step(
            appointments.update_room, room_id, RoomIn(name=form.value("name"), active=form.value("active") == "1")
        )
    except (ValidationError, Conflict) as exc:
        errors = empty_form(**_form_of(page).values)
        errors.errors["room_name"] = exc.message if isinstance(exc, Conflict) else "Give the room a name."
        return _page(page, errors, status=422)
    return RedirectResponse("/admin/calendar?done=settings_saved", status_code=303)
