"""Tables every kind of login shares: the attempt counters that throttle guesses at a secret.

The identity tables live with who they identify: ``auth.staff.models``,
``auth.survivors.models``, ``auth.partners.models``, and ``auth.access.models`` (caseloads,
break-glass grants).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base


class AttemptCounter(Base):
    """Guesses at one secret (a survivor's PIN, a staff account, a client address...).

    The key is a keyed digest (never an email, handle or address in clear). A slot is taken,
    and the lock for a failure set, in one committed statement *before* the secret is checked
    (``auth.attempts``), so parallel guesses cannot all pass a check made before any of them
    failed.
    """

    __tablename__ = "attempt_counters"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer)
    locked_until: Mapped[dt.datetime | None]
    # When this run of attempts is forgotten (``AttemptPolicy.forget_after`` after an
    # account's last attempt, or after the first attempt of an address's run).
    forget_at: Mapped[dt.datetime] = mapped_column(index=True)
