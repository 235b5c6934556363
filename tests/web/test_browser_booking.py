"""The front desk's week in Debian's chromium (issue 14, Done when 1 and 3), axe on every page:
a course is booked into free slots, and a no-show is re-booked inside its window."""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tests.web.conftest import Server

pytestmark = pytest.mark.browser


def _db(server: Server) -> sqlite3.Connection:
    conn = sqlite3.connect(server.data_dir / "cicatrix.sqlite3", timeout=10)
    conn.row_factory = sqlite3.Row
    return conn


def _patient_with_unbooked_course(server: Server) -> int:
    """A demo patient whose approved course has planned sessions and no appointment yet."""
    with _db(server) as conn:
        row = conn.execute(
            "SELECT s.patient_id FROM course_session s JOIN plan p ON p.id = s.plan_id "
            "WHERE p.status = 'approved' AND s.status = 'planned' AND s.date >= date('now') "
            "AND s.patient_id NOT IN (SELECT patient_id FROM appointment) "
            "GROUP BY s.patient_id HAVING count(*) >= 2 ORDER BY s.patient_id LIMIT 1"
        ).fetchone()
    assert row is not None, "the demo has a course to book"
    return int(row["patient_id"])


def _book_first_offered_slot(web: Any) -> None:
    page = web.page
    web.submit(page.locator("#slots button.slot").first)
    if page.locator("#reflow").count():  # another day than planned: the re-flow is shown first
        assert "not saved yet" in page.locator("#reflow").inner_text()
        web.submit(page.get_by_role("button", name="Confirm and re-flow"))


def test_front_desk_books_a_course_into_free_slots(web: Any, web_server: Server) -> None:
    page = web.page
    pid = _patient_with_unbooked_course(web_server)
    web.login("frontdesk")
    web.submit(page.get_by_role("link", name="Appointments", exact=True))
    assert page.get_by_role("heading", name=re.compile("^Appointments")).is_visible()
    web.goto(f"/patients/{pid}")
    web.submit(page.get_by_role("link", name="Appointments", exact=True).last)
    to_book = page.locator("a.button", has_text=re.compile("^Book"))
    n = to_book.count()
    assert n >= 2
    for _ in range(n):
        web.submit(page.locator("a.button", has_text=re.compile("^Book")).first)
        assert page.get_by_role("heading", name="Free slots").is_visible()
        _book_first_offered_slot(web)
        assert "Booked." in page.content()
    assert page.locator("a.button", has_text=re.compile("^Book")).count() == 0
    with _db(web_server) as conn:
        rows = conn.execute(
            "SELECT count(*) AS n, count(override_reason) AS outside FROM appointment "
            "WHERE patient_id = ? AND status = 'booked'",
            (pid,),
        ).fetchone()
    assert rows["n"] == n and rows["outside"] == 0  # every one inside its window


def _a_no_show_to_be(server: Server) -> tuple[int, int]:
    """A booked appointment that started an hour ago (the past cannot be booked through the
    app), for a planned session moved to today: (appointment id, session id)."""
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(hours=1)
    with _db(server) as conn:
        s = conn.execute(
            "SELECT s.id, s.patient_id, s.clinic_id FROM course_session s JOIN plan p ON p.id = s.plan_id "
            "WHERE p.status = 'approved' AND s.status = 'planned' AND s.number = 1 AND s.date >= date('now') "
            "AND s.patient_id NOT IN (SELECT patient_id FROM appointment) ORDER BY s.id LIMIT 1"
        ).fetchone()
        assert s is not None
        doc = conn.execute("SELECT id FROM user_account WHERE role = 'clinician' ORDER BY id LIMIT 1").fetchone()
        room = conn.execute("SELECT id FROM room ORDER BY id LIMIT 1").fetchone()
        conn.execute("UPDATE course_session SET date = ? WHERE id = ?", (start.date().isoformat(), s["id"]))
        cur = conn.execute(
            "INSERT INTO appointment (clinic_id, patient_id, session_id, practitioner_id, room_id, start, \"end\", "
            "status, booked_by, booked_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, 'booked', ?, ?, 1)",
            (s["clinic_id"], s["patient_id"], s["id"], doc["id"], room["id"], start.isoformat(),
             (start + timedelta(minutes=60)).isoformat(), doc["id"], now.isoformat()),
        )  # fmt: skip
        return int(cur.lastrowid or 0), int(s["id"])


def test_a_no_show_is_rebooked_inside_its_window(web: Any, web_server: Server) -> None:
    page = web.page
    appointment, session = _a_no_show_to_be(web_server)
    web.login("frontdesk")
    web.goto("/calendar")
    card = page.locator(f'[data-appointment="{appointment}"]')
    assert card.is_visible()
    web.submit(card.get_by_role("button", name=re.compile("^No-show")))
    card = page.locator(f'[data-appointment="{appointment}"]')
    assert "did not come" in card.inner_text()
    web.submit(card.get_by_role("link", name="Re-book"))
    window = page.locator("main p", has_text="The protocol allows").inner_text()
    assert "allows" in window
    _book_first_offered_slot(web)
    with _db(web_server) as conn:
        again = conn.execute(
            "SELECT status, override_reason, start FROM appointment WHERE session_id = ? AND status = 'booked'",
            (session,),
        ).fetchone()
        old = conn.execute("SELECT status FROM appointment WHERE id = ?", (appointment,)).fetchone()
    assert again is not None and again["override_reason"] is None  # inside the window
    assert old["status"] in ("no_show", "cancelled")
