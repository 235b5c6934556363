"""The course page's forms carry the session version they showed (issue 12 §2): a session
changed by someone else since the page loaded is answered 409, and nothing is recorded."""

from __future__ import annotations

import re

from sqlalchemy import select, text
from tests.web.conftest import Demo

from cicatrix.storage.models import CourseSession, Plan


def _approved_plan(demo: Demo) -> int:
    with demo.app.state.db.transaction() as db:
        pid = db.scalars(select(Plan.id).where(Plan.status == "approved").order_by(Plan.id)).first()
    assert pid is not None
    return pid


def _done_form(course: str, plan_id: int) -> tuple[int, str]:
    m = re.search(
        rf'action="/plans/{plan_id}/sessions/(\d+)/done".*?name="session_version" value="(\d+)"', course, re.S
    )
    assert m, "the done form carries no session_version"
    return int(m.group(1)), m.group(2)


def test_done_from_a_stale_course_page_is_409_and_records_nothing(demo: Demo) -> None:
    demo.login("clinician")
    plan_id = _approved_plan(demo)
    course = demo.client.get(f"/plans/{plan_id}/course").text
    sid, shown = _done_form(course, plan_id)
    token = demo.csrf(f"/plans/{plan_id}/course")
    with demo.app.state.db.transaction() as db:  # another clinician changed the session meanwhile
        db.execute(text("UPDATE course_session SET version = version + 1 WHERE id = :id"), {"id": sid})

    r = demo.client.post(
        f"/plans/{plan_id}/sessions/{sid}/done", data={"csrf_token": token, "session_version": shown}
    )
    assert r.status_code == 409
    assert "the session changed since you read it" in r.text  # shown on the course page
    with demo.app.state.db.transaction() as db:
        assert db.get(CourseSession, sid).status == "planned"  # type: ignore[union-attr]

    fresh = demo.client.get(f"/plans/{plan_id}/course").text
    sid2, shown2 = _done_form(fresh, plan_id)
    assert sid2 == sid and int(shown2) == int(shown) + 1
    r = demo.client.post(
        f"/plans/{plan_id}/sessions/{sid}/done",
        data={"csrf_token": token, "session_version": shown2},
        follow_redirects=False,
    )
    assert r.status_code == 303
    with demo.app.state.db.transaction() as db:
        assert db.get(CourseSession, sid).status == "done"  # type: ignore[union-attr]


def test_a_damaged_session_version_is_422(demo: Demo) -> None:
    demo.login("clinician")
    plan_id = _approved_plan(demo)
    sid, _ = _done_form(demo.client.get(f"/plans/{plan_id}/course").text, plan_id)
    token = demo.csrf(f"/plans/{plan_id}/course")
    r = demo.client.post(f"/plans/{plan_id}/sessions/{sid}/done", data={"csrf_token": token, "session_version": "x1"})
    assert r.status_code == 422


def test_the_missed_form_carries_the_session_version(demo: Demo) -> None:
    demo.login("clinician")
    plan_id = _approved_plan(demo)
    sid, shown = _done_form(demo.client.get(f"/plans/{plan_id}/course").text, plan_id)
    form = demo.client.get(f"/plans/{plan_id}/sessions/{sid}/missed").text
    assert f'name="session_version" value="{shown}"' in form
    token = demo.csrf(f"/plans/{plan_id}/course")
    with demo.app.state.db.transaction() as db:
        db.execute(text("UPDATE course_session SET version = version + 1 WHERE id = :id"), {"id": sid})
    default = re.search(r'id="new_date" name="new_date" value="([0-9-]+)"', form).group(1)  # type: ignore[union-attr]
    r = demo.client.post(
        f"/plans/{plan_id}/sessions/{sid}/missed",
        data={"csrf_token": token, "session_version": shown, "new_date": default, "confirmed_date": default,
              "action": "save"},
    )  # fmt: skip
    assert r.status_code == 422  # shown on the form, as the missed page shows its other refusals
    assert "changed since you read it" in r.text
    with demo.app.state.db.transaction() as db:
        assert db.get(CourseSession, sid).status == "planned"  # type: ignore[union-attr]
