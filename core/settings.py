"""Frozen, typed settings read from ``LANTERN_`` environment variables.

Every setting is declared once here, with its variable name, default and what production
requires; the README's configuration table is checked against this list by a test.
Settings live in ``core`` (not ``api``) because the worker and the CLI need them too and
``core`` may import nothing above it. How a setting is declared, read from the environment and
shown in the README is in ``core.settings_fields``; what settings must hold, always and in
production, in ``core.settings_checks``.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core import settings_checks
from core.settings_fields import env_name, markdown_table, parse_value
from core.settings_fields import setting as _setting

__all__ = ["Settings", "configuration_table", "env_name", "load_settings", "setting_fields"]


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
        "JSON file holding the key-encryption keys, the index key, the audit keys and the "
        "evidence keys. Empty in development means `instance/dev-keys.json`, generated on "
        "first use (and extended, with a warning, when an older Lantern wrote it).",
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
    audit_keys: str = _setting(
        "",
        "HMAC keys that chain the audit log, as `id:base64url,id:base64url` (primary first; "
        "keep the old ones, they verify the events they keyed); overrides the keys file's.",
        "required (or in the keys file)",
        secret=True,
    )
    audit_unkeyed_events: int = _setting(
        0,
        "How many events at the start of the audit log were written before the chain was "
        "keyed (a database older than the audit key: `lantern audit verify` tells the number). "
        "Any other unkeyed event is a break in the chain.",
        minimum=0,
    )
    audit_checkpoints_path: str = _setting(
        "",
        "Append-only file of audit checkpoints: after each successful verification (the "
        "hourly worker job, `lantern audit verify`) the verified head of the audit log is "
        "added, with an HMAC under the audit key, and every verification checks the log "
        "against it, so that events cut from the end of the log, or an emptied log, are found. "
        "Keep it off the database host, in write-once or append-only storage that every "
        "worker, and wherever the command runs, shares: whoever can rewrite it can hide a cut. "
        "Empty means `instance/audit-checkpoints.jsonl`.",
        "required: a path on storage the database's users cannot write",
    )
    evidence_keys: str = _setting(
        "",
        "Ed25519 keys that sign journal exports, as `id:base64url` private keys (primary "
        "first; the others stay published) or `id:public:base64url` for a retired key; "
        "overrides the keys file's.",
        "required (or in the keys file)",
        secret=True,
    )
    max_body_bytes: int = _setting(
        1_048_576, "Largest request body accepted, in bytes (at least 1024).", minimum=1024
    )
    trusted_proxies: int = _setting(
        0,
        "How many reverse proxies in front of the app may set `X-Forwarded-For` and "
        "`X-Forwarded-Proto`.",
        "the number of your proxies (usually 1)",
        minimum=0,
    )
    openapi_enabled: bool = _setting(True, "Serve the OpenAPI contract at `/openapi.json`.")
    log_level: str = _setting(
        "INFO", "Log level for the JSON logs: `DEBUG`, `INFO`, `WARNING`, `ERROR` or `CRITICAL`."
    )
    argon2_time_cost: int = _setting(
        3, "argon2id iterations (OWASP minimum is 2 at 19 MiB).", "at least 2", minimum=1
    )
    argon2_memory_kib: int = _setting(
        65_536, "argon2id memory in KiB.", "at least 19456 (19 MiB)", minimum=8
    )
    argon2_parallelism: int = _setting(1, "argon2id lanes.", minimum=1)
    staff_idle_minutes: int = _setting(
        30, "A staff session ends after this long unused.", minimum=1
    )
    staff_session_hours: int = _setting(
        12, "A staff session ends this long after login.", minimum=1
    )
    survivor_access_minutes: int = _setting(
        15,
        "Lifetime of a survivor app's access token (refreshed with a rotating refresh token).",
        minimum=1,
    )
    survivor_refresh_days: int = _setting(
        30, "A survivor device session ends after this long without a refresh.", minimum=1
    )
    enrollment_code_hours: int = _setting(
        72, "How long a survivor enrollment code is valid.", minimum=1
    )
    staff_invitation_hours: int = _setting(72, "How long a staff invitation is valid.", minimum=1)
    job_lease_seconds: int = _setting(
        60, "How long a worker holds a claimed job before another worker may take it.", minimum=1
    )
    job_poll_seconds: float = _setting(
        1.0, "How often an idle worker looks for due jobs.", minimum=0.01
    )
    worker_threads: int = _setting(
        8,
        "Jobs one worker process runs at once (they mostly wait on Twilio and partner "
        "webhooks). SQLite always uses 1.",
        minimum=1,
    )
    job_batch_size: int = _setting(20, "How many due jobs a worker claims at once.", minimum=1)
    sms_backend: str = _setting(
        "console",
        "`console` (records SMS and prints a masked line; development) or `twilio`.",
        "`twilio`",
    )
    twilio_account_sid: str = _setting("", "Twilio Account SID (`AC...`).", "required for twilio")
    twilio_auth_token: str = _setting(
        "",
        "Twilio auth token: authenticates API calls and checks webhook signatures (webhooks "
        "are refused while it is empty).",
        "required for twilio",
        secret=True,
    )
    twilio_messaging_service_sid: str = _setting(
        "", "Twilio Messaging Service SID (`MG...`); preferred over a from-number."
    )
    twilio_from_number: str = _setting(
        "", "E.164 sender number, used when no Messaging Service SID is set."
    )
    twilio_api_base_url: str = _setting(
        "",
        "Override of Twilio's API base URL (a local mock, e.g. `http://127.0.0.1:4010`).",
        "empty (or `https://api.twilio.com`)",
    )
    twilio_redact: bool = _setting(
        True, "Blank each SMS body at Twilio once it has been delivered."
    )
    push_backend: str = _setting(
        "fake", "Push notification sender: `fake` (records; no real provider yet)."
    )
    webhook_sender: str = _setting(
        "http",
        "Partner webhook sender: `http` (real requests) or `fake` (records; tests, demos).",
        "`http`",
    )
    webhook_allowlist: str = _setting(
        "",
        "Comma-separated `host:port` entries (a host name, an IP address, `[IPv6]` or a "
        "network) that partner webhook URLs may reach although they are internal (loopback, "
        "private); e.g. `127.0.0.1:9911` for a local receiver. An entry without a port opens "
        "only 80 and 443. The service's own address and port (from `LANTERN_PUBLIC_BASE_URL` "
        "and the socket a request arrived on) are never a webhook target.",
        "empty unless a partner is on a private network",
    )
    webhook_timeout_seconds: float = _setting(
        10.0, "Timeout for one partner webhook request (connect and read), in seconds."
    )

    def __post_init__(self) -> None:
        # Checked here rather than in load_settings so that settings built in code (tests,
        # scripts, ``replace``) are held to the same rules as those read from the environment.
        settings_checks.validate(self)

    extra_instruments_path: str = _setting(
        "",
        "Directory of extra risk-instrument JSON files (e.g. a licensed Danger Assessment), "
        "validated at start. Empty means only the built-in instruments.",
    )
    attachments_path: str = _setting(
        "",
        "Directory for encrypted journal attachments. Empty means `instance/attachments`.",
        "a persistent, backed-up volume",
    )
    attachment_max_bytes: int = _setting(
        10_485_760,
        "Largest journal attachment, in bytes. The upload route has its own request-body "
        "limit: this plus 64 KiB for the multipart framing (or `LANTERN_MAX_BODY_BYTES`, if "
        "that is larger); `LANTERN_MAX_BODY_BYTES` bounds every other request body.",
        minimum=1,
    )
    # Storage limits. Each bounds what one survivor's phone, or one staff session, can add to
    # the disk: enough for a survivor in crisis (who types fast, pastes a long account, attaches
    # many photos), too little for someone holding a stolen session to fill the disk.
    attachment_quota_bytes: int = _setting(
        1_073_741_824,
        "Total size of one survivor's journal attachments, in bytes, counting uploads not yet "
        "in an entry (deleted ones free their room). 1 GiB holds some 300 phone photos or 100 "
        "recordings at the largest size; a stolen session can add no more than this, once. "
        "Refused with 413.",
        minimum=1,
    )
    plan_max_bytes: int = _setting(
        65_536,
        "Largest safety plan version (and decoy plan), in bytes of its sections as UTF-8 "
        "JSON. A full plan is some 5-20 KB; 64 KiB leaves room for every section filled and a "
        "long account pasted into the notes. Refused with 413; a save, restore or adopted "
        "recommendation that would pass it stores nothing.",
        minimum=8192,
    )
    plan_saves_per_minute: int = _setting(
        6,
        "Safety plan versions one author (a survivor, or a staff member across all the plans "
        "they edit) may save in any 60 seconds: a burst of six, or one every ten seconds, for "
        "an app that saves as the survivor edits; a stolen session saving the largest plan "
        "nonstop adds at most some 540 MiB a day. Refused with 429 and `Retry-After`.",
        minimum=1,
    )
    survivor_messages_per_minute: int = _setting(
        30,
        "Messages a survivor may send to their advocate team in any 60 seconds (texts sent by "
        "SMS count too, and are never refused): one every two seconds, faster than anyone "
        "types; a stolen phone sending the longest messages nonstop adds some 170 MB a day of "
        "Latin text. Refused with 429 and `Retry-After`.",
        minimum=1,
    )
    staff_messages_per_minute: int = _setting(
        60,
        "Messages one staff member may send in any 60 seconds, to all the survivors they work "
        "with together (a short notice to a whole caseload fits). Refused with 429 and "
        "`Retry-After`.",
        minimum=1,
    )
    journal_entries_per_day: int = _setting(
        100,
        "Journal entries (corrections included) a survivor may write in any 24 hours: room to "
        "write up months of history in one sitting with an advocate, while a stolen session "
        "adds at most some 11 MB a day. Refused with 429 and `Retry-After`.",
        minimum=1,
    )

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
        settings_checks.check_production(self)


def configuration_table() -> str:
    """The README's configuration table, from the declarations above (a test compares them)."""
    return markdown_table(setting_fields())


def setting_fields() -> tuple[dataclasses.Field[Any], ...]:
    return dataclasses.fields(Settings)


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
            values[f.name] = parse_value(name, environ[name], kind)
    values.update(overrides)
    return Settings(**values)
