"""Messages in the web app: the patient's own list and choices, the staff's view of a patient and
of the clinic's outbox, and the one-click opt-out behind a message's signed link."""

from __future__ import annotations

import re
from datetime import timedelta

from tests.api.fixtures import bearer
from tests.service.outbox_util import reachable, rows
from tests.storage.world import PASSWORD, World
from tests.today import NOW

from cicatrix.service import links


def _login(client, username: str) -> str:  # type: ignore[no-untyped-def]
    client.cookies.clear()
    r = client.post("/login", data={"username": username, "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 303, r.text
    page = client.get("/me/messages" if username.startswith("p") else "/messages").text
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    return found.group(1) if found else ""


def _opt_out_link(client, kind: str, expires=None) -> str:  # type: ignore[no-untyped-def]
    w: World = client.world
    return links.sign(client.app.state.secret, purpose="opt_out", subject={"patient": w.patients["P1"], "kind": kind},
                      expires=expires or NOW + timedelta(days=30))  # fmt: skip


def test_the_patient_sees_their_messages_and_changes_their_choices(client) -> None:  # type: ignore[no-untyped-def]
    w: World = client.world
    reachable(w)
    csrf = _login(client, "p1@test")
    page = client.get("/me/messages").text
    assert "Reminder the day before" in page and "Check-in" in page and "Waiting" in page
    r = client.post("/me/messages", data={"csrf_token": csrf, "channels": ["email"], "quiet_start": "21:00",
                                          "quiet_end": "08:00", "opted_out": ["check_ins"]})  # fmt: skip
    assert r.status_code == 200 and "Your choices are saved" in r.text
    assert rows(w, template="check_in", status="pending") == []
    assert rows(w, template="day_before", status="pending")
    # a channel without an address is refused, naming why, and nothing changes
    r = client.post("/me/messages", data={"csrf_token": csrf, "channels": ["sms"]})
    assert r.status_code == 422 and "no phone number" in r.text
    assert rows(w, template="day_before", status="pending")


def test_staff_see_a_patient_s_messages_and_the_clinic_s_outbox(client) -> None:  # type: ignore[no-untyped-def]
    w: World = client.world
    reachable(w)
    for who in ("front_desk@test", "clinician@test"):
        _login(client, who)
        page = client.get(f"/patients/{w.patients['P1']}/messages").text
        assert "Reminder the day before" in page and "Patient P1" in page
        outbox = client.get("/messages?status=pending").text
        assert "Reminder the day before" in outbox and "Waiting" in outbox
    api = client.get("/api/messages", params={"status": "pending"}, headers=bearer(client, "front_desk")).json()
    assert api["total"] == len(rows(w, status="pending")) > 0


def test_opt_out_link_asks_then_applies_and_shows_no_personal_data(client) -> None:  # type: ignore[no-untyped-def]
    w: World = client.world
    reachable(w)
    client.cookies.clear()
    token = _opt_out_link(client, "reminders")
    page = client.get(f"/u/{token}")
    assert page.status_code == 200 and "Stop these messages" in page.text
    for private in ("Patient P1", "MRN-P1", "micro", "Micro"):
        assert private not in page.text
    assert rows(w, category="reminders", status="pending")  # a GET changes nothing
    done = client.post(f"/u/{token}")
    assert done.status_code == 200 and "Done" in done.text
    assert rows(w, category="reminders", status="pending") == []
    assert rows(w, category="check_ins", status="pending")  # only the kind the link names


def test_rfc8058_one_click_post_applies_at_once(client) -> None:  # type: ignore[no-untyped-def]
    w: World = client.world
    reachable(w)
    client.cookies.clear()
    r = client.post(f"/u/{_opt_out_link(client, 'all')}", data={"List-Unsubscribe": "One-Click"})
    assert r.status_code == 200
    assert rows(w, status="pending") == []
    choices = client.get(f"/api/patients/{w.patients['P1']}/message-choices", headers=bearer(client, "patient")).json()
    assert choices["channels"] == [] and choices["stored"] is True


def test_a_forged_or_expired_opt_out_link_is_refused_without_a_trace(client) -> None:  # type: ignore[no-untyped-def]
    w: World = client.world
    reachable(w)
    client.cookies.clear()
    before = len(rows(w, status="pending"))
    expired = _opt_out_link(client, "reminders", expires=NOW - timedelta(seconds=1))
    for token in (expired, _opt_out_link(client, "reminders")[:-2] + "xx"):
        for method in ("GET", "POST"):
            r = client.request(method, f"/u/{token}")
            assert r.status_code == 400 and "<html" in r.text
    assert len(rows(w, status="pending")) == before
