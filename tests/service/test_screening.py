"""The one gate every stored plan passes (service/screening.py), without a database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pytest

from cicatrix.engine import parse_case, plan_case
from cicatrix.knowledge.loader import load_knowledge
from cicatrix.service import screening
from cicatrix.service.context import Actor, Context
from cicatrix.service.errors import Invalid
from tests.safety_oracle import verdict
from tests.storage.world import ASSESSMENT, PREFS

KB = load_knowledge(None)
CTX = Context(db=None, actor=Actor(user_id=1, clinic_id=1, role="clinician"), kb=KB)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Row:
    treatment: str
    number: int
    date: date
    status: str = "planned"


def _case(**patient: object):  # type: ignore[no-untyped-def]
    return parse_case({"patient": {"phototype": "III", **patient}, "assessment": ASSESSMENT, "preferences": PREFS}, KB)


CLEAR_PLAN = plan_case(_case(), KB)  # micro-needling, for a patient with no contraindication


def test_everything_the_patient_would_receive_or_apply_counts_as_scheduled() -> None:
    full = plan_case(parse_case({"patient": {"phototype": "III"}, "assessment": ASSESSMENT}, KB), KB)
    got = screening.scheduled_treatments(full)
    assert {s.treatment for s in full.course.sessions} <= set(got)
    assert {e.treatment for e in full.timeline if e.treatment} <= set(got)  # daily care too
    assert {m.treatment for m in full.course.maintenance} <= set(got)
    day = date(2027, 1, 1)
    extra = screening.scheduled_treatments(full, [Row("subcision", 1, day), Row("tca_cross", 1, day, "cancelled")])
    assert "subcision" in extra and "tca_cross" not in extra


def test_an_excluded_treatment_needs_an_override_wherever_it_is_scheduled() -> None:
    keloid = _case(history=["keloid"])
    assert (
        "microneedling"
        in verdict({"patient": {"phototype": "III", "history": ["keloid"]}, "assessment": ASSESSMENT}).excluded
    )
    with pytest.raises(Invalid) as exc:
        screening.screen_plan(CTX, keloid, CLEAR_PLAN, set(), field="CarePlan")
    assert exc.value.field == "CarePlan" and exc.value.extra == {
        "value": "microneedling",
        "treatment": "microneedling",
        "conditions": ["keloid_history"],
    }
    screened = screening.screen_plan(CTX, keloid, CLEAR_PLAN, {"microneedling"})
    assert "microneedling" in screened.excluded  # overridden, still reported as excluded
    # a recorded session beside an otherwise empty plan is screened too; a cancelled one is not
    empty = plan_case(parse_case({"patient": {"phototype": "III"}, "assessment": {**ASSESSMENT, "scars": []}}, KB), KB)
    row = Row("microneedling", 1, date(2027, 1, 4))
    with pytest.raises(Invalid):
        screening.screen_plan(CTX, keloid, empty, set(), sessions=[row])
    screening.screen_plan(CTX, keloid, empty, set(), sessions=[Row("microneedling", 1, row.date, "cancelled")])


def test_a_planned_session_before_a_precautions_date_is_refused() -> None:
    sunburn = _case(recent_sunburn=True)
    earliest = screening.screen_case(CTX, sunburn).not_before["microneedling"]
    assert earliest == date.fromisoformat(ASSESSMENT["date"]) + timedelta(days=14)
    assert CLEAR_PLAN.course.sessions[0].date < earliest
    with pytest.raises(Invalid) as exc:
        screening.screen_plan(CTX, sunburn, CLEAR_PLAN, set())
    assert f"allows it from {earliest.isoformat()}" in exc.value.message
    # the engine's own plan for the same patient waits, and passes
    screening.screen_plan(CTX, sunburn, plan_case(sunburn, KB), set())


def test_overrides_must_name_an_excluded_treatment_with_a_reason() -> None:
    @dataclass(frozen=True)
    class Ov:
        treatment: str
        reason: str

    screened = screening.screen_case(CTX, _case(history=["keloid"]))
    screening.check_overrides(CTX, screened, [Ov("microneedling", "consented")], "overrides")
    for bad, field in [
        (Ov("warp_drive", "consented"), "overrides[0].treatment"),
        (Ov("sun_protection", "consented"), "overrides[0].treatment"),
        (Ov("microneedling", "  "), "overrides[0].reason"),
    ]:
        with pytest.raises(Invalid) as exc:
            screening.check_overrides(CTX, screened, [bad], "overrides")
        assert exc.value.field == field


def test_a_session_already_given_is_history_not_a_booking() -> None:
    """An imported course whose first session was given before the precaution applied."""
    sunburn = _case(recent_sunburn=True)
    first, *rest = CLEAR_PLAN.course.sessions
    earliest = screening.screen_case(CTX, sunburn).not_before["microneedling"]
    assert first.date < earliest <= rest[0].date
    done = [Row(first.treatment, first.number, first.date, "done"), *(Row(s.treatment, s.number, s.date) for s in rest)]
    screening.screen_plan(CTX, sunburn, CLEAR_PLAN, set(), sessions=done)
    with pytest.raises(Invalid):  # recorded as still planned, it is a booking too early
        screening.screen_plan(
            CTX, sunburn, CLEAR_PLAN, set(), sessions=[Row(first.treatment, 1, first.date), *done[1:]]
        )


def _with_entry(plan, **entry):  # type: ignore[no-untyped-def]
    from msgspec.structs import replace

    from cicatrix.engine.result import TimelineEntry

    first = next(e for e in plan.timeline if e.treatment == "microneedling" and e.kind == "session")
    added = TimelineEntry(**{"date": first.date, "treatment": "microneedling", "kind": "do", "text": "…", **entry})
    return replace(plan, timeline=(*plan.timeline, added))


def test_the_gate_reads_the_instructions_too() -> None:
    """A timeline stored as another system wrote it: an instruction that uses what is excluded for
    this patient, one dated before the assessment, or one day that both prescribes and forbids
    an agent is refused, though every treatment it names is allowed."""
    pregnant = _case(pregnant=True)
    allowed = plan_case(pregnant, KB)  # what the engine itself plans passes
    screening.screen_plan(CTX, pregnant, allowed, set())
    # hydroquinone for a pregnant patient, under the name of an allowed treatment
    clear = _case()
    session = next(e for e in CLEAR_PLAN.timeline if e.kind == "session")
    bad = _with_entry(CLEAR_PLAN, date=session.date + timedelta(days=20), code="priming", uses=("hydroquinone",))
    screening.screen_plan(CTX, clear, bad, {"microneedling"})  # allowed for this patient...
    with pytest.raises(Invalid, match="hydroquinone") as exc:  # ...not for a pregnant one, override or not
        screening.screen_plan(CTX, pregnant, bad, {"microneedling"})
    assert exc.value.field == "plan"
    # dated before the assessment
    early = _with_entry(CLEAR_PLAN, date=clear.assessment.date - timedelta(days=1), code="test_spot")
    with pytest.raises(Invalid, match="before the assessment"):
        screening.screen_plan(CTX, clear, early, set())
    # the day of pre-care that forbids retinoids also prescribes one
    pre = next(e for e in CLEAR_PLAN.timeline if e.code == "pre_avoid_actives")
    clash = _with_entry(
        CLEAR_PLAN, date=pre.date, code="apply_retinoid", treatment="topical_retinoid", uses=("retinoid",)
    )
    with pytest.raises(Invalid, match="both to use and to avoid retinoid"):
        screening.screen_plan(CTX, clear, clash, set())
