"""The outbox: every instruction of the seed-002 micro-needling course reaches the patient as a
message on its day, at the clinic's local time, and a moved session's old reminders are stale."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from cicatrix.engine.case import parse_case
from cicatrix.engine.outbox import Choices, OutboxItem, QuietHours, plan_messages, render
from cicatrix.engine.plan import plan_case
from cicatrix.engine.reschedule import reschedule_plan
from cicatrix.knowledge.models import KnowledgeBase
from cicatrix.messaging.gsm import segments

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
CASE = {
    "patient": {"id": "seed-002", "phototype": "III"},
    "assessment": {
        "date": "2026-11-20",
        "goodman_baron_qualitative": 3,
        "scars": [{"type": "rolling", "count": 14}],
        "marks": [],
        "active_lesions": [],
    },
    "preferences": {"treatments": ["microneedling"], "start": "2027-01-11"},
}


def _messages(kb: KnowledgeBase, plan, **kw) -> tuple[OutboxItem, ...]:  # type: ignore[no-untyped-def]
    args = {"patient": "p-1", "clinic": "Harbour Skin Clinic", "place": "12 Quay Street", "tz": "Europe/London"}
    return plan_messages(plan, kb, **{**args, "choices": Choices(channels=("email",)), "now": NOW, **kw})


def _body(kb: KnowledgeBase, item: OutboxItem) -> str:
    return render(kb.messages[item.template], item.channel, item.context, "https://clinic.example/l/x")[1]


def test_every_seed_002_instruction_arrives_on_its_day(kb: KnowledgeBase) -> None:
    case = parse_case(CASE, kb)
    plan = plan_case(case, kb)
    sessions = [s for s in plan.course.sessions if s.treatment == "microneedling"]
    assert len(sessions) == 3
    items = _messages(kb, plan)
    by_local_day: dict[date, list[str]] = {}
    for item in items:
        local = item.due.astimezone(LONDON)
        by_local_day.setdefault(local.date(), []).append(_body(kb, item))
        assert local.time() in (time(8), time(17), time(18), time(10)), (item.template, local)
    for s in sessions:
        for e in plan.timeline:
            if e.treatment != "microneedling" or e.session != s.number or e.kind == "session":
                continue
            # day-of rules come the evening before; everything else on the day it starts
            day = s.date - timedelta(days=1) if e.date == s.date else e.date
            assert any(e.text in body for body in by_local_day.get(day, [])), (s.number, e.code, day)
        # three check-ins, each with its one-tap link
        check_ins = sorted(
            i.due.astimezone(LONDON).date() for i in items if i.template == "check_in" and i.session == s.number
        )
        assert check_ins == [s.date + timedelta(days=d) for d in (1, 3, 7)]
    assert any(i.template == "recall" for i in items) and any(i.template == "follow_up" for i in items)
    # local times hold across the clock change: 08:00 in London is 07:00 UTC in summer
    summer = [i for i in items if i.template == "pre_care" and i.due.astimezone(LONDON).month in (4, 5, 6)]
    assert summer and all(i.due.hour == 7 for i in summer)


def test_sms_names_no_treatment_and_fits_two_segments(kb: KnowledgeBase) -> None:
    plan = plan_case(parse_case(CASE, kb), kb)
    items = _messages(kb, plan, choices=Choices(channels=("sms",)))
    assert items
    for item in items:
        body = _body(kb, item)
        assert segments(body) <= 2, body
        assert "needling" not in body.lower() and "scar" not in body.lower(), body
    for m in kb.messages.values():  # the templates themselves, with long values
        body = m.sms.format_map(
            {k: "x" * 30 for k in ("clinic", "treatment", "day", "time", "place", "instructions", "elapsed")}
            | {"link": "https://c.example/l/" + "A" * 43}
        )
        assert segments(body) <= 2, m.id


def test_choices_quiet_hours_opt_out_and_channels(kb: KnowledgeBase) -> None:
    plan = plan_case(parse_case(CASE, kb), kb)
    quiet = QuietHours(start=time(16, 45), end=time(9, 15))
    items = _messages(
        kb, plan, choices=Choices(channels=("email", "sms"), quiet=quiet, opted_out=frozenset({"check_ins"}))
    )
    assert not [i for i in items if i.template == "check_in"]
    for i in items:
        local = i.due.astimezone(LONDON).time()
        assert not quiet.holds(local), (i.template, local)
    evening = [i for i in items if i.template == "day_before"]
    # the evening before stays the day before: half an hour before the quiet hours begin
    assert evening and all(i.due.astimezone(LONDON).time() == time(16, 15) for i in evening)
    morning = [i for i in items if i.template == "pre_care"]
    assert morning and all(i.due.astimezone(LONDON).time() == time(9, 15) for i in morning)
    assert {i.channel for i in items} == {"email", "sms"}
    assert len({i.key for i in items}) == len(items)
    assert all(i.due >= NOW for i in items)


def test_a_moved_session_makes_its_old_reminders_stale(kb: KnowledgeBase) -> None:
    case = parse_case(CASE, kb)
    plan = plan_case(case, kb)
    before = {i.key: i for i in _messages(kb, plan)}
    s2 = next(s for s in plan.course.sessions if s.number == 2)
    moved = reschedule_plan(plan, case, kb, "microneedling", 2, s2.date + timedelta(days=7))
    after = {i.key: i for i in _messages(kb, moved)}
    stale = before.keys() - after.keys()
    assert stale and all(before[k].session in (2, 3) or before[k].template in ("follow_up", "recall") for k in stale)
    kept = [i for i in before.values() if i.session == 1]
    assert kept and all(i.key in after for i in kept)  # session 1's messages are the same messages


@pytest.mark.parametrize("now", [datetime(2027, 2, 20, tzinfo=UTC)])
def test_nothing_in_the_past(kb: KnowledgeBase, now: datetime) -> None:
    plan = plan_case(parse_case(CASE, kb), kb)
    items = _messages(kb, plan, now=now)
    assert items and min(i.due for i in items) >= now
    assert not [i for i in items if i.session == 1]
