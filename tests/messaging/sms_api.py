"""A local HTTP server (stdlib, in a thread) in the shape of an SMS API: Twilio's REST API and a
signed webhook. It checks every request (path, basic auth, form fields, idempotency header,
HMAC signature) and records what it accepted."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest

from cicatrix.messaging.outgoing import Outgoing
from cicatrix.messaging.sms import signature

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
def sms_api() -> Iterator[tuple[Api, str]]:
    state = Api()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


