"""What safety_plans needs besides a session and a clock, built once per process."""

from __future__ import annotations

from dataclasses import dataclass

from core.settings import Settings
from core.vault import Vault
from safety_plans.instruments import Catalogue, load_catalogue
from safety_plans.storage import AttachmentStorage, storage_from_settings


@dataclass
class SafetyPlansDeps:
    #: Every risk instrument, by id (built in, and those in LANTERN_EXTRA_INSTRUMENTS_PATH).
    catalogue: Catalogue
    #: Where sealed journal attachments are kept.
    storage: AttachmentStorage
    #: Seals and opens plans, profiles, assessments, journal entries and attachment keys.
    vault: Vault
    #: The storage limits: plan size, saves a minute, entries a day, attachment size and room.
    settings: Settings

    @classmethod
    def from_settings(cls, settings: Settings, vault: Vault) -> SafetyPlansDeps:
        """Load and validate every risk instrument (a bad file stops the app at start), and
        the attachment storage chosen by settings; the vault is the process's own (the
        composition root passes its runtime's)."""
        extra = [settings.extra_instruments_path] if settings.extra_instruments_path else []
        return cls(load_catalogue(extra), storage_from_settings(settings), vault, settings)
