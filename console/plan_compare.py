"""Reading plans side by side: section titles, the changes between two versions (difflib, item by
item and, inside a changed item, word by word), and the three-way view of a conflicting save.

Pure functions over ``Sections``: no database, no Flask. The pages render what they answer
with classes styled in console.css; nothing here writes HTML.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher

from safety_plans.sections import SECTIONS, Item, Sections

TITLES: dict[str, str] = {
    "safe_contacts": "Safe contacts",
    "code_words": "Code words and signals",
    "safe_places": "Safe places",
    "escape_bag": "Escape bag",
    "documents": "Documents",
    "children": "Children",
    "pets": "Pets",
    "technology_safety": "Technology safety",
    "emergency_numbers": "Emergency numbers",
    "work_school": "Work and school",
    "protection_orders": "Protection orders",
    "after_leaving": "After leaving",
    "wellbeing": "Wellbeing",
    "notes": "Notes",
}


# Two versions of an item that share at least this share of their words are one item edited.
SIMILAR = 0.5


def title(name: str) -> str:
    return TITLES.get(name, name.replace("_", " ").capitalize())


def item_line(item: Item) -> str:
    """An item as one line of text: its state, its text, its code word."""
    line = str(item["text"])
    if "checked" in item:
        line = ("[done] " if item["checked"] else "[to do] ") + line
    if item.get("code_word"):
        line += f" (code word: {item['code_word']})"
    return line


def _lines(items: list[Item]) -> list[str]:
    return [item_line(item) for item in items]


@dataclass(frozen=True, slots=True)
class Piece:
    text: str
    marked: bool  # the words that differ from the other side of a changed item


@dataclass(frozen=True, slots=True)
class Line:
    kind: str  # same, added, removed
    pieces: tuple[Piece, ...]


@dataclass(frozen=True, slots=True)
class SectionChanges:
    name: str
    title: str
    lines: tuple[Line, ...]

    @property
    def changed(self) -> bool:
        return any(line.kind != "same" for line in self.lines)


def _whole(kind: str, text: str) -> Line:
    return Line(kind, (Piece(text, False),))


def _words(old: str, new: str) -> tuple[Line, Line]:
    """One item changed: the line it was and the line it is, the differing words marked."""
    a, b = re.split(r"(\s+)", old), re.split(r"(\s+)", new)
    was: list[Piece] = []
    now: list[Piece] = []
    for tag, i1, i2, j1, j2 in SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if i2 > i1:
            was.append(Piece("".join(a[i1:i2]), tag != "equal"))
        if j2 > j1:
            now.append(Piece("".join(b[j1:j2]), tag != "equal"))
    return Line("removed", tuple(was)), Line("added", tuple(now))


def _alike(old: str, new: str) -> bool:
    """Enough words in common for the new text to read as an edit of the old."""
    words = SequenceMatcher(a=old.split(), b=new.split(), autojunk=False)
    return words.ratio() >= SIMILAR


def _section_changes(old: list[str], new: list[str]) -> list[Line]:
    lines: list[Line] = []
    for tag, i1, i2, j1, j2 in SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        if tag == "equal":
            lines += [_whole("same", text) for text in old[i1:i2]]
            continue
        paired = min(i2 - i1, j2 - j1) if tag == "replace" else 0
        for k in range(paired):
            was, now = old[i1 + k], new[j1 + k]
            if _alike(was, now):  # an item edited in place: show it word by word
                lines += _words(was, now)
            else:  # another item in its place: marking shared words would only confuse
                lines += [_whole("removed", was), _whole("added", now)]
        lines += [_whole("removed", text) for text in old[i1 + paired : i2]]
        lines += [_whole("added", text) for text in new[j1 + paired : j2]]
    return lines


def compare(old: Sections, new: Sections) -> list[SectionChanges]:
    """Every section, in the plan's order, with what changed from ``old`` to ``new``."""
    return [
        SectionChanges(
            name,
            title(name),
            tuple(_section_changes(_lines(old.get(name, [])), _lines(new.get(name, [])))),
        )
        for name in SECTIONS
    ]


@dataclass(frozen=True, slots=True)
class MergeSection:
    """One section of a conflicting save: who changed it, and what the plan holds now."""

    name: str
    title: str
    state: str  # both, theirs, mine, same
    current: tuple[Item, ...]


def merge(
    base: Sections | None, mine: Sections, current: Sections
) -> tuple[Sections, list[MergeSection]]:
    """What to fill the merge form with, section by section, and why.

    A section the advocate changed keeps the advocate's text (nothing typed is lost); one only
    the other side changed takes the current text, so that saving the merge cannot quietly
    undo their edit. Without the version the advocate started from (a form that names none
    this plan has), every section counts as changed by both and keeps the advocate's text.
    """
    filled: Sections = {}
    sections: list[MergeSection] = []
    for name in SECTIONS:
        ours, now = _lines(mine.get(name, [])), _lines(current.get(name, []))
        was = _lines(base.get(name, [])) if base is not None else None
        mine_changed = was is None or ours != was
        theirs_changed = was is None or now != was
        if ours == now:
            state = "same"
        elif mine_changed and theirs_changed:
            state = "both"
        else:
            state = "mine" if mine_changed else "theirs"
        filled[name] = list(mine.get(name, []) if mine_changed else current.get(name, []))
        sections.append(MergeSection(name, title(name), state, tuple(current.get(name, []))))
    return filled, sections
