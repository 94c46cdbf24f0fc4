"""``lantern keys``: make, rotate and retire key-encryption keys.

Erasing a survivor deletes their data key at once; a backup taken earlier still holds it,
wrapped. The backup becomes noise for that survivor once the KEK that wrapped it is retired:
`keys generate --file` (new primary), `keys rotate` (re-wrap every data key), then
`keys retire OLD_ID` on every retirable KEK. Run that cycle regularly (e.g. daily).
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from api.logs import configure_logging
from core import crypto, keyfiles
from core.runtime import Runtime, build_runtime
from core.settings import Settings, load_settings


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
    """Make keys. Without --file, print a new KEK for LANTERN_KEKS (put it first)."""
    if path is None:
        ring = crypto.KeyRing.generate()
        kid, key = ring.keks[0]
        click.echo(
            f"new key-encryption key (prepend to LANTERN_KEKS): {kid}:{crypto.b64encode(key)}"
        )
        index_key = crypto.b64encode(ring.index_key)
        click.echo(f"new index key (LANTERN_INDEX_KEY, new deployments only): {index_key}")
        return
    if path.exists():
        ring = crypto.KeyRing.from_json(path.read_text()).with_new_primary()
        keyfiles.write_keys_file(path, ring)
        click.echo(f"added new primary key {ring.primary_id}; run `lantern keys rotate` next")
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        ring = crypto.KeyRing.generate()
        keyfiles.write_keys_file(path, ring)
        click.echo(f"wrote {path} with primary key {ring.primary_id}")


@keys.command("rotate")
@click.option(
    "--new-primary",
    is_flag=True,
    help="With a keys file: add a fresh primary key first, then re-wrap.",
)
def keys_rotate(new_primary: bool) -> None:
    """Re-wrap every data key under the primary key-encryption key."""
    settings = _settings()
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


@keys.command("retire")
@click.argument("kek_id")
def keys_retire(kek_id: str) -> None:
    """Remove a KEK that no data key uses any more (never the primary).

    With a keys file the key is removed from it; with LANTERN_KEKS this checks the key is
    unused and tells you to delete it from the variable (and from every copy of it).
    """
    settings = _settings()
    runtime = _with_runtime(settings)
    try:
        with runtime.session_factory() as session:
            usage = runtime.vault.kek_usage(session)
    finally:
        runtime.engine.dispose()
    ring = runtime.keyring
    if kek_id == ring.primary_id:
        raise click.ClickException(
            "the primary key cannot be retired; add a new primary and rotate first"
        )
    if kek_id not in {kid for kid, _ in ring.keks}:
        raise click.ClickException(f"no key {kek_id!r} in the key ring")
    if usage.get(kek_id, 0):
        raise click.ClickException(
            f"{usage[kek_id]} data keys still use {kek_id}; run `lantern keys rotate` first"
        )
    path = _keys_file(settings)
    if path is None:
        click.echo(f"{kek_id} is unused: delete it from LANTERN_KEKS everywhere, then restart")
        return
    keyfiles.write_keys_file(path, ring.without(kek_id))
    click.echo(f"retired {kek_id}: backups whose data keys only it wrapped are now unreadable")
