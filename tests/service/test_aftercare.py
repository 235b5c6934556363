"""Check-ins and adverse events in the service, on SQLite and PostgreSQL: what an answer stores,
when it needs attention again, what an adverse event accepts, version checks, and the outcomes
export counting events per treatment and phototype."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from cicatrix.exports.outcomes import adverse_event_rates
from cicatrix.service import adverse_events, checkins, dashboard, records
from cicatrix.service.errors import Conflict, Invalid, NotFound, ServiceError
from cicatrix.service.links import LinkInvalid
from cicatrix.service.schemas import AdverseEventIn, AdverseEventUpdate, CheckInAnswerIn
from cicatrix.storage.models import AuditEvent, CheckIn
from tests.storage.world import World
from tests.today import NOW, TODAY


def _secret(w: World) -> str:
    return w.database.settings.resolved_secret()


def _answer(w: World, token: str, now=NOW, **body):  # type: ignore[no-untyped-def]
    return w.database.run_sync(
        lambda db: checkins.answer(db, w.kb, _secret(w), token, CheckInAnswerIn(**body), now, "127.0.0.1")
    )


def test_checkin_url_is_signed_for_one_session_and_day_and_expires() -> None:
    url = checkins.checkin_url("https://clinic.example/", "s3cret", 42, 3, NOW)
    assert url.startswith("https://clinic.example/c/")
    from cicatrix.service import links

    token = url.rsplit("/", 1)[1]
    assert links.verify("s3cret", token, purpose="check_in", now=NOW) == {"session": 42, "day": 3}
    with pytest.raises(LinkInvalid):
        links.verify("s3cret", token, purpose="check_in", now=NOW + checkins.LINK_VALID)
    with pytest.raises(LinkInvalid):
        links.verify("other", token, purpose="check_in", now=NOW)


def test_a_new_answer_that_needs_attention_returns_to_the_dashboard(world: World) -> None:
    made = world.check_in("P1", answer="worse_than_expected")
    with world.database.transaction() as db:
        ctx = world.ctx("clinician", db)
        assert [a.check_in_id for a in dashboard.build(ctx).attention] == [made["check_in_id"]]
        checkins.acknowledge(ctx, made["check_in_id"], made["version"])
    with world.database.transaction() as db:
        assert dashboard.build(world.ctx("clinician", db)).attention == []
        assert dashboard.build(world.ctx("front_desk", db)).attention == []  # never for front desk
    # the patient changes the answer the same day: it needs a look again
    _answer(world, made["token"], answer="warning_sign", signs=["fever"])
    with world.database.transaction() as db:
        (item,) = dashboard.build(world.ctx("clinician", db)).attention
        assert item.answer_label == "I have one of these" and item.sign_labels == ("Fever or chills",)
        # the dashboard's read is audited per patient, without the answer
        ev = db.scalars(select(AuditEvent).where(AuditEvent.detail == "dashboard: needs attention")).all()
        assert ev and all(e.patient_id == world.patients["P1"] for e in ev)
    # "as expected" takes it off without an acknowledgement
    _answer(world, made["token"], answer="as_expected")
    with world.database.transaction() as db:
        assert dashboard.build(world.ctx("clinician", db)).attention == []


def test_answers_are_checked_against_the_knowledge_base(world: World) -> None:
    made = world.check_in("P1", answer="as_expected")
    for body, field in (
        ({"answer": "fine_thanks"}, "answer"),
        ({"answer": "pih"}, "answer"),  # an adverse-event word is not an answer
        ({"answer": "warning_sign"}, "signs"),  # the signs answer needs a sign
        ({"answer": "worse_than_expected", "signs": ["fever"]}, "signs"),
        ({"answer": "warning_sign", "signs": ["fever", "itchy"]}, "signs[1]"),
    ):
        with pytest.raises(Invalid) as exc:
            _answer(world, made["token"], **body)
        assert exc.value.field == field, body
    with world.database.transaction() as db:
        row = db.get(CheckIn, made["check_in_id"])
        assert row is not None and row.answer == "as_expected" and row.changes == 0  # nothing half-written


def test_a_check_in_cannot_be_answered_before_the_session_or_by_another_clinic(world: World) -> None:
    made = world.new_plan("P1", approve=True)
    early = NOW - timedelta(days=30)
    url = checkins.checkin_url("", _secret(world), made["session_id"], 1, early)
    with pytest.raises(LinkInvalid, match="after your appointment"):
        _answer(world, url.rsplit("/", 1)[1], now=early, answer="as_expected")
    bogus = checkins.checkin_url("", _secret(world), 10**9, 1, NOW)
    with pytest.raises(LinkInvalid, match="not valid"):
        _answer(world, bogus.rsplit("/", 1)[1], answer="as_expected")
    other = world.check_in("P1")
    with world.database.transaction() as db, pytest.raises(NotFound):
        checkins.acknowledge(world.ctx("clinician_b", db), other["check_in_id"], other["version"])


def test_adverse_events_accept_only_knowledge_words_and_sensible_dates(world: World) -> None:
    made = world.new_plan("P1", approve=True)
    base = {"kind": "pih", "severity": "mild", "outcome": "resolving", "onset": TODAY}
    for change, field in (
        ({"kind": "sunburn"}, "kind"),
        ({"kind": "mild"}, "kind"),
        ({"severity": "life_threatening"}, "severity"),
        ({"outcome": "fatal"}, "outcome"),
        ({"onset": TODAY - timedelta(days=1)}, "onset"),  # before the session
        ({"onset": TODAY + timedelta(days=1)}, "onset"),  # in the future
    ):
        with world.database.transaction() as db, pytest.raises(Invalid) as exc:
            adverse_events.create(world.ctx("clinician", db), made["session_id"], AdverseEventIn(**{**base, **change}))
        assert exc.value.field == field, change
    other = world.check_in("P2")
    with world.database.transaction() as db, pytest.raises(Invalid) as exc:
        body = AdverseEventIn(**base, check_in_id=other["check_in_id"])
        adverse_events.create(world.ctx("clinician", db), made["session_id"], body)
    assert exc.value.field == "check_in_id"
    for who in ("front_desk", "patient", "admin"):
        with world.database.transaction() as db, pytest.raises(ServiceError) as refused:
            adverse_events.create(world.ctx(who, db), made["session_id"], AdverseEventIn(**base))
        assert refused.value.status in (403, 404), who


def test_adverse_event_edits_are_version_checked_and_audited(world: World) -> None:
    made = world.adverse_event("P1")
    with world.database.transaction() as db:
        e = adverse_events.update(
            world.ctx("clinician", db), made["event_id"], AdverseEventUpdate(version=made["version"], outcome="resolved")
        )
        assert (e.outcome, e.outcome_label, e.version) == ("resolved", "Resolved", made["version"] + 1)
        assert e.note == "ae-note-marker"  # untouched when not sent
    with world.database.transaction() as db, pytest.raises(Conflict) as exc:
        adverse_events.update(world.ctx("clinician", db), made["event_id"], AdverseEventUpdate(version=made["version"]))
    assert exc.value.field == "version" and exc.value.extra["current_version"] == made["version"] + 1
    with world.database.transaction() as db:
        actions = [
            e.action
            for e in db.scalars(
                select(AuditEvent).where(AuditEvent.entity == "adverse_event", AuditEvent.entity_id == str(made["event_id"]))
            )
        ]
        assert actions == ["create", "update"]


def test_outcomes_export_counts_adverse_events_per_treatment_and_phototype(world: World) -> None:
    # P1's newest plan: one session done, two events on it; P2: nothing
    made = world.new_plan("P1", approve=True)
    from cicatrix.service import plans
    from cicatrix.service.schemas import SessionDoneIn

    with world.database.transaction() as db:
        ctx = world.ctx("clinician", db)
        plans.record_done(ctx, made["session_id"], SessionDoneIn())
        for kind, severity in (("pih", "mild"), ("cold_sore", "moderate")):
            adverse_events.create(
                ctx, made["session_id"], AdverseEventIn(kind=kind, severity=severity, outcome="ongoing", onset=TODAY)
            )
    with world.database.transaction() as db:
        rows = records.outcomes_rows(world.ctx("admin", db), secret=b"k" * 32)
    with_events = [r for r in rows if r["adverse_events"]]
    assert len(with_events) == 1
    (row,) = with_events
    assert row["adverse_events"] == 2 and row["adverse_event_kinds"] == "cold_sore:moderate;pih:mild"
    assert row["sessions_done"] == 1
    # two patients in the clinic: k-anonymity suppresses the quasi-identifiers, never the counts
    assert row["phototype"] == "*" and row["suppressed"] == 1
    assert all(r["adverse_events"] == 0 and r["adverse_event_kinds"] == "" for r in rows if r is not row)
    rates = adverse_event_rates(rows)
    assert rates == [
        {"treatments_planned": "*", "phototype": "*", "sessions_done": 1, "adverse_events": 2, "per_100_sessions": 200.0}
    ]


def test_rates_group_by_treatment_set_and_phototype() -> None:
    rows = [
        {"treatments_planned": "microneedling", "phototype": "IV", "sessions_done": 3, "adverse_events": 1},
        {"treatments_planned": "microneedling", "phototype": "IV", "sessions_done": 5, "adverse_events": 0},
        {"treatments_planned": "microneedling", "phototype": "II", "sessions_done": 4, "adverse_events": 0},
        {"treatments_planned": "tca_cross", "phototype": "IV", "sessions_done": 0, "adverse_events": 0},
    ]
    assert adverse_event_rates(rows) == [
        {"treatments_planned": "microneedling", "phototype": "II", "sessions_done": 4, "adverse_events": 0,
         "per_100_sessions": 0.0},
        {"treatments_planned": "microneedling", "phototype": "IV", "sessions_done": 8, "adverse_events": 1,
         "per_100_sessions": 12.5},
    ]  # fmt: skip


def test_the_check_in_page_carries_only_that_days_session_instructions(world: World) -> None:
    made = world.check_in("P1", day=3)
    page = world.database.run_sync(lambda db: checkins.view(db, world.kb, _secret(world), made["token"], NOW, None))
    assert page.day == 3 and page.answer == "worse_than_expected" and page.can_change
    with world.database.transaction() as db:
        from cicatrix.storage.models import CourseSession, Plan

        s = db.get(CourseSession, made["session_id"])
        assert s is not None
        plan = db.get(Plan, s.plan_id)
        assert plan is not None
        day = s.date + timedelta(days=3)
        expected = {
            (e["kind"], e["text"])
            for e in plan.proposal["timeline"]
            if e.get("treatment") == s.treatment and e.get("session") == s.number and e["kind"] != "session"
            and date.fromisoformat(e["date"]) <= day <= date.fromisoformat(e.get("until") or e["date"])
        }  # fmt: skip
    assert set(page.instructions) == expected and expected
