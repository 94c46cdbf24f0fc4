"""The coordination vocabulary: consent kinds, alert kinds and their fields, event types."""

from __future__ import annotations

CONSENT_KINDS: tuple[str, ...] = (
    "welfare_check",
    "safety_status",
    "risk_level",
    "contact_request",
    "journal_export",
)

# What the survivor is told each kind means (the consent text is built from these lines).
CONSENT_KIND_TEXT: dict[str, str] = {
    "welfare_check": (
        "ask them to check that you are safe when you miss a check-in, or at once if you "
        "signal danger from the app"
    ),
    "safety_status": "tell them whether you are safe, not safe, in a refuge, or have moved",
    "risk_level": (
        "tell them your risk level and whether you have been referred to a MARAC "
        "(multi-agency risk assessment conference)"
    ),
    "contact_request": "ask them to get in touch with you through your advocate",
    "journal_export": "send them your incident journal when you ask for it",
}

ALERT_KINDS: tuple[str, ...] = (
    "welfare_check",
    "duress",
    "safety_status",
    "risk_level",
    "contact_request",
)

# Which consent kind lets an alert kind through: a duress alert is an urgent welfare check.
ALERT_CONSENT_KIND: dict[str, str] = {
    "welfare_check": "welfare_check",
    "duress": "welfare_check",
    "safety_status": "safety_status",
    "risk_level": "risk_level",
    "contact_request": "contact_request",
}

# The only fields an alert of each kind may carry to an agency (besides reference, kind, time).
ALERT_FIELDS: dict[str, tuple[str, ...]] = {
    "welfare_check": (),
    "duress": (),
    "safety_status": ("status",),
    "risk_level": ("level", "marac_referral"),
    "contact_request": (),
}

SAFETY_STATUSES: tuple[str, ...] = ("safe", "not_safe", "in_refuge", "moved")
RISK_LEVELS: tuple[str, ...] = ("standard", "medium", "high")

# Kinds an advocate may raise by hand (duress comes only from the duress PIN).
ADVOCATE_ALERT_KINDS: tuple[str, ...] = (
    "welfare_check",
    "safety_status",
    "risk_level",
    "contact_request",
)

EVENT_TYPES: dict[str, tuple[str, ...]] = {
    "custody": (
        "arrested",
        "charged",
        "bailed_with_conditions",
        "released",
        "escaped",
        "transferred",
    ),
    "court_order": ("issued", "served", "varied", "breached", "expired"),
    "programme": ("enrolled", "attended", "missed", "non_compliant", "completed", "ended"),
}

# Events that put the survivor in more danger at once: their advocates get an urgent notice.
URGENT_EVENT_TYPES: frozenset[str] = frozenset({"released", "escaped", "breached"})

LAWFUL_BASES: tuple[str, ...] = ("vital_interests", "safeguarding")
