"""What a provider is handed: one rendered message, its idempotency key, and how it may fail.

A provider raises `Transient` for a failure worth retrying (a server down, a 4xx greylist, a
timeout, a 429/5xx) and `Permanent` for one that will not heal by itself (a refused address, a
rejected credential). Their `reason` is a class of failure ("smtp 451", "http 503"), never an
address or text: it is stored on the outbox row and logged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


class DeliveryError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason[:200]


class Transient(DeliveryError):
    """Try again later (with backoff)."""


class Permanent(DeliveryError):
    """Will not succeed by retrying: the message is marked failed for the clinic to see."""


@dataclass(frozen=True)
class Attachment:
    filename: str
    mime: str  # "text/calendar; method=PUBLISH"
    data: bytes


@dataclass(frozen=True)
class Outgoing:
    """A rendered message. `key` is the outbox's idempotency key: the provider receives it (as the
    e-mail's Message-ID, as an SMS API's idempotency header) so a retry after a crash between
    "sent" and "marked sent" is recognised as the same message."""

    key: str
    channel: str  # email | sms
    to: str
    subject: str
    text: str
    html: str | None = None
    sender_name: str = ""
    unsubscribe: str | None = None  # the one-click opt-out URL (List-Unsubscribe)
    attachments: tuple[Attachment, ...] = field(default_factory=tuple)


class Provider(Protocol):
    """One channel's way out. `send` returns the provider's id for the message."""

    def send(self, message: Outgoing) -> str: ...

    def close(self) -> None: ...
