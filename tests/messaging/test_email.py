"""E-mail over SMTP against a real server on loopback: parts, headers, the .ics, idempotency."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from icalendar import Calendar

from cicatrix.messaging.email import SmtpConfig, SmtpProvider, message_id
from cicatrix.messaging.outgoing import Attachment, Outgoing, Transient
from tests.messaging.sink import SmtpSink, free_port

MSG = Outgoing(
    key="k" * 40,
    channel="email",
    to="pat@example.com",
    subject="Tomorrow at 09:00: your micro-needling",
    text="Your micro-needling is tomorrow.\nOn the day:\n- No ibuprofen\n\nIf you cannot come, call us.",
    sender_name="Harbour Skin Clinic",
    unsubscribe="https://clinic.example/u/TOKEN",
    attachments=(Attachment("appointment.ics", "text/calendar; method=PUBLISH", b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"),),
)


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    s = SmtpSink().start()
    yield s
    s.stop()


def _provider(sink: SmtpSink) -> SmtpProvider:
    return SmtpProvider(SmtpConfig(host="127.0.0.1", port=sink.port, security="none", sender="clinic@example.com"))


def test_an_email_carries_text_html_calendar_and_one_click_unsubscribe(sink: SmtpSink) -> None:
    p = _provider(sink)
    assert p.send(MSG) == message_id(MSG.key)
    p.close()
    mail = sink.messages[message_id(MSG.key)]
    assert sink.envelopes[message_id(MSG.key)] == ["pat@example.com"]
    assert mail["X-Idempotency-Key"] == MSG.key
    assert mail["List-Unsubscribe"] == "<https://clinic.example/u/TOKEN>"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "Harbour Skin Clinic" in mail["From"]
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert "- No ibuprofen" in text and "https://clinic.example/u/TOKEN" in text
    assert "&bull; No ibuprofen" in html and 'href="https://clinic.example/u/TOKEN"' in html
    cal = [a for a in mail.iter_attachments() if a.get_content_type() == "text/calendar"]
    assert len(cal) == 1 and cal[0].get_filename() == "appointment.ics"
    assert cal[0].get_param("method") == "PUBLISH"


def test_html_escapes_what_the_text_contains(sink: SmtpSink) -> None:
    p = _provider(sink)
    p.send(Outgoing(key="h" * 40, channel="email", to="a@example.com", subject="s", text="<script>x</script>"))
    p.close()
    html = sink.messages[message_id("h" * 40)].get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_a_repeat_is_the_same_message_to_the_sink(sink: SmtpSink) -> None:
    p = _provider(sink)
    p.send(MSG)
    p.send(MSG)
    p.close()
    assert sink.raw == 2 and len(sink.messages) == 1


def test_a_server_that_is_down_is_a_transient_failure() -> None:
    p = SmtpProvider(SmtpConfig(host="127.0.0.1", port=free_port(), security="none", timeout_s=2))
    with pytest.raises(Transient) as exc:
        p.send(MSG)
    assert "pat@example.com" not in exc.value.reason  # no personal data in the stored error


def test_the_connection_is_reused_and_reopened_after_the_server_drops_it(sink: SmtpSink) -> None:
    p = _provider(sink)
    p.send(MSG)
    assert p._conn is not None
    p._conn.sock.close()  # the server (or a NAT) dropped it between two batches
    p.send(Outgoing(key="r" * 40, channel="email", to="b@example.com", subject="s", text="t"))
    p.close()
    assert message_id("r" * 40) in sink.messages


def test_session_attachment_is_the_calendar_event_of_the_subscription() -> None:
    from datetime import date, time

    from cicatrix.exports.ics import CalendarOptions, _uid, session_event_bytes

    raw = session_event_bytes("MRN-1", "microneedling", 2, "Micro-needling", date(2027, 1, 11), time(9, 30),
                              CalendarOptions(tz="Europe/London", clinic_name="Harbour"), sequence=1)  # fmt: skip
    ev = next(iter(Calendar.from_ical(raw).walk("VEVENT")))
    assert str(ev["UID"]) == _uid("MRN-1", "microneedling", 2, "session")
    assert ev.decoded("DTSTART").isoformat() == "2027-01-11T09:30:00+00:00"
    assert int(ev["SEQUENCE"]) == 1
