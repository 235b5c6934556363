"""One coherent timeline (issue 10, section 1 patterns 5-7 and section 3).

- no day both prescribes and forbids the same agent: daily creams pause around procedures, with
  dated stop and resume entries, and a limited hydroquinone course ends at its 8-12-week review;
- nothing is dated before the assessment;
- every requested treatment is booked, excluded with reasons, or said why not, and requesting
  treatments never removes the daily care the findings call for.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from msgspec.structs import replace

from cicatrix.engine.agents import contradictions
from cicatrix.engine.case import parse_case
from cicatrix.engine.plan import plan_case
from cicatrix.engine.reschedule import reschedule_plan
from cicatrix.engine.result import Plan, TimelineEntry
from cicatrix.knowledge.loader import load_knowledge
from cicatrix.knowledge.models import KnowledgeBase, Step
from tests import strategies
from tests.conftest import make_case

KB = load_knowledge()


def _annotated(obj: Any, uses: dict[str, tuple[str, ...]]) -> Any:
    """`obj` with every step whose code is in `uses` told to use those agents, at any depth: the
    screening steps (priming with hydroquinone, antivirals) as the safety-matrix work annotates
    them, wherever that work keeps them."""
    if isinstance(obj, Step):
        return replace(obj, uses=uses[obj.code]) if obj.code in uses else obj
    if isinstance(obj, msgspec.Struct):
        changes = {}
        for f in msgspec.structs.fields(obj):
            value = getattr(obj, f.name)
            new = _annotated(value, uses)
            if new is not value:
                changes[f.name] = new
        return replace(obj, **changes) if changes else obj
    if isinstance(obj, tuple):
        items = tuple(_annotated(v, uses) for v in obj)
        return items if any(a is not b for a, b in zip(items, obj, strict=True)) else obj
    if isinstance(obj, dict):
        out = {k: _annotated(v, uses) for k, v in obj.items()}
        return out if any(out[k] is not obj[k] for k in obj) else obj
    return obj


# a knowledge base whose screening steps also say what they use; its own fingerprint keeps the
# engine's per-knowledge-base index apart from the bundled one's
KB_SCREEN_USES: KnowledgeBase = replace(
    _annotated(KB, {"pigment_priming": ("hydroquinone",), "hsv_prophylaxis": ("antiviral",)}),
    fingerprint=KB.fingerprint[::-1],
)
TREATMENTS = sorted(KB.treatments)
cases = strategies.cases(
    st.dates(date(2025, 1, 1), date(2028, 12, 31)),
    history=["keloid", "herpes_simplex", "immunosuppression", "bleeding_disorder", "cardiac_disease"],
    medications=["anticoagulant", "warfarin", "Prograf"],
    max_facts=2,
    start_span=(-30, 60),
    # mostly non-inflamed, so that procedures are not all held back for active acne
    most_active=3,
)


def _plan(data: dict[str, Any], kb: KnowledgeBase = KB) -> Plan:
    return plan_case(parse_case(data, kb), kb)


def _booked(plan: Plan) -> set[str]:
    return {s.treatment for s in plan.course.sessions} | {r.treatment for r in plan.recommended if r.scheduled}


def _all_dates(plan: Plan) -> list[date]:
    c = plan.course
    out = [d for e in plan.timeline for d in (e.date, e.until) if d is not None]
    out += [d for s in c.sessions for d in (s.date, s.earliest) if d is not None]
    out += [m.date for m in c.maintenance] + ([c.follow_up] if c.follow_up else [])
    return out


# --- properties over generated cases -------------------------------------------------------------


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases, st.booleans())
def test_no_day_both_prescribes_and_forbids_an_agent(data: dict[str, Any], screen_uses: bool) -> None:
    kb = KB_SCREEN_USES if screen_uses else KB
    plan = _plan(data, kb)
    assert contradictions(plan.timeline, kb) == ()
    if plan.course.sessions:  # and after a missed session moves the rest
        s = plan.course.sessions[-1]
        moved = reschedule_plan(plan, parse_case(data, kb), kb, s.treatment, s.number, s.date + timedelta(days=9))
        assert contradictions(moved.timeline, kb) == ()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases)
def test_nothing_is_dated_before_the_assessment(data: dict[str, Any]) -> None:
    plan = _plan(data)
    assessed = date.fromisoformat(data["assessment"]["date"])
    assert all(d >= assessed for d in _all_dates(plan))
    entries = list(plan.timeline)
    assert entries == sorted(entries, key=lambda e: e.date)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases, st.lists(st.sampled_from(TREATMENTS), min_size=1, max_size=4, unique=True))
def test_every_requested_treatment_is_accounted_for_and_daily_care_stays(
    data: dict[str, Any], requested: list[str]
) -> None:
    asked = {**data, "preferences": {**data["preferences"], "treatments": requested}}
    plan = _plan(asked)
    booked, excluded = _booked(plan), {x.treatment for x in plan.excluded}
    told = " ".join(w.message for w in plan.warnings if w.code == "requested_not_booked")
    for tid in requested:
        assert tid in booked or tid in excluded or KB.treatments[tid].name in told, tid
    assert not booked & excluded
    default = _plan({**data, "preferences": {k: v for k, v in data["preferences"].items() if k != "treatments"}})
    daily = {
        r.treatment for r in default.recommended if r.scheduled and KB.treatments[r.treatment].schedule == "continuous"
    }
    assert daily <= booked


# --- the review's examples ------------------------------------------------------------------------


def _texts_on(plan: Plan, day: date) -> list[TimelineEntry]:
    return [e for e in plan.timeline if e.applies_on(day)]


@pytest.fixture(scope="module")
def retinoid_and_needling(kb: KnowledgeBase) -> Plan:
    case = make_case(
        scars=[{"type": "rolling", "count": 8}],
        lesions=[{"type": "comedone", "count": 5}],
        marks=[{"type": "pih", "count": 5}],
        assessment={"goodman_baron_qualitative": 3},
        preferences={"start": "2027-01-11", "treatments": ["microneedling"]},
    )
    return plan_case(parse_case(case, kb), kb)


def test_the_retinoid_pauses_from_the_pre_care_through_the_needling_day(retinoid_and_needling: Plan) -> None:
    """Pattern 5: 'each evening, apply your retinoid' beside 'stop retinoid creams for the 3 days before'."""
    plan = retinoid_and_needling
    assert {"topical_retinoid", "pih_lightening", "sun_protection"} <= _booked(plan)
    for s in plan.course.sessions:
        for back in range(-3, 1):
            day = s.date + timedelta(days=back)
            codes = {e.code for e in _texts_on(plan, day)}
            assert "daily_apply" not in codes and "daily_lightening" not in codes, day
            assert "pre_avoid_actives" in codes or back == 0
        after = {e.code for e in _texts_on(plan, s.date + timedelta(days=1))}
        if s.number > 1:  # before the first session the daily creams had not started: nothing to stop
            assert {"daily_apply", "resume_retinoid"} <= after
        # hydroquinone resumes only within its course, which ends at the 12-week review
        assert ("resume_hydroquinone" in after) == (s.number == 2)
    second = plan.course.sessions[1].date
    (stop,) = [e for e in plan.timeline if e.code == "stop_retinoid" and e.date <= second <= (e.until or e.date)]
    assert (stop.date, stop.until) == (second - timedelta(days=3), second)
    assert stop.treatment == "topical_retinoid" and stop.avoids == ("retinoid",) and "retinoid" in stop.text
    assert "seed-002" in stop.sources


def test_seed_002_words_are_untouched_by_the_pause(retinoid_and_needling: Plan, kb: KnowledgeBase) -> None:
    steps = {s.code: s.text for s in kb.treatments["microneedling"].protocol.steps}
    needling = [e for e in retinoid_and_needling.timeline if e.treatment == "microneedling" and e.kind != "session"]
    assert needling and all(e.text == steps[e.code] for e in needling if e.kind != "maintenance")


def test_hydroquinone_never_on_freshly_peeled_skin(kb: KnowledgeBase) -> None:
    case = make_case(
        scars=[{"type": "boxcar_shallow", "count": 12}],
        marks=[{"type": "pih", "count": 10}],
        patient={"phototype": "III"},
        assessment={"goodman_baron_qualitative": 3},
        preferences={"start": "2026-11-22", "treatments": ["chemical_peel_medium"]},
    )
    plan = plan_case(parse_case(case, kb), kb)
    # the daily cream starts at the assessment; the peel waits for its 2-week pre-care
    (peel,) = [s for s in plan.course.sessions if s.treatment == "chemical_peel_medium"][:1]
    assert peel.date == date(2026, 12, 6)
    downtime = kb.treatments["chemical_peel_medium"].protocol.downtime_days.max
    for d in range(downtime + 1):
        day = peel.date + timedelta(days=d)
        assert not any("hydroquinone" in e.uses for e in _texts_on(plan, day)), day
    (stop,) = [e for e in plan.timeline if e.code == "stop_hydroquinone"]
    (resume,) = [e for e in plan.timeline if e.code == "resume_hydroquinone"]
    assert (stop.date, stop.until) == (peel.date, peel.date + timedelta(days=downtime))
    assert resume.date == peel.date + timedelta(days=downtime + 1)


def test_hydroquinone_runs_to_its_8_to_12_week_review_not_for_months(kb: KnowledgeBase) -> None:
    """Pattern 5: hydroquinone ran daily for about 10 months despite 'reassess at 8-12 weeks'."""
    case = make_case(
        marks=[{"type": "pih", "count": 20}], patient={"phototype": "V"}, assessment={"goodman_baron_qualitative": 1}
    )
    plan = plan_case(parse_case(case, kb), kb)
    start = date(2027, 1, 11)
    daily = [e for e in plan.timeline if e.code == "daily_lightening"]
    assert daily and max(e.until or e.date for e in daily) == start + timedelta(days=84)
    (review,) = [e for e in plan.timeline if e.code == "review_8_12_weeks"]
    assert (review.date, review.until) == (start + timedelta(days=56), start + timedelta(days=84))
    sunscreen = [e for e in plan.timeline if e.treatment == "sun_protection" and e.code == "daily_spf"]
    assert sunscreen[0].until == plan.course.follow_up  # steps without an end of their own still run to follow-up


def test_priming_with_hydroquinone_is_cut_out_of_the_last_peels_recovery() -> None:
    """Once priming says it uses hydroquinone, session 2's priming must not fall on session 1's
    freshly peeled skin (superficial peels 2 weeks apart, phototype V)."""
    kb = KB_SCREEN_USES
    case = make_case(
        scars=[{"type": "boxcar_shallow", "count": 12}],
        patient={"phototype": "V"},
        assessment={"goodman_baron_qualitative": 3},
        preferences={"start": "2027-01-11", "treatments": ["chemical_peel_superficial"]},
    )
    plan = plan_case(parse_case(case, kb), kb)
    s1, s2 = plan.course.sessions[:2]
    assert (s2.date - s1.date).days == 14
    (priming,) = [e for e in plan.timeline if e.code == "pigment_priming" and e.session == 2]
    recovery_end = s1.date + timedelta(days=kb.treatments["chemical_peel_superficial"].protocol.downtime_days.max)
    assert priming.date == recovery_end + timedelta(days=1) and priming.until == s2.date - timedelta(days=1)
    assert contradictions(plan.timeline, kb) == ()


def test_silicone_comes_off_on_the_injection_day_and_back_the_next(kb: KnowledgeBase) -> None:
    case = make_case(
        scars=[{"type": "hypertrophic", "count": 4, "area_cm2": 3, "age_months": 8}],
        assessment={"goodman_baron_qualitative": 3},
    )
    plan = plan_case(parse_case(case, kb), kb)
    s2 = [s for s in plan.course.sessions if s.treatment == "intralesional_steroid"][1]
    assert not any(e.code == "daily_silicone" for e in _texts_on(plan, s2.date))
    assert {"daily_silicone", "resume_silicone"} <= {e.code for e in _texts_on(plan, s2.date + timedelta(days=1))}


def test_contradictions_names_the_agent_the_days_and_both_entries() -> None:
    use = TimelineEntry(
        date=date(2027, 1, 1),
        until=date(2027, 1, 31),
        treatment="topical_retinoid",
        kind="do",
        text="Each evening, apply your retinoid.",
        code="daily_apply",
        uses=("retinoid",),
    )
    avoid = TimelineEntry(
        date=date(2027, 1, 8),
        until=date(2027, 1, 10),
        treatment="microneedling",
        session=1,
        kind="avoid",
        text="Stop retinoid creams.",
        code="pre_avoid_actives",
        avoids=("topical_retinoid",),
    )
    (c,) = contradictions([use, avoid], KB)
    assert (c.agent, c.first, c.last) == ("retinoid", date(2027, 1, 8), date(2027, 1, 10))
    assert (c.used_by, c.avoided_by) == ("topical_retinoid/daily_apply", "microneedling/pre_avoid_actives")
    assert contradictions([use, replace(avoid, date=date(2027, 2, 1), until=None)], KB) == ()


# --- requests ------------------------------------------------------------------------------------


def test_a_requested_medium_peel_at_another_severity_is_booked_with_the_reason(kb: KnowledgeBase) -> None:
    """Pattern 7: a requested medium peel disappeared with no reason (indicated only at other severities)."""
    peel = kb.treatments["chemical_peel_medium"]
    target = next(i.target for i in peel.indications if i.severities and "mild" not in i.severities)
    case = make_case(
        scars=[{"type": target, "count": 3}],
        assessment={"goodman_baron_qualitative": 1},
        preferences={"start": "2027-01-11", "treatments": ["chemical_peel_medium"]},
    )
    plan = plan_case(parse_case(case, kb), kb)
    rec = next(r for r in plan.recommended if r.treatment == "chemical_peel_medium")
    assert rec.scheduled and any(w.code == "not_indicated_at_severity" for w in rec.warnings)


def test_requesting_treatments_keeps_sunscreen_and_lightening(kb: KnowledgeBase) -> None:
    """Pattern 7: with treatments requested, sunscreen and lightening dropped out of the plan."""
    case = make_case(
        scars=[{"type": "rolling", "count": 8}],
        marks=[{"type": "pih", "count": 10}],
        assessment={"goodman_baron_qualitative": 3},
        preferences={"start": "2027-01-11", "treatments": ["subcision"]},
    )
    plan = plan_case(parse_case(case, kb), kb)
    assert {"subcision", "sun_protection", "pih_lightening"} <= _booked(plan)
    assert {s.treatment for s in plan.course.sessions} == {"subcision"}


def test_a_requested_treatment_left_out_for_downtime_says_so_by_name(kb: KnowledgeBase) -> None:
    case = make_case(
        scars=[{"type": "boxcar_shallow", "count": 12}],
        assessment={"goodman_baron_qualitative": 3},
        preferences={"start": "2027-01-11", "treatments": ["microneedling"], "max_downtime_days": 3},
    )
    plan = plan_case(parse_case(case, kb), kb)
    (w,) = [w for w in plan.warnings if w.code == "requested_not_booked"]
    assert kb.treatments["microneedling"].name in w.message and "downtime" in w.message.lower()
