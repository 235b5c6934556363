"""Course building: sequencing, follow-up, maintenance, preferences and rescheduling."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from cicatrix.engine.case import CaseError, parse_case
from cicatrix.engine.dates import add_months
from cicatrix.engine.plan import plan_case
from cicatrix.engine.reschedule import reschedule_plan
from cicatrix.knowledge.models import KnowledgeBase
from tests.conftest import make_case


def test_add_months_clamps_to_month_end() -> None:
    assert add_months(date(2027, 1, 31), 1) == date(2027, 2, 28)
    assert add_months(date(2027, 11, 30), 3) == date(2028, 2, 29)
    assert add_months(date(2027, 5, 17), 12) == date(2028, 5, 17)


def test_punch_comes_4_to_6_weeks_before_a_peel(kb: KnowledgeBase) -> None:
    case = make_case(
        scars=[{"type": "ice_pick", "count": 6}, {"type": "boxcar_shallow", "count": 6}],
        assessment={"goodman_baron_qualitative": 3},
        preferences={"start": "2027-01-11", "treatments": ["chemical_peel_superficial", "punch_excision"]},
    )
    plan = plan_case(parse_case(case, kb), kb)
    order = [s.treatment for s in plan.course.sessions]
    assert order[0] == "punch_excision" and "chemical_peel_superficial" in order
    last_punch = max(s.date for s in plan.course.sessions if s.treatment == "punch_excision")
    first_peel = min(s.date for s in plan.course.sessions if s.treatment == "chemical_peel_superficial")
    assert (first_peel - last_punch).days >= 28


def test_default_course_picks_a_treatment_per_target(kb: KnowledgeBase) -> None:
    case = make_case(
        scars=[{"type": "ice_pick", "count": 12}, {"type": "rolling", "count": 6}],
        assessment={"goodman_baron_qualitative": 3},
    )
    plan = plan_case(parse_case(case, kb), kb)
    scheduled = {s.treatment for s in plan.course.sessions}
    assert "tca_cross" in scheduled or "punch_excision" in scheduled
    assert "subcision" in scheduled
    assert all(
        r.scheduled
        == (r.treatment in scheduled or (kb.treatments[r.treatment].schedule == "continuous" and r.scheduled))
        for r in plan.recommended
    )


def test_preferences_restrict_the_course(kb: KnowledgeBase) -> None:
    case = make_case(
        scars=[{"type": "ice_pick", "count": 12}, {"type": "rolling", "count": 6}],
        assessment={"goodman_baron_qualitative": 3},
        preferences={"start": "2027-01-11", "treatments": ["microneedling"]},
    )
    plan = plan_case(parse_case(case, kb), kb)
    assert {s.treatment for s in plan.course.sessions} == {"microneedling"}
    assert plan.course.sessions[0].date == date(2027, 1, 11)


def test_downtime_preference_leaves_long_downtime_unscheduled(kb: KnowledgeBase) -> None:
    case = make_case(
        scars=[{"type": "boxcar_shallow", "count": 12}],
        assessment={"goodman_baron_qualitative": 3},
        preferences={"start": "2027-01-11", "treatments": ["microneedling"], "max_downtime_days": 3},
    )
    plan = plan_case(parse_case(case, kb), kb)
    assert plan.course.sessions == ()
    assert any(n.code == "downtime_exceeds_preference" for n in plan.course.notes)


def test_without_a_start_the_first_session_is_the_first_day_its_pre_care_fits_after_the_assessment(
    kb: KnowledgeBase,
) -> None:
    """Issue 10 pattern 6: booked on the assessment day, the 3-day pre-care fell before the visit."""
    case = make_case(
        scars=[{"type": "rolling", "count": 6}],
        assessment={"goodman_baron_qualitative": 3},
        preferences={"treatments": ["microneedling"]},
    )
    plan = plan_case(parse_case(case, kb), kb)
    assessed = date(2026, 11, 22)
    assert plan.course.sessions[0].date == assessed + timedelta(days=3)
    assert min(e.date for e in plan.timeline) == assessed
    assert not any(n.code == "start_postponed" for n in plan.course.notes)  # nothing was asked, nothing moved


def test_resurfacing_with_a_test_spot_waits_four_weeks_after_the_assessment(kb: KnowledgeBase) -> None:
    """Phototype V adds a test spot 4 weeks before the first peel (a screening step): with no start
    date the peel is booked 28 days after the assessment, the test spot on the assessment day."""
    case = make_case(
        scars=[{"type": "boxcar_shallow", "count": 12}],
        patient={"phototype": "V"},
        assessment={"goodman_baron_qualitative": 3},
        preferences={"treatments": ["chemical_peel_superficial"]},
    )
    plan = plan_case(parse_case(case, kb), kb)
    assessed = date(2026, 11, 22)
    first = plan.course.sessions[0]
    assert first.treatment == "chemical_peel_superficial" and first.date == assessed + timedelta(days=28)
    (spot,) = [e for e in plan.timeline if e.code == "test_spot"]
    assert spot.date == assessed


def test_a_requested_start_too_early_for_the_pre_care_is_postponed_with_a_note(kb: KnowledgeBase) -> None:
    case = make_case(
        scars=[{"type": "boxcar_shallow", "count": 12}],
        patient={"phototype": "V"},
        assessment={"goodman_baron_qualitative": 3},
        preferences={"start": "2026-11-29", "treatments": ["chemical_peel_superficial"]},
    )
    plan = plan_case(parse_case(case, kb), kb)
    assert plan.course.sessions[0].date == date(2026, 12, 20)
    (note,) = [n for n in plan.course.notes if n.code == "start_postponed"]
    assert "2026-12-20" in note.message and "assessment" in note.message
    assert min(e.date for e in plan.timeline) >= date(2026, 11, 22)


def test_plan_is_deterministic_and_records_knowledge_version(kb: KnowledgeBase) -> None:
    case = parse_case(make_case(scars=[{"type": "rolling", "count": 6}]), kb)
    assert plan_case(case, kb) == plan_case(case, kb)
    assert plan_case(case, kb).knowledge_version == kb.label and "+" in kb.label
    assert "clinician" in plan_case(case, kb).notice


def test_missed_session_reflows_keeping_intervals(kb: KnowledgeBase) -> None:
    case = parse_case(
        make_case(
            scars=[{"type": "rolling", "count": 8}],
            assessment={"goodman_baron_qualitative": 3},
            preferences={"start": "2027-01-11", "treatments": ["microneedling"]},
        ),
        kb,
    )
    plan = plan_case(case, kb)
    s1, s2, s3 = plan.course.sessions
    moved = reschedule_plan(plan, case, kb, "microneedling", 2, s2.date + timedelta(days=10))
    m1, m2, m3 = moved.course.sessions
    assert m1 == s1
    assert m2.date == s2.date + timedelta(days=10)
    assert (m3.date - m2.date) == (s3.date - s2.date)
    assert moved.course.maintenance[0].date == plan.course.maintenance[0].date + timedelta(days=10)
    assert moved.course.follow_up == add_months(m3.date, 3)
    pre = [e for e in moved.timeline if e.session == 2 and e.code == "pre_avoid_actives"]
    assert pre[0].date == m2.date - timedelta(days=3)
    assert not any(n.code == "interval_exceeds_maximum" for n in moved.course.notes)
    late = reschedule_plan(plan, case, kb, "microneedling", 2, s2.date + timedelta(days=30))
    assert any(n.code == "interval_exceeds_maximum" for n in late.course.notes)


def test_reschedule_rejects_bad_requests(kb: KnowledgeBase) -> None:
    case = parse_case(
        make_case(
            scars=[{"type": "rolling", "count": 8}],
            assessment={"goodman_baron_qualitative": 3},
            preferences={"start": "2027-01-11", "treatments": ["microneedling"]},
        ),
        kb,
    )
    plan = plan_case(case, kb)
    with pytest.raises(CaseError, match="new_date"):
        reschedule_plan(plan, case, kb, "microneedling", 1, date(2027, 1, 1))
    with pytest.raises(CaseError, match="session"):
        reschedule_plan(plan, case, kb, "microneedling", 9, date(2027, 6, 1))


def test_severe_default_course_adds_fractional_resurfacing_after_focal(kb: KnowledgeBase) -> None:
    case = make_case(
        scars=[{"type": "boxcar_deep", "count": 22}, {"type": "rolling", "count": 15, "depth": "deep"}],
        patient={"phototype": "V"},
        assessment={"goodman_baron_qualitative": 4},
    )
    plan = plan_case(parse_case(case, kb), kb)
    order = list(dict.fromkeys(s.treatment for s in plan.course.sessions))
    resurfacing = [t for t in order if kb.treatments[t].resurfacing]
    assert resurfacing, order
    assert order.index(resurfacing[0]) > order.index("subcision")
    assert any(n.code == "combination_added" for n in plan.course.notes)
    # phototype V: the test spot comes once, before the first resurfacing session only
    spots = [e for e in plan.timeline if e.code == "test_spot"]
    assert len(spots) == 1 and spots[0].session == 1


def test_moderate_default_course_adds_no_combination(kb: KnowledgeBase) -> None:
    case = make_case(scars=[{"type": "rolling", "count": 8}], assessment={"goodman_baron_qualitative": 3})
    plan = plan_case(parse_case(case, kb), kb)
    assert not any(n.code == "combination_added" for n in plan.course.notes)


def test_marks_first_treated_with_daily_care_book_no_sessions(kb: KnowledgeBase) -> None:
    case = make_case(
        marks=[{"type": "pih", "count": 20}], patient={"phototype": "V"}, assessment={"goodman_baron_qualitative": 1}
    )
    plan = plan_case(parse_case(case, kb), kb)
    assert plan.course.sessions == ()
    daily = {r.treatment for r in plan.recommended if r.scheduled}
    assert {"pih_lightening", "sun_protection"} <= daily
    assert any(e.treatment == "pih_lightening" and e.phase == "ongoing" for e in plan.timeline)


def test_pie_gets_its_vascular_laser(kb: KnowledgeBase) -> None:
    case = make_case(marks=[{"type": "pie", "count": 20}], assessment={"goodman_baron_qualitative": 1})
    plan = plan_case(parse_case(case, kb), kb)
    assert {s.treatment for s in plan.course.sessions} == {"vascular_laser"}


def test_hypertrophic_books_steroid_sessions_beside_daily_silicone(kb: KnowledgeBase) -> None:
    case = make_case(
        scars=[{"type": "hypertrophic", "count": 4, "area_cm2": 3, "age_months": 8}],
        assessment={"goodman_baron_qualitative": 3},
    )
    plan = plan_case(parse_case(case, kb), kb)
    assert "intralesional_steroid" in {s.treatment for s in plan.course.sessions}
    assert any(r.treatment == "silicone_gel" and r.scheduled for r in plan.recommended)
