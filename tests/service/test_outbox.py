"""The outbox in the service: written with the change that causes it, recomputed on every change,
delivered once over a real SMTP server, a stale message never sent."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from cicatrix.messaging.email import message_id
from cicatrix.service import plans
from cicatrix.service.schemas import PlanEditIn, SessionMissedIn
from tests.messaging.sink import SmtpSink
from tests.service.outbox_util import SimClock, approved_course, reachable, rows, smtp_dispatcher
from tests.today import NOW

LONDON = ZoneInfo("Europe/London")  # clinic A's zone
START = date(2026, 12, 14)  # three weeks after the suite's today: the whole pre-care is still ahead


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    s = SmtpSink().start()
    yield s
    s.stop()


def test_approval_writes_the_course_messages_in_its_own_transaction(world) -> None:
    reachable(world)
    # an address recorded: the course already running starts to be carried (same transaction)
    running = rows(world, status="pending")
    assert running
    made = approved_course(world, START)
    # the new approval supersedes it: its messages are withdrawn, the new course's written
    assert {m.status for m in rows(world) if m.key in {r.key for r in running}} <= {"withdrawn", "pending"}
    pending = rows(world, status="pending")
    assert pending and all(m.patient_id == world.patients["P1"] and m.channel == "email" for m in pending)
    assert {m.template for m in pending} >= {"pre_care", "day_before", "aftercare", "check_in", "follow_up", "recall"}
    assert all(m.due > NOW for m in pending)
    assert all(m.session_id is not None for m in pending if m.template in ("day_before", "check_in"))
    # one key per message: a refresh of the unchanged plan adds and withdraws nothing
    from cicatrix.service import outbox

    with world.database.transaction() as db:
        assert outbox.refresh(db, world.kb, world.patients["P1"], NOW) == (0, 0)
    # a patient without an address or a phone is owed nothing
    assert rows(world, patient_id=world.patients["P2"]) == []
    # an edit proposes a change beside the running course (issue 14 §2): the course's messages
    # go on unchanged, and nothing is sent for the proposal no one approved
    with world.database.transaction() as db:
        plans.edit(world.ctx("clinician", db), made["plan_id"],
                   PlanEditIn(version=made["version"], start=START + timedelta(days=7), reason="patient away"))  # fmt: skip
    assert {m.key for m in rows(world, status="pending")} == {m.key for m in pending}


def test_an_approval_that_fails_leaves_no_message(world) -> None:
    from cicatrix.service.errors import Conflict

    reachable(world)
    made = approved_course(world, START)
    before = len(rows(world))
    with pytest.raises(Conflict), world.database.transaction() as db:
        plans.approve(world.ctx("clinician", db), made["plan_id"], made["version"])  # already approved
    assert len(rows(world)) == before


def test_a_moved_session_s_old_reminder_is_never_delivered(world, sink: SmtpSink) -> None:
    """Schedule, move the session, run delivery: the old reminder is not delivered."""
    reachable(world)
    made = approved_course(world, START)
    second = next(s for s in made["sessions"] if s.number == 2)
    old = [m for m in rows(world, template="day_before", status="pending") if m.session_id == second.id]
    assert len(old) == 1
    new_day = second.date + timedelta(days=7)  # the same weekday: the clinic is open
    with world.database.transaction() as db:
        plans.record_missed(world.ctx("clinician", db), second.id,
                            SessionMissedIn(version=made["version"], new_date=new_day))  # fmt: skip
    assert rows(world, key=old[0].key)[0].status == "withdrawn"
    moved = rows(world, template="moved")
    assert len(moved) == 1 and moved[0].due == NOW
    clock = SimClock(datetime.combine(new_day + timedelta(days=400), time(12), tzinfo=LONDON))
    d = smtp_dispatcher(world, sink, clock)
    counts = d.drain()
    assert counts.sent == len(rows(world, status="sent")) > 0 and counts.failed == 0
    assert message_id(old[0].key) not in sink.messages
    assert message_id(moved[0].key) in sink.messages
    # the reminder for the new day went out, with the session's calendar event attached
    new = [m for m in rows(world, template="day_before", status="sent")
           if m.context["day"].endswith(f"{new_day.day} {new_day:%B}")]  # fmt: skip
    assert len(new) == 1
    mail = sink.messages[message_id(new[0].key)]
    assert any(a.get_content_type() == "text/calendar" for a in mail.iter_attachments())
    assert sink.raw == len(sink.messages)  # nothing delivered twice


def test_the_dispatcher_runs_the_whole_course_over_a_simulated_clock(world, sink: SmtpSink) -> None:
    """Done when: every instruction of the micro-needling course (seed 002) reaches the patient
    as a message, at the right local time, the dispatcher driven by a clock the test moves."""
    reachable(world)
    made = approved_course(world, START)
    pending = rows(world, status="pending")
    clock = SimClock(NOW)
    d = smtp_dispatcher(world, sink, clock)
    delivered_at: dict[str, datetime] = {}
    for due in sorted({m.due for m in pending}):
        clock.t = due - timedelta(seconds=1)
        assert d.drain().sent == 0  # nothing goes early
        clock.t = due
        for m_id in [m.key for m in pending if m.due == due]:
            delivered_at.setdefault(m_id, due)
        assert d.drain().sent == sum(1 for m in pending if m.due == due)
    sent = rows(world, status="sent")
    assert len(sent) == len(pending) == len(sink.messages) == sink.raw
    by_day: dict[date, list[str]] = {}
    for m in sent:
        assert m.sent_at == m.due == delivered_at[m.key]
        local = m.due.astimezone(LONDON)
        assert local.time() == time.fromisoformat(world.kb.messages[m.template].send_at), m.template
        mail = sink.messages[message_id(m.key)]
        by_day.setdefault(local.date(), []).append(mail.get_body(("plain",)).get_content())
    for s in made["plan"]["course"]["sessions"]:
        for e in made["plan"]["timeline"]:
            if e["treatment"] != "microneedling" or e.get("session") != s["number"] or e["kind"] == "session":
                continue
            on = date.fromisoformat(e["date"])
            day = on - timedelta(days=1) if on == date.fromisoformat(s["date"]) else on
            assert any(e["text"] in body for body in by_day.get(day, [])), (s["number"], e["code"], day)
    # the follow-up invitation and the yearly refresher recall came too
    assert {m.template for m in sent} >= {"follow_up", "recall", "check_in"}
    checkins = [m for m in sent if m.template == "check_in"]
    assert len(checkins) == 3 * len(made["plan"]["course"]["sessions"])
    # each check-in links to its one-tap page: signed for that session and day, expiring
    from cicatrix.service import links

    for m in checkins:
        body = sink.messages[message_id(m.key)].get_body(("plain",)).get_content()
        token = body.split("https://clinic.example/c/")[1].split()[0]
        subject = links.verify("test-secret", token, purpose="check_in", now=m.due)
        session = next(s for s in made["sessions"] if s.id == m.session_id)
        assert subject == {"session": session.id, "day": (m.due.astimezone(LONDON).date() - session.date).days}
        assert subject["day"] in (1, 3, 7)


def test_a_clinic_time_zone_change_moves_every_waiting_message(world) -> None:
    from cicatrix.service import users
    from cicatrix.service.schemas import ClinicUpdate

    reachable(world)
    approved_course(world, START)
    before = {m.template: m.due for m in rows(world, status="pending")}
    with world.database.transaction() as db:
        users.update_clinic(world.ctx("admin", db), ClinicUpdate(timezone="America/New_York"))
    after = rows(world, status="pending")
    new_york = ZoneInfo("America/New_York")
    assert after and all(m.due.astimezone(new_york).time() == time.fromisoformat(world.kb.messages[m.template].send_at)
                         for m in after)  # fmt: skip
    assert {m.template: m.due for m in after} != before
