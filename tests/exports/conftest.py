"""Plans for export tests.

`make_plan` builds a Plan the way the engine lays out a micro-needling course (seed 002
offsets), so the exports can be tested on exact, known dates; `engine_plan` uses the real
engine over a bundled example once it loads.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import msgspec
import pytest

from cicatrix.engine import Case, parse_case, plan_case
from cicatrix.engine.case import Assessment, Patient, Phototype
from cicatrix.engine.result import (
    Course,
    Education,
    Exclusion,
    Maintenance,
    Message,
    Plan,
    Recommendation,
    ScoreRow,
    Scores,
    Session,
    TimelineEntry,
)
from cicatrix.examples import example_cases
from cicatrix.exports.record import (
    AssessmentRecord,
    PatientRecord,
    PersonName,
    PlanRecord,
    SessionRecord,
)
from cicatrix.knowledge.models import KnowledgeBase

# (offset, until, kind, code, text) as in microneedling.yaml
STEPS = [
    (-3, -1, "avoid", "pre_avoid_actives", "Avoid retinoids and exfoliants for 3 days."),
    (-3, -1, "avoid", "pre_avoid_sunburn", "Avoid sunburn in the 3 days before."),
    (0, None, "do", "day_arrive_clean", "Arrive without lotions or makeup."),
    (0, None, "avoid", "day_no_antiinflammatories", "Do not take ibuprofen."),
    (0, None, "avoid", "day_sun", "Avoid the sun; use SPF 30 or above."),
    (1, None, "do", "d1_usual_care", "You may clean your face as usual."),
    (1, None, "avoid", "d1_no_exfoliants", "Stay away from exfoliants and glycolic acid."),
    (1, None, "do", "d1_spf", "Use sunscreen of SPF 30 or more."),
    (2, 7, "expect", "d2_7_dryness", "Your skin will be dry and flaky."),
    (2, 7, "do", "d2_7_moisturise", "Keep applying your regular moisturiser."),
    (7, None, "expect", "d7_smoother", "Smoother skin from a week after."),
]


def make_plan(dates: list[date], case_id: str | None = "p-1") -> Plan:
    sessions = tuple(Session(treatment="microneedling", number=i + 1, date=d) for i, d in enumerate(dates))
    timeline: list[TimelineEntry] = []
    for s in sessions:
        timeline.append(
            TimelineEntry(
                date=s.date,
                session=s.number,
                treatment="microneedling",
                kind="session",
                phase="day_of",
                text=f"Micro-needling session {s.number}",
                code="session",
            )
        )
        for off, until, kind, code, text in STEPS:
            timeline.append(
                TimelineEntry(
                    date=s.date + timedelta(days=off),
                    until=None if until is None else s.date + timedelta(days=until),
                    session=s.number,
                    treatment="microneedling",
                    kind=kind,  # type: ignore[arg-type]
                    phase="pre" if off < 0 else "day_of" if off == 0 else "post",
                    text=text,
                    code=code,
                    sources=("seed-002",),
                )
            )
    follow = dates[-1] + timedelta(days=91)
    maint = dates[-1] + timedelta(days=365)
    timeline.append(TimelineEntry(date=follow, kind="follow_up", text="Follow-up assessment.", code="follow_up"))
    timeline.append(
        TimelineEntry(
            date=maint,
            treatment="microneedling",
            kind="maintenance",
            text="One refresher treatment every year.",
            code="maintenance",
        )
    )
    rows = (
        ScoreRow(
            id="A_mildly_atrophic",
            label="Mildly atrophic dish-like",
            inputs=("rolling",),
            count=8,
            multiplier=1,
            points=1,
        ),
        ScoreRow(
            id="B_punched_out_shallow",
            label="Punched-out shallow",
            inputs=("boxcar_shallow",),
            count=12,
            multiplier=2,
            points=4,
        ),
        ScoreRow(id="A_macular", label="Macular", inputs=("pih",), count=10, multiplier=1, points=1),
    )
    items = (
        ScoreRow(
            id="u_shaped",
            label="U-shaped",
            inputs=("boxcar_shallow",),
            count=12,
            grade=2,
            points=40,
        ),
        ScoreRow(id="m_shaped", label="M-shaped", inputs=("rolling",), count=8, grade=2, points=50),
    )
    return Plan(
        case_id=case_id,
        knowledge_version="2026.1+abcdef123456",
        notice="A clinician approves every plan.",
        scores=Scores(
            goodman_baron_quantitative=6,
            goodman_baron_quantitative_rows=rows,
            ecca=90,
            ecca_items=items,
            goodman_baron_qualitative=3,
            severity="moderate",
            severity_basis="goodman_baron_qualitative",
        ),
        recommended=(
            Recommendation(
                treatment="microneedling",
                name="Medical micro-needling",
                rank=1,
                score=3.5,
                targets=("rolling", "boxcar_shallow"),
                rationale="Collagen induction lifts rolling scars.",
                sources=("seed-002", "ref-22"),
                evidence_level="V",
                scheduled=True,
            ),
            Recommendation(
                treatment="sun_protection",
                name="Sun protection",
                rank=2,
                score=1.0,
                targets=("pih",),
                rationale="Protects marks from darkening.",
                sources=("seed-001",),
                evidence_level="V",
            ),
        ),
        excluded=(
            Exclusion(
                treatment="laser_ablative_full",
                name="Fully ablative laser",
                reasons=(Message(code="high_phototype_pih_risk", message="PIH risk."),),
            ),
        ),
        warnings=(),
        education=(Education(topic="sun", text="Use SPF 30 every day.", sources=("seed-001",)),),
        course=Course(
            sessions=sessions,
            maintenance=(
                Maintenance(
                    treatment="microneedling",
                    date=maint,
                    text="One refresher treatment every year.",
                ),
            ),
            follow_up=follow,
        ),
        timeline=tuple(timeline),
    )


@pytest.fixture
def plan() -> Plan:
    # 2027-03-28 is the spring DST change in Europe/London: session 1 is in GMT, 2 and 3 in BST.
    return make_plan([date(2027, 3, 1), date(2027, 4, 12), date(2027, 5, 24)])


def make_record(plan: Plan, *, status: str = "approved") -> PatientRecord:
    """A patient with one assessment and the plan above, session 1 given, session 2 missed."""
    assessment = msgspec.convert(
        {
            "date": "2027-01-04",
            "goodman_baron_qualitative": 3,
            "scars": [
                {"type": "rolling", "count": 8, "depth": "shallow"},
                {"type": "boxcar_shallow", "count": 12},
            ],
            "marks": [{"type": "pih", "count": 10}],
            "active_lesions": [],
            "regions": ["cheeks", "forehead"],
        },
        Assessment,
    )
    s = plan.course.sessions
    return PatientRecord(
        id="p-1",
        name=PersonName(text="Ada Lovelace", given=("Ada",), family="Lovelace"),
        patient=Patient(
            id="p-1",
            birth_date=date(1994, 5, 17),
            sex="female",
            phototype=Phototype.IV,
            history=("herpes_simplex",),
        ),
        assessments=(AssessmentRecord(id="a-1", assessment=assessment, scores=plan.scores),),
        plan=PlanRecord(id="plan-1", status=status, plan=plan, assessment_id="a-1"),  # type: ignore[arg-type]
        sessions=(
            SessionRecord(treatment="microneedling", number=1, date=s[0].date, status="done"),
            SessionRecord(treatment="microneedling", number=2, date=s[1].date, status="missed"),
            SessionRecord(treatment="microneedling", number=3, date=s[2].date),
        ),
    )


def example_plan(kb: KnowledgeBase, name: str = "moderate_mixed_phototype_iv") -> tuple[Case, Plan]:
    """A real plan from the engine over a bundled example case."""
    data = dict(example_cases())[name]
    case = parse_case(data, kb)
    return case, plan_case(case, kb)



def as_proposed(bundle: dict[str, Any]) -> dict[str, Any]:
    """The Bundle as an import stores it: whatever it says, its plan becomes a proposal (CarePlan
    `draft`, session requests with intent `plan`) until a clinician of the importing clinic
    approves it."""
    out = json.loads(json.dumps(bundle))
    for e in out.get("entry", []):
        res = e["resource"]
        if res["resourceType"] == "CarePlan":
            res["status"] = "draft"
        if res["resourceType"] == "ServiceRequest":
            res["intent"] = "plan"
    return out
