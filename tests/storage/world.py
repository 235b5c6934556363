"""A small populated clinic for service and API tests.

Clinic A: admin, clinician, front desk, patients P1 and P2 (each with a login, an assessment
and an approved plan). Clinic B: a clinician and patient P3. Everything is built through the
service layer so the tests exercise the real code paths.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy.orm import Session

from cicatrix.knowledge.models import KnowledgeBase
from cicatrix.service import auth, patients, plans
from cicatrix.service.context import Actor, Context
from cicatrix.service.schemas import AssessmentIn, PatientClinical, PatientIn, UserIn
from cicatrix.service.users import add_user, create_clinic
from cicatrix.storage.db import Database
from cicatrix.storage.settings import Settings
from tests.today import NOW, TODAY

PASSWORD = "correct horse battery"

ASSESSMENT: dict[str, Any] = {
    "date": "2026-11-20",
    "goodman_baron_qualitative": 3,
    "scars": [
        {"type": "rolling", "count": 8, "depth": "shallow"},
        {"type": "boxcar_shallow", "count": 6},
    ],
    "marks": [{"type": "pih", "count": 4}],
    "active_lesions": [],
}
PREFS: dict[str, Any] = {"start": "2026-11-23", "treatments": ["microneedling"]}


@dataclass
class World:
    database: Database
    kb: KnowledgeBase
    clinic_a: int = 0
    clinic_b: int = 0
    users: dict[str, int] = field(default_factory=dict)  # role name -> user id
    actors: dict[str, Actor] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)  # role name -> bearer token
    patients: dict[str, int] = field(default_factory=dict)  # P1, P2, P3 -> id
    plans: dict[str, int] = field(default_factory=dict)  # P1 -> approved plan id
    assessments: dict[str, int] = field(default_factory=dict)
    totp: dict[str, str] = field(default_factory=dict)  # role name -> TOTP secret (the admin enrols)

    def ctx(self, who: str, db: Session) -> Context:
        return Context(db=db, actor=self.actors[who], kb=self.kb, ip="127.0.0.1", today=TODAY, now=NOW)

    def new_plan(self, patient: str = "P1", approve: bool = False,
                 keloid: bool = False, who: str = "clinician") -> dict[str, Any]:  # fmt: skip
        """A fresh assessment and plan for a patient (ids returned), for tests that mutate."""
        return self.database.run_sync(lambda db: self._new_plan(db, patient, approve, keloid, who))

    def check_in(
        self, patient: str = "P1", answer: str = "worse_than_expected", signs: tuple[str, ...] = (),
        note: str | None = None, day: int = 1,
    ) -> dict[str, Any]:  # fmt: skip
        """A patient's check-in answer through the signed link (`checkins.checkin_url`), on the
        first session of a fresh approved plan, at the suite's pinned instant."""
        from cicatrix.service import checkins
        from cicatrix.service.schemas import CheckInAnswerIn
        from tests.today import NOW

        made = self.new_plan(patient, approve=True, who="clinician_b" if patient == "P3" else "clinician")
        secret = self.database.settings.resolved_secret()
        token = checkins.checkin_url("https://clinic.test", secret, made["session_id"], day, NOW).rsplit("/", 1)[1]
        body = CheckInAnswerIn(answer=answer, signs=list(signs), note=note)

        def work(db: Session) -> dict[str, Any]:
            checkins.answer(db, self.kb, secret, token, body, NOW, "127.0.0.1")
            (row,) = checkins.for_patient(self.ctx("clinician_b" if patient == "P3" else "clinician", db),
                                          self.patients[patient])[:1]  # fmt: skip
            return {"check_in_id": row.id, "version": row.version, "session_id": made["session_id"],
                    "token": token, "plan_id": made["plan_id"]}  # fmt: skip

        return self.database.run_sync(work)

    def adverse_event(self, patient: str = "P1", **fields: Any) -> dict[str, Any]:
        """An adverse event recorded by the patient's clinician on a fresh approved plan's first session."""
        from cicatrix.service import adverse_events
        from cicatrix.service.schemas import AdverseEventIn

        who = "clinician_b" if patient == "P3" else "clinician"
        made = self.new_plan(patient, approve=True, who=who)
        body = AdverseEventIn(**{"kind": "pih", "severity": "mild", "outcome": "resolving",
                                 "onset": TODAY, "note": "ae-note-marker", **fields})  # fmt: skip
        e = self.database.run_sync(lambda db: adverse_events.create(self.ctx(who, db), made["session_id"], body))
        return {"event_id": e.id, "version": e.version, "session_id": made["session_id"]}

    def _new_plan(self, db: Session, patient: str, approve: bool, keloid: bool, who: str) -> dict[str, Any]:
        if True:
            ctx = self.ctx(who, db)
            body = AssessmentIn(
                assessment=ASSESSMENT, preferences=PREFS,
                patient={"history": ["keloid"]} if keloid else None,
            )  # fmt: skip
            made = plans.assess(ctx, self.patients[patient], body)
            assert made.plan is not None
            plan = made.plan
            if approve:
                plan = plans.approve(ctx, plan.id, plan.version)
            return {"assessment_id": made.assessment.id, "plan_id": plan.id,
                    "version": plan.version,
                    "session_id": plan.sessions[0].id if plan.sessions else None}  # fmt: skip


def build_world(settings: Settings, kb: KnowledgeBase) -> World:
    from cicatrix.storage import migrate

    migrate.upgrade(settings)
    database = Database(settings)
    w = World(database=database, kb=kb)
    with database.session() as db:
        a = create_clinic(db, "Clinic A", "Europe/London")
        b = create_clinic(db, "Clinic B", "UTC")
        w.clinic_a, w.clinic_b = a.id, b.id
        for role, clinic in (("admin", a), ("clinician", a), ("front_desk", a), ("clinician_b", b)):
            u = add_user(db, clinic.id, UserIn(username=f"{role}@test", display_name=role,
                                               role=role.removesuffix("_b"), password=PASSWORD))  # type: ignore[arg-type]  # fmt: skip
            w.users[role] = u.id
            w.actors[role] = Actor(user_id=u.id, clinic_id=clinic.id, role=u.role)
        db.commit()
        for name, clinician in (("P1", "clinician"), ("P2", "clinician"), ("P3", "clinician_b")):
            ctx = w.ctx(clinician, db)
            p = patients.create(
                ctx,
                PatientIn(
                    name=f"Patient {name}",
                    mrn=f"MRN-{name}",
                    birth_date=date(1990, 1, 2),
                    sex="female",
                    clinical=PatientClinical(phototype="III", notes="private note"),
                ),
            )
            w.patients[name] = p.id
            made = plans.assess(ctx, p.id, AssessmentIn(assessment=ASSESSMENT, preferences=PREFS))
            assert made.plan is not None
            plans.approve(ctx, made.plan.id, made.plan.version)
            w.plans[name] = made.plan.id
            w.assessments[name] = made.assessment.id
            u = add_user(db, ctx.actor.clinic_id, UserIn(
                username=f"{name.lower()}@test", display_name=name, role="patient",
                password=PASSWORD, patient_id=p.id))  # fmt: skip
            db.commit()
            role = {"P1": "patient", "P2": "patient2", "P3": "patient_b"}[name]
            w.users[role] = u.id
            w.actors[role] = Actor(user_id=u.id, clinic_id=u.clinic_id, role="patient",
                                   patient_id=p.id)  # fmt: skip
        from sqlalchemy import select

        from cicatrix.storage.models import User

        # Admins must have a second factor (issue 12 §3): the world's admin enrols, as the
        # service does it, and its token records a login with the factor.
        w.totp["admin"] = enrol(db, w.ctx("admin", db), settings.resolved_secret())
        db.commit()
        for role, uid in w.users.items():
            user = db.scalar(select(User).where(User.id == uid))
            assert user is not None
            raw, _ = auth.issue_token(db, user, "bearer", 3600, "127.0.0.1", second_factor=role in w.totp)
            w.tokens[role] = raw
        db.commit()
    return w


def enrol(db: Session, ctx: Context, key: str) -> str:
    """Set up the acting account's second factor through the service; returns its secret."""
    import pyotp

    from cicatrix.service import second_factor
    from tests.today import NOW

    made = second_factor.start(ctx, key)
    now = NOW - timedelta(minutes=10)  # the app's clock in tests is NOW: its codes are fresh
    second_factor.confirm(ctx, key, pyotp.TOTP(made.secret).at(now), now)
    return made.secret
