"""The clinic's de-identified outcomes as CSV: rows in (`service.records.outcomes_rows`),
text out."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from typing import Any

OUTCOME_COLUMNS = (
    "subject",
    "assessment_date",
    "days_from_first_assessment",
    "phototype",
    "sex",
    "goodman_baron_quantitative",
    "ecca",
    "goodman_baron_qualitative",
    "severity",
    "treatments_planned",
    "sessions_done",
    "knowledge_version",
)


def outcomes_csv(rows: Iterable[Mapping[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=OUTCOME_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()
