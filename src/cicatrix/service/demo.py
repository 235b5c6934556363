"""A demo clinic so a newcomer sees a working system in one command (`cicatrix serve --demo`).

Patients come from the bundled example cases, with dates moved so today falls inside
their course: the patient's "Today" page then has something to show.
"""

from __future__ import annotations

import copy
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cicatrix.examples import example_cases
from cicatrix.knowledge.models import KnowledgeBase
from cicatrix.service import patients, plans
from cicatrix.service.context import Actor, Context
from cicatrix.service.schemas import AssessmentIn, PatientClinical, PatientIn, UserIn
from cicatrix.service.users import add_user, create_clinic
from cicatrix.storage.models import Clinic, Patient, Room

DEMO_CLINIC = "cicatrix demo clinic"
DEMO_PASSWORD = "cicatrix-demo"
DEMO_TIMEZONE = "Europe/London"
DEMO_ACCOUNTS = (
    ("admin", "admin", "Demo Admin"),
    ("clinician", "clinician", "Dr Demo Clinician"),
    ("frontdesk", "front_desk", "Demo Front Desk"),
)
PATIENT_ACCOUNT = "patient"


def _name(case_id: str) -> str:
    return case_id.removeprefix("example-").replace("-", " ").title() + " (demo)"


def seed(db: Session, kb: KnowledgeBase, today: date) -> list[tuple[str, str, str]]:
    """Create the demo clinic once; returns (username, password, role) for every demo account.
    One unit of work (`Database.run_sync(lambda db: seed(db, kb, today))`): all or nothing."""
    accounts = [(u, DEMO_PASSWORD, r) for u, r, _ in DEMO_ACCOUNTS] + [(PATIENT_ACCOUNT, DEMO_PASSWORD, "patient")]
    if db.scalar(select(Clinic).where(Clinic.name == DEMO_CLINIC)) is not None:
        return accounts
    clinic = create_clinic(db, DEMO_CLINIC, DEMO_TIMEZONE)
    made = {}
    for username, role, display in DEMO_ACCOUNTS:
        made[role] = add_user(
            db,
            clinic.id,
            UserIn(username=username, display_name=display, role=role, password=DEMO_PASSWORD),  # type: ignore[arg-type]
        )
    clin = made["clinician"]
    for room in ("Treatment room 1", "Laser room"):  # bookings need rooms (admins add their own)
        db.add(Room(clinic_id=clinic.id, name=room, active=True))
    ctx = Context(
        db=db,
        actor=Actor(user_id=clin.id, clinic_id=clinic.id, role="clinician"),
        kb=kb,
        ip="127.0.0.1",
        today=today,
    )
    first_patient: int | None = None
    for i, (_example, case) in enumerate(example_cases()):
        pat_json: dict[str, Any] = case["patient"]
        clinical = PatientClinical.model_validate(
            {k: v for k, v in pat_json.items() if k in PatientClinical.model_fields and k != "notes"}
        )
        if clinical.isotretinoin_last_dose and clinical.isotretinoin_last_dose > today:
            clinical = clinical.model_copy(update={"isotretinoin_last_dose": today - timedelta(days=60)})
        p = patients.create(
            ctx,
            PatientIn(
                name=_name(pat_json.get("id") or f"patient {i + 1}"),
                mrn=f"DEMO-{i + 1:04d}",
                birth_date=pat_json.get("birth_date"),
                sex=pat_json.get("sex"),
                # a reserved domain: the demo's messages land in the development folder (or, with
                # SMTP configured, nowhere real)
                email=f"demo-patient-{i + 1}@example.com",
                clinical=clinical,
            ),
        )
        first_patient = first_patient or p.id
        assessment = copy.deepcopy(case["assessment"])
        assessment["date"] = (today - timedelta(days=10 + i)).isoformat()
        prefs = dict(case.get("preferences") or {})
        prefs["start"] = (today - timedelta(days=3)).isoformat()
        created = plans.assess(ctx, p.id, AssessmentIn(assessment=assessment, preferences=prefs, generate_plan=True))
        if created.plan is not None and i % 3 != 2:  # leave some proposals waiting for approval
            plans.approve(ctx, created.plan.id, created.plan.version)
    if first_patient is not None:
        add_user(
            db,
            clinic.id,
            UserIn(
                username=PATIENT_ACCOUNT,
                display_name="Demo Patient",
                role="patient",
                password=DEMO_PASSWORD,
                patient_id=first_patient,
            ),
        )
    return accounts


def patient_count(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(Patient)) or 0


def demo_accounts(db: Session) -> list[dict[str, str]]:
    """The demo accounts, shown on the login page only when the demo clinic exists."""
    if db.scalar(select(Clinic.id).where(Clinic.name == DEMO_CLINIC)) is None:
        return []
    accounts = [(u, r) for u, r, _ in DEMO_ACCOUNTS] + [(PATIENT_ACCOUNT, "patient")]
    return [{"username": u, "password": DEMO_PASSWORD, "role": r.replace("_", " ")} for u, r in accounts]
