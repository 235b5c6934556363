"""`GET /api/exports/outcomes.csv`: who may take it, what it leaves out, how dates are shifted."""

from __future__ import annotations

import csv
import io
from datetime import date

from sqlalchemy import select

from cicatrix.exports.outcomes import OUTCOME_COLUMNS
from cicatrix.service import plans
from cicatrix.service.records import _shift_days
from cicatrix.service.schemas import AssessmentIn
from cicatrix.storage.models import Assessment, AuditEvent
from tests.api.fixtures import bearer
from tests.storage.world import ASSESSMENT, PREFS

URL = "/api/exports/outcomes.csv"
EARLIER = date(2026, 9, 14)  # P1's extra, earlier assessment; the world's are all on 2026-11-20


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _add_earlier_assessment(world) -> None:  # type: ignore[no-untyped-def]
    with world.database.transaction() as db:
        body = AssessmentIn(assessment={**ASSESSMENT, "date": EARLIER.isoformat()}, preferences=PREFS)
        plans.assess(world.ctx("clinician", db), world.patients["P1"], body)


ROLES = {
    "admin": 200,
    "clinician": 200,
    "clinician_b": 200,
    "front_desk": 403,
    "patient": 403,
    "patient2": 403,
    "patient_b": 403,
}


def test_only_admins_and_clinicians_may_export(client) -> None:  # type: ignore[no-untyped-def]
    # One world for every role (building a world per role would dominate the run time).
    for role, status in ROLES.items():
        with client.world.database.transaction() as db:
            seen = {e.id for e in db.scalars(select(AuditEvent).where(AuditEvent.entity == "outcomes"))}
        r = client.get(URL, headers=bearer(client, role))
        assert r.status_code == status, (role, r.text)
        with client.world.database.transaction() as db:
            events = [
                e for e in db.scalars(select(AuditEvent).where(AuditEvent.entity == "outcomes")) if e.id not in seen
            ]
        if status == 403:
            assert r.json()["field"] == "role" and "subject" not in r.text, role
            assert events == [], role
            continue
        assert r.headers["content-type"] == "text/csv; charset=utf-8"
        rows = _rows(r.text)
        assert len(rows) == (1 if role == "clinician_b" else 2), role  # only the actor's own clinic
        (event,) = events
        assert (event.action, event.user_id, event.role) == ("export", client.world.users[role], role.split("_")[0])
        assert event.patient_id is None and event.detail == f"rows:{len(rows)}"


def test_unauthenticated_is_refused(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get(URL)
    assert r.status_code == 401
    assert "subject" not in r.text


def test_one_deidentified_row_per_assessment_with_per_patient_shift(client) -> None:  # type: ignore[no-untyped-def]
    world = client.world
    _add_earlier_assessment(world)
    r = client.get(URL, headers=bearer(client, "admin"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.headers["content-disposition"] == 'attachment; filename="outcomes.csv"'
    assert r.text.splitlines()[0] == ",".join(OUTCOME_COLUMNS)
    rows = _rows(r.text)

    with world.database.transaction() as db:
        stored = db.scalars(select(Assessment).where(Assessment.clinic_id == world.clinic_a)).all()
        scores = sorted((str(a.goodman_baron_quantitative), str(a.ecca), a.severity) for a in stored)
    assert len(stored) == 3 and len(rows) == 3  # P1 twice, P2 once; clinic B's P3 never appears

    for banned in ("Patient P", "MRN-", "1990-01-02", "1990", "private note", "@test", "2026-11-20", "2026-09-14"):
        assert banned not in r.text, banned
    for column in ("name", "birth_date", "mrn", "email", "patient_id"):
        assert column not in rows[0]

    by_subject: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_subject.setdefault(row["subject"], []).append(row)
    assert sorted(len(v) for v in by_subject.values()) == [1, 2]
    (p1,) = [sorted(v, key=lambda x: int(x["days_from_first_assessment"])) for v in by_subject.values() if len(v) == 2]
    (p2,) = [v for v in by_subject.values() if len(v) == 1]
    # P1's two rows keep their real 67-day gap, both moved by the same non-zero shift.
    first, second = (date.fromisoformat(x["assessment_date"]) for x in p1)
    assert [x["days_from_first_assessment"] for x in p1] == ["0", "67"]
    assert (second - first).days == 67
    shift_p1 = (first - EARLIER).days
    shift_p2 = (date.fromisoformat(p2[0]["assessment_date"]) - date(2026, 11, 20)).days
    assert shift_p1 != 0 and shift_p2 != 0 and abs(shift_p1) <= 180 and abs(shift_p2) <= 180
    # two patients share phototype III, female, 30-39 and microneedling: fewer than k = 5, suppressed
    assert all(
        (x["phototype"], x["sex"], x["age_band"], x["treatments_planned"], x["suppressed"]) == ("*", "*", "*", "*", "1")
        for x in rows
    )
    assert sorted((x["goodman_baron_quantitative"], x["ecca"], x["severity"]) for x in rows) == scores

    # Each download has fresh pseudonyms: two exports cannot be joined on the subject column.
    again = _rows(client.get(URL, headers=bearer(client, "clinician")).text)
    assert len(again) == 3 and not {x["subject"] for x in again} & set(by_subject)


def test_shift_is_never_zero_and_spans_both_directions() -> None:
    shifts = {_shift_days(b"k", pid) for pid in range(5000)}
    assert 0 not in shifts
    assert min(shifts) == -180 and max(shifts) == 180
    assert len(shifts) == 360
