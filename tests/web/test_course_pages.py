"""The course's web pages (issue 14 §2, §3): the running course with a proposed change beside
it, approval with its preview of each booking, withdrawing a proposal, the affected regions on
the assessment form, and procedure notes in the course history."""

from __future__ import annotations

import re

from sqlalchemy import select
from tests.today import TODAY
from tests.web.conftest import Demo

from cicatrix.storage.models import Assessment, CourseSession, Plan

NUMBERED = ("microneedling", "rf_microneedling", "laser_nonablative_fractional", "laser_ablative_fractional")


def _running(demo: Demo, patient_id: int = 1) -> Plan:
    with demo.app.state.db.transaction() as db:
        p = db.scalar(select(Plan).where(Plan.patient_id == patient_id, Plan.status == "approved"))
        assert p is not None
        db.expunge(p)
        return p


def _assess(demo: Demo, patient_id: int = 1, **extra: str) -> int:
    """A new assessment through the form; answers the proposed plan's id."""
    token = demo.csrf(f"/patients/{patient_id}/assessments/new")
    data = {"csrf_token": token, "date": TODAY.isoformat(), "phototype": "III", "scar-rolling-count": "6", **extra}
    r = demo.client.post(f"/patients/{patient_id}/assessments/new", data=data, follow_redirects=False)
    assert r.status_code == 303, r.text
    m = re.match(r"/plans/(\d+)", r.headers["location"])
    assert m, r.headers["location"]
    return int(m.group(1))


def test_a_new_proposal_is_shown_beside_the_running_course_until_approved(demo: Demo) -> None:
    demo.login("clinician")
    running = _running(demo)
    proposal = _assess(demo, **{"region-cheeks": "1", "region-jaw": "1"})
    with demo.app.state.db.transaction() as db:
        a = db.get(Assessment, db.get(Plan, proposal).assessment_id)  # type: ignore[union-attr]
        assert a is not None and a.input["assessment"]["regions"] == ["cheeks", "jaw"]
    html = demo.client.get("/patients/1").text
    assert "Running course" in html and f"Plan {running.id}" in html
    assert "Proposed change" in html and f'href="/plans/{proposal}"' in html
    # the patient still follows the running course
    demo.login("patient")
    assert demo.client.get("/me/plan").status_code == 200
    with demo.app.state.db.transaction() as db:
        assert db.get(Plan, running.id).status == "approved"  # type: ignore[union-attr]


def test_approving_shows_what_happens_to_each_booking_then_does_it(demo: Demo) -> None:
    demo.login("clinician")
    running = _running(demo)
    proposal = _assess(demo)
    html = demo.client.get(f"/plans/{proposal}").text
    version = re.search(r'action="/plans/\d+/approve"[^<]*<input[^>]*>\s*<input type="hidden" name="version" value="(\d+)"',
                        html)  # fmt: skip
    assert version, "the approve form carries the version"
    token = demo.csrf(f"/plans/{proposal}")
    r = demo.client.post(f"/plans/{proposal}/approve", data={"csrf_token": token, "version": version.group(1)})
    assert r.status_code == 200 and "Confirm: approve and apply these changes" in r.text
    assert f'in place of <a href="/plans/{running.id}">plan {running.id}</a>' in r.text
    assert re.search(r"badge[^\"]*\">(kept|moved|cancelled|added)<", r.text)
    with demo.app.state.db.transaction() as db:
        assert db.get(Plan, proposal).status == "proposed"  # type: ignore[union-attr]  # only a preview
    change = re.search(r'name="expected_change" value="([0-9a-f]+)"', r.text)
    assert change
    stale = demo.client.post(f"/plans/{proposal}/approve",
                             data={"csrf_token": token, "version": version.group(1), "expected_change": "0" * 32})  # fmt: skip
    assert stale.status_code == 409 and "changed since the preview" in stale.text
    r = demo.client.post(
        f"/plans/{proposal}/approve",
        data={"csrf_token": token, "version": version.group(1), "expected_change": change.group(1)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert "it is now the running course" in demo.client.get(r.headers["location"]).text
    with demo.app.state.db.transaction() as db:
        assert db.get(Plan, proposal).status == "approved"  # type: ignore[union-attr]
        assert db.get(Plan, running.id).status == "superseded"  # type: ignore[union-attr]


def test_a_proposal_is_withdrawn_with_a_reason(demo: Demo) -> None:
    demo.login("clinician")
    proposal = _assess(demo)
    token = demo.csrf(f"/plans/{proposal}")
    r = demo.client.post(f"/plans/{proposal}/withdraw", data={"csrf_token": token, "version": "1", "reason": ""})
    assert r.status_code == 422 and "Give a reason to withdraw" in r.text
    r = demo.client.post(f"/plans/{proposal}/withdraw",
                         data={"csrf_token": token, "version": "1", "reason": "patient wants to wait"},
                         follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    html = demo.client.get(r.headers["location"]).text
    assert "Proposal withdrawn" in html and "patient wants to wait" in html
    assert "Proposed change" not in demo.client.get("/patients/1").text


def test_a_procedure_note_is_recorded_checked_and_shown_in_the_course_history(demo: Demo) -> None:
    demo.login("clinician")
    with demo.app.state.db.transaction() as db:
        # a booked session of a treatment whose note has number fields (a device's settings)
        rows = db.execute(
            select(CourseSession, Plan)
            .join(Plan, Plan.id == CourseSession.plan_id)
            .where(Plan.status == "approved", CourseSession.status == "planned",
                   CourseSession.treatment.in_(NUMBERED))
            .order_by(CourseSession.date)
        ).first()  # fmt: skip
        assert rows is not None, "the demo clinic books a micro-needling or laser session"
        s, plan = rows
        s.date = TODAY  # a session is recorded done on or after its day (issue 14 §1)
        db.flush()
        sid, version, patient_id = s.id, s.version, plan.patient_id
        db.expunge_all()
    token = demo.csrf(f"/plans/{plan.id}/course")
    r = demo.client.post(f"/plans/{plan.id}/sessions/{sid}/done",
                         data={"csrf_token": token, "session_version": str(version)}, follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    course = demo.client.get(f"/plans/{plan.id}/course").text
    link = f"/plans/{plan.id}/sessions/{sid}/procedure"
    assert link in course and "Record note" in course
    form = demo.client.get(link).text
    assert "Treated areas" in form and "Anaesthetic" in form and "Clinician&#39;s note" in form
    v = re.search(r'name="session_version" value="(\d+)"', form).group(1)  # type: ignore[union-attr]
    numbers = re.findall(r'type="number" id="f-([a-z_]+)"', form)
    data: dict[str, object] = {"csrf_token": token, "session_version": v, "treated_areas": ["cheeks", "chin"],
                               "anaesthetic": "topical", "note": "Tolerated well"}  # fmt: skip
    assert numbers
    if numbers:  # a value out of the field's bounds is refused, naming it, with everything kept
        data[numbers[0]] = "123456"
        bad = demo.client.post(link, data=data)
        assert bad.status_code == 422 and "must be between" in bad.text
        assert 'value="123456"' in bad.text and "Tolerated well" in bad.text
        assert re.search(rf'id="f-{numbers[0]}"[^>]*aria-invalid="true"', bad.text)
        del data[numbers[0]]
    r = demo.client.post(link, data=data, follow_redirects=False)
    assert r.status_code == 303, r.text
    course = demo.client.get(r.headers["location"]).text
    assert "Procedure note saved." in course
    assert "Cheeks, Chin" in course and "Topical anaesthetic cream" in course and "Tolerated well" in course
    # front desk: the course's schedule without the note
    demo.login("frontdesk")
    assert "Tolerated well" not in demo.client.get(f"/patients/{patient_id}").text
    assert demo.client.get(link).status_code == 403
