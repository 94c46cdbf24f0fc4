"""``lantern keys``: make, rotate and retire key-encryption keys, audit keys and evidence keys.

Erasing a survivor deletes their data key at once; a backup taken earlier still holds it,
wrapped. The backup becomes noise for that survivor once the KEK that wrapped it is retired:
`keys generate --file` (new primary), `keys rotate` (re-wrap every data key), then
`keys retire OLD_ID` on every retirable KEK. Run that cycle regularly (e.g. daily).

Audit keys and evidence signing keys are rotated by adding a new primary (`keys rotate
--audit`, `--evidence`); nothing is re-keyed or re-signed. Old audit keys are kept for good
(they verify the events they keyed). Retiring an old evidence key destroys its private half
and keeps its public half published, so the bundles it signed still verify.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from core import crypto, keyfiles
from core.runtime import Runtime, build_runtime
from core.settings import Settings, load_settings
from web.logs import configure_logging


def _settings() -> Settings:
    settings = load_settings(os.environ)
    configure_logging(settings.log_level)
    return settings


def _keys_file(settings: Settings) -> Path | None:
    if settings.keks:
        return None
    return (
        Path(settings.keys_file) if settings.keys_file else keyfiles.development_keys_path(settings)
    )


def _with_runtime(settings: Settings) -> Runtime:
    return build_runtime(settings)


@click.group()
def keys() -> None:
    """Key-encryption keys and the index key."""


@keys.command("generate")
@click.option(
    "--file",
    "path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a keys file (or add a new primary key to an existing one).",
)
def keys_generate(path: Path | None) -> None:
    """Make keys. Without --file, print new keys for the LANTERN_* variables."""
    if path is None:
        ring = crypto.KeyRing.generate()
        kid, key = ring.keks[0]
        env = keyfiles.environment_values(ring)
        click.echo(
            f"new key-encryption key (prepend to LANTERN_KEKS): {kid}:{crypto.b64encode(key)}"
        )
        index_key = crypto.b64encode(ring.index_key)
        click.echo(f"new index key (LANTERN_INDEX_KEY, new deployments only): {index_key}")
        click.echo(f"new audit key (LANTERN_AUDIT_KEYS): {env['audit_keys']}")
        click.echo(f"new evidence signing key (LANTERN_EVIDENCE_KEYS): {env['evidence_keys']}")
        return
    if path.exists():
        old = crypto.KeyRing.from_json(path.read_text())
        ring = old.with_new_primary().with_missing_keys()
        keyfiles.write_keys_file(path, ring)
        click.echo(f"added new primary key {ring.primary_id}; run `lantern keys rotate` next")
        for setting in old.missing():
            click.echo(f"added the missing {_KINDS[setting]}")
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        ring = crypto.KeyRing.generate()
        keyfiles.write_keys_file(path, ring)
        click.echo(
            f"wrote {path} with primary key {ring.primary_id}, audit key "
            f"{ring.audit_keys[0][0]} and evidence signing key {ring.signing_key.key_id}"
        )


_KINDS = {"LANTERN_AUDIT_KEYS": "audit key", "LANTERN_EVIDENCE_KEYS": "evidence signing key"}


@keys.command("rotate")
@click.option(
    "--new-primary",
    is_flag=True,
    help="With a keys file: add a fresh primary key first, then re-wrap.",
)
@click.option(
    "--audit",
    is_flag=True,
    help="Add a new primary audit key (old ones stay, to verify what they keyed); no re-wrap.",
)
@click.option(
    "--evidence",
    is_flag=True,
    help="Add a new primary evidence signing key (old ones stay published); no re-wrap.",
)
def keys_rotate(new_primary: bool, audit: bool, evidence: bool) -> None:
    """Re-wrap every data key under the primary key-encryption key (or, with --audit or
    --evidence, start a new audit key or signing key)."""
    settings = _settings()
    if audit or evidence:
        if new_primary:
            raise click.ClickException("rotate KEKs and audit or evidence keys separately")
        _rotate_audit_or_evidence(settings, audit=audit, evidence=evidence)
        return
    if new_primary:
        path = _keys_file(settings)
        if path is None:
            raise click.ClickException(
                "--new-primary needs a keys file; with LANTERN_KEKS, prepend a key"
            )
        keyfiles.write_keys_file(
            path, crypto.KeyRing.from_json(path.read_text()).with_new_primary()
        )
    runtime = _with_runtime(settings)
    try:
        with runtime.session_factory() as session:
            count = runtime.vault.rotate(session)
            session.commit()
    finally:
        runtime.engine.dispose()
    click.echo(f"re-wrapped {count} data keys under {runtime.keyring.primary_id}")


def _rotate_audit_or_evidence(settings: Settings, *, audit: bool, evidence: bool) -> None:
    path = _keys_file(settings)
    if path is None or settings.audit_keys or settings.evidence_keys:
        # The keys live in the environment: print what to put first in the variables.
        fresh = crypto.KeyRing.generate()
        env = keyfiles.environment_values(fresh)
        if audit:
            click.echo(f"new audit key (prepend to LANTERN_AUDIT_KEYS): {env['audit_keys']}")
        if evidence:
            click.echo(
                f"new evidence signing key (prepend to LANTERN_EVIDENCE_KEYS): "
                f"{env['evidence_keys']}"
            )
        click.echo("then restart every process; keep the old keys after the new one")
        return
    ring = crypto.KeyRing.from_json(path.read_text())
    if audit:
        ring = ring.with_new_audit_key()
        click.echo(f"new primary audit key {ring.audit_keys[0][0]}")
    if evidence:
        ring = ring.with_new_evidence_key()
        click.echo(f"new primary evidence signing key {ring.signing_key.key_id}")
    keyfiles.write_keys_file(path, ring)
    click.echo("restart every process to use it; the old keys stay in the file")


@keys.command("retire")
@click.argument("key_id")
def keys_retire(key_id: str) -> None:
    """Remove a KEK that no data key uses any more (never the primary), or destroy an old
    evidence key's private half (its public half stays published).

    With a keys file the key is removed from it; with LANTERN_KEKS this checks the key is
    unused and tells you to delete it from the variable (and from every copy of it).
    Audit keys are never retired: they verify the events they keyed.
    """
    settings = _settings()
    ring = keyfiles.load_keyring(settings)
    if key_id in {kid for kid, _ in ring.audit_keys}:
        raise click.ClickException(
            "audit keys are never retired: the events they keyed are verified with them"
        )
    if key_id in {k.key_id for k in ring.evidence_keys}:
        _retire_evidence_key(settings, ring, key_id)
        return
    runtime = _with_runtime(settings)
    try:
        with runtime.session_factory() as session:
            usage = runtime.vault.kek_usage(session)
    finally:
        runtime.engine.dispose()
    ring = runtime.keyring
    if key_id == ring.primary_id:
        raise click.ClickException(
            "the primary key cannot be retired; add a new primary and rotate first"
        )
    if key_id not in {kid for kid, _ in ring.keks}:
        raise click.ClickException(f"no key {key_id!r} in the key ring")
    if usage.get(key_id, 0):
        raise click.ClickException(
            f"{usage[key_id]} data keys still use {key_id}; run `lantern keys rotate` first"
        )
    path = _keys_file(settings)
    if path is None:
        click.echo(f"{key_id} is unused: delete it from LANTERN_KEKS everywhere, then restart")
        return
    keyfiles.write_keys_file(path, ring.without(key_id))
    click.echo(f"retired {key_id}: backups whose data keys only it wrapped are now unreadable")


def _retire_evidence_key(settings: Settings, ring: crypto.KeyRing, key_id: str) -> None:
    if key_id == ring.signing_key.key_id:
        raise click.ClickException(
            "the primary evidence key cannot be retired; run `lantern keys rotate --evidence`"
        )
    retired = ring.retire_evidence_key(key_id)
    path = _keys_file(settings)
    if path is None or settings.evidence_keys:
        public = keyfiles.environment_values(retired)["evidence_keys"].split(",")
        entry = next(e for e in public if e.startswith(f"{key_id}:"))
        click.echo(
            f"in LANTERN_EVIDENCE_KEYS, replace {key_id}'s entry with {entry} everywhere, "
            "then restart"
        )
        return
    keyfiles.write_keys_file(path, retired)
    click.echo(
        f"retired {key_id}: it signs nothing more; its public half stays published, so the "
        "bundles it signed still verify"
    )
