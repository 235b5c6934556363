"""The exports show the plan the API calls current, for each role (one definition:
`service.queries.current_plan`)."""

from __future__ import annotations

from icalendar import Calendar

from tests.api.fixtures import bearer


def test_api_fhir_and_calendar_show_the_same_plan(client) -> None:  # type: ignore[no-untyped-def]
    """Before, FHIR and iCalendar took "the approved plan, else the newest proposal" while
    /plan took the newest in force: a clinician saw two different plans. Now every reader shows
    the running course (the approved plan), for every role; a newer proposal is beside it."""
    w = client.world
    pid = w.patients["P1"]
    made = w.new_plan("P1", approve=False)
    for role in ("clinician", "patient"):
        api = client.get(f"/api/patients/{pid}/plan", headers=bearer(client, role)).json()
        fhir = client.get(f"/api/patients/{pid}/fhir", headers=bearer(client, role)).json()
        (careplan,) = [e["resource"] for e in fhir["entry"] if e["resource"]["resourceType"] == "CarePlan"]
        assert made["plan_id"] != w.plans["P1"]
        assert api["id"] == w.plans["P1"]
        assert careplan["status"] == "active"
        assert api["status"] == "approved"
        ics = client.get(f"/api/patients/{pid}/calendar.ics", headers=bearer(client, role))
        assert ics.status_code == 200
        sessions = {s["date"] for s in api["sessions"] if s["status"] == "planned"}
        events = Calendar.from_ical(ics.content).walk("VEVENT")
        starts = {e.decoded("DTSTART").date().isoformat() for e in events if "session" in [str(c) for c in e.categories]}
        assert sessions <= starts or not sessions
