"""The safety invariant over the service's write paths, on a real database.

Whatever reaches the database through propose, override, edit or FHIR import, a stored plan
never schedules a treatment that the independent oracle (tests/safety_oracle.py, which reads
the YAML itself) excludes for the patient, unless the plan carries a clinician's override of
that treatment with a reason; no planned session falls before a precaution's earliest date;
and an imported plan is always a proposal nobody has approved. A refused write stores nothing.

Runs on SQLite, and on PostgreSQL when CICATRIX_TEST_POSTGRES_URL is set.
"""

from __future__ import annotations

import itertools
import json
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from cicatrix.engine import parse_case, plan_case
from cicatrix.exports.fhir import bundle_json, record_from_fhir, record_to_bundle
from cicatrix.exports.record import AssessmentRecord, PatientRecord, PersonName, PlanRecord
from cicatrix.knowledge.loader import load_knowledge
from cicatrix.service import imports, patients, plans
from cicatrix.service.errors import Invalid
from cicatrix.service.schemas import AssessmentIn, OverrideIn, PatientClinical, PatientIn, PlanCreate, PlanEditIn
from cicatrix.storage.models import CourseSession, Patient, Plan
from tests import strategies
from tests.safety_oracle import Verdict, verdict
from tests.storage.world import TODAY

# The generators may use the knowledge base; only the oracle that judges must not.
KB = load_knowledge(None)
TREATMENTS, SCARS = strategies.TREATMENTS, strategies.SCARS
_names = itertools.count()
REASON = "discussed the risks with the patient, who consents"


HISTORY = ["keloid", "herpes_simplex", "immunosuppression", "bleeding_disorder"]
cases = strategies.cases(
    st.dates(TODAY - timedelta(days=400), TODAY),
    history=HISTORY,
    medications=["anticoagulant", "apixaban", "aspirin", "immunosuppressant"],
    start_span=(0, 60),
    max_treatments=3,
    scar_detail=False,
    downtime=False,
)
# the service refuses an assessment that saw nothing (issue 14 §4): every case records a finding
cases = cases.filter(lambda c: any(e["count"] > 0 for k in ("scars", "marks", "active_lesions") for e in c["assessment"][k]))
picks = st.lists(st.sampled_from(TREATMENTS), max_size=3, unique=True)


def _risky(case: dict[str, Any], facts: dict[str, Any], scars: list[dict[str, Any]]) -> dict[str, Any]:
    """The case with a patient fact that contraindicates procedures, scars to treat, no active acne."""
    a = {**case["assessment"], "scars": scars, "active_lesions": []}
    return {**case, "patient": {**case["patient"], **facts}, "assessment": a}


# Cases whose patient facts (not the assessment) exclude procedures: what a foreign plan ignores.
risky_cases = st.builds(
    _risky,
    cases,
    st.one_of(
        st.just({"pregnant": True}),
        st.sampled_from(HISTORY).map(lambda h: {"history": [h]}),
        st.sampled_from(["IV", "V", "VI"]).map(lambda t: {"phototype": t}),
        st.just({"medications": ["immunosuppressant"]}),
    ),
    st.lists(
        st.sampled_from([t for t in SCARS if t not in ("keloid", "hypertrophic")]).flatmap(
            lambda t: st.fixed_dictionaries({"type": st.just(t), "count": st.integers(3, 30)})
        ),
        min_size=1,
        max_size=3,
    ),
)


def overrides_for(v: Verdict) -> st.SearchStrategy[list[str]]:
    """Overrides a clinician might give: mostly treatments excluded for the patient, sometimes any."""
    excluded = sorted(v.excluded)
    some = st.lists(st.sampled_from(excluded), max_size=3, unique=True) if excluded else st.just([])
    return st.one_of(some, some, picks)


# --- the invariant, checked on what is stored ---------------------------------------------------


def _scheduled(proposal: dict[str, Any], rows: list[CourseSession]) -> set[str]:
    course = proposal.get("course", {})
    out = {s["treatment"] for s in course.get("sessions", [])}
    out |= {m["treatment"] for m in course.get("maintenance", [])}
    out |= {e["treatment"] for e in proposal.get("timeline", []) if e.get("treatment")}
    out |= {r["treatment"] for r in proposal.get("recommended", []) if r.get("scheduled")}
    return out | {s.treatment for s in rows if s.status != "cancelled"}


def assert_stored_plans_are_safe(world: Any, patient_id: int, v: Verdict) -> None:
    with world.database.session() as db:
        for p in db.scalars(select(Plan).where(Plan.patient_id == patient_id)):
            rows = list(db.scalars(select(CourseSession).where(CourseSession.plan_id == p.id)))
            overridden = {o["treatment"] for o in p.overrides or [] if str(o.get("reason", "")).strip()}
            unsafe = (_scheduled(p.proposal, rows) & set(v.excluded)) - overridden
            assert not unsafe, f"plan {p.id} schedules {sorted(unsafe)} without an override ({v.excluded})"
            for s in rows:
                earliest = v.not_before.get(s.treatment)
                if s.status == "planned" and earliest is not None:
                    assert s.date >= earliest, f"{s.treatment} {s.number} on {s.date} before {earliest}"


def _count(world: Any, model: Any) -> int:
    with world.database.session() as db:
        return db.scalar(select(func.count()).select_from(model)) or 0


def _new_patient(world: Any, case: dict[str, Any]) -> int:
    facts = {k: v for k, v in case["patient"].items()}
    with world.database.transaction() as db:
        p = patients.create(
            world.ctx("clinician", db),
            PatientIn(name=f"Generated {next(_names)}", clinical=PatientClinical(**facts)),
        )
    return p.id


# --- propose, override, edit ------------------------------------------------------------------


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(case=cases, edit_to=picks, data=st.data())
def test_propose_override_and_edit_store_only_what_screening_allows(
    world: Any, case: dict[str, Any], edit_to: list[str], data: st.DataObject
) -> None:
    v = verdict(case)
    chosen = data.draw(overrides_for(v), label="overrides")
    edit_overrides = data.draw(overrides_for(v), label="edit overrides")
    pid = _new_patient(world, case)
    # propose
    with world.database.transaction() as db:
        made = plans.assess(
            world.ctx("clinician", db),
            pid,
            AssessmentIn(assessment=case["assessment"], preferences=case["preferences"]),
        )
    assert made.plan is not None
    assert_stored_plans_are_safe(world, pid, v)
    # override: refused exactly when it names a treatment the oracle does not exclude
    before = _count(world, Plan)
    latest, version = made.plan.id, made.plan.version  # the proposal in force (a newer one supersedes it)
    kept: set[str] = set()  # the overrides the edited plan already holds
    try:
        with world.database.transaction() as db:
            ovs = [OverrideIn(treatment=t, reason=REASON) for t in chosen]
            body = PlanCreate(preferences=case["preferences"], overrides=ovs)
            generated = plans.generate(world.ctx("clinician", db), made.assessment.id, body)
        latest, version = generated.id, generated.version
        kept = set(chosen)
        assert set(chosen) <= set(v.excluded)
        event(f"override stored ({len(chosen)})")
    except Invalid as exc:
        assert not set(chosen) <= set(v.excluded), exc.message
        assert _count(world, Plan) == before
    assert_stored_plans_are_safe(world, pid, v)
    # edit: a requested treatment that stays excluded is refused; what is stored stays safe
    try:
        with world.database.transaction() as db:
            body = PlanEditIn(
                version=version,
                reason="change the course",
                treatments=edit_to,
                overrides=[OverrideIn(treatment=t, reason=REASON) for t in edit_overrides],
            )
            out = plans.edit(world.ctx("clinician", db), latest, body)
        assert out.version == version + 1
        assert (set(edit_to) & set(v.excluded)) <= set(edit_overrides) | kept
        event("edit stored" + (" with an overridden exclusion" if set(edit_to) & set(v.excluded) else ""))
    except Invalid:
        event("edit refused")
        with world.database.session() as db:
            stored = db.get(Plan, latest)
            assert stored is not None and stored.version == version  # nothing changed
    assert_stored_plans_are_safe(world, pid, v)


# --- FHIR import ----------------------------------------------------------------------------


def _foreign_record(world: Any, case: dict[str, Any], rid: str, requested: list[str]) -> PatientRecord:
    """The case's patient carrying a plan made for a phototype III patient with no contraindication."""
    kb = world.kb
    clear = {
        "patient": {"phototype": "III"},
        "assessment": case["assessment"],
        "preferences": {"treatments": requested} if requested else {},
    }
    plan = plan_case(parse_case(clear, kb), kb)
    facts = parse_case({"patient": case["patient"], "assessment": case["assessment"]}, kb)
    return PatientRecord(
        id=rid,
        name=PersonName(text=f"Imported {rid}"),
        patient=facts.patient,
        assessments=(AssessmentRecord(id="a-1", assessment=facts.assessment, scores=plan.scores),),
        plan=PlanRecord(id="plan-1", status="approved", plan=plan, assessment_id="a-1"),
    )


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(case=st.one_of(cases, risky_cases), data=st.data())
def test_import_stores_only_screened_proposals(world: Any, case: dict[str, Any], data: st.DataObject) -> None:
    v = verdict(case)
    requested = data.draw(st.one_of(picks, overrides_for(v)), label="the foreign plan's requested treatments")
    rid = f"EXT-{next(_names)}"
    bundle = json.loads(bundle_json(record_to_bundle(_foreign_record(world, case, rid, requested))))
    record = record_from_fhir(bundle)  # through FHIR, as another system sends it
    assert record.plan is not None
    scheduled = _scheduled(_as_json(record.plan.plan), [])
    # a careful clinician overrides exactly what needs it; others too little, or the wrong thing
    needed = sorted(scheduled & set(v.excluded))
    overrides = data.draw(st.one_of(st.just(needed), overrides_for(v)), label="overrides")
    before = _count(world, Patient), _count(world, Plan), _count(world, CourseSession)
    try:
        with world.database.transaction() as db:
            ovs = [OverrideIn(treatment=t, reason=REASON) for t in overrides]
            pid = imports.import_record(world.ctx("clinician", db), record, ovs)
    except Invalid as exc:
        event(f"import refused: {exc.field}, {'unsafe' if scheduled & set(v.excluded) else 'other'}")
        assert (_count(world, Patient), _count(world, Plan), _count(world, CourseSession)) == before
        return
    event(f"import stored, {'with' if scheduled & set(v.excluded) else 'without'} an overridden exclusion")
    # stored: so every excluded treatment it schedules was overridden, and nothing else was
    assert (scheduled & set(v.excluded)) <= set(overrides) <= set(v.excluded)
    with world.database.session() as db:
        (p,) = db.scalars(select(Plan).where(Plan.patient_id == pid))
        assert (p.status, p.approved_by, p.approved_at) == ("proposed", None, None)
    assert_stored_plans_are_safe(world, pid, v)


def _as_json(plan: Any) -> dict[str, Any]:
    from cicatrix.knowledge.frozen import to_data

    data: dict[str, Any] = json.loads(json.dumps(to_data(plan), default=str))
    return data
