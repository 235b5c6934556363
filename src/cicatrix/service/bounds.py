"""What the service accepts at its edges: record ids, versions, dates and text a database can
store and date arithmetic can reach.

One definition per kind of value, used by the request schemas (`service/schemas.py`) and the
routes' path and query parameters (`cicatrix/params.py`), so an out-of-range value is a 422 naming
its field before any query runs, never an `OverflowError` or a driver error (a 500). Request
bodies are also checked for NUL characters and lone surrogates as a whole (`api/intake.py`).
The engine bounds the case itself (counts, areas, dates: `engine/case.py`).
"""

from __future__ import annotations

import unicodedata
from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, Field

from cicatrix.engine.case import MAX_DATE, MIN_DATE

# Every table's primary key is a signed 64-bit integer (SQLite INTEGER, PostgreSQL BIGINT or
# smaller): a larger number cannot name a record, and the drivers refuse to bind it.
MAX_ID = 2**63 - 1

RecordId = Annotated[int, Field(ge=1, le=MAX_ID)]
Version = Annotated[int, Field(ge=1, le=MAX_ID)]


def in_date_range(day: date) -> date:
    """Refuse dates that date arithmetic or a calendar export cannot carry (e.g. 9999-12-31)."""
    if not MIN_DATE <= day <= MAX_DATE:
        raise ValueError(f"must be between {MIN_DATE} and {MAX_DATE}")
    return day


Day = Annotated[date, AfterValidator(in_date_range)]


def instant_in_range(when: datetime) -> datetime:
    """An instant whose date is in the same range as `Day` (an appointment's start)."""
    in_date_range(when.date())
    return when


Instant = Annotated[AwareDatetime, AfterValidator(instant_in_range)]


def one_line(text: str) -> str:
    """Names are shown in page titles, PDF headers and iCalendar fields: no line breaks, tabs
    or other control characters (a newline in the clinic's name broke every calendar)."""
    for ch in text:
        if unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp"):
            raise ValueError("must be one line, without control characters")
    return text
