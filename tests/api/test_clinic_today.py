""""Today" is the clinic's today: the date on its wall calendar, from `Clinic.timezone`."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient

from cicatrix.api.app import create_app
from cicatrix.service import users
from cicatrix.service.clock import clinic_today
from cicatrix.service.schemas import ClinicUpdate
from tests.api.fixtures import bearer

# 12:00 UTC on 23 November: already the 24th in Auckland (UTC+13), still the 23rd in London.
INSTANT = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("zone", "expected"),
    [("Pacific/Auckland", date(2026, 11, 24)), ("Europe/London", date(2026, 11, 23)),
     ("America/Los_Angeles", date(2026, 11, 23)), ("Not/AZone", date(2026, 11, 23))],
)  # fmt: skip
def test_clinic_today_is_the_date_in_the_clinics_zone(zone: str, expected: date) -> None:
    assert clinic_today(zone, INSTANT) == expected
    assert clinic_today("America/Los_Angeles", datetime(2026, 11, 23, 5, 0, tzinfo=UTC)) == date(2026, 11, 22)


def test_every_entry_point_uses_the_callers_clinic_today(world) -> None:  # type: ignore[no-untyped-def]
    world.database.run_sync(lambda db: users.update_clinic(world.ctx("admin", db), ClinicUpdate(timezone="Pacific/Auckland")))
    app = create_app(world.database.settings, clock=lambda: INSTANT, knowledge=world.kb)
    with TestClient(app) as client:
        client.world = world  # type: ignore[attr-defined]
        # API: the day's care without a date is the clinic's today
        r = client.get(f"/api/patients/{world.patients['P1']}/today", headers=bearer(client, "patient"))
        assert r.status_code == 200 and r.json()["days"][0]["date"] == "2026-11-24"
        # clinic B keeps UTC: its patient's today is still the 23rd
        r = client.get(f"/api/patients/{world.patients['P3']}/today", headers=bearer(client, "patient_b"))
        assert r.status_code == 200 and r.json()["days"][0]["date"] == "2026-11-23"
        # a future date is judged by the clinic's calendar too: the 24th is not in Auckland's future
        body = {"date": "2026-11-24", "measure": "patient_global_improvement", "value": 1}
        r = client.post(f"/api/patients/{world.patients['P1']}/outcomes", json=body, headers=bearer(client, "clinician"))
        assert r.status_code == 201, r.text
        r = client.post(f"/api/patients/{world.patients['P3']}/outcomes", json=body,
                        headers=bearer(client, "clinician_b"))  # fmt: skip
        assert r.status_code == 422 and r.json()["field"] == "date"
    app.state.db.dispose()
