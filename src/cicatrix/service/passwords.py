"""Password policy, after NIST SP 800-63B §5.1.1.2 (memorised secrets).

A password is refused when it is shorter than 12 characters, is on a list of common
passwords (shipped as data: `service/data/common-passwords.txt.gz`, 19,640 entries from
breach corpora), is such a password with digits or symbols around it (`Password2024!`), is
the username or the product's name, or is one character, a short unit repeated, or a
keyboard or alphabet run. There are no composition rules (no "one digit, one capital"),
no forced expiry, and any printable character, spaces and emoji included, is welcome.

Errors name the field `password` and never carry the password itself.
"""

from __future__ import annotations

import gzip
import string
from functools import lru_cache
from pathlib import Path

from cicatrix.service.errors import Invalid

MIN_LENGTH = 12
MAX_LENGTH = 1000
_LIST = Path(__file__).parent / "data" / "common-passwords.txt.gz"
_PADDING = string.digits + string.punctuation + string.whitespace
_RUNS = ("0123456789" * 4, "abcdefghijklmnopqrstuvwxyz" * 2, "qwertyuiopasdfghjklzxcvbnm" * 2,
         "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p" * 2)  # fmt: skip
_CONTEXT = ("cicatrix",)


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    with gzip.open(_LIST, "rt", encoding="utf-8") as fh:
        return frozenset(line.strip() for line in fh if line.strip())


def _repetitive(p: str) -> bool:
    if len(set(p)) <= 2:
        return True
    for size in range(1, len(p) // 2 + 1):
        if len(p) % size == 0 and p[:size] * (len(p) // size) == p:
            return True
    return any(p in run or p in run[::-1] for run in _RUNS)


def problem(password: str, username: str | None = None) -> str | None:
    """Why this password is refused, or None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return f"must be at least {MIN_LENGTH} characters (a few words make a good one)"
    if len(password) > MAX_LENGTH:
        return f"must be at most {MAX_LENGTH} characters"
    lowered = password.lower()
    core = lowered.strip(_PADDING)
    common = common_passwords()
    if lowered in common or core in common:
        return "is on a list of commonly used passwords; choose another"
    name = (username or "").strip().lower()
    if name and (lowered == name or core == name or core == name.split("@")[0]):
        return "must not be the username"
    if core in _CONTEXT or not core:
        return "is too easy to guess; choose another"
    if _repetitive(lowered) or _repetitive(core):
        return "is a repeated or sequential pattern; choose another"
    return None


def check(password: str, username: str | None = None) -> None:
    """Raise a 422 naming `password` (never echoing it) when the policy refuses it."""
    why = problem(password, username)
    if why is not None:
        raise Invalid("password", why)
