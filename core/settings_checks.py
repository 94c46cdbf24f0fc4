"""What settings must hold: always (``validate``, as a ``Settings`` is built) and in production
(``check_production``, before the service starts). The settings themselves are declared in
``core.settings``."""

from __future__ import annotations

import dataclasses
import typing
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from core.errors import ConfigurationError
from core.settings_fields import env_name

if TYPE_CHECKING:
    # Only for the annotations: core.settings calls these as it builds a Settings, so it
    # imports this module, not the other way round.
    from core.settings import Settings

ENVIRONMENTS = ("development", "test", "production")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def validate(settings: Settings) -> None:
    """What every Settings must hold, however it was built (types, minimums, known values)."""
    hints = typing.get_type_hints(type(settings))
    for f in dataclasses.fields(settings):
        name, value, kind = env_name(f.name), getattr(settings, f.name), hints[f.name]
        # bool is an int to Python, but LANTERN_MAX_BODY_BYTES=True is a mistake all the same.
        if kind is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        elif kind is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        else:
            ok = isinstance(value, kind)
        if not ok:
            raise ConfigurationError(f"{name} must be a {getattr(kind, '__name__', kind)}")
        minimum = f.metadata.get("minimum")
        if minimum is not None and value < minimum:
            raise ConfigurationError(f"{name} must be at least {minimum}")
    if settings.env not in ENVIRONMENTS:
        raise ConfigurationError("LANTERN_ENV must be development, test or production")
    if settings.log_level.upper() not in LOG_LEVELS:
        raise ConfigurationError("LANTERN_LOG_LEVEL must be one of " + ", ".join(LOG_LEVELS))
    if settings.public_base_url and not settings.public_base_url.startswith(
        ("https://", "http://")
    ):
        raise ConfigurationError("LANTERN_PUBLIC_BASE_URL must be an http(s) URL")
    if settings.argon2_memory_kib < 8 * settings.argon2_parallelism:
        # argon2's own rule; the library would fail later with a less helpful message.
        raise ConfigurationError("LANTERN_ARGON2_MEMORY_KIB must be at least 8 per lane")


def check_production(settings: Settings) -> None:
    """Refuse to run in production with anything only fit for development."""
    if not settings.is_production:
        return
    problems = []
    if settings.debug:
        problems.append("LANTERN_DEBUG must be false")
    if settings.is_sqlite:
        problems.append("LANTERN_DATABASE_URL must point at PostgreSQL, not SQLite")
    if not settings.public_base_url.startswith("https://"):
        problems.append("LANTERN_PUBLIC_BASE_URL must be set to an https:// URL")
    if settings.uses_development_keys:
        problems.append(
            "real keys are required: set LANTERN_KEYS_FILE or LANTERN_KEKS and "
            "LANTERN_INDEX_KEY (development keys are refused)"
        )
    elif settings.keks and settings.index_key:
        # Keys from the environment; a keys file's own are checked as it is read.
        problems.extend(
            f"{name} must be set ({what}; `lantern keys generate` prints one)"
            for name, value, what in (
                ("LANTERN_AUDIT_KEYS", settings.audit_keys, "the audit chain's HMAC key"),
                ("LANTERN_EVIDENCE_KEYS", settings.evidence_keys, "the export signing key"),
            )
            if not value
        )
    if not settings.audit_checkpoints_path:
        # The default lives beside the app, often on one host with the database, and in a
        # container it vanishes with the container: the operator must choose the place.
        problems.append(
            "LANTERN_AUDIT_CHECKPOINTS_PATH must be set (an append-only file off the "
            "database host; it is how a cut audit log is found)"
        )
    if settings.sms_backend != "twilio":
        # The console sender records texts and sends none: check-ins would never reach the
        # survivor, yet missed ones would escalate to advocates and the police.
        problems.append("LANTERN_SMS_BACKEND must be twilio (the console sender sends nothing)")
    elif not (
        settings.twilio_account_sid
        and settings.twilio_auth_token
        and (settings.twilio_messaging_service_sid or settings.twilio_from_number)
    ):
        problems.append(
            "LANTERN_SMS_BACKEND=twilio needs LANTERN_TWILIO_ACCOUNT_SID, "
            "LANTERN_TWILIO_AUTH_TOKEN and LANTERN_TWILIO_MESSAGING_SERVICE_SID (or "
            "LANTERN_TWILIO_FROM_NUMBER)"
        )
    twilio = urlsplit(settings.twilio_api_base_url)
    if settings.twilio_api_base_url and (twilio.scheme, twilio.hostname) != (
        "https",
        "api.twilio.com",
    ):
        # A local mock (Prism) in production: texts would reach no phone.
        problems.append(
            "LANTERN_TWILIO_API_BASE_URL must be empty (Twilio's own API) in production"
        )
    if settings.webhook_sender != "http":
        problems.append("LANTERN_WEBHOOK_SENDER must be http (the fake sends nothing)")
    if problems:
        raise ConfigurationError("refusing to start in production: " + "; ".join(problems))
