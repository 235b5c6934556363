"""The one "today" of the test suite: the clinic's date every fixture and test pins."""

from __future__ import annotations

from datetime import UTC, date, datetime

TODAY = date(2026, 11, 23)

# The pinned instant the apps under test run at: noon UTC, so TODAY in every clinic of the
# fixtures (UTC, Europe/London).
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
