"""The ``lantern`` command: database, keys, audit, worker and contract tasks."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from api import migrate
from api import openapi as contract
from api.logs import configure_logging
from core import audit, crypto
from core.runtime import Runtime, build_runtime
from core.settings import load_settings
from core.worker import Worker


def _create_app() -> Flask:
    from api.app import create_app

    return create_app()


def _runtime() -> Runtime:
    rt: Runtime = current_app.extensions["lantern"]
    return rt


@click.group(
    cls=FlaskGroup, create_app=_create_app, add_default_commands=True, add_version_option=False
)
def main() -> None:
    """Lantern: safety plans, messaging, check-ins and a coordinated response."""


# --- database -------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Database migrations."""


@db.command("upgrade")
@click.option("--revision", default="heads", show_default=True)
def db_upgrade(revision: str) -> None:
    """Migrate the database to the latest schema (creates the SQLite file if needed)."""
    settings = load_settings(os.environ)
    configure_logging(settings.log_level)
    if settings.is_sqlite:
        Path(settings.instance_path).mkdir(parents=True, exist_ok=True)
    migrate.upgrade(settings.resolved_database_url, revision)
    click.echo("database at " + ", ".join(sorted(migrate.head_revisions())))


# --- keys -----------------------------------------------------------------------------------


@main.group()
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
        crypto.write_keys_file(path, ring)
        click.echo(f"added new primary key {ring.primary_id}; run `lantern keys rotate` next")
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        ring = crypto.KeyRing.generate()
        crypto.write_keys_file(path, ring)
        click.echo(f"wrote {path} with primary key {ring.primary_id}")


@keys.command("rotate")
@click.option(
    "--new-primary",
    is_flag=True,
    help="Development keys file only: add a fresh primary key first, then re-wrap.",
)
def keys_rotate(new_primary: bool) -> None:
    """Re-wrap every data key under the primary key-encryption key."""
    settings = load_settings(os.environ)
    configure_logging(settings.log_level)
    if new_primary:
        if not settings.uses_development_keys and not settings.keys_file:
            raise click.ClickException(
                "--new-primary needs a keys file; with LANTERN_KEKS, prepend a key"
            )
        path = (
            Path(settings.keys_file)
            if settings.keys_file
            else crypto.development_keys_path(settings)
        )
        ring = crypto.KeyRing.from_json(path.read_text()).with_new_primary()
        crypto.write_keys_file(path, ring)
    runtime = build_runtime(settings)
    with runtime.session_factory() as session:
        count = runtime.vault.rotate(session)
        session.commit()
    click.echo(f"re-wrapped {count} data keys under {runtime.keyring.primary_id}")


# --- audit ----------------------------------------------------------------------------------


@main.group("audit")
def audit_group() -> None:
    """The hash-chained audit log."""


@audit_group.command("verify")
@with_appcontext
def audit_verify() -> None:
    """Check every link of the audit chain; exit 1 at the first broken one."""
    with _runtime().session_factory() as session:
        result = audit.verify(session)
    if result.ok:
        click.echo(f"audit chain intact: {result.checked} events")
        return
    click.echo(f"audit chain BROKEN at event {result.first_broken_seq}: {result.reason}", err=True)
    sys.exit(1)


# --- worker ---------------------------------------------------------------------------------


@main.command("worker")
@click.option("--once", is_flag=True, help="Run one batch and exit.")
@click.option("--max-idle-loops", type=int, default=None, help="Exit after this many idle polls.")
@with_appcontext
def worker(once: bool, max_idle_loops: int | None) -> None:
    """Run due jobs until stopped (SIGTERM finishes the job at hand, then exits)."""
    from api.registry import job_registry

    runtime = _runtime()
    s = runtime.settings
    w = Worker(
        runtime.session_factory,
        job_registry(runtime),
        runtime.clock,
        runtime.extensions,
        lease_seconds=s.job_lease_seconds,
        batch_size=s.job_batch_size,
        poll_seconds=s.job_poll_seconds,
    )
    w.install_signal_handlers()
    if once:
        click.echo(f"ran {w.run_once()} jobs")
        return
    w.run_forever(max_idle_loops=max_idle_loops)


# --- contract -------------------------------------------------------------------------------


@main.group("openapi")
def openapi_group() -> None:
    """The committed OpenAPI contract."""


@openapi_group.command("write")
@with_appcontext
def openapi_write() -> None:
    """Regenerate openapi/openapi.json from the code."""
    changed = contract.write(current_app)
    click.echo("openapi/openapi.json " + ("updated" if changed else "already current"))


@openapi_group.command("check")
@with_appcontext
def openapi_check() -> None:
    """Exit 1 when openapi/openapi.json differs from what the code describes."""
    current = contract.CONTRACT_PATH.read_text() if contract.CONTRACT_PATH.exists() else ""
    if current != contract.render(current_app):
        click.echo("openapi/openapi.json is stale: run `make openapi` and commit it", err=True)
        sys.exit(1)
    click.echo("openapi/openapi.json is current")
