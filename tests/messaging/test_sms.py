"""SMS adapters against a local HTTP server (stdlib, in a thread) that checks every request."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import pytest

from cicatrix.messaging.outgoing import Outgoing, Permanent, Transient
from cicatrix.messaging.sms import TwilioConfig, TwilioProvider, WebhookConfig, WebhookProvider
from tests.messaging.sms_api import SECRET, SID, SMS, TOKEN, Api


def test_twilio_shape_form_post_basic_auth_and_idempotency_token(sms_api: tuple[Api, str]) -> None:
    state, url = sms_api
    p = TwilioProvider(TwilioConfig(account_sid=SID, auth_token=TOKEN, sender="+447700900000", base_url=url))
    assert p.send(SMS) == "SM" + SMS.key[:32]
    p.close()
    [req] = state.requests
    form = parse_qs(req["body"].decode())
    assert form == {"To": [SMS.to], "From": ["+447700900000"], "Body": [SMS.text]}
    assert req["headers"]["I-Twilio-Idempotency-Token"] == SMS.key
    assert req["headers"]["Content-Type"].startswith("application/x-www-form-urlencoded")


def test_twilio_errors_are_sorted_into_retry_and_fail(sms_api: tuple[Api, str]) -> None:
    state, url = sms_api
    p = TwilioProvider(TwilioConfig(account_sid=SID, auth_token=TOKEN, sender="+1", base_url=url))
    for status, kind in ((503, Transient), (429, Transient), (400, Permanent)):
        state.status = status
        with pytest.raises(kind) as exc:
            p.send(SMS)
        assert exc.value.reason == f"http {status}"
    bad = TwilioProvider(TwilioConfig(account_sid=SID, auth_token="wrong", sender="+1", base_url=url))
    state.status = 201
    with pytest.raises(Permanent, match="401"):
        bad.send(SMS)
    p.close()
    bad.close()


def test_webhook_body_is_signed_and_carries_the_key(sms_api: tuple[Api, str]) -> None:
    state, url = sms_api
    p = WebhookProvider(WebhookConfig(url=f"{url}/sms", secret=SECRET, sender="Harbour"))
    assert p.send(SMS) == "hook-" + SMS.key[:8]
    [req] = state.requests
    assert json.loads(req["body"]) == {"id": SMS.key, "to": SMS.to, "from": "Harbour", "text": SMS.text}
    assert req["headers"]["Idempotency-Key"] == SMS.key
    wrong = WebhookProvider(WebhookConfig(url=f"{url}/sms", secret="not-the-secret"))
    with pytest.raises(Permanent, match="401"):
        wrong.send(SMS)
    p.close()
    wrong.close()


def test_more_than_two_segments_is_refused_before_any_request(sms_api: tuple[Api, str]) -> None:
    state, url = sms_api
    p = WebhookProvider(WebhookConfig(url=f"{url}/sms", secret=SECRET))
    long = Outgoing(key="x" * 40, channel="sms", to="+1", subject="", text="a" * 307)  # 3 GSM-7 segments
    with pytest.raises(Permanent, match="segments"):
        p.send(long)
    assert state.requests == []
    p.send(Outgoing(key="y" * 40, channel="sms", to="+1", subject="", text="a" * 306))  # exactly 2
    p.close()


def test_a_provider_that_is_down_is_transient() -> None:
    from tests.messaging.sink import free_port

    p = WebhookProvider(WebhookConfig(url=f"http://127.0.0.1:{free_port()}/sms", secret=SECRET, timeout_s=2))
    with pytest.raises(Transient):
        p.send(SMS)
    p.close()
