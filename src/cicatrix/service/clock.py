"""The clinic's "today": the date on the clinic's wall calendar, from its time zone.

A server in UTC serving a clinic in Sydney must not call 09:00 on Tuesday "Monday". Every
entry point (API, web pages, calendar feed, command line) builds its `Context.today` here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Clock = Callable[[], datetime]  # the current instant, timezone-aware (tests pin it)


def utc_now() -> datetime:
    return datetime.now(UTC)


def clinic_today(timezone: str, now: datetime | None = None) -> date:
    """Today in the clinic's time zone (`now`, an aware datetime, defaults to the current
    instant); an unknown zone falls back to UTC rather than failing a request."""
    instant = now if now is not None else datetime.now(UTC)
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return instant.astimezone(zone).date()


def zone_of(timezone: str) -> ZoneInfo:
    """The zone by name; an unknown one is UTC rather than a failed request (as `clinic_today`)."""
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")
