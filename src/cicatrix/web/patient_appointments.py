"""The patient's appointments on a phone: a month grid of the course, the booked times, and an
"add to my calendar" link (the private subscription URL of `service.calendar`, as a link and a
QR code drawn with `segno` as inline SVG, so a desktop page can hand it to a phone)."""

from __future__ import annotations

import calendar as monthcal
from datetime import date

import segno
from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response

from cicatrix.service import appointments, calendar, plans
from cicatrix.service.errors import NotFound
from cicatrix.web.core import Page, Posted, WebRoute, roles

router = APIRouter(route_class=WebRoute, include_in_schema=False)
PATIENT = roles("patient")
MONTHS_SHOWN = 12  # at most a year of the course, from this month


def _months(first: date, last: date) -> list[tuple[int, int]]:
    out = []
    y, m = first.year, first.month
    while (y, m) <= (last.year, last.month) and len(out) < MONTHS_SHOWN:
        out.append((y, m))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _grid(year: int, month: int) -> list[list[date]]:
    return monthcal.Calendar(firstweekday=0).monthdatescalendar(year, month)


def _page(page: Page, link: str | None = None, qr: str | None = None) -> Response:
    pid = page.actor.patient_id
    if pid is None:
        raise NotFound("patient_id", "this account is not linked to a patient record")
    try:
        schedule = plans.schedule(page.ctx, pid)
        sessions = [s for s in schedule.sessions if s.status in ("planned", "done")]
    except NotFound:
        sessions = []
    booked = {a.session_id: a for a in appointments.for_patient(page.ctx, pid) if a.status in ("booked", "arrived")}
    by_day: dict[date, list[str]] = {}
    label = {t: v.plain_name for t, v in page.ctx.kb.treatments.items()}
    for s in sessions:
        a = booked.get(s.id)
        when = f" {a.start:%H:%M}" if a else ""
        by_day.setdefault(s.date, []).append(f"{label.get(s.treatment, s.treatment)}{when}")
    today = page.ctx.today
    last = max((s.date for s in sessions), default=today)
    months = [(y, m, monthcal.month_name[m], _grid(y, m)) for y, m in _months(min(today, last), max(today, last))]
    upcoming = [(s, booked.get(s.id)) for s in sessions if s.date >= today and s.status == "planned"]
    return page.render(
        "patient/appointments.html",
        title="My appointments",
        months=months,
        by_day=by_day,
        upcoming=upcoming,
        label=label,
        link=link,
        qr=qr,
    )


@router.get("/me/appointments", response_class=HTMLResponse)
def my_appointments(page: Page = Depends(PATIENT)) -> Response:
    return _page(page)


@router.post("/me/calendar-link", response_class=HTMLResponse)
def new_calendar_link(_posted: Posted, page: Page = Depends(PATIENT)) -> Response:
    """A new private subscription link, shown once (only its hash is kept), with its QR code."""
    pid = page.actor.patient_id
    if pid is None:
        raise NotFound("patient_id", "this account is not linked to a patient record")
    token = calendar.create(page.ctx, pid).token
    base = str(page.request.base_url).rstrip("/")
    https = f"{base}/api/calendar/{token}.ics"
    qr = segno.make(https, error="m").svg_inline(scale=4, title="QR code of your calendar link")
    return _page(page, link=https, qr=qr)
