"""Frozen, typed settings read from ``LANTERN_`` environment variables.

Every setting is declared once here, with its variable name, default and what production
requires; the README's configuration table is checked against this list by a test.
Settings live in ``core`` (not ``api``) because the worker and the CLI need them too and
``core`` may import nothing above it.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import ConfigurationError

ENV_PREFIX = "LANTERN_"


def _setting(default: Any, doc: str, production: str = "", secret: bool = False) -> Any:
    return field(
        default=default,
        metadata={"doc": doc, "production": production, "secret": secret},
    )


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the service can be configured with; build with :func:`load_settings`."""

    env: str = _setting(
        "development",
        "`development`, `test` or `production`.",
        "`production`",
    )
    debug: bool = _setting(False, "Flask debug mode.", "must be false")
    database_url: str = _setting(
        "",
        "SQLAlchemy URL. Empty means a SQLite file `instance/lantern.db`.",
        "a `postgresql+psycopg://` URL",
        secret=True,
    )
    instance_path: str = _setting(
        "instance", "Folder for the SQLite file, development keys and stored attachments."
    )
    public_base_url: str = _setting(
        "",
        "The https URL clients and Twilio reach this service at (used to check webhook "
        "signatures and build callback URLs).",
        "required",
    )
    keys_file: str = _setting(
        "",
        "JSON file holding the key-encryption keys and the index key. Empty in development "
        "means `instance/dev-keys.json`, generated on first use.",
        "required unless `LANTERN_KEKS` and `LANTERN_INDEX_KEY` are set",
    )
    keks: str = _setting(
        "",
        "Key-encryption keys as `id:base64url,id:base64url` (primary first); overrides the "
        "keys file.",
        "required (or a keys file)",
        secret=True,
    )
    index_key: str = _setting(
        "",
        "Base64url key for blind indexes and keyed hashes (separate from every KEK).",
        "required (or a keys file)",
        secret=True,
    )
    max_body_bytes: int = _setting(1_048_576, "Largest request body accepted, in bytes.")
    trusted_proxies: int = _setting(
        0,
        "How many reverse proxies in front of the app may set `X-Forwarded-For` and "
        "`X-Forwarded-Proto`.",
        "the number of your proxies (usually 1)",
    )
    openapi_enabled: bool = _setting(True, "Serve the OpenAPI contract at `/openapi.json`.")
    log_level: str = _setting("INFO", "Log level for the JSON logs.")
    redis_url: str = _setting(
        "",
        "Redis URL for shared rate limits. Empty means in-process limits (one process only).",
        "required with more than one app process",
        secret=True,
    )
    argon2_time_cost: int = _setting(3, "argon2id iterations (OWASP minimum is 2 at 19 MiB).")
    argon2_memory_kib: int = _setting(65_536, "argon2id memory in KiB.")
    argon2_parallelism: int = _setting(1, "argon2id lanes.")
    staff_idle_minutes: int = _setting(30, "A staff session ends after this long unused.")
    staff_session_hours: int = _setting(12, "A staff session ends this long after login.")
    survivor_access_minutes: int = _setting(
        15, "Lifetime of a survivor app's access token (refreshed with a rotating refresh token)."
    )
    survivor_refresh_days: int = _setting(
        30, "A survivor device session ends after this long without a refresh."
    )
    enrollment_code_hours: int = _setting(72, "How long a survivor enrollment code is valid.")
    staff_invitation_hours: int = _setting(72, "How long a staff invitation is valid.")
    job_lease_seconds: int = _setting(
        60, "How long a worker holds a claimed job before another worker may take it."
    )
    job_poll_seconds: float = _setting(1.0, "How often an idle worker looks for due jobs.")
    job_batch_size: int = _setting(20, "How many due jobs a worker claims at once.")

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{Path(self.instance_path).resolve() / 'lantern.db'}"

    @property
    def uses_development_keys(self) -> bool:
        return not (self.keks and self.index_key) and not self.keys_file

    def replace(self, **changes: Any) -> Settings:
        """A copy with some settings changed (tests use this)."""
        return dataclasses.replace(self, **changes)

    def check_production(self) -> None:
        """Refuse to run in production with anything only fit for development."""
        if not self.is_production:
            return
        problems = []
        if self.debug:
            problems.append("LANTERN_DEBUG must be false")
        if self.is_sqlite:
            problems.append("LANTERN_DATABASE_URL must point at PostgreSQL, not SQLite")
        if not self.public_base_url.startswith("https://"):
            problems.append("LANTERN_PUBLIC_BASE_URL must be set to an https:// URL")
        if self.uses_development_keys:
            problems.append(
                "real keys are required: set LANTERN_KEYS_FILE or LANTERN_KEKS and "
                "LANTERN_INDEX_KEY (development keys are refused)"
            )
        if problems:
            raise ConfigurationError("refusing to start in production: " + "; ".join(problems))


def env_name(field_name: str) -> str:
    return ENV_PREFIX + field_name.upper()


def setting_fields() -> tuple[dataclasses.Field[Any], ...]:
    return dataclasses.fields(Settings)


def _parse(name: str, raw: str, kind: Any) -> Any:
    if kind is bool:
        lowered = raw.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off", ""}:
            return False
        raise ConfigurationError(f"{name} must be true or false")
    if kind is int:
        try:
            return int(raw)
        except ValueError:
            raise ConfigurationError(f"{name} must be a whole number") from None
    if kind is float:
        try:
            return float(raw)
        except ValueError:
            raise ConfigurationError(f"{name} must be a number") from None
    return raw


def load_settings(environ: Mapping[str, str], **overrides: Any) -> Settings:
    """Build settings from an environment mapping (``os.environ``), then ``overrides``."""
    hints = typing.get_type_hints(Settings)
    values: dict[str, Any] = {}
    for f in setting_fields():
        name = env_name(f.name)
        if name in environ:
            kind = hints[f.name]
            if isinstance(kind, types.UnionType):  # pragma: no cover - no optional settings yet
                kind = next(a for a in typing.get_args(kind) if a is not type(None))
            values[f.name] = _parse(name, environ[name], kind)
    values.update(overrides)
    settings = Settings(**values)
    if settings.env not in {"development", "test", "production"}:
        raise ConfigurationError("LANTERN_ENV must be development, test or production")
    if settings.max_body_bytes < 1024:
        raise ConfigurationError("LANTERN_MAX_BODY_BYTES must be at least 1024")
    return settings
