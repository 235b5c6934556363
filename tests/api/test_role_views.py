"""What each role's responses contain (issue 12 §1): a patient sees only approved plans on
every route and export; front desk gets no plan from the re-flow and creates no calendar
links; the field rules of the policy table (`policy.FIELDS_SEEN`) hold in every response.

Authorisation is about what a response *contains*: the strongest check here walks every
response of the authorisation matrix, for every role allowed to call it, for the fields that
role may not see.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from icalendar import Calendar
from sqlalchemy import select, update

from cicatrix.service import patients, plans
from cicatrix.service.policy import FIELDS_SEEN, ROLES
from cicatrix.service.schemas import AssessmentIn, PatientIn, UserIn
from cicatrix.service.users import add_user
from cicatrix.storage.models import Assessment, CourseSession, Plan
from tests.api.fixtures import bearer
from tests.api.test_authorization import MATRIX, VARIANTS, Spec
from tests.storage.world import ASSESSMENT, PASSWORD, PREFS, World

CLINICAL_NOTE = "private note"  # the world's patients' clinical.notes
SESSION_NOTE = "session-note-marker"
ASSESSMENT_NOTE = "assessment-note-marker"
PROCEDURE_NOTE = "procedure-note-marker"

# The text of each field of the policy table, as the world holds it after `_seed_notes`.
MARKERS = {
    "patient.clinical.notes": CLINICAL_NOTE,
    "session.note": SESSION_NOTE,
    "assessment.notes": ASSESSMENT_NOTE,
    "session.procedure": PROCEDURE_NOTE,
}
# Keys that only occur in clinical content: in a patient record's `clinical` block, an
# assessment, a plan, the day-by-day timeline. A role that may not see "patient.clinical" or
# "plan" gets none of them with a value.
CLINICAL_KEYS = {
    "patient.clinical": {"clinical", "phototype", "pregnant", "breastfeeding", "medications", "history"},
    "plan": {"plan", "timeline", "overrides", "recommended", "excluded", "edits", "preferences"},
}


def _seed_notes(w: World) -> None:
    """Give every session and assessment of P1 a note, whatever the matrix created since."""
    pid = w.patients["P1"]
    with w.database.transaction() as db:
        db.execute(
            update(CourseSession)
            .where(CourseSession.patient_id == pid, CourseSession.note.is_(None))
            .values(note=SESSION_NOTE)
        )
        db.execute(
            update(CourseSession)
            .where(CourseSession.patient_id == pid, CourseSession.procedure.is_(None))
            .values(procedure={"device": "Pen", "note": PROCEDURE_NOTE})
        )
        for a in db.scalars(select(Assessment).where(Assessment.patient_id == pid)):
            if a.input["assessment"].get("notes") != ASSESSMENT_NOTE:
                a.input = {**a.input, "assessment": {**a.input["assessment"], "notes": ASSESSMENT_NOTE}}


def _forbidden(role: str, body: bytes, content_type: str) -> list[str]:
    """The fields of the policy table found in a response that the role may not see."""
    found = [f for f, text in MARKERS.items() if role not in FIELDS_SEEN[f] and text.encode() in body]
    if content_type.startswith("application/json") and body:
        data = json.loads(body)
        for f, keys in CLINICAL_KEYS.items():
            if role not in FIELDS_SEEN[f]:
                found += [f"{f} ({k})" for k in sorted(_valued_keys(data) & keys)]
    return found


def _valued_keys(data: Any) -> set[str]:
    """Every key of the JSON document whose value is not null or empty."""
    keys: set[str] = set()
    if isinstance(data, dict):
        for k, v in data.items():
            if v not in (None, [], {}, False):
                keys.add(k)
            keys |= _valued_keys(v)
    elif isinstance(data, list):
        for v in data:
            keys |= _valued_keys(v)
    return keys


def _calls() -> list[tuple[str, str, str, Spec]]:
    calls = [(f"{m} {p}", m, p, s) for (m, p), s in MATRIX.items() if s is not None]
    return calls + [(label, m, p, s) for label, (m, p, s) in VARIANTS.items()]


def test_no_response_of_the_matrix_carries_a_field_the_role_may_not_see(client) -> None:  # type: ignore[no-untyped-def]
    """Every route and variant of the authorisation matrix, every role allowed to call it:
    the response holds no field of the policy table that the role may not see."""
    w: World = client.world
    failures: list[str] = []
    seen_by_clinician: set[str] = set()
    for label, method, path, spec in _calls():
        for role in sorted(spec.allowed - set(spec.expect)):  # `expect`: a refusal, by the caller's state
            params, body = spec.build(w, "P1")
            _seed_notes(w)
            r = client.request(method, path.format(**params), json=body, headers=bearer(client, role))
            assert 200 <= r.status_code < 300, (label, role, r.status_code, r.text[:300])
            ctype = r.headers.get("content-type", "")
            failures += [f"{role} {label}: {f}" for f in _forbidden(role, r.content, ctype)]
            if role == "clinician":
                seen_by_clinician |= {f for f, text in MARKERS.items() if text.encode() in r.content}
    assert not failures, "\n".join(failures)
    # the check is not vacuous: each field reaches the roles that may see it
    assert seen_by_clinician == set(MARKERS)


@pytest.mark.parametrize("field", sorted(FIELDS_SEEN))
def test_each_field_of_the_policy_table_names_known_roles(field: str) -> None:
    assert FIELDS_SEEN[field] <= set(ROLES), field


def test_patient_sees_the_record_without_the_clinicians_notes(client) -> None:  # type: ignore[no-untyped-def]
    w: World = client.world
    _seed_notes(w)
    pid = w.patients["P1"]
    own = client.get(f"/api/patients/{pid}", headers=bearer(client, "patient")).json()
    assert own["clinical"]["phototype"] == "III" and own["clinical"]["notes"] is None
    mine = client.get(f"/api/patients/{pid}/assessments", headers=bearer(client, "patient")).json()
    assert mine["items"] and all(a["input"]["assessment"]["notes"] is None for a in mine["items"])
    one = client.get(f"/api/assessments/{w.assessments['P1']}", headers=bearer(client, "patient")).json()
    assert one["input"]["assessment"]["notes"] is None and one["input"]["assessment"]["scars"]
    for url in ("plan", "sessions"):
        body = client.get(f"/api/patients/{pid}/{url}", headers=bearer(client, "patient")).json()
        assert body["sessions"] and all(s["note"] is None for s in body["sessions"])
    fhir = client.get(f"/api/patients/{pid}/fhir", headers=bearer(client, "patient"))
    assert fhir.status_code == 200 and ASSESSMENT_NOTE not in fhir.text
    # the clinician sees all three
    staff = client.get(f"/api/patients/{pid}", headers=bearer(client, "clinician")).json()
    assert staff["clinical"]["notes"] == CLINICAL_NOTE
    plan = client.get(f"/api/plans/{w.plans['P1']}", headers=bearer(client, "clinician")).json()
    assert {s["note"] for s in plan["sessions"]} == {SESSION_NOTE}
    assert ASSESSMENT_NOTE in client.get(f"/api/patients/{pid}/fhir", headers=bearer(client, "clinician")).text


def test_front_desk_sees_the_schedule_without_session_notes(client) -> None:  # type: ignore[no-untyped-def]
    w: World = client.world
    _seed_notes(w)
    sched = client.get(f"/api/patients/{w.patients['P1']}/sessions", headers=bearer(client, "front_desk")).json()
    assert sched["sessions"] and all(s["note"] is None for s in sched["sessions"])
    # front desk may write a note when recording a session (a message for the clinician), not read it back
    made = w.new_plan("P1", approve=True)
    done = client.post(
        f"/api/sessions/{made['session_id']}/done", json={"note": "arrived late"}, headers=bearer(client, "front_desk")
    )
    assert done.status_code == 200 and done.json()["note"] is None
    plan = client.get(f"/api/plans/{made['plan_id']}", headers=bearer(client, "clinician")).json()
    assert "arrived late" in {s["note"] for s in plan["sessions"]}


# ---------- the re-flow preview ----------


def _missed_session(w: World) -> tuple[int, int, str]:
    made = w.new_plan("P1", approve=True)
    with w.database.transaction() as db:
        s = db.get(CourseSession, made["session_id"])
        assert s is not None
        return made["session_id"], made["plan_id"], (s.date + timedelta(days=4)).isoformat()


def _planned(w: World, plan_id: int) -> dict[tuple[str, int], str]:
    with w.database.transaction() as db:
        rows = db.scalars(select(CourseSession).where(CourseSession.plan_id == plan_id))
        return {(s.treatment, s.number): s.date.isoformat() for s in rows if s.status == "planned"}


@pytest.mark.parametrize("dry_run", [True, False])
def test_front_desk_gets_the_moved_dates_not_the_plan_from_a_reflow(client, dry_run: bool) -> None:  # type: ignore[no-untyped-def]
    """Before: front desk's `{"dry_run": true}` answered the whole plan (treatments, care,
    pregnancy and phototype in the screening's reasons) while GET /plans/{id} was 403."""
    w: World = client.world
    session_id, plan_id, new_date = _missed_session(w)
    before = _planned(w, plan_id)
    body = {"dry_run": dry_run, "new_date": new_date}
    r = client.post(f"/api/sessions/{session_id}/missed", json=body, headers=bearer(client, "front_desk"))
    assert r.status_code == 200, r.text
    out = r.json()
    assert set(out) == {"patient_id", "plan_id", "preview", "moved", "sessions"}
    assert out["plan_id"] == plan_id and out["preview"] is dry_run
    assert _forbidden("front_desk", r.content, "application/json") == []
    moved = {(m["treatment"], m["number"]): (m["old_date"], m["new_date"]) for m in out["moved"]}
    first = next(k for k, d in sorted(before.items(), key=lambda kv: kv[1]))
    assert moved[first] == (before[first], new_date)
    assert all(before[k] == old and old != new for k, (old, new) in moved.items())
    after = {(s["treatment"], s["number"]): s["date"] for s in out["sessions"] if s["status"] == "planned"}
    assert {k: v for k, (_o, v) in moved.items() if v} == {k: v for k, v in after.items() if before.get(k) != v}
    assert (_planned(w, plan_id) == before) is dry_run  # a preview saves nothing


def test_a_clinician_still_gets_the_reflowed_plan(client) -> None:  # type: ignore[no-untyped-def]
    w: World = client.world
    session_id, plan_id, new_date = _missed_session(w)
    body = {"dry_run": True, "new_date": new_date}
    r = client.post(f"/api/sessions/{session_id}/missed", json=body, headers=bearer(client, "clinician"))
    assert r.status_code == 200 and r.json()["preview"] is True
    assert r.json()["id"] == plan_id and r.json()["plan"]["timeline"]


# ---------- the plan a patient sees, on every route ----------


def _patient_with_a_proposal_only(w: World) -> tuple[int, str]:
    """A new patient of clinic A with a login and a proposed (never approved) plan."""
    with w.database.transaction() as db:
        ctx = w.ctx("clinician", db)
        p = patients.create(ctx, PatientIn(name="Proposal Only", clinical={"phototype": "IV"}))  # type: ignore[arg-type]
        plans.assess(ctx, p.id, AssessmentIn(assessment=ASSESSMENT, preferences=PREFS))
        add_user(db, w.clinic_a, UserIn(username="p4@test", display_name="P4", role="patient",
                                        password=PASSWORD, patient_id=p.id))  # fmt: skip
    r = w_login(w, "p4@test")
    return p.id, r


def w_login(w: World, username: str) -> str:
    from cicatrix.service import auth
    from cicatrix.storage.models import User

    with w.database.transaction() as db:
        user = db.scalar(select(User).where(User.username == username))
        assert user is not None
        raw, _ = auth.issue_token(db, user, "bearer", 3600, "127.0.0.1")
    return raw


def test_a_proposal_reaches_the_patient_on_no_route(client) -> None:  # type: ignore[no-untyped-def]
    """Issue 12 §1.1: the exports and a subscription the patient creates served the newest
    proposal. Every route answers as if there were no plan; the clinician sees the proposal."""
    w: World = client.world
    pid, token = _patient_with_a_proposal_only(w)
    me = {"Authorization": f"Bearer {token}"}
    for url in ("plan", "calendar.ics", "handout.pdf", "today"):
        r = client.get(f"/api/patients/{pid}/{url}", headers=me)
        assert r.status_code == 404, (url, r.status_code)
        assert r.json()["field"] == "plan"
    assert client.get(f"/api/patients/{pid}/plans", headers=me).json() == []
    sched = client.get(f"/api/patients/{pid}/sessions", headers=me).json()
    assert sched["plan_id"] is None and sched["sessions"] == []
    fhir = client.get(f"/api/patients/{pid}/fhir", headers=me).json()
    kinds = [e["resource"]["resourceType"] for e in fhir["entry"]]
    assert "CarePlan" not in kinds and "ServiceRequest" not in kinds and "Patient" in kinds
    link = client.post(f"/api/patients/{pid}/calendar-tokens", headers=me)
    assert link.status_code == 201
    assert client.get(f"/api/calendar/{link.json()['token']}.ics").status_code == 404
    staff = {"Authorization": f"Bearer {w.tokens['clinician']}"}
    for url in ("calendar.ics", "handout.pdf", "plan"):
        assert client.get(f"/api/patients/{pid}/{url}", headers=staff).status_code == 200, url


def _session_dates(ics: bytes) -> set[str]:
    events = Calendar.from_ical(ics).walk("VEVENT")
    return {e.decoded("DTSTART").date().isoformat() for e in events if "session" in [str(c) for c in e.categories]}


def test_a_newer_proposal_changes_no_export_of_the_patient(client) -> None:  # type: ignore[no-untyped-def]
    """An approved plan and a newer proposal that starts later: the patient's FHIR, iCalendar,
    handout and subscription (created by the patient or a clinician) all carry the approved one."""
    w: World = client.world
    pid = w.patients["P1"]
    approved = _planned(w, w.plans["P1"])
    later = w.new_plan("P1")
    edit = {"version": later["version"], "reason": "start later", "start": "2027-05-05"}
    r = client.patch(f"/api/plans/{later['plan_id']}", json=edit, headers=bearer(client, "clinician"))
    assert r.status_code == 200
    proposed = _planned(w, later["plan_id"])
    assert set(proposed.values()).isdisjoint(approved.values())

    own = client.get(f"/api/patients/{pid}/calendar.ics", headers=bearer(client, "patient"))
    assert _session_dates(own.content) == set(approved.values())
    _seed_notes(w)
    for creator in ("patient", "clinician"):  # a link is the patient's view, whoever made it
        link = client.post(f"/api/patients/{pid}/calendar-tokens", headers=bearer(client, creator)).json()
        feed = client.get(f"/api/calendar/{link['token']}.ics")
        assert feed.status_code == 200 and _session_dates(feed.content) == set(approved.values()), creator
        assert _forbidden("patient", feed.content, "text/calendar") == []
    fhir = client.get(f"/api/patients/{pid}/fhir", headers=bearer(client, "patient")).json()
    (careplan,) = [e["resource"] for e in fhir["entry"] if e["resource"]["resourceType"] == "CarePlan"]
    assert careplan["status"] == "active"
    assert "2027-05-05" not in json.dumps(fhir)
    with w.database.transaction() as db:
        assert db.get(Plan, later["plan_id"]).status == "proposed"  # type: ignore[union-attr]
    # the clinicians' calendar shows the running course too (issue 14 §2), not the proposal
    staff = client.get(f"/api/patients/{pid}/calendar.ics", headers=bearer(client, "clinician"))
    assert _session_dates(staff.content) == set(approved.values())


# ---------- calendar links ----------


def test_only_the_roles_that_read_the_plan_create_calendar_links(client) -> None:  # type: ignore[no-untyped-def]
    """Issue 12 §1.3: front desk created a link (201) that served the aftercare the direct
    .ics refuses them (403). Now 403; front desk may still list and revoke links."""
    w: World = client.world
    pid = w.patients["P1"]
    assert client.get(f"/api/patients/{pid}/calendar.ics", headers=bearer(client, "front_desk")).status_code == 403
    r = client.post(f"/api/patients/{pid}/calendar-tokens", headers=bearer(client, "front_desk"))
    assert r.status_code == 403 and r.json()["field"] == "role"
    made = client.post(f"/api/patients/{pid}/calendar-tokens", headers=bearer(client, "patient")).json()
    listed = client.get(f"/api/patients/{pid}/calendar-tokens", headers=bearer(client, "front_desk"))
    assert listed.status_code == 200 and [t["token"] for t in listed.json()] == [None]
    gone = client.delete(f"/api/patients/{pid}/calendar-tokens/{made['id']}", headers=bearer(client, "front_desk"))
    assert gone.status_code == 200
    assert client.get(f"/api/calendar/{made['token']}.ics").status_code == 404


def test_the_staffs_reasons_on_a_booking_are_not_the_patients_to_read(client) -> None:  # type: ignore[no-untyped-def]
    """Why a booking is outside its window or was cancelled is the staff's free text
    (`appointment.reasons`): front desk and clinicians read it, the patient does not."""
    from datetime import timedelta

    from cicatrix.service.schemas import UserIn
    from cicatrix.service.users import add_user
    from cicatrix.storage.models import Appointment, Room
    from tests.today import NOW

    w: World = client.world
    made = w.new_plan("P1", approve=True)
    with w.database.transaction() as db:
        s = db.get(CourseSession, made["session_id"])
        assert s is not None
        doc = add_user(db, s.clinic_id, UserIn(username="doc-reasons@test", display_name="Dr R", role="clinician",
                                               password=PASSWORD))  # fmt: skip
        room = Room(clinic_id=s.clinic_id, name="Reasons room", active=True)
        db.add(room)
        db.flush()
        db.add(Appointment(clinic_id=s.clinic_id, patient_id=s.patient_id, session_id=s.id, practitioner_id=doc.id,
                           room_id=room.id, start=NOW + timedelta(days=30), end=NOW + timedelta(days=30, hours=1),
                           status="cancelled", override_reason="reason-marker-override",
                           cancel_reason="reason-marker-cancel", booked_by=doc.id, booked_at=NOW, version=1))  # fmt: skip
    url = f"/api/patients/{w.patients['P1']}/appointments"
    for role, sees in (("front_desk", True), ("clinician", True), ("patient", False)):
        r = client.get(url, headers=bearer(client, role))
        assert r.status_code == 200, (role, r.text)
        assert ("reason-marker-override" in r.text and "reason-marker-cancel" in r.text) is sees, role
        assert sees or "reason-marker" not in r.text, role
