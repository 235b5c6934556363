"""`cicatrix user create` bootstraps the first admin; the demo seed gives a working clinic."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from cicatrix.cli.main import app
from cicatrix.service import auth
from cicatrix.service.demo import DEMO_PASSWORD, seed
from cicatrix.storage.db import Database
from cicatrix.storage.models import Plan, User
from cicatrix.storage.settings import Settings
from tests.today import TODAY


def test_user_create_bootstraps_an_admin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CICATRIX_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.delenv("CICATRIX_DATABASE_URL", raising=False)
    runner = CliRunner()
    r = runner.invoke(app, ["user", "create", "--username", "Boss", "--role", "admin",
                            "--password-stdin"], input="a long enough secret\n")  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "created admin account 'boss'" in r.output
    database = Database(Settings.from_env())
    with database.transaction() as db:
        u = db.scalar(select(User).where(User.username == "boss"))
        assert u is not None and u.password_hash.startswith("$argon2id$")
        assert auth.verify_password(u.password_hash, "a long enough secret")
    database.dispose()
    r = runner.invoke(app, ["user", "create", "--username", "boss", "--password-stdin"],
                      input="a long enough secret\n")  # fmt: skip
    assert r.exit_code == 2 and "username" in r.output
    r = runner.invoke(app, ["user", "create", "--username", "xyz2", "--role", "wizard",
                            "--password-stdin"], input="a long enough secret\n")  # fmt: skip
    assert r.exit_code == 2 and "role" in r.output


def test_the_host_resets_a_lost_second_factor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The only admin lost the phone and the recovery codes: the operator of the host resets
    it from the shell; the admin enrols again at the next login. Audited."""
    import pyotp

    from cicatrix.service import second_factor
    from cicatrix.service.context import Actor, Context
    from cicatrix.storage.db import utcnow
    from cicatrix.storage.models import ApiToken, AuditEvent

    monkeypatch.setenv("CICATRIX_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.delenv("CICATRIX_DATABASE_URL", raising=False)
    runner = CliRunner()
    r = runner.invoke(app, ["user", "create", "--username", "boss", "--password-stdin"], input="a long enough secret\n")
    assert r.exit_code == 0, r.output
    settings = Settings.from_env()
    database = Database(settings)
    with database.transaction() as db:
        u = db.scalars(select(User).where(User.username == "boss")).one()
        _raw, tok = auth.issue_token(db, u, "session", 60, None)
        ctx = Context(db=db, actor=Actor(user_id=u.id, clinic_id=u.clinic_id, role="admin", token_id=tok.id), kb=None)  # type: ignore[arg-type]
        made = second_factor.start(ctx, settings.resolved_secret())
        second_factor.confirm(ctx, settings.resolved_secret(), pyotp.TOTP(made.secret).now(), utcnow())
    r = runner.invoke(app, ["user", "reset-second-factor", "Boss"])
    assert r.exit_code == 0, r.output
    assert "second factor of 'boss' reset" in r.output
    with database.transaction() as db:
        u = db.scalars(select(User).where(User.username == "boss")).one()
        assert u.totp_secret is None and u.totp_confirmed_at is None
        assert db.get(ApiToken, tok.id).revoked_at is not None  # type: ignore[union-attr]
        event = db.scalars(select(AuditEvent).where(AuditEvent.action == "second_factor_reset")).one()
        assert "command line" in (event.detail or "") and event.entity_id == str(u.id)
    database.dispose()
    r = runner.invoke(app, ["user", "reset-second-factor", "nobody"])
    assert r.exit_code == 2 and "no such account" in r.output


def test_demo_seed_is_complete_and_idempotent(settings: Settings, kb) -> None:  # type: ignore[no-untyped-def]
    from cicatrix.storage import migrate

    migrate.upgrade(settings)
    database = Database(settings)
    with database.transaction() as db:
        accounts = seed(db, kb, TODAY)
        assert {r for _, _, r in accounts} == {"admin", "clinician", "front_desk", "patient"}
        statuses = db.scalars(select(Plan.status)).all()
        assert "approved" in statuses and "proposed" in statuses
        again = seed(db, kb, TODAY)
        assert again == accounts
        assert len(db.scalars(select(Plan.status)).all()) == len(statuses)
        for username, password, _ in accounts:
            assert password == DEMO_PASSWORD
            u = db.scalar(select(User).where(User.username == username))
            assert u is not None and auth.verify_password(u.password_hash, password)
    database.dispose()
