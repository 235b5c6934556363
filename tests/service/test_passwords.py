"""Password policy per NIST SP 800-63B (issue 12 §3): length, a common-password list shipped
as data, not the username, no composition rules."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cicatrix.service import passwords


@pytest.mark.parametrize(
    "password",
    ["short", "elevenchars", "password1234", "Password2024!", "iloveyou2024!!", "qwertyuiop123",
     "aaaaaaaaaaaa", "abcabcabcabc", "123456789012", "qwertyuiopas", "cicatrix2026!", "alice@example.org",
     "ALICE@example.org!!"],
)  # fmt: skip
def test_weak_passwords_are_refused(password: str) -> None:
    assert passwords.problem(password, "alice@example.org") is not None


@pytest.mark.parametrize(
    "password",
    ["correct horse battery", "a long enough secret", "cicatrix-demo", "alllowercaseletters",
     "ØØ glacier 🌊 morning", "12 angry men in a row"],
)  # fmt: skip
def test_long_uncommon_passwords_pass_without_composition_rules(password: str) -> None:
    assert passwords.problem(password, "alice@example.org") is None


def test_the_common_list_is_shipped_and_large() -> None:
    common = passwords.common_passwords()
    assert len(common) > 19_000
    assert "password" in common and "iloveyou" in common


@given(st.text(min_size=12, max_size=40).filter(lambda p: len(set(p.lower())) > 6))
def test_refusals_never_contain_the_password(password: str) -> None:
    why = passwords.problem(password)
    assert why is None or password not in why
