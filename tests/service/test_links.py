"""Signed links: what a token grants, for how long, and for which purpose only."""

from datetime import UTC, datetime, timedelta

import pytest

from cicatrix.service.links import LinkInvalid, sign, verify

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
SECRET = "s" * 32


def test_a_token_grants_its_subject_until_it_expires() -> None:
    token = sign(SECRET, purpose="check_in", subject={"session": 7, "day": 3}, expires=NOW + timedelta(days=2))
    assert verify(SECRET, token, purpose="check_in", now=NOW) == {"session": 7, "day": 3}
    with pytest.raises(LinkInvalid, match="expired"):
        verify(SECRET, token, purpose="check_in", now=NOW + timedelta(days=2))


def test_a_token_is_bound_to_its_purpose_and_secret() -> None:
    token = sign(SECRET, purpose="check_in", subject={"session": 7}, expires=NOW + timedelta(days=1))
    with pytest.raises(LinkInvalid):
        verify(SECRET, token, purpose="opt_out", now=NOW)
    with pytest.raises(LinkInvalid):
        verify("t" * 32, token, purpose="check_in", now=NOW)


def test_an_altered_token_is_refused() -> None:
    token = sign(SECRET, purpose="opt_out", subject={"patient": 1}, expires=NOW + timedelta(days=1))
    head, _, tail = token.partition(".")
    forged = sign("x" * 32, purpose="opt_out", subject={"patient": 2}, expires=NOW + timedelta(days=1))
    with pytest.raises(LinkInvalid):
        verify(SECRET, forged.partition(".")[0] + "." + tail, purpose="opt_out", now=NOW)
    with pytest.raises(LinkInvalid):
        verify(SECRET, head + ".AAAA", purpose="opt_out", now=NOW)


def test_naive_expiry_and_reserved_keys_are_programming_errors() -> None:
    with pytest.raises(ValueError):
        sign(SECRET, purpose="p", subject={}, expires=datetime(2027, 1, 1))
    with pytest.raises(ValueError):
        sign(SECRET, purpose="p", subject={"exp": 1}, expires=NOW)
