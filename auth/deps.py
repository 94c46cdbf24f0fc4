"""What auth's services need besides a session and a clock, built once per process.

The composition root (``api/wiring.py``) builds ``AuthDeps`` from its runtime and provides it;
auth's routes read it back (``runtime().collaborators.need(AuthDeps)``). A service takes the
whole bundle only where a flow uses most of it (a login, an enrolment, a PIN change); the rest
take the one or two collaborators they use.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from core.crypto import KeyRing, SecretHasher
from core.settings import Settings
from core.vault import Vault


@dataclass(frozen=True, slots=True)
class AttemptDeps:
    """What the attempt counters (``auth.attempts``) need besides a clock."""

    #: A counter's key is a keyed digest (the index key): no handle, email or address is stored.
    keyring: KeyRing
    #: On PostgreSQL a slot is taken in a short transaction of its own.
    session_factory: sessionmaker[Session]


@dataclass(frozen=True, slots=True)
class AuthDeps:
    """What logins, enrolments and credential changes use, staff and survivors alike."""

    #: Token, code and session lifetimes.
    settings: Settings
    #: Enrolment codes' keyed digests and TOTP seeds.
    keyring: KeyRing
    #: Device labels, and a new survivor's data key.
    vault: Vault
    #: argon2id for PINs, passwords and recovery codes.
    hasher: SecretHasher
    attempts: AttemptDeps
