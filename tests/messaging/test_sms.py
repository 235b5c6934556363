"""SMS adapters against a local HTTP server (stdlib, in a thread) that checks every request."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest

from cicatrix.messaging.outgoing import Outgoing, Permanent, Transient
from cicatrix.messaging.sms import TwilioConfig, TwilioProvider, WebhookConfig, WebhookProvider, signature

SID, TOKEN, SECRET = "AC0123456789abcdef", "auth-token", "hook-secret"
SMS = Outgoing(key="k1" * 20, channel="sms", to="+447700900123", subject="",
               text="Harbour Skin Clinic: reminder of your appointment tomorrow. Instructions: https://c.example/me")  # fmt: skip


class Api:
    """What the fake provider saw, and what it answers next."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = 201
        self.seen_keys: set[str] = set()


def _handler(api: Api) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            api.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
            status, answer = api.status, {}
            if self.path.startswith("/2010-04-01/"):
                ok_auth = self.headers["Authorization"] == "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
                form = parse_qs(body.decode())
                key = self.headers.get("I-Twilio-Idempotency-Token", "")
                if not ok_auth:
                    status = 401
                elif self.path != f"/2010-04-01/Accounts/{SID}/Messages.json" or not key or set(form) != {
                    "To", "From", "Body"}:  # fmt: skip
                    status = 400
                answer = {"sid": "SM" + key[:32], "status": "queued"}
            else:
                if self.headers["X-Cicatrix-Signature"] != signature(SECRET, body):
                    status = 401
                answer = {"id": "hook-" + json.loads(body)["id"][:8]}
            if status < 300:
                api.seen_keys.add(self.headers.get("I-Twilio-Idempotency-Token") or self.headers["Idempotency-Key"])
            raw = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

    return Handler


@pytest.fixture
def api() -> Iterator[tuple[Api, str]]:
    state = Api()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_twilio_shape_form_post_basic_auth_and_idempotency_token(api: tuple[Api, str]) -> None:
    state, url = api
    p = TwilioProvider(TwilioConfig(account_sid=SID, auth_token=TOKEN, sender="+447700900000", base_url=url))
    assert p.send(SMS) == "SM" + SMS.key[:32]
    p.close()
    [req] = state.requests
    form = parse_qs(req["body"].decode())
    assert form == {"To": [SMS.to], "From": ["+447700900000"], "Body": [SMS.text]}
    assert req["headers"]["I-Twilio-Idempotency-Token"] == SMS.key
    assert req["headers"]["Content-Type"].startswith("application/x-www-form-urlencoded")


def test_twilio_errors_are_sorted_into_retry_and_fail(api: tuple[Api, str]) -> None:
    state, url = api
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


def test_webhook_body_is_signed_and_carries_the_key(api: tuple[Api, str]) -> None:
    state, url = api
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


def test_more_than_two_segments_is_refused_before_any_request(api: tuple[Api, str]) -> None:
    state, url = api
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
