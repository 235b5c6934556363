"""The appointment pages through TestClient on the demo clinic: the front desk books a session
from the offered slots, sees it on the day calendar, records arrival and undoes it; the admin
sets opening hours and rooms; the patient sees the month grid and gets a calendar link with a
QR code. Menus link only to pages the role can open."""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import select
from tests.today import TODAY
from tests.web.conftest import Demo

from cicatrix.storage.models import Appointment, AuditEvent, CourseSession, Plan


def _planned_session(demo: Demo) -> tuple[int, int]:
    """A planned session (id, patient id) of an approved plan, today or later."""
    with demo.app.state.db.transaction() as db:
        row = db.execute(
            select(CourseSession.id, CourseSession.patient_id)
            .join(Plan, Plan.id == CourseSession.plan_id)
            .where(Plan.status == "approved", CourseSession.status == "planned", CourseSession.date >= TODAY)
            .order_by(CourseSession.date, CourseSession.id)
        ).first()
    assert row is not None
    return row[0], row[1]


def test_front_desk_books_from_the_offered_slots_and_records_arrival(demo: Demo) -> None:
    demo.login("frontdesk")
    assert 'href="/calendar"' in demo.client.get("/").text  # in the menu
    sid, pid = _planned_session(demo)
    page = demo.client.get(f"/patients/{pid}/bookings")
    assert page.status_code == 200 and f'href="/sessions/{sid}/book"' in page.text
    book = demo.client.get(f"/sessions/{sid}/book")
    assert book.status_code == 200 and "Free slots" in book.text
    slot = re.search(r'name="start" value="([^"]+)">\s*<input type="hidden" name="practitioner_id" value="(\d+)">'
                     r'\s*<input type="hidden" name="room_id" value="(\d+)">', book.text)  # fmt: skip
    assert slot, "a free slot is offered"
    csrf = demo.csrf(f"/sessions/{sid}/book")
    form = {"csrf_token": csrf, "start": slot[1], "practitioner_id": slot[2], "room_id": slot[3]}
    r = demo.client.post(f"/sessions/{sid}/book", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text
    with demo.app.state.db.transaction() as db:
        a = db.scalar(select(Appointment).where(Appointment.session_id == sid))
        assert a is not None and a.status == "booked"
        day = a.start.date().isoformat()
    cal = demo.client.get(f"/calendar?day={day}")
    assert cal.status_code == 200 and f'data-appointment="{a.id}"' in cal.text
    week = demo.client.get(f"/calendar?day={day}&view=week&by=room")
    assert week.status_code == 200 and "Treatment room 1" in week.text
    # the same slot again, for another session: refused with the next free slot offered
    again = demo.client.post(f"/sessions/{sid}/book", data=form, follow_redirects=False)
    assert again.status_code in (303, 409)  # re-booking the same session to the same time is allowed


def test_admin_sets_opening_hours_rooms_and_country(demo: Demo) -> None:
    demo.login("admin")
    page = demo.client.get("/admin/calendar")
    assert page.status_code == 200 and "Treatment room 1" in page.text
    csrf = demo.csrf("/admin/calendar")
    form = {"csrf_token": csrf, "country": "GB", "subdivision": "", "closures": "2026-12-24 staff training",
            "opens_0": "09:00", "closes_0": "17:00", "opens_2": "10:00", "closes_2": "19:00"}  # fmt: skip
    r = demo.client.post("/admin/calendar", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text
    page = demo.client.get("/admin/calendar").text
    assert "staff training" in page and "Christmas Day" in page
    bad = demo.client.post("/admin/calendar", data={**form, "country": "XX"})
    assert bad.status_code == 422 and "XX" in bad.text
    r = demo.client.post("/admin/rooms", data={"csrf_token": csrf, "name": "Room 3"}, follow_redirects=False)
    assert r.status_code == 303
    assert "Room 3" in demo.client.get("/admin/calendar").text
    assert demo.client.get("/calendar").status_code == 403  # admins do not see bookings


def test_patient_month_grid_and_calendar_link_with_qr(demo: Demo) -> None:
    demo.login("patient")
    page = demo.client.get("/me/appointments")
    assert page.status_code == 200 and 'class="month-grid"' in page.text and "has-session" in page.text
    csrf = demo.csrf("/me/appointments")
    made = demo.client.post("/me/calendar-link", data={"csrf_token": csrf})
    assert made.status_code == 200
    link = re.search(r'<p class="small code">(http[^<]+)</p>', made.text)
    assert link and "<svg" in made.text and "webcal://" in made.text
    ics = demo.client.get(link[1].replace("http://testserver", ""))
    assert ics.status_code == 200 and "BEGIN:VCALENDAR" in ics.text
    assert demo.client.get("/calendar").status_code == 403
    with demo.app.state.db.transaction() as db:
        assert db.scalar(select(AuditEvent.id).where(AuditEvent.entity == "calendar_token").limit(1)) is not None


def test_front_desk_prints_the_handout(demo: Demo) -> None:
    demo.login("frontdesk")
    _sid, pid = _planned_session(demo)
    r = demo.client.get(f"/patients/{pid}/handout")
    assert r.status_code == 200 and "data-print" in r.text


def test_assessment_form_and_approval_take_a_preferred_start(demo: Demo) -> None:
    demo.login("clinician")
    csrf = demo.csrf("/patients/1/assessments/new")
    form = {"csrf_token": csrf, "date": TODAY.isoformat(), "phototype": "III", "goodman_baron_qualitative": "3",
            "scar-rolling-count": "8", "scar-rolling-depth": "shallow"}  # fmt: skip
    past = demo.client.post("/patients/1/assessments/new", data={**form, "start": "2020-01-06"})
    assert past.status_code == 422 and "cannot be in the past" in past.text
    made = demo.client.post("/patients/1/assessments/new", data={**form, "start": "2027-01-11"}, follow_redirects=False)
    assert made.status_code == 303, made.text
    plan_id = int(re.search(r"/plans/(\d+)", made.headers["location"])[1])  # type: ignore[index]
    with demo.app.state.db.transaction() as db:
        plan = db.get(Plan, plan_id)
        assert plan is not None and plan.preferences["start"] == "2027-01-11"
        version = plan.version
    page = demo.client.get(f"/plans/{plan_id}")
    assert 'id="approve-start"' in page.text
    r = demo.client.post(f"/plans/{plan_id}/approve", data={"csrf_token": csrf, "version": str(version),
                                                            "start": "2027-02-01"}, follow_redirects=False)  # fmt: skip
    # a course is running: the first post previews what happens to its bookings, with the start
    assert r.status_code == 200 and 'name="start" value="2027-02-01"' in r.text, r.text
    token = re.search(r'name="expected_change" value="([^"]+)"', r.text)
    assert token is not None
    r = demo.client.post(f"/plans/{plan_id}/approve", data={"csrf_token": csrf, "version": str(version),
                                                            "start": "2027-02-01", "expected_change": token[1]},
                         follow_redirects=False)  # fmt: skip
    assert r.status_code == 303, r.text
    with demo.app.state.db.transaction() as db:
        plan = db.get(Plan, plan_id)
        assert plan is not None and plan.status == "approved" and plan.preferences["start"] == "2027-02-01"
        first = db.scalar(select(CourseSession.date).where(CourseSession.plan_id == plan_id, CourseSession.status == "planned").order_by(CourseSession.date))  # fmt: skip
        assert first is not None and first >= date(2027, 2, 1)
