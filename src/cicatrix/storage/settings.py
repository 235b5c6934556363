"""Where the data lives and the secret that signs cookies, read from the environment."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

DATA_DIR_ENV = "CICATRIX_DATA_DIR"
DATABASE_URL_ENV = "CICATRIX_DATABASE_URL"
SECRET_ENV = "CICATRIX_SECRET_KEY"
FHIR_MAX_ENTRIES_ENV = "CICATRIX_FHIR_MAX_ENTRIES"


class SettingsError(ValueError):
    """A setting from the environment that cannot be used; the message names the variable."""


def _positive_int(name: str) -> int:
    raw = os.environ[name].strip()
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
        raise SettingsError(f"{name}: must be a whole number of 1 or more, got {raw!r}")
    return int(raw)


@dataclass(frozen=True)
class Settings:
    """Everything the service needs to start; build it with `Settings.from_env()` or by hand."""

    data_dir: Path = Path("cicatrix-data")
    database_url: str | None = None
    secret_key: str | None = None
    knowledge_dir: Path | None = None
    # The most entries a FHIR Bundle may hold to be imported (exports.fhir.DEFAULT_MAX_ENTRIES).
    fhir_max_entries: int = 1000
    cookie_secure: bool = False
    session_max_age_s: int = 12 * 3600
    token_max_age_s: int = 30 * 24 * 3600
    # Login throttle (service/auth.py): per account, this many failures are free, then the wait
    # after each failure doubles from login_delay_s up to login_max_delay_s (failures counted
    # over login_failure_memory_s); per address, login_max_failures_per_ip per login_window_s.
    login_max_failures: int = 5
    login_delay_s: int = 30
    login_max_delay_s: int = 15 * 60
    login_failure_memory_s: int = 24 * 3600
    login_window_s: int = 15 * 60
    login_max_failures_per_ip: int = 100
    pool_size: int = 10
    # Request bodies (api/intake.py): 1 MB, and 10 MB for the FHIR import.
    max_body_bytes: int = 1_000_000
    max_import_body_bytes: int = 10_000_000
    # HTTP Strict-Transport-Security max-age in seconds; 0 sends no header (api/headers.py).
    hsts_max_age_s: int = 0
    # Addresses of reverse proxies whose X-Forwarded-For is believed (api/deps.client_ip).
    trusted_proxies: tuple[str, ...] = ()
    # The address patients reach the web app at: the links in their messages start with it.
    public_url: str = "http://localhost:8000"
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        from cicatrix.knowledge.loader import overrides_from_env

        values: dict[str, object] = {
            "data_dir": Path(os.environ.get(DATA_DIR_ENV, "cicatrix-data")),
            "database_url": os.environ.get(DATABASE_URL_ENV) or None,
            "secret_key": os.environ.get(SECRET_ENV) or None,
            "knowledge_dir": overrides_from_env(),
            "cookie_secure": os.environ.get("CICATRIX_COOKIE_SECURE", "") in ("1", "true", "yes"),
            "public_url": os.environ.get("CICATRIX_PUBLIC_URL", "").strip() or "http://localhost:8000",
            "trusted_proxies": tuple(p.strip() for p in os.environ.get("CICATRIX_TRUSTED_PROXIES", "").split(",")
                                     if p.strip()),
        }
        if FHIR_MAX_ENTRIES_ENV in os.environ:
            values["fhir_max_entries"] = _positive_int(FHIR_MAX_ENTRIES_ENV)
        for name, env in (("max_body_bytes", "CICATRIX_MAX_BODY_BYTES"),
                          ("max_import_body_bytes", "CICATRIX_MAX_IMPORT_BODY_BYTES"),
                          ("hsts_max_age_s", "CICATRIX_HSTS_MAX_AGE")):
            raw = os.environ.get(env, "").strip()
            if raw:
                if not raw.isdigit():
                    raise ValueError(f"{env} must be a whole number, got {raw!r}")
                values[name] = int(raw)
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]

    @property
    def url(self) -> str:
        """The SQLAlchemy URL: PostgreSQL when configured, else SQLite in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'cicatrix.sqlite3').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    @property
    def sqlite_path(self) -> Path:
        if not self.is_sqlite:
            raise ValueError("database is not SQLite")
        return Path(self.url.removeprefix("sqlite:///"))

    def resolved_secret(self) -> str:
        """The signing secret; generated once into the data directory when not configured."""
        if self.secret_key:
            return self.secret_key
        self.data_dir.mkdir(parents=True, exist_ok=True)
        path = self.data_dir / "secret.key"
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(48))
        return path.read_text().strip()
