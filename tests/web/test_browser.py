"""End-to-end flows in Debian's chromium, with axe-core checking every page that loads."""

from __future__ import annotations

import csv
import io
import json
import re
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tests.web.conftest import BROWSER_SECRET, DEMO_PASSWORD, wait_until

from cicatrix.service.checkins import checkin_url

pytestmark = pytest.mark.browser


def test_clinician_creates_patient_assesses_approves_and_reflows_a_missed_session(web) -> None:  # type: ignore[no-untyped-def]
    page = web.page
    web.login("clinician")
    assert page.get_by_role("heading", name=re.compile("^Today")).is_visible()
    assert page.get_by_role("heading", name=re.compile("Plans waiting for approval")).is_visible()

    web.goto("/patients/new")
    page.get_by_label("Full name").fill("Browser Test Patient")
    page.get_by_label("Fitzpatrick phototype").select_option("III")
    web.submit(page.get_by_role("button", name="Create patient"))
    assert page.get_by_role("heading", name="Browser Test Patient").is_visible()
    assert "Patient created" in page.content()

    web.submit(page.get_by_role("link", name="New assessment"))
    gb = page.locator('[data-score="gb"]')
    page.get_by_label("Rolling count").fill("8")
    page.get_by_label("Rolling depth").select_option("deep")
    page.get_by_label("Boxcar, shallow count").fill("12")
    # live update: rolling deep 8 -> moderately atrophic 2 x 1; boxcar shallow 12 -> 2 x 2; total 6
    wait_until(page, "document.querySelector('[data-score=gb]')?.textContent.trim() === '6'")
    assert gb.inner_text() == "6"
    page.get_by_label("Post-inflammatory hyperpigmentation (PIH) count").fill("3")
    wait_until(page, "document.querySelector('[data-score=gb]')?.textContent.trim() === '7'")
    page.get_by_label(re.compile(r"^3 · Moderate")).check()
    web.submit(page.get_by_role("button", name="Save assessment and propose a plan"))

    assert re.search(r"/plans/\d+\?done=assessed$", page.url)
    assert page.get_by_text("cicatrix supports clinical judgement and does not replace it").is_visible()
    assert page.get_by_role("heading", name="Excluded treatments", exact=False).is_visible()
    web.submit(page.get_by_role("button", name="Approve plan"))
    assert "Plan approved" in page.content()
    assert page.locator(".badge.approved").first.is_visible()

    web.submit(page.get_by_role("link", name="Run the course").first)
    missed = page.get_by_role("link", name=re.compile(r"session 1 as missed")).first
    web.submit(missed)
    web.submit(page.get_by_role("button", name="Show the re-flowed dates"))
    preview = page.locator("#reflow")
    assert preview.is_visible()
    assert "not saved yet" in preview.inner_text()
    moved = preview.locator("tbody tr strong")
    assert moved.count() >= 1  # the missed session, and any after it, get new dates
    web.submit(page.get_by_role("button", name=re.compile("Save: record as missed")))
    assert "re-flowed" in page.content()
    assert page.locator(".badge.missed").count() >= 1


def test_patient_logs_in_and_sees_todays_instructions(web) -> None:  # type: ignore[no-untyped-def]
    page = web.page
    page.set_viewport_size({"width": 360, "height": 740})
    web.login("patient")
    assert page.url.endswith("/me")
    assert page.get_by_role("heading", name="Today", exact=True).is_visible()
    items = page.locator(".today-list li")
    assert items.count() >= 1
    # readable on a phone: nothing wider than the screen
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    for path in ("/me/timeline", "/me/plan", "/me/learn"):
        web.goto(path)
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert page.get_by_role("heading", name=re.compile("sun protection", re.I)).is_visible()


def test_patient_cannot_open_another_patients_page(web) -> None:  # type: ignore[no-untyped-def]
    page = web.page
    web.login("patient")
    for path in ("/patients/2", "/patients/1", "/plans/2", "/plans/2/handout", "/patients"):
        response = web.goto(path)
        assert response.status == 403, path
        assert page.get_by_role("heading", name="Not allowed").is_visible()
        assert "(demo)" not in page.locator("main").inner_text()


def test_bad_input_keeps_what_was_typed_and_shows_the_error(web) -> None:  # type: ignore[no-untyped-def]
    page = web.page
    web.login("clinician")
    web.goto("/patients/1/assessments/new")
    page.get_by_label("Ice-pick count").fill("twelve")
    page.get_by_label("Rolling count").fill("5")
    page.get_by_label("Hypertrophic total area (cm²)").fill("-2")
    page.get_by_label("Notes").fill("typed before the error")
    web.submit(page.get_by_role("button", name="Save assessment and propose a plan"))
    assert page.get_by_role("alert").is_visible()
    ice = page.get_by_label("Ice-pick count")
    assert ice.input_value() == "twelve"
    assert ice.get_attribute("aria-invalid") == "true"
    assert "whole number" in page.locator("#scar-ice_pick-count-error").inner_text()
    assert page.get_by_label("Rolling count").input_value() == "5"
    assert page.get_by_label("Hypertrophic total area (cm²)").input_value() == "-2"
    assert page.get_by_label("Notes").input_value() == "typed before the error"


def test_every_page_passes_axe(web) -> None:  # type: ignore[no-untyped-def]
    page = web.page
    web.login("clinician")
    for path in (
        "/",
        "/patients",
        "/patients?q=demo",
        "/patients/1",
        "/patients/new",
        "/patients/1/assessments/new",
        "/knowledge",
        "/patients/999999",
    ):
        web.goto(path)
    web.goto("/patients/1")
    plan = re.search(r"/plans/(\d+)", page.content())
    assert plan
    pid = plan.group(1)
    for path in (f"/plans/{pid}", f"/plans/{pid}/course", f"/plans/{pid}/handout"):
        web.goto(path)
    miss = page.locator('a[href*="/missed"]')
    if miss.count():
        web.submit(miss.first)
    web.login("frontdesk")
    web.goto("/")
    web.goto("/patients/1")
    web.login("admin")  # enrols the second factor the first time (tests/web/conftest.py)
    for path in ("/admin/settings", "/knowledge", "/admin/audit", "/admin/audit?action=login", "/account",
                 "/account/second-factor", "/admin/users?patient_q=demo", "/admin/users"):
        web.goto(path)
    page.get_by_label("Username").fill("x")
    web.submit(page.get_by_role("button", name="Add user"))
    assert page.get_by_role("alert").is_visible()


def test_an_admin_logs_in_with_password_then_code(web) -> None:  # type: ignore[no-untyped-def]
    """The two steps in a real browser: the first login enrols (QR code and key shown, the
    code confirmed, the recovery codes listed), the next asks for the code after the password."""
    page = web.page
    web.login("admin")
    web.goto("/admin/users")
    assert page.get_by_role("heading", name="Users and roles").is_visible()
    web.goto("/login")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("cicatrix-demo")
    web.submit(page.get_by_role("button", name="Log in"))
    assert page.evaluate("location.pathname") == "/login/code"
    page.get_by_label("Code").fill("000000")  # wrong, but for one time step in a million
    web.submit(page.get_by_role("button", name="Log in"))
    assert page.evaluate("location.pathname") in ("/login/code", "/admin/users")
    web.login("admin")  # the helper enters a fresh code
    web.goto("/admin/audit")
    assert page.get_by_role("heading", name="Audit trail").is_visible()


def test_handout_prints_without_navigation_or_buttons(web) -> None:  # type: ignore[no-untyped-def]
    page = web.page
    web.login("clinician")
    web.goto("/patients/1")
    plan_id = re.search(r"/plans/(\d+)", page.content()).group(1)  # type: ignore[union-attr]
    web.goto(f"/plans/{plan_id}/handout")
    assert page.get_by_role("button", name="Print this handout").is_visible()
    page.emulate_media(media="print")
    assert not page.locator(".site-header").is_visible()
    assert not page.get_by_role("button", name="Print this handout").is_visible()
    assert page.get_by_role("heading", name="Day by day").is_visible()
    assert page.pdf(format="A4")[:4] == b"%PDF"


def test_login_and_navigation_work_from_the_keyboard(web) -> None:  # type: ignore[no-untyped-def]
    page = web.page
    web.goto("/login")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.get_by_label("Username").focus()
    page.keyboard.type("clinician")
    page.keyboard.press("Tab")
    page.keyboard.type("cicatrix-demo")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    web.settle()
    assert page.get_by_role("heading", name=re.compile("^Today")).is_visible()
    page.get_by_role("link", name="Patients", exact=True).focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    web.settle()
    assert page.url.endswith("/patients")


def _api(base: str, method: str, path: str, token: str | None = None, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + "/api" + path, data=data, method=method)
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def _session_to_check_in(base: str) -> tuple[str, int]:
    """A demo patient (name) and a session of theirs that has taken place, found as the clinician."""
    token = _api(base, "POST", "/auth/token", body={"username": "clinician", "password": DEMO_PASSWORD})["access_token"]
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    for p in _api(base, "GET", "/patients?limit=100", token)["items"]:
        for s in _api(base, "GET", f"/patients/{p['id']}/sessions", token)["sessions"]:
            if s["status"] in ("planned", "done") and s["date"] <= yesterday:
                return p["name"], s["id"]
    raise AssertionError("the demo clinic has no session in the past")


def test_check_in_to_needs_attention_to_adverse_event_to_outcomes(web, web_server) -> None:  # type: ignore[no-untyped-def]
    """Issue 15's second Done-when: the patient answers a check-in link on a phone; the clinician
    sees it on the dashboard, records an adverse event from it; the outcomes export counts it."""
    page = web.page
    name, session_id = _session_to_check_in(web.base)
    url = checkin_url(web.base, BROWSER_SECRET, session_id, 1, datetime.now(UTC))

    # the patient, on a phone, without logging in
    page.set_viewport_size({"width": 360, "height": 740})
    web.goto(url.removeprefix(web.base))
    assert page.get_by_role("heading", name="How is your skin today?").is_visible()
    assert name not in page.content()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.get_by_label("I have one of these").check()
    page.get_by_label("New blisters or cold sores").check()
    page.get_by_label("Anything else the clinic should know").fill("tingling on the lip")
    web.submit(page.get_by_role("button", name="Send my answer"))
    assert page.get_by_role("status").filter(has_text="the clinic has your answer").is_visible()

    # the clinician: needs attention on the dashboard, then an adverse event from it
    page.set_viewport_size({"width": 1280, "height": 900})
    web.login("clinician")
    attention = page.locator("#attention li").filter(has_text=name).filter(has_text="tingling on the lip")
    assert attention.count() == 1
    assert "New blisters or cold sores" in attention.inner_text()
    web.submit(attention.get_by_role("link", name="Record adverse event"))
    assert "tingling on the lip" in page.content()
    page.get_by_label("What happened").select_option(label="Cold sore (herpes simplex outbreak)")
    page.get_by_label("Severity").select_option(label="Moderate")
    page.get_by_label("Outcome").select_option(label="Ongoing")
    page.get_by_label("Note").fill("valaciclovir started")
    web.submit(page.get_by_role("button", name="Record adverse event"))
    assert "Adverse event recorded" in page.content()
    assert page.locator("#aftercare").filter(has_text="valaciclovir started").count() == 1
    web.goto("/")
    assert page.locator("#attention li").filter(has_text="tingling on the lip").count() == 0

    # the clinic's outcomes export counts it
    csv_text = page.request.get(web.base + "/api/exports/outcomes.csv").text()
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    assert any("cold_sore:moderate" in r["adverse_event_kinds"] and int(r["adverse_events"]) >= 1 for r in rows)
