"""SMS through an HTTP API: a Twilio-shaped adapter and a generic signed webhook.

Both send the outbox's idempotency key with the request, so the provider drops a repeat of a
message it has already accepted. An SMS names no treatment and no diagnosis (the templates'
`sms` text, checked by the knowledge tests) and is refused here if it would take more than two
segments (`gsm.segments`): a third segment is a template or data error, not something to send.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass

import httpx

from cicatrix.messaging.gsm import segments
from cicatrix.messaging.outgoing import Outgoing, Permanent, Transient

MAX_SEGMENTS = 2


def _check(message: Outgoing) -> None:
    if segments(message.text) > MAX_SEGMENTS:
        raise Permanent(f"sms longer than {MAX_SEGMENTS} segments")


def _raise_for(resp: httpx.Response) -> None:
    if resp.status_code == 429 or resp.status_code >= 500:
        raise Transient(f"http {resp.status_code}")
    if resp.status_code >= 400:
        raise Permanent(f"http {resp.status_code}")


@dataclass(frozen=True)
class TwilioConfig:
    account_sid: str
    auth_token: str
    sender: str  # the From number or messaging service
    base_url: str = "https://api.twilio.com"
    timeout_s: float = 15.0


class TwilioProvider:
    """`POST {base}/2010-04-01/Accounts/{sid}/Messages.json`, form-encoded, HTTP basic auth,
    `I-Twilio-Idempotency-Token: <key>`; the answer's `sid` is the provider's id."""

    def __init__(self, config: TwilioConfig, transport: httpx.BaseTransport | None = None) -> None:
        self.config = config
        self._client = httpx.Client(base_url=config.base_url, timeout=config.timeout_s,
                                    auth=(config.account_sid, config.auth_token), transport=transport)  # fmt: skip

    def send(self, message: Outgoing) -> str:
        _check(message)
        try:
            resp = self._client.post(
                f"/2010-04-01/Accounts/{self.config.account_sid}/Messages.json",
                data={"To": message.to, "From": self.config.sender, "Body": message.text},
                headers={"I-Twilio-Idempotency-Token": message.key},
            )
        except httpx.HTTPError as exc:
            raise Transient(f"http {type(exc).__name__}") from None
        _raise_for(resp)
        try:
            return str(resp.json()["sid"])
        except (ValueError, KeyError, TypeError):
            raise Transient("http unreadable answer") from None

    def close(self) -> None:
        self._client.close()


@dataclass(frozen=True)
class WebhookConfig:
    url: str
    secret: str
    sender: str = ""
    timeout_s: float = 15.0


def signature(secret: str, body: bytes) -> str:
    """`sha256=<hex HMAC of the raw body>`, as the receiver recomputes it."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookProvider:
    """A JSON POST `{"id", "to", "from", "text"}` signed with HMAC-SHA256 over the exact body
    (`X-Cicatrix-Signature`), with `Idempotency-Key`; any 2xx is accepted, a JSON `id` in the
    answer is kept as the provider's id."""

    def __init__(self, config: WebhookConfig, transport: httpx.BaseTransport | None = None) -> None:
        self.config = config
        self._client = httpx.Client(timeout=config.timeout_s, transport=transport)

    def send(self, message: Outgoing) -> str:
        _check(message)
        body = json.dumps(
            {"id": message.key, "to": message.to, "from": self.config.sender, "text": message.text},
            ensure_ascii=False,
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": message.key,
            "X-Cicatrix-Signature": signature(self.config.secret, body),
        }
        try:
            resp = self._client.post(self.config.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise Transient(f"http {type(exc).__name__}") from None
        _raise_for(resp)
        try:
            answer = resp.json()
        except ValueError:
            answer = {}
        return str(answer.get("id") or message.key) if isinstance(answer, dict) else message.key

    def close(self) -> None:
        self._client.close()
