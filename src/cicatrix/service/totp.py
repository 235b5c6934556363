"""The mechanism of the staff's second factor: TOTP (RFC 6238, `pyotp`) with one-time recovery codes.

Who must have one (`required`): every admin, and a clinic's clinicians when the clinic asks
for it (`Clinic.second_factor_clinicians`, default off); any staff member may enrol. A token
records whether the login that issued it presented the factor (`ApiToken.second_factor`); an
account that needs one and logged in without it gets an actor that may only enrol
(`Actor.enrol_only`, see `auth.resolve_token`).

The shared secret is stored sealed (`seal`: a keystream and a MAC, both HMAC-SHA256 under keys
derived from the service's secret key) and is shown only while enrolling, never after it is
confirmed. Recovery codes are 80-bit random strings, stored as SHA-256 (a slow hash adds
nothing to a code with that much entropy), each accepted once. A code is accepted for the
current 30-second step or the one either side (clock drift), and never for a step at or
before the last one accepted for the account (`User.totp_last_step`): a code seen over a
shoulder or replayed from a log is refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime

import pyotp
import segno
from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from cicatrix.storage.models import RecoveryCode, User

STEP_S = 30
DIGITS = 6
RECOVERY_COUNT = 10
ISSUER = "cicatrix"
_SEAL_VERSION = "v1"


# ---------- who needs one ----------


def required(role: str, clinicians_too: bool) -> bool:
    """Admins always; clinicians when their clinic asks for it; nobody else (they may opt in)."""
    return role == "admin" or (role == "clinician" and clinicians_too)


def enrolled(user: User) -> bool:
    return user.totp_confirmed_at is not None and user.totp_secret is not None


# ---------- the sealed secret ----------


def _keys(key: str) -> tuple[bytes, bytes]:
    root = key.encode()
    enc = hmac.new(root, b"cicatrix second factor: encryption", hashlib.sha256).digest()
    mac = hmac.new(root, b"cicatrix second factor: authentication", hashlib.sha256).digest()
    return enc, mac


def _stream(enc: bytes, nonce: bytes, n: int) -> bytes:
    blocks = (n + 31) // 32
    return b"".join(hmac.new(enc, nonce + i.to_bytes(4, "big"), hashlib.sha256).digest() for i in range(blocks))[:n]


def seal(key: str, plain: str) -> str:
    """Encrypt-then-MAC with HMAC-SHA256 as the pseudo-random function (counter mode): the
    standard library only, no new dependency for one 32-character secret."""
    enc, mac = _keys(key)
    nonce = secrets.token_bytes(16)
    data = plain.encode()
    body = bytes(a ^ b for a, b in zip(data, _stream(enc, nonce, len(data)), strict=True))
    tag = hmac.new(mac, nonce + body, hashlib.sha256).digest()
    return f"{_SEAL_VERSION}.{base64.urlsafe_b64encode(nonce + body + tag).decode()}"


def unseal(key: str, sealed: str) -> str | None:
    """The secret, or None when it was sealed under another key or altered."""
    version, _, payload = sealed.partition(".")
    if version != _SEAL_VERSION:
        return None
    try:
        raw = base64.urlsafe_b64decode(payload.encode())
    except ValueError:
        return None
    if len(raw) < 48:
        return None
    nonce, body, tag = raw[:16], raw[16:-32], raw[-32:]
    enc, mac = _keys(key)
    if not hmac.compare_digest(tag, hmac.new(mac, nonce + body, hashlib.sha256).digest()):
        return None
    return bytes(a ^ b for a, b in zip(body, _stream(enc, nonce, len(body)), strict=True)).decode()


# ---------- codes ----------


def normal(code: str) -> str:
    return "".join(ch for ch in code.strip().lower() if ch not in " -")


def step_at(now: datetime) -> int:
    return int(now.timestamp()) // STEP_S


def totp_ok(db: Session, user: User, key: str, code: str, now: datetime) -> bool:
    secret = unseal(key, user.totp_secret) if user.totp_secret else None
    if secret is None:
        return False
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_S)
    current = step_at(now)
    last = user.totp_last_step if user.totp_last_step is not None else -1
    for step in (current - 1, current, current + 1):
        if step > last and hmac.compare_digest(totp.at(step * STEP_S), code):
            user.totp_last_step = step
            return True
    return False


def _recovery_hash(code: str) -> str:
    return hashlib.sha256(("cicatrix-recovery:" + code).encode()).hexdigest()


def _recovery_ok(db: Session, user: User, code: str, now: datetime) -> bool:
    """Use a recovery code up; atomic (a conditional UPDATE), so two logins cannot share one."""
    done = db.execute(
        update(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.code_hash == _recovery_hash(code),
               RecoveryCode.used_at.is_(None))
        .values(used_at=now)
    )  # fmt: skip
    return bool(done.rowcount)  # type: ignore[attr-defined]


def check(db: Session, user: User, key: str, code: str, now: datetime) -> str | None:
    """Whether `code` is a current TOTP code or an unused recovery code of this enrolled
    account: "totp", "recovery", or None. Accepting a code uses it up."""
    if not enrolled(user):
        return None
    code = normal(code)
    if len(code) == DIGITS and code.isdigit():
        return "totp" if totp_ok(db, user, key, code, now) else None
    if 8 <= len(code) <= 64 and code.isalnum():
        return "recovery" if _recovery_ok(db, user, code, now) else None
    return None


def new_recovery_codes(db: Session, user: User, now: datetime) -> list[str]:
    db.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_COUNT):
        raw = base64.b32encode(secrets.token_bytes(10)).decode().lower()  # 80 bits, 16 characters
        codes.append("-".join(raw[i : i + 4] for i in range(0, 16, 4)))
        db.add(RecoveryCode(user_id=user.id, code_hash=_recovery_hash(raw), created_at=now))
    return codes


def qr_svg(uri: str) -> str:
    """The provisioning URI as an inline SVG (no script, no external image)."""
    return segno.make(uri, error="m").svg_inline(
        scale=4, dark="#000", light="#fff", title="QR code of the second factor"
    )
