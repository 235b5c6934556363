"""The micro-needling timeline, day by day, exactly as seed 002 gives it."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from cicatrix.engine.case import parse_case
from cicatrix.engine.plan import plan_case
from cicatrix.engine.result import Plan
from cicatrix.engine.timeline import instructions_for
from cicatrix.knowledge.models import KnowledgeBase
from tests.conftest import make_case

START = date(2027, 1, 11)


@pytest.fixture(scope="module")
def plan(kb: KnowledgeBase) -> Plan:
    case = make_case(
        scars=[{"type": "rolling", "count": 8}],
        patient={"phototype": "II"},
        assessment={"goodman_baron_qualitative": 3},
        preferences={"start": START.isoformat(), "treatments": ["microneedling"]},
    )
    return plan_case(parse_case(case, kb), kb)


def codes_on(plan: Plan, day: date) -> set[str]:
    return {e.code for e in instructions_for(plan.timeline, day) if e.treatment == "microneedling" and e.session == 1}


def test_three_sessions_six_weeks_apart_with_yearly_refresher(plan: Plan) -> None:
    dates = [s.date for s in plan.course.sessions if s.treatment == "microneedling"]
    assert dates == [START, START + timedelta(days=42), START + timedelta(days=84)]
    s2 = plan.course.sessions[1]
    assert (s2.earliest, s2.latest) == (START + timedelta(days=42), START + timedelta(days=56))
    (m,) = plan.course.maintenance
    assert m.date == date(2028, 4, 5) and "refresher" in m.text
    assert plan.course.follow_up is not None and plan.course.follow_up >= dates[-1] + timedelta(days=89)


def test_day_minus_4_has_nothing_yet(plan: Plan) -> None:
    assert codes_on(plan, START - timedelta(days=4)) == set()


@pytest.mark.parametrize("before", [3, 2, 1])
def test_three_days_before_avoid_actives_and_sunburn(plan: Plan, before: int) -> None:
    assert codes_on(plan, START - timedelta(days=before)) == {"pre_avoid_actives", "pre_avoid_sunburn"}
    text = " ".join(e.text for e in instructions_for(plan.timeline, START - timedelta(days=before)))
    for word in ("retinoids", "topical antibiotics", "exfoliants", "hydroquinone", "benzoyl peroxide", "sunburn"):
        assert word in text


def test_day_of_procedure(plan: Plan) -> None:
    assert codes_on(plan, START) == {
        "session",
        "day_arrive_clean",
        "day_no_antiinflammatories",
        "day_sun",
        "day_gentle_cleanser",
    }
    text = " ".join(e.text for e in instructions_for(plan.timeline, START))
    for phrase in ("lotions", "makeup", "active infectious acne", "ibuprofen", "SPF 30", "gentle cleanser before bed"):
        assert phrase in text
    # added to seed 002's NSAID rule after the clinical review (issue 10): a safe painkiller, and
    # never stopping a prescribed medicine such as aspirin unasked
    for phrase in ("paracetamol", "Never stop a medicine your doctor prescribed, such as aspirin"):
        assert phrase in text


def test_day_1(plan: Plan) -> None:
    assert codes_on(plan, START + timedelta(days=1)) == {"d1_usual_care", "d1_no_exfoliants", "d1_spf"}
    text = " ".join(e.text for e in instructions_for(plan.timeline, START + timedelta(days=1)))
    assert "glycolic acid" in text and "SPF 30" in text and "makeup" in text


@pytest.mark.parametrize("day", [2, 3, 4, 5, 6])
def test_days_2_to_6(plan: Plan, day: int) -> None:
    assert codes_on(plan, START + timedelta(days=day)) == {"d2_7_dryness", "d2_7_moisturise", "d2_7_micro_bruising"}


def test_day_7_overlaps_flaking_and_smoother_skin(plan: Plan) -> None:
    assert codes_on(plan, START + timedelta(days=7)) == {
        "d2_7_dryness",
        "d2_7_moisturise",
        "d2_7_micro_bruising",
        "d7_smoother",
    }
    text = " ".join(e.text for e in instructions_for(plan.timeline, START + timedelta(days=2)))
    assert "dry" in text and "moisturiser" in text and "3-4 days" in text


def test_day_8_is_quiet(plan: Plan) -> None:
    assert codes_on(plan, START + timedelta(days=8)) == set()


def test_timeline_entries_carry_the_seed_as_source(plan: Plan) -> None:
    steps = [e for e in plan.timeline if e.treatment == "microneedling" and e.kind != "session"]
    assert steps and all("seed-002" in e.sources for e in steps if e.kind != "maintenance")
    phases = {e.code: e.phase for e in steps if e.session == 1}
    assert phases["pre_avoid_actives"] == "pre" and phases["day_sun"] == "day_of" and phases["d1_spf"] == "post"


def test_each_session_gets_its_own_care_steps(plan: Plan) -> None:
    for s in plan.course.sessions:
        pre = [e for e in plan.timeline if e.session == s.number and e.code == "pre_avoid_actives"]
        assert [(e.date, e.until) for e in pre] == [(s.date - timedelta(days=3), s.date - timedelta(days=1))]
