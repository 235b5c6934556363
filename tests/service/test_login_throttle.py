"""Login throttling instead of lock-out (issue 12 §3): a progressive per-account delay and a
per-address limit, counted atomically across concurrent requests on both back ends; the
account's owner gets in from an address they used before; unknown usernames are audited."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from cicatrix.service import auth
from cicatrix.service.errors import RateLimited
from cicatrix.storage.models import AuditEvent, LoginAttempt
from tests.storage.world import PASSWORD


def _try(world, settings, username: str, password: str, ip: str) -> str:  # type: ignore[no-untyped-def]
    """One login as the API makes it: one unit of work, a failure committed before it is answered."""
    try:
        with world.database.transaction() as db:
            signed = auth.login(db, settings, username, password, ip)
            if signed is None:
                return "wrong"  # the block commits the counted failure
            if signed.code_needed:
                return "code"  # the password was right; the account has a second factor
            auth.issue_token(db, signed.user, "bearer", 60, ip)
            return "ok"
    except RateLimited as exc:
        assert exc.extra["retry_after"] > 0
        return "throttled"


def test_concurrent_guesses_are_counted_atomically(world) -> None:  # type: ignore[no-untyped-def]
    settings = world.database.settings
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda i: _try(world, settings, "clinician@test", f"guess {i}", "198.51.100.1"),
                                range(24)))  # fmt: skip
    assert results.count("wrong") == settings.login_max_failures, results
    assert results.count("throttled") == 24 - settings.login_max_failures


def test_the_delay_grows_and_blocked_attempts_do_not_extend_it(world) -> None:  # type: ignore[no-untyped-def]
    s = world.database.settings
    for _ in range(s.login_max_failures):
        assert _try(world, s, "clinician@test", "wrong guess", "198.51.100.2") == "wrong"
    with world.database.session() as db:
        with pytest.raises(RateLimited) as first:
            auth.login(db, s, "clinician@test", "wrong guess", "198.51.100.2")
        assert 0 < first.value.extra["retry_after"] <= s.login_delay_s
        before = db.scalar(select(LoginAttempt.id).order_by(LoginAttempt.id.desc()).limit(1))
        with pytest.raises(RateLimited):
            auth.login(db, s, "clinician@test", PASSWORD, "198.51.100.2")  # right password: still waits
        assert db.scalar(select(LoginAttempt.id).order_by(LoginAttempt.id.desc()).limit(1)) == before
        # when the wait is over, the next failure doubles it
        for row in db.scalars(select(LoginAttempt)):
            row.at = auth._aware(row.at) - timedelta(seconds=s.login_delay_s + 1)
        db.commit()
    assert _try(world, s, "clinician@test", "wrong again", "198.51.100.2") == "wrong"
    with world.database.session() as db, pytest.raises(RateLimited) as second:
        auth.login(db, s, "clinician@test", PASSWORD, "198.51.100.2")
    assert second.value.extra["retry_after"] > s.login_delay_s
    # other accounts are unaffected
    assert _try(world, s, "front_desk@test", PASSWORD, "198.51.100.2") == "ok"


def test_the_owner_gets_in_from_a_known_address(world) -> None:  # type: ignore[no-untyped-def]
    s = world.database.settings
    assert _try(world, s, "clinician@test", PASSWORD, "192.0.2.10") == "ok"  # the owner's usual address
    for _ in range(s.login_max_failures + 3):
        _try(world, s, "clinician@test", "attacker guess", "203.0.113.66")
    assert _try(world, s, "clinician@test", PASSWORD, "203.0.113.66") == "throttled"
    assert _try(world, s, "clinician@test", PASSWORD, "203.0.113.99") == "throttled"
    assert _try(world, s, "clinician@test", PASSWORD, "192.0.2.10") == "ok"


def test_per_address_limit(world) -> None:  # type: ignore[no-untyped-def]
    s = replace(world.database.settings, login_max_failures_per_ip=6)
    for i in range(6):
        assert _try(world, s, f"someone{i}@test", "x", "203.0.113.7") == "wrong"
    assert _try(world, s, "front_desk@test", PASSWORD, "203.0.113.7") == "throttled"
    assert _try(world, s, "front_desk@test", PASSWORD, "203.0.113.8") == "ok"


def test_unknown_usernames_are_in_every_clinics_audit_trail(world) -> None:  # type: ignore[no-untyped-def]
    from cicatrix.service import audit_trail

    _try(world, world.database.settings, "no-such-user", "whatever it is", "203.0.113.5")
    with world.database.session() as db:
        for admin in ("admin", "clinician_b"):
            ctx = world.ctx(admin, db)
            if admin == "clinician_b":
                continue  # only admins read the trail; clinic B has none in the test world
            rows = audit_trail.search(ctx).items
            failed = [e for e in rows if e.action == "login_failed" and e.detail == "unknown username"]
            assert failed and failed[0].ip == "203.0.113.5"
            assert "no-such-user" not in str([(e.detail, e.entity_id) for e in rows])
        assert db.scalar(select(AuditEvent.clinic_id).where(AuditEvent.detail == "unknown username")) is None
