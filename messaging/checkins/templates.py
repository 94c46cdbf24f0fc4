"""The disguise: neutral SMS texts that look like any other reminder on a phone.

A check-in SMS never names the service, an advocate or abuse, never carries a link, and never
carries the reply codes (whoever reads the phone must not learn them). The survivor replies
with the code they chose; the text only has to look ordinary.
"""

from __future__ import annotations

import re

from core.errors import InvalidInput

TEMPLATES: dict[str, str] = {
    "appointment": "Reminder: you have an appointment today. Please reply to confirm.",
    "parcel": "Your parcel is out for delivery today. Reply to confirm someone is home.",
    "pharmacy": "Your prescription is ready to collect. Reply to let us know when you will come.",
    "gym": "Your class is booked for today. Reply to confirm your place.",
    "dentist": "This is a reminder of your dental check-up. Please reply to confirm.",
    "library": "A book you reserved is waiting for you. Reply to keep it on hold.",
    "hair": "Reminder of your hair appointment today. Reply to confirm or rearrange.",
}

# Words that would give the service away to someone reading the survivor's phone.
DENY_WORDS = (
    "lantern",
    "abuse",
    "abuser",
    "abusive",
    "advocate",
    "idva",
    "police",
    "refuge",
    "shelter",
    "domestic",
    "violence",
    "safety plan",
    "check-in",
    "check in",
    "checkin",
    "marac",
    "perpetrator",
    "victim",
    "survivor",
)
_LINK = re.compile(
    r"(https?://|www\.|\b[a-z0-9-]+\.(com|org|net|uk|io|app|ly|co)\b)", re.IGNORECASE
)
MAX_TEXT = 160  # one SMS segment: a long text looks unusual and costs more


def check_text(text: str) -> str:
    """Accept a survivor's own SMS text only if it gives nothing away."""
    cleaned = " ".join(text.split())
    if not cleaned or len(cleaned) > MAX_TEXT:
        raise InvalidInput(
            "text length", errors={"custom_text": [f"Use 1 to {MAX_TEXT} characters."]}
        )
    lowered = cleaned.lower()
    if any(re.search(r"\b" + re.escape(word) + r"\b", lowered) for word in DENY_WORDS):
        raise InvalidInput(
            "text gives the service away",
            errors={"custom_text": ["Choose words that would not stand out on your phone."]},
        )
    if _LINK.search(cleaned):
        raise InvalidInput(
            "text has a link", errors={"custom_text": ["A check-in text cannot contain a link."]}
        )
    return cleaned


def template_text(template_id: str) -> str:
    try:
        return TEMPLATES[template_id]
    except KeyError:
        raise InvalidInput("unknown template", errors={"template": ["Unknown template."]}) from None
