"""Delivery guarantees, each against the real SMTP sink: backoff while the server is down and
recovery with nothing lost, a final `failed` the clinic sees, a re-flow during delivery that
sends nothing stale, and a dead worker's lease taken over without a second delivery."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from cicatrix.messaging.email import message_id
from cicatrix.service import messages, plans
from cicatrix.service.schemas import SessionMissedIn
from tests.messaging.sink import SmtpSink
from tests.service.outbox_util import SimClock, approved_course, reachable, rows, smtp_dispatcher

LONDON = ZoneInfo("Europe/London")
START = date(2026, 12, 14)


def _first_due(world) -> datetime:  # type: ignore[no-untyped-def]
    return min(m.due for m in rows(world, status="pending"))


def test_smtp_down_backs_off_then_recovers_with_nothing_lost(world) -> None:
    reachable(world)
    approved_course(world, START)
    sink = SmtpSink()  # its port is chosen, nothing listens yet: the server is down
    clock = SimClock(_first_due(world) + timedelta(days=3))
    due = [m.key for m in rows(world, status="pending") if m.due <= clock.t]
    assert len(due) >= 2
    d = smtp_dispatcher(world, sink, clock, backoff_s=60, max_attempts=5)
    first = d.drain()
    assert first.retried == len(due) and first.sent == 0
    waiting = [m for m in rows(world) if m.key in due]
    assert {m.status for m in waiting} == {"pending"} and {m.attempts for m in waiting} == {1}
    assert {m.next_attempt_at for m in waiting} == {clock.t + timedelta(seconds=60)}
    assert all(m.last_error and "smtp" in m.last_error and "@" not in m.last_error for m in waiting)
    assert d.drain().handled == 0  # backing off: nothing is tried again yet
    clock.t += timedelta(seconds=60)
    assert d.drain().retried == len(due)
    assert {m.next_attempt_at for m in rows(world) if m.key in due} == {clock.t + timedelta(seconds=120)}
    sink.start()  # the server is back
    try:
        clock.t += timedelta(seconds=120)
        assert d.drain().sent == len(due)
        assert {message_id(k) for k in due} <= set(sink.messages)
        assert sink.raw == len(sink.messages)
        assert {m.attempts for m in rows(world) if m.key in due} == {3}
    finally:
        sink.stop()


def test_after_the_last_attempt_a_message_is_failed_and_the_clinic_sees_it(world) -> None:
    reachable(world)
    approved_course(world, START)
    sink = SmtpSink()  # never started
    clock = SimClock(_first_due(world))
    d = smtp_dispatcher(world, sink, clock, backoff_s=1, max_attempts=2)
    d.drain()
    clock.t += timedelta(seconds=1)
    assert d.drain().failed >= 1
    with world.database.transaction() as db:
        failed = messages.for_clinic(world.ctx("front_desk", db), status="failed")
    assert failed.total >= 1 and failed.items[0].last_error
    assert failed.items[0].label == world.kb.messages[failed.items[0].template].label


def test_a_reflow_during_delivery_sends_no_stale_message(world) -> None:
    reachable(world)
    made = approved_course(world, START)
    second = next(s for s in made["sessions"] if s.number == 2)
    sink = SmtpSink().start()
    try:
        clock = SimClock(datetime.combine(second.date + timedelta(days=30), time(12), tzinfo=LONDON))
        d = smtp_dispatcher(world, sink, clock, batch=1000)
        claimed = d.claim()  # the worker holds the batch, about to send it ...
        about_second = {m.key for m in rows(world, status="sending") if m.session_id == second.id}
        assert about_second
        with world.database.transaction() as db:  # ... when the session is moved
            plans.record_missed(world.ctx("clinician", db), second.id,
                                SessionMissedIn(version=made["version"], new_date=second.date + timedelta(days=4)))  # fmt: skip
        counts = d.deliver(claimed)
        assert counts.lost >= len(about_second)
        assert not {message_id(k) for k in about_second} & set(sink.messages)
        assert {m.status for m in rows(world) if m.key in about_second} == {"withdrawn"}
    finally:
        sink.stop()


def test_a_dead_worker_s_lease_expires_and_another_delivers_once(world) -> None:
    reachable(world)
    approved_course(world, START)
    sink = SmtpSink().start()
    try:
        clock = SimClock(_first_due(world) + timedelta(days=2))
        dead = smtp_dispatcher(world, sink, clock, lease_s=120)
        claimed = dead.claim()  # and then it is killed: the rows stay "sending" under its lease
        assert claimed
        other = smtp_dispatcher(world, sink, clock, lease_s=120)
        other.owner = "other-worker"
        assert other.run_once().handled == 0  # the lease still holds
        clock.t += timedelta(seconds=121)
        assert other.drain().sent == len(claimed)
        assert dead.deliver(claimed).lost == len(claimed)  # a worker back from the dead sends nothing
        assert sink.raw == len(sink.messages) == len(claimed)
        assert {m.attempts for m in rows(world, status="sent")} == {2}
    finally:
        sink.stop()


def test_a_patient_without_an_address_is_skipped_not_retried(world) -> None:
    reachable(world)
    approved_course(world, START)
    with world.database.transaction() as db:  # the address removed behind the outbox's back
        from cicatrix.storage.models import Patient

        p = db.get(Patient, world.patients["P1"])
        assert p is not None
        p.email = None
    sink = SmtpSink().start()
    try:
        d = smtp_dispatcher(world, sink, SimClock(_first_due(world)))
        assert d.drain().skipped >= 1
        assert {m.last_error for m in rows(world, status="skipped")} == {"no e-mail address"}
        assert sink.raw == 0
    finally:
        sink.stop()


def test_sms_through_the_twilio_shape_names_no_treatment_and_fits_two_segments(world, sms_api) -> None:  # type: ignore[no-untyped-def]
    from urllib.parse import parse_qs

    from cicatrix.messaging.gsm import segments
    from cicatrix.messaging.sms import TwilioConfig, TwilioProvider
    from cicatrix.service.delivery import DeliveryOptions, dispatcher
    from cicatrix.service.schemas import MessageChoicesIn
    from tests.messaging.sms_api import SID, TOKEN

    state, url = sms_api
    reachable(world, phone="+447400123456")
    with world.database.transaction() as db:
        messages.set_choices(world.ctx("front_desk", db), world.patients["P1"], MessageChoicesIn(channels=["sms"]))
    made = approved_course(world, START)
    pending = rows(world, status="pending")
    assert pending and {m.channel for m in pending} == {"sms"}
    twilio = TwilioProvider(TwilioConfig(account_sid=SID, auth_token=TOKEN, sender="+447700900000", base_url=url))
    clock = SimClock(max(m.due for m in pending))
    d = dispatcher(world.database, world.kb, clock, DeliveryOptions(public_url="https://c.example"),
                   providers={"sms": twilio})  # fmt: skip
    assert d.drain().sent == len(pending)
    names = {t.plain_name.lower() for t in world.kb.treatments.values()} | {"micro-needling", "microneedling"}
    bodies = [parse_qs(r["body"].decode())["Body"][0] for r in state.requests]
    assert len(bodies) == len(pending) == len(state.seen_keys)
    for body in bodies:
        assert segments(body) <= 2
        assert not any(n in body.lower() for n in names), body
    assert {m.provider_id for m in rows(world, status="sent")} == {"SM" + m.key[:32] for m in pending}
    assert made["plan_id"]
