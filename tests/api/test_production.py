"""Production mode builds with real settings and refuses anything fit only for development.

No database is touched: engines connect lazily and these tests send no request that needs one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from api.app import create_app
from core.crypto import OWASP_ARGON2_MIN_MEMORY_KIB, OWASP_ARGON2_MIN_TIME_COST, KeyRing
from core.errors import ConfigurationError
from core.keyfiles import environment_values
from core.settings import Settings, load_settings
from tests.json_client import JsonClient

PG_URL = "postgresql+psycopg://lantern@db.invalid:5432/lantern"


def production_values(tmp_path: Path, keyring: KeyRing) -> dict[str, Any]:
    return {
        "env": "production",
        "database_url": PG_URL,
        "public_base_url": "https://lantern.example.org",
        **environment_values(keyring),  # KEKs, index, audit and evidence keys
        "instance_path": str(tmp_path / "instance"),
        # In production the operator names it: off the database host, append-only storage.
        "audit_checkpoints_path": str(tmp_path / "witness" / "audit-checkpoints.jsonl"),
        "argon2_time_cost": OWASP_ARGON2_MIN_TIME_COST,
        "argon2_memory_kib": OWASP_ARGON2_MIN_MEMORY_KIB,
        "sms_backend": "twilio",
        "twilio_account_sid": "AC" + "0" * 32,
        "twilio_auth_token": "not-a-real-token",
        "twilio_messaging_service_sid": "MG" + "0" * 32,
    }


def test_valid_production_settings_build_an_app(tmp_path: Path, keyring: KeyRing) -> None:
    app = create_app(Settings(**production_values(tmp_path, keyring)))
    r = JsonClient(app).get("/healthz")
    assert r.status_code == 200
    assert "max-age=" in r.headers["Strict-Transport-Security"]
    assert not app.debug
    # Real keys were used: no development key file was written.
    assert not (tmp_path / "instance" / "dev-keys.json").exists()


def test_valid_production_settings_from_the_environment(tmp_path: Path, keyring: KeyRing) -> None:
    environ = {
        f"LANTERN_{k.upper()}": str(v) for k, v in production_values(tmp_path, keyring).items()
    }
    settings = load_settings(environ)
    assert settings.is_production
    assert JsonClient(create_app(settings)).get("/healthz").status_code == 200


@pytest.mark.parametrize(
    ("change", "names"),
    [
        ({"keks": "", "index_key": ""}, "LANTERN_KEYS_FILE"),
        ({"database_url": ""}, "LANTERN_DATABASE_URL"),
        ({"database_url": "sqlite:////var/lib/lantern/lantern.db"}, "LANTERN_DATABASE_URL"),
        ({"public_base_url": ""}, "LANTERN_PUBLIC_BASE_URL"),
        ({"public_base_url": "http://lantern.example.org"}, "LANTERN_PUBLIC_BASE_URL"),
        ({"debug": True}, "LANTERN_DEBUG"),
        ({"argon2_memory_kib": OWASP_ARGON2_MIN_MEMORY_KIB - 1}, "argon2"),
        ({"argon2_time_cost": OWASP_ARGON2_MIN_TIME_COST - 1}, "argon2"),
        # Stand-ins: check-in texts would never leave, yet missed check-ins would escalate.
        ({"sms_backend": "console"}, "LANTERN_SMS_BACKEND"),
        ({"twilio_auth_token": ""}, "LANTERN_TWILIO_AUTH_TOKEN"),
        ({"webhook_sender": "fake"}, "LANTERN_WEBHOOK_SENDER"),
        # The default sits beside the app (often on the database's host, or in a container
        # that is thrown away): a cut audit log would go unseen.
        ({"audit_checkpoints_path": ""}, "LANTERN_AUDIT_CHECKPOINTS_PATH"),
    ],
    ids=[
        "development-keys",
        "default-sqlite",
        "sqlite-url",
        "no-public-url",
        "plain-http-public-url",
        "debug",
        "argon2-memory",
        "argon2-time",
        "console-sms",
        "twilio-without-token",
        "fake-webhook-sender",
        "no-audit-checkpoints-path",
    ],
)
def test_production_refuses_unsafe_settings(
    tmp_path: Path, keyring: KeyRing, change: dict[str, Any], names: str
) -> None:
    settings = Settings(**{**production_values(tmp_path, keyring), **change})
    with pytest.raises(ConfigurationError) as refused:
        create_app(settings)
    assert names in str(refused.value)
    # Refused before anything was set up: no development keys were generated on the way.
    assert not (tmp_path / "instance" / "dev-keys.json").exists()


def test_development_keys_are_generated_outside_production(
    tmp_path: Path, keyring: KeyRing
) -> None:
    # The twin of the refusal above: the same settings in development do start, with dev keys.
    values = {
        **production_values(tmp_path, keyring),
        "keks": "",
        "index_key": "",
        "env": "development",
    }
    create_app(Settings(**values))
    assert (tmp_path / "instance" / "dev-keys.json").exists()


def test_the_worker_refuses_a_stand_in_in_production(
    tmp_path: Path, keyring: KeyRing, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`lantern worker` builds the same app, so it refuses the same stand-ins, by name."""
    from click.testing import CliRunner

    from api.cli import main

    values = {**production_values(tmp_path, keyring), "sms_backend": "console"}
    for name, value in values.items():
        monkeypatch.setenv(f"LANTERN_{name.upper()}", str(value))
    result = CliRunner().invoke(main, ["worker", "--once"])
    assert result.exit_code != 0
    assert isinstance(result.exception, ConfigurationError)
    assert "LANTERN_SMS_BACKEND" in str(result.exception)
