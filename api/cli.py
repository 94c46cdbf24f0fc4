"""The ``lantern`` command: database, keys, audit, worker and contract tasks."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from api import contract, migrate
from api.cli_journal import journal
from api.cli_keys import keys
from core import audit
from core.audit_checkpoints import CheckpointLog
from core.runtime import Runtime
from core.settings import load_settings
from core.worker import Worker
from web.logs import configure_logging


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


main.add_command(keys)
main.add_command(journal)


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


# --- audit ----------------------------------------------------------------------------------


@main.group("audit")
def audit_group() -> None:
    """The hash-chained audit log."""


@audit_group.command("verify")
@with_appcontext
def audit_verify() -> None:
    """Check every link of the audit chain (keyed with the audit keys) and the log against the
    checkpoints kept outside the database; exit 1 at the first break. An intact log's head is
    then added to the checkpoint file."""
    runtime = _runtime()
    allowed = runtime.settings.audit_unkeyed_events
    where = CheckpointLog.path_for(runtime.settings)
    with runtime.session_factory() as session:
        try:
            result = audit.verify(session, unkeyed_events=allowed)
        except OSError as exc:
            raise click.ClickException(
                f"cannot use the audit checkpoint file {where}: {exc.strerror or exc}"
            ) from None
        prefix = audit.unkeyed_prefix(session) if result.reason == audit.NOT_KEYED else 0
    if result.ok:
        note = ""
        if result.unkeyed:
            protected = (
                "protected by the first keyed event"
                if result.checked > result.unkeyed
                else "not protected until an event is keyed"
            )
            note = f", {result.unkeyed} from before the chain was keyed ({protected})"
        click.echo(f"audit chain intact: {result.checked} events{note}")
        if result.checkpoint is not None:
            click.echo(f"checkpoint at event {result.checkpoint.seq} in {where}")
        return
    at = f" at event {result.first_broken_seq}" if result.first_broken_seq is not None else ""
    click.echo(f"audit chain BROKEN{at}: {result.reason}", err=True)
    if result.first_broken_seq is not None and result.first_broken_seq <= prefix:
        # The one case an honest log can look like this: a database from before the upgrade.
        click.echo(
            f"The first {prefix} events have no audit key. Only if this database was in use "
            "before Lantern keyed its audit log (and nobody rewrote it since), set "
            f"LANTERN_AUDIT_UNKEYED_EVENTS={prefix}; otherwise the log has been rewritten.",
            err=True,
        )
    elif result.against_checkpoint:
        click.echo(
            f"The checkpoints are in {where}. Only if this database was deliberately replaced "
            "(restored from an older backup, or started afresh) is this expected: then keep "
            "that file as the record of the old log and start a new one.",
            err=True,
        )
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
        lease_seconds=s.job_lease_seconds,
        batch_size=s.job_batch_size,
        poll_seconds=s.job_poll_seconds,
        # SQLite has one writer at a time: threads would only queue for its lock.
        threads=1 if s.is_sqlite else s.worker_threads,
    )
    w.install_signal_handlers()
    if once:
        click.echo(f"ran {w.run_once()} jobs")
        w.close()
        return
    w.run_forever(max_idle_loops=max_idle_loops)


# --- staff ----------------------------------------------------------------------------------

BOOTSTRAP_PASSWORD_ENV = "LANTERN_BOOTSTRAP_PASSWORD"  # noqa: S105 - a variable name, not a secret


@main.group("staff")
def staff_group() -> None:
    """Staff accounts (everyone but the first admin is invited from the console)."""


@staff_group.command("create")
@click.option(
    "--role",
    type=click.Choice(["admin"]),
    required=True,
    help="Only admins are created here; admins invite everyone else.",
)
@click.option("--email", required=True, help="The admin's email (their login name).")
@click.option("--name", "display_name", required=True, help="The admin's display name.")
@click.option(
    "--force",
    is_flag=True,
    help="Create an admin even though an active one exists (when every admin is locked out).",
)
@with_appcontext
def staff_create(role: str, email: str, display_name: str, force: bool) -> None:
    """Create the first admin. The password comes from a prompt (asked twice), or from
    LANTERN_BOOTSTRAP_PASSWORD for scripts. The admin then logs in and enrols TOTP."""
    from marshmallow import ValidationError, validate

    from auth.staff.accounts import bootstrap_admin
    from core.errors import LanternError

    try:
        validate.And(validate.Length(max=254), validate.Email())(email)
        validate.Length(min=1, max=100)(display_name.strip())
    except ValidationError as exc:
        raise click.ClickException(
            "invalid --email or --name: " + "; ".join(map(str, exc.messages))
        ) from None
    password = os.environ.get(BOOTSTRAP_PASSWORD_ENV) or click.prompt(
        "Password", hide_input=True, confirmation_prompt=True
    )
    runtime = _runtime()
    with runtime.session_factory() as session:
        try:
            member = bootstrap_admin(
                session,
                runtime.clock,
                runtime.hasher,
                email=email,
                display_name=display_name,
                password=password,
                force=force,
            )
        except LanternError as exc:
            # Policy messages name the rule broken, never the password itself.
            errors = exc.extra.get("errors") or {}
            reasons = [m for messages in errors.values() for m in messages]
            raise click.ClickException(" ".join([exc.detail, *reasons])) from None
        session.commit()
        console = runtime.settings.public_base_url.rstrip("/") + "/console/"
        click.echo(f"created {role} {member.id}; sign in at {console} to enrol an authenticator")


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
