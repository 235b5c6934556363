"""Which provider carries each channel, from the environment (secrets never in the database).

| variable | meaning |
|---|---|
| `CICATRIX_SMTP_HOST`, `_PORT`, `_SECURITY` (starttls, tls, none), `_USER`, `_PASSWORD`, `_FROM` | SMTP |
| `CICATRIX_SMS_PROVIDER=twilio`, `CICATRIX_TWILIO_ACCOUNT_SID`, `_AUTH_TOKEN`, `_BASE_URL` | SMS, Twilio's API |
| `CICATRIX_SMS_PROVIDER` = `webhook` with `CICATRIX_SMS_WEBHOOK_URL`, `_SECRET` | SMS, a signed JSON webhook |
| `CICATRIX_SMS_FROM` | the sender number or name |
| `CICATRIX_OUTBOX_DIR` | the development folder (default `<data dir>/outbox`) |

A channel with nothing configured goes to the development folder, so `make run` and the demo
show every message without sending anything.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from cicatrix.messaging.email import SmtpConfig, SmtpProvider
from cicatrix.messaging.files import FileProvider
from cicatrix.messaging.outgoing import Provider
from cicatrix.messaging.sms import TwilioConfig, TwilioProvider, WebhookConfig, WebhookProvider


class ConfigError(ValueError):
    """A messaging setting that cannot be used; the message names the variable."""


def _need(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"{name} must be set")
    return value


def smtp_from_env(env: Mapping[str, str]) -> SmtpConfig | None:
    host = env.get("CICATRIX_SMTP_HOST", "").strip()
    if not host:
        return None
    security = env.get("CICATRIX_SMTP_SECURITY", "starttls").strip().lower()
    if security not in ("starttls", "tls", "none"):
        raise ConfigError(f"CICATRIX_SMTP_SECURITY must be starttls, tls or none, got {security!r}")
    raw_port = env.get("CICATRIX_SMTP_PORT", "").strip() or {"tls": "465", "starttls": "587"}.get(security, "25")
    if not raw_port.isdigit() or not 0 < int(raw_port) < 65536:
        raise ConfigError(f"CICATRIX_SMTP_PORT must be a port number, got {raw_port!r}")
    return SmtpConfig(
        host=host,
        port=int(raw_port),
        security=security,  # type: ignore[arg-type]
        user=env.get("CICATRIX_SMTP_USER") or None,
        password=env.get("CICATRIX_SMTP_PASSWORD") or None,
        sender=_need(env, "CICATRIX_SMTP_FROM"),
    )


def providers_from_env(data_dir: Path, env: Mapping[str, str] | None = None) -> dict[str, Provider]:
    """One provider per channel ("email", "sms")."""
    env = os.environ if env is None else env
    folder = dev_folder(data_dir, env)
    out: dict[str, Provider] = {}
    smtp = smtp_from_env(env)
    out["email"] = SmtpProvider(smtp) if smtp else FileProvider(folder)
    kind = env.get("CICATRIX_SMS_PROVIDER", "").strip().lower()
    if kind == "twilio":
        out["sms"] = TwilioProvider(
            TwilioConfig(
                account_sid=_need(env, "CICATRIX_TWILIO_ACCOUNT_SID"),
                auth_token=_need(env, "CICATRIX_TWILIO_AUTH_TOKEN"),
                sender=_need(env, "CICATRIX_SMS_FROM"),
                base_url=env.get("CICATRIX_TWILIO_BASE_URL") or "https://api.twilio.com",
            )
        )
    elif kind == "webhook":
        out["sms"] = WebhookProvider(
            WebhookConfig(
                url=_need(env, "CICATRIX_SMS_WEBHOOK_URL"),
                secret=_need(env, "CICATRIX_SMS_WEBHOOK_SECRET"),
                sender=env.get("CICATRIX_SMS_FROM", ""),
            )
        )
    elif kind in ("", "file"):
        out["sms"] = FileProvider(folder)
    else:
        raise ConfigError(f"CICATRIX_SMS_PROVIDER must be twilio, webhook or file, got {kind!r}")
    return out


def dev_folder(data_dir: Path, env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(env.get("CICATRIX_OUTBOX_DIR") or data_dir / "outbox")
