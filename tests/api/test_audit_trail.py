"""The audit trail's read layer (issue 14 §5) through `GET /api/audit`: filters by patient,
user, action and days in the clinic's time zone; another clinic's events never show; every
read of the trail is itself an event."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import update

from cicatrix.storage.models import AuditEvent
from tests.api.fixtures import bearer


def _trail(client, **params):  # type: ignore[no-untyped-def]
    r = client.get("/api/audit", params=params, headers=bearer(client, "admin"))
    assert r.status_code == 200, r.text
    return r.json()


def test_filters_by_patient_user_action_and_days(client) -> None:  # type: ignore[no-untyped-def]
    w = client.world
    pid = w.patients["P1"]
    assert client.get(f"/api/patients/{pid}", headers=bearer(client, "clinician")).status_code == 200
    clinician = w.users["clinician"]
    reads = _trail(client, patient_id=pid, user_id=clinician, action="read")
    assert reads["total"] >= 1
    assert all(e["patient_id"] == pid and e["user_id"] == clinician and e["action"] == "read" for e in reads["items"])
    assert reads["items"][0]["username"] == "clinician@test"
    # days are the clinic's (Europe/London, UTC+0 in November): put one event on a known day
    with w.database.transaction() as db:
        first = db.query(AuditEvent).filter(AuditEvent.clinic_id == w.clinic_a).order_by(AuditEvent.id).first()
        assert first is not None
        db.execute(update(AuditEvent).where(AuditEvent.id == first.id).values(at=datetime(2026, 3, 3, 23, 30, tzinfo=UTC)))
    day = _trail(client, since="2026-03-03", until="2026-03-03")
    assert [e["id"] for e in day["items"]] == [first.id]
    assert _trail(client, since="2026-03-04", until="2026-03-04")["total"] == 0
    r = client.get("/api/audit", params={"since": "2026-03-05", "until": "2026-03-04"}, headers=bearer(client, "admin"))
    assert r.status_code == 422 and r.json()["field"] == "until"
    r = client.get("/api/audit", params={"since": "0001-01-01"}, headers=bearer(client, "admin"))
    assert r.status_code == 422 and r.json()["field"] == "since"


def test_another_clinics_events_never_show_and_reads_are_audited(client) -> None:  # type: ignore[no-untyped-def]
    w = client.world
    p3 = w.patients["P3"]
    assert client.get(f"/api/patients/{p3}", headers=bearer(client, "clinician_b")).status_code == 200
    assert _trail(client, patient_id=p3)["total"] == 0
    assert _trail(client, user_id=w.users["clinician_b"])["total"] == 0
    before = _trail(client, action="read")["total"]
    after = _trail(client, action="read")
    assert after["total"] == before + 1  # the first look at the trail is in it
    assert any(e["entity"] == "audit" and e["detail"] == "action=read" for e in after["items"])
