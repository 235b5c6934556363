"""A real SMTP server on loopback (aiosmtpd) that records what it receives.

It behaves as a provider with idempotency keys does: `messages` holds each Message-ID once
(a repeat of an accepted message is acknowledged and dropped), while `raw` counts every
delivery it was handed, repeats included, so a test can tell "at least once to the provider"
from "exactly once to the patient".
"""

from __future__ import annotations

import socket
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        mail = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(mail, EmailMessage)
        with self.sink.lock:
            self.sink.raw += 1
            key = str(mail["Message-ID"])
            if key not in self.sink.messages:
                self.sink.messages[key] = mail
                self.sink.envelopes[key] = list(envelope.rcpt_tos)
        return "250 OK"


class SmtpSink:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.lock = threading.Lock()
        self.messages: dict[str, EmailMessage] = {}
        self.envelopes: dict[str, list[str]] = {}
        self.raw = 0
        self._controller: Controller | None = None

    def start(self) -> SmtpSink:
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def env(self) -> dict[str, str]:
        """The worker's environment for this sink."""
        return {"CICATRIX_SMTP_HOST": "127.0.0.1", "CICATRIX_SMTP_PORT": str(self.port),
                "CICATRIX_SMTP_SECURITY": "none", "CICATRIX_SMTP_FROM": "clinic@example.com"}  # fmt: skip
