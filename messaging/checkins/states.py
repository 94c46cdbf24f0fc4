"""The life of one check-in occurrence, forward only.

scheduled -> sent -> safe | help | missed -> escalated -> acknowledged -> resolved

``safe`` ends the occurrence. ``help`` and ``missed`` lead to escalation. A late "safe" reply
after escalation is recorded but cannot pull the occurrence back: a person must acknowledge
and resolve it. Moving to the state an occurrence is already in is a no-op (idempotent), so
a duplicated webhook or a retried job changes nothing.
"""

from __future__ import annotations

SCHEDULED, SENT, SAFE, HELP, MISSED = "scheduled", "sent", "safe", "help", "missed"
ESCALATED, ACKNOWLEDGED, RESOLVED, CANCELLED = "escalated", "acknowledged", "resolved", "cancelled"

STATES = (SCHEDULED, SENT, SAFE, HELP, MISSED, ESCALATED, ACKNOWLEDGED, RESOLVED, CANCELLED)

TRANSITIONS: dict[str, frozenset[str]] = {
    SCHEDULED: frozenset({SENT, SAFE, MISSED, CANCELLED}),  # in-app "I am safe" before sending
    SENT: frozenset({SAFE, HELP, MISSED}),
    SAFE: frozenset(),
    HELP: frozenset({ESCALATED}),
    MISSED: frozenset({ESCALATED}),
    ESCALATED: frozenset({ACKNOWLEDGED, RESOLVED}),
    ACKNOWLEDGED: frozenset({RESOLVED}),
    RESOLVED: frozenset(),
    CANCELLED: frozenset(),
}

TERMINAL = frozenset(s for s, nexts in TRANSITIONS.items() if not nexts)


class IllegalTransition(Exception):
    def __init__(self, current: str, wanted: str) -> None:
        super().__init__(f"{current} -> {wanted}")
        self.current = current
        self.wanted = wanted


def next_state(current: str, wanted: str) -> str | None:
    """The state to move to, or None when already there (idempotent no-op)."""
    if current == wanted:
        return None
    if wanted not in TRANSITIONS.get(current, frozenset()):
        raise IllegalTransition(current, wanted)
    return wanted
