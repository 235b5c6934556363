"""Authorisation matrix over EVERY route of the clinic API.

Each route of the service's routers must appear in `MATRIX` (a new route without an entry
fails); `VARIANTS` adds the calls of a route whose body changes what it does (the re-flow's
dry run). For each, every role is tried: the roles listed get 2xx, the others 401/403/404; on
patient-scoped routes a patient reading another patient's record and a clinician of another
clinic both get 404. Routes added by other modules (web pages, exports) must at least refuse
anonymous callers. What the allowed roles' responses contain is checked against the policy's
field table in `tests/api/test_role_views.py`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from cicatrix.service import calendar, patients
from cicatrix.service.schemas import PatientIn, UserIn
from tests.api.routes_util import walk
from tests.storage.world import ASSESSMENT, PASSWORD, World

SERVICE_MODULES = {
    f"cicatrix.api.routes.{m}"
    for m in ("auth", "patients", "care", "appointments", "aftercare", "admin", "exports", "messages")
}
ROLES = ("anon", "admin", "clinician", "front_desk", "patient")
ALL = {"admin", "clinician", "front_desk", "patient"}
STAFF = {"admin", "clinician", "front_desk"}
_n = itertools.count()


@dataclass
class Spec:
    allowed: set[str]
    build: Callable[[World, str], tuple[dict[str, Any], Any]]  # (path params, json body)
    scoped: bool = True  # belongs to one patient: cross-patient and cross-clinic get 404
    # roles that may call it but whose own state makes the answer a refusal, with that status
    # (an admin already has a second factor: starting another one is 409)
    expect: dict[str, int] = field(default_factory=dict)


def pid(w: World, who: str) -> dict[str, Any]:
    return {"patient_id": w.patients[who]}


def _plain(params: dict[str, Any], body: Any = None) -> tuple[dict[str, Any], Any]:
    return params, body


def _fresh_patient(w: World, who: str) -> dict[str, Any]:
    clin = "clinician_b" if who == "P3" else "clinician"
    with w.database.transaction() as db:
        p = patients.create(w.ctx(clin, db), PatientIn(name=f"Fresh {next(_n)}"))
    return {"patient_id": p.id}


def _patient_version(w: World, who: str) -> tuple[dict[str, Any], Any]:
    from cicatrix.storage.models import Patient

    with w.database.transaction() as db:
        p = db.get(Patient, w.patients[who])
        assert p is not None
        return pid(w, who), {"version": p.version, "phone": f"07400 1{next(_n) % 100_000:05d}"}


def _fresh_plan(approve: bool) -> Callable[[World, str], dict[str, Any]]:
    def make(w: World, who: str) -> dict[str, Any]:
        clin = "clinician_b" if who == "P3" else "clinician"
        return w.new_plan(who, approve=approve, who=clin)

    return make


def _edit(w: World, who: str) -> tuple[dict[str, Any], Any]:
    made = _fresh_plan(False)(w, who)
    body = {"version": made["version"], "reason": "start later", "start": "2026-12-01"}
    return {"plan_id": made["plan_id"]}, body


def _approve(w: World, who: str, dry_run: bool = False) -> tuple[dict[str, Any], Any]:
    made = _fresh_plan(False)(w, who)
    return {"plan_id": made["plan_id"]}, {"version": made["version"], "dry_run": dry_run}


def _withdraw(w: World, who: str) -> tuple[dict[str, Any], Any]:
    made = _fresh_plan(False)(w, who)
    return {"plan_id": made["plan_id"]}, {"version": made["version"], "reason": "patient declined"}


def _procedure(w: World, who: str) -> tuple[dict[str, Any], Any]:
    """A session given, and a procedure note for it."""
    from cicatrix.service import plans
    from cicatrix.service.schemas import SessionDoneIn

    made = _fresh_plan(True)(w, who)
    clin = "clinician_b" if who == "P3" else "clinician"
    with w.database.transaction() as db:
        done = plans.record_done(w.ctx(clin, db), made["session_id"], SessionDoneIn())
    body = {"session_version": done.version, "values": {"needle_depth_mm": 1.5, "treated_areas": ["cheeks"]}}
    return {"session_id": made["session_id"]}, body


def _done(w: World, who: str) -> tuple[dict[str, Any], Any]:
    made = _fresh_plan(True)(w, who)
    return {"session_id": made["session_id"]}, {}


def _missed(w: World, who: str, dry_run: bool = False) -> tuple[dict[str, Any], Any]:
    from cicatrix.storage.models import CourseSession

    made = _fresh_plan(True)(w, who)
    with w.database.transaction() as db:
        s = db.get(CourseSession, made["session_id"])
        assert s is not None
        new = (s.date + timedelta(days=4)).isoformat()
    return {"session_id": made["session_id"]}, {"new_date": new, "dry_run": dry_run}


def _fhir_patient(w: World, who: str) -> tuple[dict[str, Any], Any]:
    """A well-formed FHIR Patient with a new record number, so only the policy can refuse it."""
    from cicatrix.exports.fhir import EXT_PHOTOTYPE, PHOTOTYPE
    from cicatrix.exports.ids import PATIENT_ID_SYSTEM

    return {}, {
        "resourceType": "Patient",
        "identifier": [{"system": PATIENT_ID_SYSTEM, "value": f"IMPORT-{next(_n)}"}],
        "gender": "female",
        "birthDate": "1994-05-17",
        "extension": [
            {"url": EXT_PHOTOTYPE, "valueCodeableConcept": {"coding": [{"system": PHOTOTYPE, "code": "IV"}]}}
        ],
    }


def _fresh_user(w: World, who: str) -> tuple[dict[str, Any], Any]:
    """A user of clinic A of its own, so resetting its second factor ends no test's session."""
    from cicatrix.service.users import add_user

    with w.database.transaction() as db:
        u = add_user(db, w.clinic_a, UserIn(username=f"fresh{next(_n)}@test", display_name="F", role="clinician",
                                            password=PASSWORD))  # fmt: skip
        return {"user_id": u.id}, None


def _cal_token(w: World, who: str) -> tuple[dict[str, Any], Any]:
    clin = "clinician_b" if who == "P3" else "clinician"
    with w.database.transaction() as db:
        t = calendar.create(w.ctx(clin, db), w.patients[who])
    return {"patient_id": w.patients[who], "token_id": t.id}, None


def _new_room(w: World, who: str) -> int:
    from cicatrix.service import appointments
    from cicatrix.service.booking_schemas import RoomIn

    with w.database.transaction() as db:
        admin = "admin" if who != "P3" else None
        if admin is None:  # clinic B has no admin in the world: a room row directly
            from cicatrix.storage.models import Room

            r = Room(clinic_id=w.clinic_b, name=f"Room {next(_n)}", active=True)
            db.add(r)
            db.flush()
            return r.id
        return appointments.add_room(w.ctx(admin, db), RoomIn(name=f"Room {next(_n)}")).id


def _slots(w: World, who: str) -> tuple[dict[str, Any], Any]:
    _new_room(w, who)
    return {"session_id": _fresh_plan(True)(w, who)["session_id"]}, None


def _book(w: World, who: str, dry_run: bool = False) -> tuple[dict[str, Any], Any]:
    from cicatrix.service import appointments

    sid = _slots(w, who)[0]["session_id"]
    clin = "clinician_b" if who == "P3" else "clinician"
    with w.database.transaction() as db:
        slot = appointments.slots(w.ctx(clin, db), sid, limit=1).slots[0]
    body = {"start": slot.start.isoformat(), "practitioner_id": slot.practitioner_id, "room_id": slot.room_id}
    return {"session_id": sid}, {**body, "dry_run": dry_run}


def _appointment(status: str = "booked", hours_ago: int = 0) -> Callable[[World, str], tuple[dict[str, Any], Any]]:
    """An appointment of a fresh session, today, with its own practitioner and room (so none
    is ever taken); written directly, as a booking in the past cannot be made through the API."""

    def make(w: World, who: str) -> tuple[dict[str, Any], Any]:
        from sqlalchemy import update

        from cicatrix.service.schemas import UserIn
        from cicatrix.service.users import add_user
        from cicatrix.storage.models import APPOINTMENT_ACTIVE, Appointment, CourseSession
        from tests.today import NOW

        sid = _fresh_plan(True)(w, who)["session_id"]
        room = _new_room(w, who)
        with w.database.transaction() as db:
            s = db.get(CourseSession, sid)
            assert s is not None
            # a new approval keeps a booked session's row (and its appointment): start afresh
            db.execute(
                update(Appointment)
                .where(Appointment.session_id == sid, Appointment.status.in_(APPOINTMENT_ACTIVE))
                .values(status="cancelled")
            )
            u = add_user(db, s.clinic_id, UserIn(username=f"doc{next(_n)}@test", display_name="Dr",
                                                  role="clinician", password=PASSWORD))  # fmt: skip
            start = NOW + timedelta(hours=1 - hours_ago)
            a = Appointment(clinic_id=s.clinic_id, patient_id=s.patient_id, session_id=sid, practitioner_id=u.id,
                            room_id=room, start=start, end=start + timedelta(minutes=60), status=status,
                            previous_status="booked" if status != "booked" else None,
                            status_at=NOW if status != "booked" else None,
                            booked_by=u.id, booked_at=NOW, version=1)  # fmt: skip
            db.add(a)
            db.flush()
            return {"appointment_id": a.id}, {}

    return make


def _done_today(w: World, who: str) -> tuple[dict[str, Any], Any]:
    """A session of a fresh approved plan, recorded done today (so it can be undone)."""
    from cicatrix.service import plans
    from cicatrix.service.schemas import SessionDoneIn

    params, _ = _done(w, who)
    clin = "clinician_b" if who == "P3" else "clinician"
    with w.database.transaction() as db:
        plans.record_done(w.ctx(clin, db), params["session_id"], SessionDoneIn())
    return params, {}


def _with(body: dict[str, Any], build: Callable[[World, str], tuple[dict[str, Any], Any]]) -> Callable[..., Any]:
    return lambda w, p: (build(w, p)[0], body)


BOOKERS = {"clinician", "front_desk"}
CALENDAR_BODY = {"hours": [{"weekday": d, "opens": "09:00", "closes": "17:00"} for d in range(5)], "country": "GB"}



def _check_in(w: World, who: str) -> tuple[dict[str, Any], Any]:
    made = w.check_in(who)
    return {"check_in_id": made["check_in_id"]}, {"version": made["version"]}


def _new_event(w: World, who: str) -> tuple[dict[str, Any], Any]:
    made = w.new_plan(who, approve=True, who="clinician_b" if who == "P3" else "clinician")
    body = {"kind": "cold_sore", "severity": "moderate", "outcome": "ongoing", "onset": "2026-11-23"}
    return {"session_id": made["session_id"]}, body


def _event(w: World, who: str) -> tuple[dict[str, Any], Any]:
    made = w.adverse_event(who)
    return {"event_id": made["event_id"]}, {"version": made["version"], "outcome": "resolved"}


MATRIX: dict[tuple[str, str], Spec | None] = {
    # public: checked in their own tests
    ("GET", "/api/health"): None,
    ("POST", "/api/auth/token"): None,
    ("POST", "/api/auth/login"): None,
    ("POST", "/api/auth/logout"): None,
    ("GET", "/api/auth/me"): Spec(ALL, lambda w, p: _plain({}), scoped=False),
    # the caller's own account (the same password again: the change itself is tested in
    # tests/api/test_second_factor.py and tests/api/test_accounts.py)
    ("POST", "/api/auth/password"): Spec(
        ALL, lambda w, p: _plain({}, {"current_password": PASSWORD, "new_password": PASSWORD}), False
    ),
    ("GET", "/api/auth/second-factor"): Spec(STAFF, lambda w, p: _plain({}), False),
    ("POST", "/api/auth/second-factor"): Spec(STAFF, lambda w, p: _plain({}), False, expect={"admin": 409}),
    # needs the code of a secret just issued to the caller: tests/api/test_second_factor.py
    ("POST", "/api/auth/second-factor/confirm"): None,
    ("POST", "/api/auth/second-factor/recovery-codes"): Spec(
        STAFF, lambda w, p: _plain({}), False, expect={"clinician": 409, "front_desk": 409}
    ),
    ("DELETE", "/api/users/{user_id}/second-factor"): Spec({"admin"}, _fresh_user, False),
    ("GET", "/api/patients"): Spec({"clinician", "front_desk"}, lambda w, p: _plain({}), False),
    ("POST", "/api/patients"): Spec(
        {"clinician", "front_desk"}, lambda w, p: _plain({}, {"name": "New Person"}), False
    ),
    ("GET", "/api/patients/{patient_id}"): Spec({"clinician", "front_desk", "patient"}, lambda w, p: _plain(pid(w, p))),
    ("PATCH", "/api/patients/{patient_id}"): Spec({"clinician", "front_desk"}, _patient_version),
    ("POST", "/api/patients/{patient_id}/archive"): Spec(
        {"clinician", "front_desk"}, lambda w, p: _plain(_fresh_patient(w, p))
    ),
    ("POST", "/api/patients/{patient_id}/unarchive"): Spec(
        {"clinician", "front_desk"}, lambda w, p: _plain(_fresh_patient(w, p))
    ),
    ("GET", "/api/patients/{patient_id}/assessments"): Spec({"clinician", "patient"}, lambda w, p: _plain(pid(w, p))),
    ("POST", "/api/patients/{patient_id}/assessments"): Spec(
        {"clinician"},
        lambda w, p: _plain(pid(w, p), {"assessment": ASSESSMENT, "generate_plan": False}),
    ),
    ("GET", "/api/assessments/{assessment_id}"): Spec(
        {"clinician", "patient"}, lambda w, p: _plain({"assessment_id": w.assessments[p]})
    ),
    ("POST", "/api/assessments/{assessment_id}/plans"): Spec(
        {"clinician"}, lambda w, p: _plain({"assessment_id": w.assessments[p]}, {})
    ),
    ("GET", "/api/patients/{patient_id}/plan"): Spec({"clinician", "patient"}, lambda w, p: _plain(pid(w, p))),
    ("GET", "/api/patients/{patient_id}/plans"): Spec({"clinician", "patient"}, lambda w, p: _plain(pid(w, p))),
    ("GET", "/api/plans/{plan_id}"): Spec({"clinician", "patient"}, lambda w, p: _plain({"plan_id": w.plans[p]})),
    ("PATCH", "/api/plans/{plan_id}"): Spec({"clinician"}, _edit),
    ("POST", "/api/plans/{plan_id}/approve"): Spec({"clinician"}, _approve),
    ("GET", "/api/plans/{plan_id}/change"): Spec({"clinician"}, lambda w, p: (_approve(w, p)[0], None)),
    ("POST", "/api/plans/{plan_id}/withdraw"): Spec({"clinician"}, _withdraw),
    # the procedure note is clinical: front desk records sessions but never writes or sees notes
    ("PUT", "/api/sessions/{session_id}/procedure"): Spec({"clinician"}, _procedure),
    ("GET", "/api/patients/{patient_id}/sessions"): Spec(
        {"clinician", "front_desk", "patient"}, lambda w, p: _plain(pid(w, p))
    ),
    ("POST", "/api/sessions/{session_id}/done"): Spec({"clinician", "front_desk"}, _done),
    ("POST", "/api/sessions/{session_id}/missed"): Spec({"clinician", "front_desk"}, _missed),
    ("GET", "/api/patients/{patient_id}/today"): Spec({"clinician", "patient"}, lambda w, p: _plain(pid(w, p))),
    ("GET", "/api/patients/{patient_id}/outcomes"): Spec({"clinician", "patient"}, lambda w, p: _plain(pid(w, p))),
    ("POST", "/api/patients/{patient_id}/outcomes"): Spec(
        {"clinician"},
        lambda w, p: _plain(pid(w, p), {"date": "2026-11-22", "measure": "patient_global", "value": 1}),
    ),
    ("GET", "/api/patients/{patient_id}/calendar-tokens"): Spec(
        {"clinician", "front_desk", "patient"}, lambda w, p: _plain(pid(w, p))
    ),
    # a link serves the patient's view: only the roles that read it create one (issue 12 §1.3)
    ("POST", "/api/patients/{patient_id}/calendar-tokens"): Spec(
        {"clinician", "patient"}, lambda w, p: _plain(pid(w, p))
    ),
    ("DELETE", "/api/patients/{patient_id}/calendar-tokens/{token_id}"): Spec(
        {"clinician", "front_desk", "patient"}, _cal_token
    ),
    # messages: what was sent and the patient's choices (issue 15 §4)
    ("GET", "/api/patients/{patient_id}/messages"): Spec(
        {"clinician", "front_desk", "patient"}, lambda w, p: _plain(pid(w, p))
    ),
    ("GET", "/api/patients/{patient_id}/message-choices"): Spec(
        {"clinician", "front_desk", "patient"}, lambda w, p: _plain(pid(w, p))
    ),
    ("PUT", "/api/patients/{patient_id}/message-choices"): Spec(
        {"clinician", "front_desk", "patient"},
        lambda w, p: _plain(pid(w, p), {"channels": [], "quiet_start": "21:00", "quiet_end": "08:00"}),
    ),
    ("GET", "/api/messages"): Spec({"clinician", "front_desk"}, lambda w, p: _plain({}), False),
    # check-ins are symptoms (clinical); adverse events the clinicians' record (issue 15 §3)
    ("GET", "/api/patients/{patient_id}/check-ins"): Spec({"clinician", "patient"}, lambda w, p: _plain(pid(w, p))),
    ("POST", "/api/check-ins/{check_in_id}/acknowledge"): Spec({"clinician"}, _check_in),
    ("GET", "/api/patients/{patient_id}/adverse-events"): Spec({"clinician"}, lambda w, p: _plain(pid(w, p))),
    ("POST", "/api/sessions/{session_id}/adverse-events"): Spec({"clinician"}, _new_event),
    ("GET", "/api/adverse-events/{event_id}"): Spec({"clinician"}, lambda w, p: _plain(_event(w, p)[0])),
    ("PATCH", "/api/adverse-events/{event_id}"): Spec({"clinician"}, _event),
    ("GET", "/api/users"): Spec({"admin"}, lambda w, p: _plain({}), False),
    ("POST", "/api/users"): Spec(
        {"admin"},
        lambda w, p: _plain(
            {}, {"username": f"new{next(_n)}@test", "display_name": "N", "role": "clinician", "password": PASSWORD}
        ),
        False,
    ),
    ("PATCH", "/api/users/{user_id}"): Spec(
        {"admin"},
        lambda w, p: _plain({"user_id": w.users["front_desk"]}, {"display_name": "F"}),
        False,
    ),
    ("GET", "/api/clinic"): Spec(ALL, lambda w, p: _plain({}), False),
    ("PATCH", "/api/clinic"): Spec({"admin"}, lambda w, p: _plain({}, {"name": "Clinic A2"}), False),
    ("GET", "/api/audit"): Spec({"admin"}, lambda w, p: _plain({}), False),
    # exports
    ("GET", "/api/patients/{patient_id}/fhir"): Spec({"clinician", "patient"}, lambda w, p: _plain(pid(w, p))),
    ("POST", "/api/patients/import/fhir"): Spec({"clinician"}, _fhir_patient, False),
    ("GET", "/api/patients/{patient_id}/calendar.ics"): Spec({"clinician", "patient"}, lambda w, p: _plain(pid(w, p))),
    ("GET", "/api/calendar/{token}.ics"): None,  # authorised by its secret: tests/exports/test_api.py
    ("GET", "/api/patients/{patient_id}/handout.pdf"): Spec({"clinician", "patient"}, lambda w, p: _plain(pid(w, p))),
    ("GET", "/api/exports/outcomes.csv"): Spec({"admin", "clinician"}, lambda w, p: _plain({}), False),
}


# After the others: these make fresh approved plans of P1, which supersede the world's.
APPOINTMENTS: dict[tuple[str, str], Spec | None] = {
    # appointments (issue 14): the front desk's work, nothing clinical
    ("GET", "/api/sessions/{session_id}/slots"): Spec(BOOKERS, _slots),
    ("POST", "/api/sessions/{session_id}/appointment"): Spec(BOOKERS, _book),
    ("GET", "/api/appointments/{appointment_id}"): Spec(
        {"clinician", "front_desk", "patient"}, lambda w, p: (_appointment()(w, p)[0], None)
    ),
    ("POST", "/api/appointments/{appointment_id}/cancel"): Spec(
        BOOKERS, _with({"reason": "patient unwell"}, _appointment())
    ),
    ("POST", "/api/appointments/{appointment_id}/arrived"): Spec(BOOKERS, _appointment()),
    ("POST", "/api/appointments/{appointment_id}/no-show"): Spec(BOOKERS, _appointment(hours_ago=2)),
    ("POST", "/api/appointments/{appointment_id}/undo"): Spec(BOOKERS, _appointment("arrived")),
    ("POST", "/api/sessions/{session_id}/undo"): Spec(BOOKERS, _done_today),
    ("GET", "/api/patients/{patient_id}/appointments"): Spec(
        {"clinician", "front_desk", "patient"}, lambda w, p: _plain(pid(w, p))
    ),
    ("GET", "/api/calendar"): Spec(BOOKERS, lambda w, p: _plain({}), False),
    ("GET", "/api/practitioners"): Spec(BOOKERS, lambda w, p: _plain({}), False),
    ("GET", "/api/rooms"): Spec(BOOKERS | {"admin"}, lambda w, p: _plain({}), False),
    ("POST", "/api/rooms"): Spec({"admin"}, lambda w, p: _plain({}, {"name": f"Room {next(_n)}"}), False),
    ("PUT", "/api/rooms/{room_id}"): Spec(
        {"admin"}, lambda w, p: _plain({"room_id": _new_room(w, p)}, {"name": f"Room {next(_n)}"}), False
    ),
    ("GET", "/api/clinic/calendar"): Spec({"admin"}, lambda w, p: _plain({}), False),
    ("PUT", "/api/clinic/calendar"): Spec({"admin"}, lambda w, p: _plain({}, CALENDAR_BODY), False),
}
MATRIX.update(APPOINTMENTS)


# Calls of a route in MATRIX whose body changes what it does, by label: (method, path, spec).
VARIANTS: dict[str, tuple[str, str, Spec]] = {
    # front desk may preview a re-flow, and gets the moved dates only (issue 12 §1.2)
    "missed, dry run": (
        "POST",
        "/api/sessions/{session_id}/missed",
        Spec({"clinician", "front_desk"}, lambda w, p: _missed(w, p, dry_run=True)),
    ),
    "book, dry run": (
        "POST",
        "/api/sessions/{session_id}/appointment",
        Spec(BOOKERS, lambda w, p: _book(w, p, dry_run=True)),
    ),
    "approve, dry run": (
        "POST",
        "/api/plans/{plan_id}/approve",
        Spec({"clinician"}, lambda w, p: _approve(w, p, dry_run=True)),
    ),
    "done, with a note": (
        "POST",
        "/api/sessions/{session_id}/done",
        Spec({"clinician", "front_desk"}, lambda w, p: (_done(w, p)[0], {"note": "left early"})),
    ),
}


def _calls() -> list[tuple[str, str, Spec | None]]:
    return [(m, p, s) for (m, p), s in MATRIX.items()] + list(VARIANTS.values())


def _call(client, method: str, path: str, params: dict[str, Any], body: Any, role: str | None):  # type: ignore[no-untyped-def]
    url = path.format(**params)
    headers = {} if role is None else {"Authorization": f"Bearer {client.world.tokens[role]}"}
    return client.request(method, url, json=body, headers=headers)


def test_matrix_covers_every_service_route(client) -> None:  # type: ignore[no-untyped-def]
    routes = {(m, p) for m, p, mod in walk(client.app.routes) if mod in SERVICE_MODULES}
    assert routes == set(MATRIX), (
        f"routes without an authorisation entry: {sorted(routes - set(MATRIX))}; "
        f"entries without a route: {sorted(set(MATRIX) - routes)}"
    )


def test_every_role_gets_only_what_it_may(client) -> None:  # type: ignore[no-untyped-def]
    w: World = client.world
    failures: list[str] = []
    for method, path, spec in _calls():
        if spec is None:
            continue
        for role in ROLES:
            params, body = spec.build(w, "P1")
            r = _call(client, method, path, params, body, None if role == "anon" else role)
            ok = role in spec.allowed
            if role in spec.expect:
                if r.status_code != spec.expect[role]:
                    failures.append(f"{role} {method} {path}: expected {spec.expect[role]}, got {r.status_code}")
            elif ok and not 200 <= r.status_code < 300:
                failures.append(f"{role} {method} {path}: expected 2xx, got {r.status_code} {r.text[:200]}")
            if not ok and r.status_code not in (401, 403, 404):
                failures.append(f"{role} {method} {path}: expected 401/403/404, got {r.status_code}")
            if not ok and "Patient P1" in r.text:
                failures.append(f"{role} {method} {path}: leaked a name in a refusal")
            if r.status_code >= 400:
                assert "field" in r.json() and "message" in r.json()
            if ok and method == "GET" and r.headers["content-type"].startswith("application/json"):
                r.json()  # a body that parses
    assert not failures, "\n".join(failures)


def test_no_one_reaches_another_patients_or_clinics_data(client) -> None:  # type: ignore[no-untyped-def]
    """Patient P2 on P1's records, and clinic B's clinician on clinic A's: always 404."""
    w: World = client.world
    failures: list[str] = []
    for method, path, spec in _calls():
        if spec is None or not spec.scoped:
            continue
        for role in ("patient2", "clinician_b"):
            params, body = spec.build(w, "P1")
            r = _call(client, method, path, params, body, role)
            expected = {403, 404} if role == "patient2" and "patient" not in spec.allowed else {404}
            if r.status_code not in expected:
                failures.append(f"{role} {method} {path}: expected {expected}, got {r.status_code}")
            if "Patient P1" in r.text or "MRN-P1" in r.text or "private note" in r.text:
                failures.append(f"{role} {method} {path}: leaked P1's data")
    assert not failures, "\n".join(failures)


def test_patient_gets_own_record_but_front_desk_gets_no_clinical_notes(client) -> None:  # type: ignore[no-untyped-def]
    w: World = client.world
    own = _call(client, "GET", "/api/patients/{patient_id}", pid(w, "P1"), None, "patient")
    # the clinical block, without the clinicians' notes (issue 12 §1.4)
    assert own.status_code == 200 and own.json()["clinical"]["phototype"] == "III"
    assert own.json()["clinical"]["notes"] is None and "private note" not in own.text
    fd = _call(client, "GET", "/api/patients/{patient_id}", pid(w, "P1"), None, "front_desk")
    assert fd.status_code == 200 and fd.json()["clinical"] is None
    assert "private note" not in fd.text
    listing = _call(client, "GET", "/api/patients", {}, None, "front_desk")
    assert "private note" not in listing.text
    sched = _call(client, "GET", "/api/patients/{patient_id}/sessions", pid(w, "P1"), None,
                  "front_desk")  # fmt: skip
    assert sched.status_code == 200 and sched.json()["sessions"]
    assert "timeline" not in sched.text and "private note" not in sched.text


def test_patient_sees_no_unapproved_plan(client) -> None:  # type: ignore[no-untyped-def]
    w: World = client.world
    made = w.new_plan("P1")
    r = _call(client, "GET", "/api/plans/{plan_id}", {"plan_id": made["plan_id"]}, None, "patient")
    assert r.status_code == 404
    cur = _call(client, "GET", "/api/patients/{patient_id}/plan", pid(w, "P1"), None, "patient")
    assert cur.json()["id"] == w.plans["P1"]


def test_routes_of_other_modules_refuse_anonymous_callers(client) -> None:  # type: ignore[no-untyped-def]
    """Web pages and exports: without a login nothing but a refusal or a redirect to log in."""
    public_suffixes = ("/login", "/favicon.ico", "/openapi.json", "/docs", "/oauth2-redirect", "/health")
    failures = []
    for method, path, module in walk(client.app.routes):
        if module in SERVICE_MODULES or path.endswith(public_suffixes):
            continue
        url = path
        for name in ("patient_id", "plan_id", "session_id", "assessment_id", "user_id"):
            url = url.replace("{" + name + "}", str(client.world.patients["P1"]))
        url = url.replace("{token}", "not-a-real-token").replace("{path:path}", "x")
        for part in [p for p in url.split("/") if p.startswith("{")]:
            url = url.replace(part, "1")
        r = client.request(method, url, follow_redirects=False)
        if 200 <= r.status_code < 300:
            failures.append(f"{method} {path} ({module}) answered {r.status_code} without a login")
        if "Patient P1" in r.text:
            failures.append(f"{method} {path} ({module}) leaked a name without a login")
    assert not failures, "\n".join(failures)


def test_today_is_for_any_date(client) -> None:  # type: ignore[no-untyped-def]
    w: World = client.world
    day = date(2026, 11, 24)
    r = client.get(f"/api/patients/{w.patients['P1']}/today", params={"date": day.isoformat(), "days": 2},
                   headers={"Authorization": f"Bearer {w.tokens['patient']}"})  # fmt: skip
    assert r.status_code == 200
    assert [d["date"] for d in r.json()["days"]] == ["2026-11-24", "2026-11-25"]


def test_fhir_import_is_for_clinicians_and_screens_the_plan(client) -> None:  # type: ignore[no-untyped-def]
    """The import attack (issue 10 §1.10): a Bundle whose CarePlan says `active` schedules
    micro-needling for a patient with a keloid history. Front desk, patients and admins may not
    import at all (a bare Patient neither); a clinician's import is refused without an override."""
    from sqlalchemy import func, select

    from cicatrix.storage.models import Patient, Plan
    from tests.service.records import KELOID, bundle_for

    w: World = client.world
    url = "/api/patients/import/fhir"
    unsafe = bundle_for(w.kb, "EXT-ATTACK", KELOID)
    bare = next(e["resource"] for e in unsafe["entry"] if e["resource"]["resourceType"] == "Patient")

    def counts() -> tuple[int, int]:
        with w.database.session() as db:
            n_patients = db.scalar(select(func.count()).select_from(Patient)) or 0
            return n_patients, db.scalar(select(func.count()).select_from(Plan)) or 0

    before = counts()
    for role in ("anon", "front_desk", "patient", "admin"):
        headers = {} if role == "anon" else {"Authorization": f"Bearer {w.tokens[role]}"}
        for body in (unsafe, bare):
            r = client.post(url, json=body, headers=headers)
            assert r.status_code in (401, 403), (role, r.status_code, r.text)
    r = client.post(url, json=unsafe, headers={"Authorization": f"Bearer {w.tokens['clinician']}"})
    assert r.status_code == 422 and r.json()["treatment"] == "microneedling"
    assert counts() == before
