"""Path and query parameters shared by the API routes and the web pages, bounded where they enter.

A record id is a signed 64-bit integer in every table: `/api/patients/9223372036854775808`
is a 422 naming `patient_id` (it cannot name a record), not an `OverflowError` in the driver.
Bounds are defined once in `cicatrix.service.bounds`.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Path
from pydantic import AfterValidator

from cicatrix.service.bounds import MAX_ID, in_date_range

Id = Annotated[int, Path(ge=1, le=MAX_ID, description="a record id")]
DateParam = Annotated[date, AfterValidator(in_date_range)]
