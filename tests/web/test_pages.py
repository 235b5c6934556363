"""Page routes through FastAPI's TestClient: auth, roles, CSRF, forms that keep input, audit."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from tests.today import NOW, TODAY
from tests.web.conftest import Demo

from cicatrix.storage.models import AuditEvent, CourseSession, Plan


def _patient_plan(demo: Demo, patient_id: int = 1) -> int:
    html = demo.client.get(f"/patients/{patient_id}").text
    m = re.search(r'href="/plans/(\d+)"', html)
    assert m, "the demo patient has a plan"
    return int(m.group(1))


def _count(demo: Demo, model: type) -> int:
    with demo.app.state.db.transaction() as db:
        return db.scalar(select(func.count()).select_from(model)) or 0


def _audit_count(demo: Demo, **where: object) -> int:
    with demo.app.state.db.transaction() as db:
        q = select(func.count()).select_from(AuditEvent)
        for k, v in where.items():
            q = q.where(getattr(AuditEvent, k) == v)
        return db.scalar(q) or 0


def test_pages_need_a_login_and_redirect_back(demo: Demo) -> None:
    r = demo.client.get("/patients/1", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=/patients/1"
    r = demo.client.post(
        "/login",
        data={"username": "clinician", "password": "cicatrix-demo", "next": "/patients/1"},
        follow_redirects=False,
    )
    assert r.headers["location"] == "/patients/1"


def test_login_page_shows_demo_accounts_and_refuses_a_wrong_password(demo: Demo) -> None:
    page = demo.client.get("/login").text
    assert "clinician" in page and "cicatrix-demo" in page
    r = demo.client.post("/login", data={"username": "clinician", "password": "nope"})
    assert r.status_code == 401
    assert "Unknown username, wrong password or wrong code" in r.text
    assert 'value="clinician"' in r.text  # the username is kept


def test_login_never_redirects_off_site(demo: Demo) -> None:
    for target in ("//evil.example/x", "https://evil.example/", "\\\\evil"):
        r = demo.client.post(
            "/login",
            data={"username": "clinician", "password": "cicatrix-demo", "next": target},
            follow_redirects=False,
        )
        assert r.headers["location"] == "/", target
        demo.client.cookies.clear()


def test_a_post_without_the_csrf_token_is_refused(demo: Demo) -> None:
    demo.login("clinician")
    plan_id = _patient_plan(demo, 3)
    r = demo.client.post(f"/plans/{plan_id}/approve", data={"version": "1"})
    assert r.status_code == 403
    assert "Form expired" in r.text
    r = demo.client.post(f"/plans/{plan_id}/approve", data={"version": "1", "csrf_token": "0" * 64})
    assert r.status_code == 403


def test_patient_sees_only_their_own_pages(demo: Demo) -> None:
    demo.login("patient")
    today = demo.client.get("/me")
    assert today.status_code == 200
    assert "What to do today" in today.text
    for path in (
        "/patients",
        "/patients/2",
        "/patients/1",
        "/plans/1",
        "/plans/2/course",
        "/admin/users",
        "/patients/1/assessments/new",
    ):
        r = demo.client.get(path)
        assert r.status_code == 403, path
        assert "(demo)" not in r.text, path  # no other patient's name leaks
    for path in ("/me/timeline", "/me/plan", "/me/learn"):
        assert demo.client.get(path).status_code == 200, path


def test_clinician_dashboard_shows_plans_waiting_and_sessions(demo: Demo) -> None:
    demo.login("clinician")
    html = demo.client.get("/").text
    assert "Plans waiting for approval" in html
    waiting = re.findall(r'<a href="/plans/(\d+)">', html)
    assert waiting, "the demo leaves some plans proposed"
    with demo.app.state.db.transaction() as db:
        statuses = {db.get(Plan, int(p)).status for p in waiting}  # type: ignore[union-attr]
    assert statuses == {"proposed"}
    assert _audit_count(demo, action="list", detail="dashboard") >= 1


def test_front_desk_sees_schedule_but_no_clinical_record(demo: Demo) -> None:
    demo.login("frontdesk")
    html = demo.client.get("/patients/1").text
    assert "Appointments" in html
    assert "Phototype" not in html and "Assessments" not in html and "Plans waiting" not in html
    assert demo.client.get("/patients/1/assessments/new").status_code == 403
    assert demo.client.get(f"/plans/{1}").status_code == 403


def test_bad_assessment_input_keeps_everything_and_names_the_field(demo: Demo) -> None:
    demo.login("clinician")
    token = demo.csrf("/patients/1/assessments/new")
    plans_before = _count(demo, Plan)
    r = demo.client.post(
        "/patients/1/assessments/new",
        data={
            "csrf_token": token,
            "date": TODAY.isoformat(),
            "phototype": "IV",
            "scar-ice_pick-count": "abc",
            "scar-rolling-count": "6",
            "scar-rolling-depth": "deep",
            "scar-hypertrophic-area_cm2": "3",
            "lesion-pustule-count": "-1",
            "notes": "kept <b>note</b>",
        },
    )
    assert r.status_code == 422
    html = r.text
    assert 'id="scar-ice_pick-count" name="scar-ice_pick-count"\n         value="abc"' in html or 'value="abc"' in html
    assert re.search(r'id="scar-ice_pick-count"[^>]*aria-invalid="true"', html)
    assert "Ice-pick count must be a whole number" in html
    assert "Pustule count must be a whole number" in html
    assert "Enter how many hypertrophic scars" in html  # an area without a count
    assert 'value="6"' in html and '<option value="deep" selected>' in html
    assert "kept &lt;b&gt;note&lt;/b&gt;" in html  # kept, and escaped
    assert _count(demo, Plan) == plans_before  # nothing stored half-written


def test_a_future_assessment_date_is_refused_inline(demo: Demo) -> None:
    demo.login("clinician")
    token = demo.csrf("/patients/1/assessments/new")
    r = demo.client.post(
        "/patients/1/assessments/new",
        data={"csrf_token": token, "date": "2099-01-01", "phototype": "II", "scar-rolling-count": "3"},
    )
    assert r.status_code == 422
    assert re.search(r'id="date"[^>]*aria-invalid="true"', r.text)
    assert 'value="2099-01-01"' in r.text


def test_assessment_creates_a_plan_and_the_live_score_matches(demo: Demo) -> None:
    demo.login("clinician")
    token = demo.csrf("/patients/2/assessments/new")
    form = {
        "csrf_token": token,
        "date": TODAY.isoformat(),
        "phototype": "II",
        "scar-boxcar_deep-count": "21",
        "mark-pie-count": "4",
        "goodman_baron_qualitative": "4",
    }
    live = demo.client.post("/assess/score", data=form)
    assert live.status_code == 200
    assert re.search(r'data-score="gb">10<', live.text)  # 3 points x multiplier 3, + 1 x 1
    assert re.search(r'data-score="ecca">60<', live.text)  # U-shaped 20 x grade 3
    r = demo.client.post("/patients/2/assessments/new", data=form, follow_redirects=False)
    assert r.status_code == 303
    assert re.fullmatch(r"/plans/\d+\?done=assessed", r.headers["location"])
    page = demo.client.get(r.headers["location"])
    assert "Assessment saved; review the proposed plan." in page.text
    assert "does not replace it; a clinician approves every plan" in page.text


def test_live_score_reports_errors_instead_of_numbers(demo: Demo) -> None:
    demo.login("clinician")
    token = demo.csrf("/patients/1/assessments/new")
    r = demo.client.post("/assess/score", data={"csrf_token": token, "scar-rolling-count": "x"})
    assert r.status_code == 200
    assert "Scores will update when these are fixed" in r.text
    assert "data-score" not in r.text


def test_override_needs_a_reason_and_is_audited(demo: Demo) -> None:
    demo.login("clinician")
    with demo.app.state.db.transaction() as db:
        found = [p.id for p in db.scalars(select(Plan)) if p.proposal.get("excluded")]
    assert found, "some demo patient has excluded treatments"
    plan_id = found[0]
    html = demo.client.get(f"/plans/{plan_id}").text
    excluded = re.findall(r'name="treatment" value="([a-z_]+)"', html)
    assert excluded
    version = re.search(r'name="version" value="(\d+)"', html).group(1)  # type: ignore[union-attr]
    token = demo.csrf(f"/plans/{plan_id}")
    r = demo.client.post(
        f"/plans/{plan_id}/override",
        data={"csrf_token": token, "version": version, "treatment": excluded[0], "reason": ""},
    )
    assert r.status_code == 422
    assert "An override needs a reason" in r.text
    before = _audit_count(demo, action="override")
    r = demo.client.post(
        f"/plans/{plan_id}/override",
        data={
            "csrf_token": token,
            "version": version,
            "treatment": excluded[0],
            "reason": "Discussed risks; patient consents",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    assert _audit_count(demo, action="override") == before + 1
    # the override's plan: the same proposal, or a new one beside an approved (running) plan
    page = demo.client.get(r.headers["location"]).text
    assert "Discussed risks; patient consents" in page
    assert "Clinician overrides" in page


def test_missed_session_preview_saves_nothing_until_confirmed(demo: Demo) -> None:
    demo.login("clinician")
    plan_id = _patient_plan(demo, 1)
    course = demo.client.get(f"/plans/{plan_id}/course").text
    sid = int(re.search(rf"/plans/{plan_id}/sessions/(\d+)/missed", course).group(1))  # type: ignore[union-attr]
    form_page = demo.client.get(f"/plans/{plan_id}/sessions/{sid}/missed").text
    default = re.search(r'id="new_date" name="new_date" value="([0-9-]+)"', form_page).group(1)  # type: ignore[union-attr]
    token = demo.csrf(f"/plans/{plan_id}/course")

    r = demo.client.post(
        f"/plans/{plan_id}/sessions/{sid}/missed", data={"csrf_token": token, "new_date": default, "action": "preview"}
    )
    assert r.status_code == 200
    assert "not saved yet" in r.text
    with demo.app.state.db.transaction() as db:
        assert db.get(CourseSession, sid).status == "planned"  # type: ignore[union-attr]

    r = demo.client.post(
        f"/plans/{plan_id}/sessions/{sid}/missed",
        data={"csrf_token": token, "new_date": "not a date", "action": "save"},
    )
    assert r.status_code == 422
    assert 'value="not a date"' in r.text

    r = demo.client.post(
        f"/plans/{plan_id}/sessions/{sid}/missed",
        data={"csrf_token": token, "new_date": default, "confirmed_date": default, "action": "save"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    with demo.app.state.db.transaction() as db:
        assert db.get(CourseSession, sid).status == "missed"  # type: ignore[union-attr]
        moved = db.scalars(
            select(CourseSession).where(CourseSession.plan_id == plan_id, CourseSession.status == "planned")
        ).all()
    assert any(s.date.isoformat() == default for s in moved)


def test_handout_and_plan_pages_render_for_every_demo_plan(demo: Demo) -> None:
    demo.login("clinician")
    with demo.app.state.db.transaction() as db:
        ids = db.scalars(select(Plan.id)).all()
    assert ids
    for pid in ids:
        for path in (f"/plans/{pid}", f"/plans/{pid}/course", f"/plans/{pid}/handout"):
            r = demo.client.get(path)
            assert r.status_code == 200, path
    handout = demo.client.get(f"/plans/{ids[0]}/handout").text
    assert "Day by day" in handout and "data-print" in handout


def test_admin_pages_and_settings_keep_input_on_error(demo: Demo) -> None:
    demo.login("admin")
    assert demo.client.get("/admin/users").status_code == 200
    assert demo.client.get("/patients").status_code == 403  # admin has no patient access
    token = demo.csrf("/admin/settings")
    r = demo.client.post("/admin/settings", data={"csrf_token": token, "name": "Skin Clinic", "timezone": "Mars/Base"})
    assert r.status_code == 422
    assert "Unknown time zone" in r.text and 'value="Skin Clinic"' in r.text
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 32
    r = demo.client.post(
        "/admin/settings",
        data={"csrf_token": token, "name": "Skin Clinic", "timezone": "Europe/Paris"},
        files={"logo": ("logo.png", png, "image/png")},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = demo.client.get("/admin/settings").text
    assert "Skin Clinic" in page and 'src="/clinic/logo"' in page
    logo = demo.client.get("/clinic/logo")
    assert logo.status_code == 200 and logo.content == png


def test_knowledge_page_marks_clinic_overrides(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from cicatrix.api.app import create_app
    from cicatrix.service.demo import seed
    from cicatrix.storage import migrate
    from cicatrix.storage.settings import Settings

    over = tmp_path / "overrides"
    (over / "treatments").mkdir(parents=True)
    (over / "treatments" / "microneedling.yaml").write_text(
        "id: microneedling\nprotocol:\n  interval_days: {min: 28, max: 35}\n"
    )
    settings = Settings(data_dir=tmp_path / "d", secret_key="k" * 40, knowledge_dir=over)
    migrate.upgrade(settings)
    app = create_app(settings, clock=lambda: NOW)
    with app.state.db.transaction() as db:
        seed(db, app.state.kb, TODAY)
    with TestClient(app) as c:
        c.post("/login", data={"username": "clinician", "password": "cicatrix-demo"})
        html = c.get("/knowledge").text
    app.state.db.dispose()
    assert "treatments:microneedling" in html
    section = html.split('<span class="code small">microneedling</span>')[1][:200]
    assert "clinic override" in section
    assert "every 28–35 days" in html


def test_static_files_are_served_and_contained(demo: Demo) -> None:
    assert demo.client.get("/static/cicatrix.css").status_code == 200
    assert demo.client.get("/static/vendor/htmx-4.0.1.min.js").status_code == 200
    assert demo.client.get("/static/../routes.py").status_code == 404
    assert demo.client.get("/static/%2e%2e/routes.py").status_code == 404


def test_patient_and_plan_pages_audit_every_read(demo: Demo) -> None:
    demo.login("clinician")
    before = {a: _audit_count(demo, action=a, patient_id=1) for a in ("read", "list")}
    plan_id = _patient_plan(demo, 1)
    demo.client.get(f"/plans/{plan_id}")
    with demo.app.state.db.transaction() as db:
        rows = db.execute(
            select(AuditEvent.action, AuditEvent.entity).where(AuditEvent.patient_id == 1).order_by(AuditEvent.id)
        ).all()
    recent = [tuple(r) for r in rows][-(len(rows) - sum(before.values())) :]
    assert ("read", "patient") in recent and ("list", "assessment") in recent
    assert ("list", "plan") in recent and recent.count(("read", "plan")) == 2


def test_plan_edit_needs_a_reason_and_sends_the_plan_back_for_approval(demo: Demo) -> None:
    demo.login("clinician")
    plan_id = _patient_plan(demo, 1)
    html = demo.client.get(f"/plans/{plan_id}").text
    assert "badge approved" in html
    version = re.search(r'name="version" value="(\d+)"', html).group(1)  # type: ignore[union-attr]
    kept = re.findall(r'name="treatments" value="([a-z_]+)" checked', html)
    assert kept
    token = demo.csrf(f"/plans/{plan_id}")
    data = {"csrf_token": token, "version": version, "treatments": kept[:1], "reason": ""}
    r = demo.client.post(f"/plans/{plan_id}/edit", data=data)
    assert r.status_code == 422 and "Give a reason for the change" in r.text
    data["reason"] = "Patient prefers one treatment at a time"
    r = demo.client.post(f"/plans/{plan_id}/edit", data=data, follow_redirects=False)
    assert r.status_code == 303, r.text
    page = demo.client.get(r.headers["location"]).text
    # the approved plan is the running course: the edit is a new proposal beside it
    assert "Your edit is a new proposal; the running course stays" in page
    assert "Patient prefers one treatment at a time" in page  # in the new plan's history
    new_id = int(r.headers["location"].split("/")[2].split("?")[0])
    assert new_id != plan_id
    with demo.app.state.db.transaction() as db:
        running, plan = db.get(Plan, plan_id), db.get(Plan, new_id)
        assert running is not None and running.status == "approved"
        assert plan is not None and plan.status == "proposed"
        assert plan.preferences["treatments"] == kept[:1]


def test_dashboard_lists_follow_ups_that_have_come_due(demo: Demo) -> None:
    from datetime import timedelta

    from cicatrix.storage.models import Patient

    with demo.app.state.db.session() as db:
        plan = db.scalars(select(Plan).where(Plan.status == "approved").order_by(Plan.id)).first()
        assert plan is not None
        for s in db.scalars(select(CourseSession).where(CourseSession.plan_id == plan.id)):
            s.date, s.status = TODAY - timedelta(days=30), "done"
        proposal = dict(plan.proposal)
        proposal["course"] = {**proposal["course"], "follow_up": (TODAY + timedelta(days=3)).isoformat()}
        plan.proposal = proposal
        name = db.get(Patient, plan.patient_id).name  # type: ignore[union-attr]
        db.commit()
    demo.login("clinician")
    html = demo.client.get("/").text
    due = html.split('id="h-due"')[1].split("</section>")[0]
    assert name in due and "follow-up assessment" in due


def test_admin_changes_a_role_and_deactivates_an_account(demo: Demo) -> None:
    from cicatrix.storage.models import User

    demo.login("admin")
    with demo.app.state.db.transaction() as db:
        desk = db.scalars(select(User).where(User.username == "frontdesk")).one()
    token = demo.csrf("/admin/users")
    r = demo.client.post(f"/admin/users/{desk.id}", data={"csrf_token": token, "role": "clinician"},
                         follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    r = demo.client.post(f"/admin/users/{desk.id}", data={"csrf_token": token, "role": "wizard", "active": "1"})
    assert r.status_code == 422 and "Unknown role" in r.text
    with demo.app.state.db.transaction() as db:
        changed = db.get(User, desk.id)
        assert changed is not None and changed.role == "clinician" and not changed.active
    r = demo.client.post("/login", data={"username": "frontdesk", "password": "cicatrix-demo"})
    assert r.status_code == 401  # a deactivated account cannot log in


def test_no_page_leaves_a_transaction_open_for_the_deferred_clean_up(demo: Demo, monkeypatch: Any) -> None:
    # SQLite transactions take the write lock; one still open when the request's session is
    # closed (after the response) would stall every other page on the event loop
    from sqlalchemy.orm import Session

    left_open: list[bool] = []
    close = Session.close

    def recording_close(self: Session) -> None:
        left_open.append(self.in_transaction())
        close(self)

    demo.login("clinician")
    token = demo.csrf("/patients/1/assessments/new")
    monkeypatch.setattr(Session, "close", recording_close)
    demo.client.post("/assess/score", data={"csrf_token": token, "date": TODAY.isoformat(), "scar-rolling-count": "3"})
    demo.client.post("/patients/1/assessments/new", data={"csrf_token": token, "scar-ice_pick-count": "abc"})
    demo.client.get("/patients/1")
    demo.client.get("/patients/999999")
    assert len(left_open) >= 4 and not any(left_open)


def test_pages_query_the_database_off_the_event_loop(demo: Demo) -> None:
    # Pages are plain functions run in worker threads: a query made on the event loop would
    # stall every other request of the worker (the API's too) until the database answers.
    # Every statement is seen at the driver (`before_cursor_execute`): execute, scalar,
    # scalars, get and lazy loads alike.
    import asyncio

    from sqlalchemy import event

    on_loop: list[bool] = []

    def record(*_args: Any) -> None:
        try:
            asyncio.get_running_loop()
            on_loop.append(True)
        except RuntimeError:
            on_loop.append(False)

    demo.login("clinician")
    token = demo.csrf("/patients/1/assessments/new")
    engine = demo.app.state.db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        assert demo.client.get("/patients/1").status_code == 200
        assert demo.client.get("/patients").status_code == 200
        assert demo.client.get("/").status_code == 200
        demo.client.post("/assess/score", data={"csrf_token": token, "date": TODAY.isoformat(), "scar-rolling-count": "3"})
        demo.client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
        demo.client.get("/login")
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert len(on_loop) >= 10 and not any(on_loop)


def test_a_forged_csrf_token_of_any_characters_is_refused_not_a_crash(demo: Demo) -> None:
    demo.login("clinician")
    r = demo.client.post("/patients/new", data={"csrf_token": "é" * 64, "name": "X"})
    assert r.status_code == 403
    r = demo.client.post("/logout", data={"csrf_token": "é" * 64}, follow_redirects=False)
    assert r.status_code == 303
    assert demo.client.get("/patients", follow_redirects=False).status_code == 200  # still logged in


def test_a_refused_form_keeps_nothing_of_the_refused_change_but_audits_the_page(demo: Demo) -> None:
    """The plan edit is refused (an excluded treatment); the page shows the plan again with the
    error. The page's reads are audited, the refused edit left no trace."""
    from sqlalchemy import func, select

    from cicatrix.storage.models import AuditEvent, Plan, PlanEdit

    demo.login("clinician")
    with demo.app.state.db.transaction() as db:
        plan = db.scalars(select(Plan).where(Plan.status == "proposed").order_by(Plan.id)).first()
        assert plan is not None
        plan_id, version = plan.id, plan.version
        edits = db.scalar(select(func.count()).select_from(PlanEdit))
        last_event = db.scalar(select(func.max(AuditEvent.id)))
    token = demo.csrf(f"/plans/{plan_id}")
    r = demo.client.post(f"/plans/{plan_id}/edit", data={"csrf_token": token, "version": str(version),
                                                          "reason": "try it", "treatments": "no_such_treatment"})  # fmt: skip
    assert r.status_code == 422
    with demo.app.state.db.transaction() as db:
        again = db.get(Plan, plan_id)
        assert again is not None and again.version == version
        assert db.scalar(select(func.count()).select_from(PlanEdit)) == edits
        new = [(e.action, e.entity) for e in db.scalars(select(AuditEvent).where(AuditEvent.id > last_event))]
    assert ("update", "plan") not in new
    assert ("read", "plan") in new  # the page shown with the error is a read of the plan


def test_pages_use_the_clinics_today(demo: Demo) -> None:
    """At 12:00 UTC it is already tomorrow in Auckland: a clinic there gets tomorrow's date on
    its forms (the demo clinic's zone changed through the settings page)."""
    from datetime import UTC, datetime

    demo.app.state.clock = lambda: datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    demo.login("admin")
    token = demo.csrf("/admin/settings")
    r = demo.client.post("/admin/settings", data={"csrf_token": token, "name": "cicatrix demo clinic",
                                                   "timezone": "Pacific/Auckland"}, follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    demo.login("clinician")
    html = demo.client.get("/patients/1/assessments/new").text
    assert 'value="2026-11-24"' in html and 'value="2026-11-23"' not in html


def test_an_async_page_cannot_take_a_page_outside_the_unit_of_work() -> None:
    import pytest
    from fastapi import APIRouter, Depends

    from cicatrix.web.core import Page, WebRoute, roles

    router = APIRouter(route_class=WebRoute)

    async def broken(page: Page = Depends(roles("clinician"))) -> None:  # pragma: no cover
        return None

    with pytest.raises(TypeError, match="plain def"):
        router.add_api_route("/broken", broken)


def test_clinic_address_and_phone_are_set_on_the_settings_page(demo: Demo) -> None:
    """Issue 13 §4: the admin sets them here; a bad number is explained and the input kept."""
    demo.login("admin")
    token = demo.csrf("/admin/settings")
    form = {"csrf_token": token, "name": "Skin Clinic", "timezone": "Europe/London",
            "address": "12 High Street\nLondon NW1 7AA", "phone": "020 7946 0000"}  # fmt: skip
    r = demo.client.post("/admin/settings", data=form)
    assert r.status_code == 422
    assert "The phone number is not a valid phone number" in r.text and "country code" in r.text
    assert 'value="020 7946 0000"' in r.text and "12 High Street\nLondon NW1 7AA</textarea>" in r.text
    r = demo.client.post("/admin/settings", data={**form, "phone": "+44 20 7946 0000"}, follow_redirects=False)
    assert r.status_code == 303
    page = demo.client.get("/admin/settings").text
    assert 'value="+44 20 7946 0000"' in page and "12 High Street\nLondon NW1 7AA</textarea>" in page
