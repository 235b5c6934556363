"""The one-tap check-in page (`/c/{token}`, no login) and the clinicians' after-care pages:
what the link shows and hides, CSRF bound to the link, changing an answer the same day only,
needs attention on the dashboard until acknowledged, adverse events from a check-in."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select
from tests.storage.world import PASSWORD, World
from tests.today import NOW

from cicatrix.api.app import create_app
from cicatrix.credentials import link_csrf
from cicatrix.service import checkins, links
from cicatrix.storage.models import AdverseEvent, AuditEvent, CheckIn, CourseSession, Patient

SECRET = "test-secret"  # the world's settings


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF token on the page"
    return m.group(1)


def _link(w: World, who: str = "P1", day: int = 1) -> tuple[str, int]:
    made = w.new_plan(who, approve=True)
    url = checkins.checkin_url("https://clinic.test", SECRET, made["session_id"], day, NOW)
    return url.removeprefix("https://clinic.test"), made["session_id"]


def _login(client, username: str) -> None:  # type: ignore[no-untyped-def]
    client.cookies.clear()
    r = client.post("/login", data={"username": username, "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 303, r.text


def test_the_link_shows_that_days_instructions_and_the_form_and_nothing_that_identifies(client) -> None:  # type: ignore[no-untyped-def]
    w: World = client.world
    path, session_id = _link(w, day=1)
    client.cookies.clear()
    r = client.get(path)
    assert r.status_code == 200, r.text
    html = r.text
    assert r.headers["cache-control"] == "no-store"
    # the answers and the signs come from the knowledge base
    for term in w.kb.aftercare_terms("check_in_answer"):
        assert term.label in html
    for sign in w.kb.education["call_the_clinic"].signs:
        assert sign.label in html
    # that day's instructions for that session, from the plan's own timeline
    with w.database.transaction() as db:
        s = db.get(CourseSession, session_id)
        assert s is not None
        p = db.get(Patient, s.patient_id)
        assert p is not None
        name, mrn, session_date = p.name, p.mrn, s.date
    page = w.database.run_sync(lambda db: checkins.view(db, w.kb, SECRET, path.rsplit("/", 1)[1], NOW, None))
    assert page.instructions, "day 1 after micro-needling has care instructions"
    for _kind, text in page.instructions:
        assert text.replace("'", "&#39;").replace('"', "&#34;") in html
    # no name, record number, diagnosis, phototype, clinicians' notes or dates
    for secret in (name, mrn, "private note", "Phototype", "III", "rolling", "boxcar"):
        assert secret not in html, secret
    assert session_date.isoformat() not in html
    months = "January|February|March|April|May|June|July|August|September|October|November|December"
    assert not re.search(rf"\b20\d\d-\d\d-\d\d\b|\b({months})\b|\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun)\b", html), "no dates"
    # audited as a read by the patient through the link (user 0), never with the token
    with w.database.transaction() as db:
        ev = db.scalars(select(AuditEvent).where(AuditEvent.entity == "check_in")).all()[-1]
        assert (ev.action, ev.user_id, ev.role, ev.patient_id) == ("read", 0, "patient", w.patients["P1"])


def test_invalid_expired_and_cancelled_links_get_a_friendly_page(client) -> None:  # type: ignore[no-untyped-def]
    w: World = client.world
    path, session_id = _link(w)
    forged = path[:-3] + ("aaa" if not path.endswith("aaa") else "bbb")
    expired = links.sign(SECRET, purpose="check_in", subject={"session": session_id, "day": 1}, expires=NOW)
    other_purpose = links.sign(SECRET, purpose="opt_out", subject={"session": session_id, "day": 1},
                               expires=NOW + timedelta(days=1))  # fmt: skip
    for url, words in (
        (forged, "not valid"),
        (f"/c/{expired}", "expired"),
        (f"/c/{other_purpose}", "not valid"),
        ("/c/short", None),
    ):
        r = client.get(url)
        assert r.status_code in (404, 422), (url, r.status_code)
        assert "<html" in r.text and "Traceback" not in r.text
        if words:
            assert words in r.text, url
        assert "LinkInvalid" not in r.text and "check_in" not in r.text
    with w.database.transaction() as db:
        s = db.get(CourseSession, session_id)
        assert s is not None
        s.status = "cancelled"
    r = client.get(path)
    assert r.status_code == 404 and "no longer needed" in r.text


def test_answer_needs_the_links_csrf_token_and_can_change_only_the_same_day(client) -> None:  # type: ignore[no-untyped-def]
    w: World = client.world
    path, session_id = _link(w)
    token = path.rsplit("/", 1)[1]
    form = {"answer": "warning_sign", "signs": ["fever", "pus_or_smell"], "note": "hot and sore"}
    # no token, or another link's token: refused, nothing stored
    assert client.post(path, data=form, follow_redirects=False).status_code == 403
    day3 = checkins.checkin_url("", SECRET, session_id, 3, NOW).rsplit("/", 1)[1]  # the same session's day-3 link
    bad = {**form, "csrf_token": link_csrf(SECRET, day3)}
    assert client.post(path, data=bad, follow_redirects=False).status_code == 403
    with w.database.transaction() as db:
        assert db.scalar(select(CheckIn).where(CheckIn.session_id == session_id)) is None
    csrf = _csrf(client.get(path).text)
    assert csrf == link_csrf(SECRET, token)
    r = client.post(path, data={**form, "csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"{path}?saved=1"
    assert "Thank you" in client.get(r.headers["location"]).text
    with w.database.transaction() as db:
        row = db.scalar(select(CheckIn).where(CheckIn.session_id == session_id))
        assert row is not None
        assert (row.answer, row.signs, row.note, row.needs_attention) == (
            "warning_sign", ["fever", "pus_or_smell"], "hot and sore", True
        )  # fmt: skip
    # a sign with the wrong answer, an unknown sign: the page again with a message, nothing changed
    r = client.post(path, data={"answer": "as_expected", "signs": ["fever"], "csrf_token": csrf})
    assert r.status_code == 422 and "I have one of these" in r.text
    r = client.post(path, data={"answer": "warning_sign", "signs": ["made_up"], "csrf_token": csrf})
    assert r.status_code == 422 and "the signs offered" in r.text
    # changed the same day
    r = client.post(path, data={"answer": "as_expected", "csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    with w.database.transaction() as db:
        row = db.scalar(select(CheckIn).where(CheckIn.session_id == session_id))
        assert row is not None and (row.answer, row.signs, row.needs_attention, row.changes) == (
            "as_expected", [], False, 1
        )  # fmt: skip
        actions = [e.action for e in db.scalars(select(AuditEvent).where(AuditEvent.entity == "check_in",
                                                                          AuditEvent.entity_id == str(row.id)))]  # fmt: skip
        assert "create" in actions and "update" in actions
    # the next day the answer stands: the page shows it and asks to call the clinic
    later = create_app(w.database.settings, clock=lambda: NOW + timedelta(days=1), knowledge=w.kb)
    from fastapi.testclient import TestClient

    with TestClient(later, raise_server_exceptions=False) as tomorrow:
        html = tomorrow.get(path).text
        assert "You answered" in html and "As expected" in html and "<form method=\"post\" action=\"/c/" not in html
        r = tomorrow.post(path, data={"answer": "worse_than_expected", "csrf_token": csrf})
        assert r.status_code == 422 and "earlier day" in r.text
    later.state.db.dispose()


def test_needs_attention_on_the_dashboard_until_seen_and_only_for_clinicians(client) -> None:  # type: ignore[no-untyped-def]
    w: World = client.world
    made = w.check_in("P1", answer="worse_than_expected", note="attention-note-marker")
    _login(client, "front_desk@test")
    for page in ("/", f"/patients/{w.patients['P1']}"):
        html = client.get(page).text
        assert "attention-note-marker" not in html and "Needs attention" not in html, page
    _login(client, "clinician@test")
    html = client.get("/").text
    assert "Needs attention (1)" in html and "Worse than expected" in html and "attention-note-marker" in html
    patient_page = client.get(f"/patients/{w.patients['P1']}").text
    assert "attention-note-marker" in patient_page and "needs attention" in patient_page
    # a stale version is a 409 page; the right one takes it off the dashboard
    csrf = _csrf(html)
    url = f"/check-ins/{made['check_in_id']}/acknowledge"
    r = client.post(url, data={"csrf_token": csrf, "version": made["version"] + 5, "back": "dashboard"})
    assert r.status_code == 409
    r = client.post(url, data={"csrf_token": csrf, "version": made["version"], "back": "dashboard"},
                    follow_redirects=False)  # fmt: skip
    assert r.status_code == 303 and r.headers["location"] == "/?done=acknowledged"
    assert "Needs attention" not in client.get("/").text
    assert "attention-note-marker" in client.get(f"/patients/{w.patients['P1']}").text  # still in the history
    # the patient sees their own answers on Today
    _login(client, "p1@test")
    assert "Worse than expected" in client.get("/me").text


def test_an_adverse_event_recorded_from_a_check_in_acknowledges_it(client) -> None:  # type: ignore[no-untyped-def]
    w: World = client.world
    made = w.check_in("P1", answer="warning_sign", signs=("blisters_or_cold_sores",))
    _login(client, "clinician@test")
    form_url = f"/sessions/{made['session_id']}/adverse-events/new?check_in={made['check_in_id']}"
    html = client.get(form_url).text
    for term in w.kb.aftercare_terms("adverse_event"):
        assert term.label in html
    assert "New blisters or cold sores" in html
    csrf = _csrf(html)
    post = f"/sessions/{made['session_id']}/adverse-events/new"
    data = {"csrf_token": csrf, "check_in": made["check_in_id"], "kind": "cold_sore", "severity": "moderate",
            "outcome": "ongoing", "onset": "2026-11-22", "note": "antiviral started"}  # fmt: skip
    r = client.post(post, data=data)
    assert r.status_code == 422 and "before the session" in r.text  # onset before the session
    r = client.post(post, data={**data, "kind": ""})
    assert r.status_code == 422
    r = client.post(post, data={**data, "onset": "2026-11-23"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    with w.database.transaction() as db:
        e = db.scalar(select(AdverseEvent).where(AdverseEvent.check_in_id == made["check_in_id"]))
        assert e is not None and (e.kind, e.severity, e.outcome) == ("cold_sore", "moderate", "ongoing")
        ci = db.get(CheckIn, made["check_in_id"])
        assert ci is not None and ci.acknowledged_by == w.users["clinician"]
    assert "Needs attention" not in client.get("/").text
    page = client.get(f"/patients/{w.patients['P1']}").text
    assert "Cold sore (herpes simplex outbreak)" in page and "antiviral started" in page
    # edit it: outcome resolved; a stale version is refused
    edit = client.get(f"/adverse-events/{e.id}").text
    r = client.post(f"/adverse-events/{e.id}", data={"csrf_token": csrf, "version": e.version, "kind": "cold_sore",
                                                      "severity": "moderate", "outcome": "resolved",
                                                      "onset": "2026-11-23", "note": "healed"},
                    follow_redirects=False)  # fmt: skip
    assert r.status_code == 303 and "Resolved" in edit
    r = client.post(f"/adverse-events/{e.id}", data={"csrf_token": csrf, "version": e.version, "kind": "cold_sore",
                                                      "severity": "mild", "outcome": "resolved",
                                                      "onset": "2026-11-23"})  # fmt: skip
    assert r.status_code == 409
    # front desk and patients reach neither the form nor the event
    for user in ("front_desk@test", "p1@test"):
        _login(client, user)
        for url in (form_url, f"/adverse-events/{e.id}"):
            r = client.get(url, follow_redirects=False)
            assert r.status_code in (303, 403, 404) and "healed" not in r.text, (user, url)
