"""Signed, expiring links that act without a login: a check-in, a one-click opt-out.

A message reaches a patient's phone, which is not a private place, so a link in it must grant
exactly one narrow thing (answer this check-in, stop these messages) for a limited time, and
nothing else: no name, no diagnosis, no other dates. The token carries what it grants
(`subject`) and when it stops working (`exp`), signed with the clinic's secret and a `purpose`
as salt, so a check-in token can never be replayed as an opt-out token or a session cookie.

Nothing is stored to issue a link, so a worker on any host can render one at delivery; what a
link may still do is decided when it is used (an opted-out kind stays opted out, an answered
check-in can be changed the same day), by the use case that receives it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from itsdangerous import BadSignature, URLSafeSerializer

Scalar = int | str


class LinkInvalid(Exception):
    """The token is forged, altered, for another purpose, or expired. The message is for people."""


def _serializer(secret: str, purpose: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=f"cicatrix-link:{purpose}")


def sign(secret: str, *, purpose: str, subject: Mapping[str, Scalar], expires: datetime) -> str:
    """A URL-safe token granting `purpose` over `subject` until `expires` (an aware datetime)."""
    if expires.tzinfo is None:
        raise ValueError("expires must be timezone-aware")
    if "exp" in subject:
        raise ValueError("'exp' is reserved in a link's subject")
    payload = {**subject, "exp": int(expires.astimezone(UTC).timestamp())}
    return str(_serializer(secret, purpose).dumps(payload))


def verify(secret: str, token: str, *, purpose: str, now: datetime) -> dict[str, Scalar]:
    """The subject the token grants, or `LinkInvalid`. `now` is passed in (the service's clock)."""
    try:
        payload = _serializer(secret, purpose).loads(token)
    except BadSignature as exc:
        raise LinkInvalid("This link is not valid. Please use the latest message from your clinic.") from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("exp"), int):
        raise LinkInvalid("This link is not valid. Please use the latest message from your clinic.")
    if now.astimezone(UTC).timestamp() >= payload["exp"]:
        raise LinkInvalid("This link has expired. Please contact your clinic if you need help.")
    subject = {k: v for k, v in payload.items() if k != "exp"}
    if not all(isinstance(v, int | str) for v in subject.values()):
        raise LinkInvalid("This link is not valid. Please use the latest message from your clinic.")
    return subject
