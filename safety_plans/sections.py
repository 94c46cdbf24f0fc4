"""The plan's typed sections, the starting template of a new plan, and the neutral decoy.

Template wording is neutral and practical: prompts the survivor can keep, edit or delete. It
never names the abuser or assumes a decision (staying or leaving) the survivor has not made.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from core.errors import InvalidInput, TooLarge

SECTIONS: tuple[str, ...] = (
    "safe_contacts",
    "code_words",
    "safe_places",
    "escape_bag",
    "documents",
    "children",
    "pets",
    "technology_safety",
    "emergency_numbers",
    "work_school",
    "protection_orders",
    "after_leaving",
    "wellbeing",
    "notes",
)

# Only safe contacts carry the code word agreed with that person.
CODE_WORD_SECTIONS = frozenset({"safe_contacts"})
# Sections whose new items are a checklist (done or not); an item elsewhere may still carry one.
CHECKLIST_SECTIONS = frozenset({"escape_bag", "documents", "technology_safety"})

MAX_ITEMS_PER_SECTION = 60
MAX_ITEM_TEXT = 500
MAX_CODE_WORD = 100

Item = dict[str, Any]
Sections = dict[str, list[Item]]


def _items(*texts: str, checklist: bool = False) -> list[Item]:
    return [{"text": t, "checked": False} if checklist else {"text": t} for t in texts]


_TEMPLATE: Sections = {
    "safe_contacts": [
        {"text": "Someone I trust who I can call at any time", "code_word": ""},
        {"text": "A neighbour who could call for help if they hear something", "code_word": ""},
    ],
    "code_words": _items(
        "A word or sign that means 'call for help now'",
        "A word or sign for my children that means 'go to the safe place'",
    ),
    "safe_places": _items(
        "The safest room at home (a door that locks, a way out, a phone; not the kitchen)",
        "A place I can go at short notice, day or night",
    ),
    "escape_bag": _items(
        "Spare keys (house, car)",
        "Money, bank cards and a phone charger",
        "Medicines and prescriptions",
        "A change of clothes for me and the children",
        "Copies of important papers",
        checklist=True,
    ),
    "documents": _items(
        "Passports, birth certificates and immigration papers",
        "Bank details, benefits letters and tenancy or mortgage papers",
        "Court orders and police reference numbers",
        checklist=True,
    ),
    "children": _items(
        "What the children know to do and where to go if something happens",
        "Who is allowed to collect the children from school or nursery",
    ),
    "pets": _items("Who could look after my pets at short notice"),
    "technology_safety": _items(
        "Check phone location sharing and app permissions",
        "Change passwords and security questions on a device only I use",
        "Check for unfamiliar devices signed in to my accounts",
        checklist=True,
    ),
    "emergency_numbers": _items(
        "Emergency services: 999 (or 112); silent call: press 55 when prompted",
        "National Domestic Abuse Helpline (24 hours): 0808 2000 247",
        "My advocate's number",
    ),
    "work_school": _items(
        "Someone at work or college who knows and can screen calls or visitors",
        "A different route or time for getting to and from work or school",
    ),
    "protection_orders": _items(
        "Where I keep a copy of any order, and who else has one",
        "What to do and who to call if the order is broken",
    ),
    "after_leaving": _items(
        "Change locks and check windows",
        "Tell school, work and my doctor who must not be given my details",
    ),
    "wellbeing": _items(
        "People and things that help me feel calmer",
        "Support services I could talk to",
    ),
    "notes": [],
}

# What a duress session shows when the survivor never chose a decoy: a shopping list.
_DEFAULT_DECOY: Sections = {name: [] for name in SECTIONS} | {
    "notes": _items(
        "Milk", "Bread", "Eggs", "Washing-up liquid", "Apples", "Pasta", checklist=True
    ),
}


def template() -> Sections:
    """The sections a new plan starts with (a fresh copy each time)."""
    return copy.deepcopy(_TEMPLATE)


def default_decoy() -> Sections:
    return copy.deepcopy(_DEFAULT_DECOY)


def normalise(sections: Sections) -> Sections:
    """Every section present, in the declared order; items keep only known keys."""
    out: Sections = {}
    for name in SECTIONS:
        items = []
        for item in sections.get(name, []):
            clean: Item = {"text": item["text"]}
            if "checked" in item and item["checked"] is not None:
                clean["checked"] = bool(item["checked"])
            if name in CODE_WORD_SECTIONS and item.get("code_word") is not None:
                clean["code_word"] = item["code_word"]
            items.append(clean)
        out[name] = items
    return out


class PlanTooLarge(TooLarge):
    type_slug = "plan-too-large"
    title = "The plan is too large"


def serialise(sections: Sections, max_bytes: int | None = None) -> str:
    """The stored form of a plan: its normalised sections as compact JSON.

    Written as UTF-8 rather than ``\\u`` escapes, so that the size a limit measures is what
    the survivor wrote, in whatever script (an escape takes six bytes a character). With
    ``max_bytes``, a plan larger than that, or with more items in a section than a save may
    send (a recommendation could add them), is refused before anything is written.
    """
    clean = normalise(sections)
    text = json.dumps(clean, ensure_ascii=False, separators=(",", ":"))
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate: text no device could have typed
        raise InvalidInput(
            "invalid text", errors={"sections": ["Text must be valid Unicode."]}
        ) from None
    if max_bytes is None:
        return text
    if size > max_bytes:
        raise PlanTooLarge(
            f"A plan may hold at most {max_bytes} bytes of text; this one has {size}. "
            "Shorten or remove some items."
        )
    if any(len(items) > MAX_ITEMS_PER_SECTION for items in clean.values()):
        raise PlanTooLarge(
            f"A section may hold at most {MAX_ITEMS_PER_SECTION} items; remove some first."
        )
    return text
