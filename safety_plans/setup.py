"""How safety_plans plugs into the shell: its collaborators and its job handlers."""

from __future__ import annotations

from core.jobs import JobRegistry
from core.runtime import Runtime
from safety_plans import assessments, attachments
from safety_plans.instruments import load_catalogue
from safety_plans.storage import storage_from_settings

INSTRUMENTS = "instruments"
ATTACHMENT_STORAGE = attachments.STORAGE_KEY


def register_extensions(runtime: Runtime) -> None:
    """Load and validate every risk instrument at start (a bad file stops the app)."""
    settings = runtime.settings
    extra = [settings.extra_instruments_path] if settings.extra_instruments_path else []
    runtime.extensions.setdefault(INSTRUMENTS, load_catalogue(extra))
    runtime.extensions.setdefault(ATTACHMENT_STORAGE, storage_from_settings(settings))


def register_jobs(registry: JobRegistry, runtime: Runtime) -> None:
    """The risk alert (urgent notice to advocates) and the hourly sweep of abandoned uploads."""
    registry.register(assessments.RISK_ALERT_JOB, assessments.risk_alert_handler)
    registry.register(
        attachments.SWEEP_JOB,
        attachments.sweep_handler,
        every_seconds=attachments.SWEEP_EVERY_SECONDS,
    )
