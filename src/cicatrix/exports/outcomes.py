"""The clinic's de-identified outcomes as CSV: rows in (`service.records.outcomes_rows`),
text out, and the k-anonymity rule those rows pass before they leave the clinic."""

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
    "age_band",
    "goodman_baron_quantitative",
    "ecca",
    "goodman_baron_qualitative",
    "severity",
    "treatments_planned",
    "sessions_done",
    "adverse_events",
    "adverse_event_kinds",
    "knowledge_version",
    "suppressed",
)

# Fewer patients than this sharing phototype, sex, age band and treatment set could be picked out
# by someone who knows those four facts about a patient (a colleague, a relative): the common
# threshold for released health data (k-anonymity, k = 5).
K_ANONYMITY = 5
QUASI_IDENTIFIERS = ("phototype", "sex", "age_band", "treatments_planned")
SUPPRESSED = "*"


def k_anonymise(rows: list[dict[str, Any]], k: int = K_ANONYMITY) -> list[dict[str, Any]]:
    """Rows whose combination of QUASI_IDENTIFIERS fewer than `k` distinct subjects share get
    those columns replaced by "*" and `suppressed` = 1, and so do the other rows of the same
    subjects; every other row keeps them, with `suppressed` = 0. Scores, date offsets and counts
    are kept: they are what the table is for."""
    # The subject code links a patient's rows: one rare row suppresses all of that patient's,
    # or the kept ones would give away what the suppressed one hides. That can leave another
    # combination with fewer than k patients, so repeat until none is left.
    rare_subjects: set[Any] = set()
    while True:
        subjects: dict[tuple[Any, ...], set[Any]] = {}
        for r in rows:
            if r["subject"] not in rare_subjects:
                subjects.setdefault(tuple(r[q] for q in QUASI_IDENTIFIERS), set()).add(r["subject"])
        newly = {s for members in subjects.values() if len(members) < k for s in members}
        if not newly:
            break
        rare_subjects |= newly
    out = []
    for r in rows:
        rare = r["subject"] in rare_subjects
        row = dict(r)
        if rare:
            row.update({q: SUPPRESSED for q in QUASI_IDENTIFIERS})
        row["suppressed"] = int(rare)
        out.append(row)
    return out


def outcomes_csv(rows: Iterable[Mapping[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=OUTCOME_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


RATE_COLUMNS = ("treatments_planned", "phototype", "sessions_done", "adverse_events", "per_100_sessions")


def adverse_event_rates(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Adverse events per 100 sessions done, per treatment set and phototype, from the export's
    own rows (so suppressed rows count under "*", as the export shows them). A row counts the
    sessions and events of the plan its assessment produced; a patient with several assessments
    and one plan is counted once, under the row that carries the plan's sessions."""
    groups: dict[tuple[str, str], list[int]] = {}
    for r in rows:
        done, events = int(r["sessions_done"]), int(r["adverse_events"])
        if not done and not events:
            continue
        g = groups.setdefault((str(r["treatments_planned"]), str(r["phototype"])), [0, 0])
        g[0] += done
        g[1] += events
    return [
        {
            "treatments_planned": t,
            "phototype": ph,
            "sessions_done": done,
            "adverse_events": events,
            "per_100_sessions": round(100.0 * events / done, 1) if done else "",
        }
        for (t, ph), (done, events) in sorted(groups.items())
    ]
