"""The one "today" of the test suite: the clinic's date every fixture and test pins."""

from __future__ import annotations

from datetime import date

TODAY = date(2026, 11, 23)
