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
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from cicatrix.service import calendar, patients
from cicatrix.service.schemas import PatientIn
from tests.api.routes_util import walk
from tests.storage.world import ASSESSMENT, PASSWORD, World

SERVICE_MODULES = {
    f"cicatrix.api.routes.{m}" for m in ("auth", "patients", "care", "aftercare", "admin", "exports")
}
ROLES = ("anon", "admin", "clinician", "front_desk", "patient")
ALL = {"admin", "clinician", "front_desk", "patient"}
_n = itertools.count()


@dataclass
class Spec:
    allowed: set[str]
    build: Callable[[World, str], tuple[dict[str, Any], Any]]  # (path params, json body)
    scoped: bool = True  # belongs to one patient: cross-patient and cross-clinic get 404


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
        return pid(w, who), {"version": p.version, "phone": f"0{next(_n)}"}


def _fresh_plan(approve: bool) -> Callable[[World, str], dict[str, Any]]:
    def make(w: World, who: str) -> dict[str, Any]:
        clin = "clinician_b" if who == "P3" else "clinician"
        return w.new_plan(who, approve=approve, who=clin)

    return make


def _edit(w: World, who: str) -> tuple[dict[str, Any], Any]:
    made = _fresh_plan(False)(w, who)
    body = {"version": made["version"], "reason": "start later", "start": "2026-12-01"}
    return {"plan_id": made["plan_id"]}, body


def _approve(w: World, who: str) -> tuple[dict[str, Any], Any]:
    made = _fresh_plan(False)(w, who)
    return {"plan_id": made["plan_id"]}, {"version": made["version"]}


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
        "extension": [{"url": EXT_PHOTOTYPE, "valueCodeableConcept": {"coding": [{"system": PHOTOTYPE, "code": "IV"}]}}],
    }


def _cal_token(w: World, who: str) -> tuple[dict[str, Any], Any]:
    clin = "clinician_b" if who == "P3" else "clinician"
    with w.database.transaction() as db:
        t = calendar.create(w.ctx(clin, db), w.patients[who])
    return {"patient_id": w.patients[who], "token_id": t.id}, None


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
    ("GET", "/api/patients/{patient_id}/handout.pdf"): Spec(
        {"clinician", "patient"}, lambda w, p: _plain(pid(w, p))
    ),
    ("GET", "/api/exports/outcomes.csv"): Spec({"admin", "clinician"}, lambda w, p: _plain({}), False),
}


# Calls of a route in MATRIX whose body changes what it does, by label: (method, path, spec).
VARIANTS: dict[str, tuple[str, str, Spec]] = {
    # front desk may preview a re-flow, and gets the moved dates only (issue 12 §1.2)
    "missed, dry run": (
        "POST",
        "/api/sessions/{session_id}/missed",
        Spec({"clinician", "front_desk"}, lambda w, p: _missed(w, p, dry_run=True)),
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
            if ok and not 200 <= r.status_code < 300:
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
