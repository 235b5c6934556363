"""The clinic's calendar: opening hours per weekday, its own closures, the country's holidays.

Admins manage it (`clinic.manage`); every booking, re-flow and new plan reads it, as the engine's
`ClinicCalendar` (`calendar_for`), so no session, follow-up or appointment lands on a closed day.
A clinic that never saved one opens Monday to Friday, 09:00 to 17:00, with no public holidays.
"""

from __future__ import annotations

from datetime import date, time
from functools import lru_cache

from cicatrix.engine.slots import ClinicCalendar as EngineCalendar
from cicatrix.engine.slots import OpeningHours, public_holidays
from cicatrix.service import audit
from cicatrix.service.booking_schemas import ClinicCalendarIn, ClinicCalendarOut, Closure, HolidayOut, OpeningPeriod
from cicatrix.service.context import Context
from cicatrix.service.errors import Conflict, Invalid
from cicatrix.service.policy import require
from cicatrix.storage.db import utcnow
from cicatrix.storage.models import Clinic
from cicatrix.storage.models import ClinicCalendar as CalendarRow

DEFAULT_HOURS = tuple(OpeningPeriod(weekday=d, opens=time(9), closes=time(17)) for d in range(5))
# Holidays are read for the years a course can span: last year (late sessions) to four years on.
_YEARS_BACK, _YEARS_AHEAD = 1, 4


def _row(ctx: Context) -> CalendarRow | None:
    return ctx.db.get(CalendarRow, ctx.actor.clinic_id)


def _hours(row: CalendarRow | None) -> list[OpeningPeriod]:
    if row is None:
        return list(DEFAULT_HOURS)
    return [OpeningPeriod.model_validate(h) for h in row.hours]


def _closures(row: CalendarRow | None) -> list[Closure]:
    return [Closure.model_validate(c) for c in (row.closures if row else [])]


@lru_cache(maxsize=64)
def _holidays(country: str, subdivision: str | None, first_year: int, last_year: int) -> tuple[tuple[date, str], ...]:
    import holidays

    table = holidays.country_holidays(country, subdiv=subdivision, years=range(first_year, last_year + 1))
    return tuple(sorted(table.items()))


def holidays_of(country: str | None, subdivision: str | None, first_year: int, last_year: int) -> list[HolidayOut]:
    if not country:
        return []
    return [HolidayOut(date=d, name=n) for d, n in _holidays(country, subdivision, first_year, last_year)]


def calendar_for(ctx: Context) -> EngineCalendar:
    """The clinic's calendar as the engine reads it: hours, closures and public holidays."""
    row = _row(ctx)
    closed = {c.date for c in _closures(row)}
    if row is not None and row.country:
        y = ctx.today.year
        closed |= {h.date for h in holidays_of(row.country, row.subdivision, y - _YEARS_BACK, y + _YEARS_AHEAD)}
    hours = tuple(OpeningHours(weekday=h.weekday, opens=h.opens, closes=h.closes) for h in _hours(row))
    return EngineCalendar(hours=hours, closed=frozenset(closed))


def closed_reason(ctx: Context, day: date) -> str | None:
    """Why the clinic is closed on `day` (a closure's reason, a holiday's name), or None."""
    row = _row(ctx)
    for c in _closures(row):
        if c.date == day:
            return c.reason
    if row is not None and row.country:
        for h in holidays_of(row.country, row.subdivision, day.year, day.year):
            if h.date == day:
                return h.name
    return None


def timezone(ctx: Context) -> str:
    clinic = ctx.db.get(Clinic, ctx.actor.clinic_id)
    return clinic.timezone if clinic else "UTC"


def _out(ctx: Context, row: CalendarRow | None) -> ClinicCalendarOut:
    y = ctx.today.year
    return ClinicCalendarOut(
        hours=_hours(row),
        closures=_closures(row),
        country=row.country if row else None,
        subdivision=row.subdivision if row else None,
        timezone=timezone(ctx),
        version=row.version if row else 0,
        holidays=holidays_of(row.country, row.subdivision, y, y + 1) if row else [],
    )


def get(ctx: Context) -> ClinicCalendarOut:
    require(ctx.actor, "clinic.manage")
    return _out(ctx, _row(ctx))


def update(ctx: Context, body: ClinicCalendarIn) -> ClinicCalendarOut:
    """Replace the calendar. Refused (422, naming the field) when the country or subdivision is
    unknown to the `holidays` package, or when a closure date is given twice."""
    require(ctx.actor, "clinic.manage")
    if body.country:
        try:
            public_holidays(body.country, body.subdivision, ctx.today, ctx.today)
        except ValueError as exc:
            raise Invalid("subdivision" if "subdivision" in str(exc) else "country", str(exc)) from None
    elif body.subdivision:
        raise Invalid("subdivision", "a subdivision needs its country")
    seen: set[date] = set()
    for i, c in enumerate(body.closures):
        if c.date in seen:
            raise Invalid(f"closures[{i}].date", f"{c.date.isoformat()} is listed twice")
        seen.add(c.date)
    row = _row(ctx)
    if row is not None and body.version is not None and row.version != body.version:
        raise Conflict("version", "the calendar changed since you read it; reload it", current_version=row.version)
    if row is None:
        row = CalendarRow(clinic_id=ctx.actor.clinic_id, version=1)
        ctx.db.add(row)
    row.hours = [h.model_dump(mode="json") for h in sorted(body.hours, key=lambda h: (h.weekday, h.opens))]
    row.closures = [c.model_dump(mode="json") for c in sorted(body.closures, key=lambda c: c.date)]
    row.country = body.country
    row.subdivision = body.subdivision
    row.updated_at = utcnow()
    ctx.db.flush()
    audit.record(ctx, "update", "clinic_calendar", ctx.actor.clinic_id)
    return _out(ctx, row)
