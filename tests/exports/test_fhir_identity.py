"""Issue 13 §1, as properties over any session history: one id per resource instance (bdl-7),
the same ids in every export of the same record, and a lossless Bundle → record → Bundle."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cicatrix.engine.result import Plan
from cicatrix.exports.fhir import bundle_json, bundle_to_record, comparable, record_to_bundle
from cicatrix.exports.record import PatientRecord, SessionRecord

from .conftest import make_plan, make_record

PLAN: Plan = make_plan([datetime(2027, 3, 1).date(), datetime(2027, 4, 12).date(), datetime(2027, 5, 24).date()])


@st.composite
def histories(draw: st.DrawFn) -> tuple[SessionRecord, ...]:
    """Each course session given, planned, cancelled, or missed (then re-booked) up to twice,
    each instance re-dated 0-3 times."""
    out = []
    for s in PLAN.course.sessions:
        misses = draw(st.integers(0, 2))
        for occurrence in range(1, misses + 2):
            last = occurrence == misses + 1
            status = draw(st.sampled_from(["planned", "done", "cancelled"])) if last else "missed"
            out.append(
                SessionRecord(
                    treatment=s.treatment,
                    number=s.number,
                    date=s.date + timedelta(days=7 * (occurrence - 1)),
                    status=status,
                    occurrence=occurrence,
                    sequence=draw(st.integers(0, 3)),
                )
            )
    return tuple(out)


def _record(sessions: tuple[SessionRecord, ...], clinic: str | None) -> PatientRecord:
    return msgspec.structs.replace(make_record(PLAN), sessions=sessions, clinic=clinic)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories(), st.sampled_from([None, "clinic-a", "clinic-b"]))
def test_every_instance_has_its_own_stable_id_and_the_round_trip_is_lossless(
    sessions: tuple[SessionRecord, ...], clinic: str | None
) -> None:
    record = _record(sessions, clinic)
    one = json.loads(bundle_json(record_to_bundle(record, datetime(2027, 1, 1, tzinfo=UTC))))
    urls = [e["fullUrl"] for e in one["entry"]]
    assert len(urls) == len(set(urls))  # bdl-7
    assert len({(e["resource"]["resourceType"], e["resource"]["id"]) for e in one["entry"]}) == len(urls)
    two = json.loads(bundle_json(record_to_bundle(record, datetime(2027, 2, 1, tzinfo=UTC))))
    assert [e["fullUrl"] for e in two["entry"]] == urls and two["id"] == one["id"]
    assert (one["timestamp"], two["timestamp"]) == ("2027-01-01T00:00:00Z", "2027-02-01T00:00:00Z")
    back = bundle_to_record(one)
    assert back == record
    assert comparable(record_to_bundle(back)) == comparable(one)


def test_the_same_record_number_in_two_clinics_gets_different_ids() -> None:
    a = json.loads(bundle_json(record_to_bundle(_record((), "clinic-a"))))
    b = json.loads(bundle_json(record_to_bundle(_record((), "clinic-b"))))
    assert not {e["fullUrl"] for e in a["entry"]} & {e["fullUrl"] for e in b["entry"]}
    assert a["id"] != b["id"]
    systems = [e["resource"]["identifier"][0]["system"] for x in (a, b) for e in x["entry"][:1]]
    assert systems == [
        "https://cicatrix.org/fhir/sid/patient-id/clinic-a",
        "https://cicatrix.org/fhir/sid/patient-id/clinic-b",
    ]


def test_a_bundle_without_occurrences_reads_them_in_bundle_order() -> None:
    """An export written before occurrences existed: a missed session and its replacement, in
    booking order, become occurrences 1 and 2."""
    first = PLAN.course.sessions[0]
    sessions = (
        SessionRecord(treatment=first.treatment, number=1, date=first.date, status="missed"),
        SessionRecord(treatment=first.treatment, number=1, date=first.date + timedelta(days=7), occurrence=2),
    )
    data = json.loads(bundle_json(record_to_bundle(_record(sessions, None))))
    for e in data["entry"]:
        if e["resource"]["resourceType"] == "ServiceRequest":
            e["resource"]["extension"] = e["resource"]["extension"][:1]  # the session number only
    back = bundle_to_record(data)
    assert [(s.occurrence, s.status, s.sequence) for s in back.sessions] == [(1, "missed", 0), (2, "planned", 0)]
