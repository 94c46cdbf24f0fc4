"""Breached and common passwords, and the spray patterns built on them (ASVS 2.1.7; NIST SP
800-63B 5.1.1.2: breached passwords, dictionary words, the service's own name).

The list ships with zxcvbn, already a dependency (MIT licence), so nothing is fetched at run
time: its frequency lists hold the 30,000 most frequent passwords of Xato's corpus of ten
million leaked passwords, and the most frequent English words (Wikipedia, US television and
film), first names and surnames (US census), about 94,000 in all.

A password sprayer does not try ``summer`` but ``Summer2026!!``: a common word or the service's
name, capitalised, with a year, digits or symbols around it, letters swapped for look-alikes
(``P@ssw0rd``), or said twice (``lantern-lantern``). So a password is reduced to its core
before the lookup: case folded, digits and symbols at either end dropped, look-alikes read as
letters, separators and numbers inside dropped, a repetition read once, and the service's and
the person's own words taken out. A password whose core is a listed word, or nothing but
those own words, is refused; a passphrase of several unrelated words keeps a core that no list
holds, and zxcvbn judges it as before.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable

from zxcvbn.frequency_lists import FREQUENCY_LISTS

# The service's own words: the first guess of anyone spraying its staff.
SERVICE_WORDS = ("lantern",)
# A core shorter than this is a password of digits and symbols: zxcvbn's to judge.
_MIN_CORE = 3

_LOOKALIKE = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g",
              "@": "a", "$": "s", "!": "i", "|": "l", "+": "t"}  # fmt: skip
_READ_AS_LETTERS = str.maketrans(_LOOKALIKE)
_LEADING = re.compile(r"^[\W\d_]+")
_TRAILING = re.compile(r"[\W\d_]+$")
_NOT_LETTERS = re.compile(r"[\W\d_]+")
_REPEATED = re.compile(r"(.+?)\1+")


@functools.cache
def _listed() -> frozenset[str]:
    return frozenset(word for words in FREQUENCY_LISTS.values() for word in words)


def _once(text: str) -> str:
    """``abcabc`` -> ``abc``: a repetition read once."""
    match = _REPEATED.fullmatch(text)
    return match.group(1) if match else text


def _trim(text: str, *, keep_lookalikes: bool) -> str:
    """``text`` without the digits and symbols at either end; with ``keep_lookalikes``, a
    look-alike touching a letter stays (``$umm3r2026!!`` -> ``$umm3r``)."""
    lead, trail = _LEADING.match(text), _TRAILING.search(text)
    start, end = (lead.end() if lead else 0), (trail.start() if trail else len(text))
    if start >= end:
        return ""
    if keep_lookalikes:
        if start and text[start - 1] in _LOOKALIKE:
            start -= 1
        if end < len(text) and text[end] in _LOOKALIKE:
            end += 1
    return text[start:end]


def cores(password: str) -> set[str]:
    """What is left of ``password`` once the decorations of a spray are taken off."""
    text = unicodedata.normalize("NFKC", password).casefold()
    inner = _trim(text, keep_lookalikes=False)
    found = {
        text,
        _NOT_LETTERS.sub("", inner),  # Summer2026!! -> summer; summer2026summer -> summersummer
        _NOT_LETTERS.sub("", inner.translate(_READ_AS_LETTERS)),  # P@ssw0rd1! -> password
        _NOT_LETTERS.sub(
            "", _trim(text, keep_lookalikes=True).translate(_READ_AS_LETTERS)
        ),  # $umm3r2026!! -> summer
    }
    return {_once(core) for core in found} | found


def _without(core: str, words: Iterable[str]) -> str:
    for word in words:
        core = core.replace(word, "")
    return core


def refusal(password: str, own_words: Iterable[str] = ()) -> str | None:
    """Why ``password`` is a common or sprayable one, or None when it is not."""
    words = sorted({*SERVICE_WORDS, *(w.casefold() for w in own_words)}, key=len, reverse=True)
    listed = _listed()
    for core in cores(password):
        if len(core) < _MIN_CORE:
            continue
        if not _once(_without(core, words)):
            return "Do not build your password from the name of this service or your own details."
        if core in listed or _once(_without(core, words)) in listed:
            return (
                "This password is on lists of common or leaked passwords (numbers, symbols or "
                "swapped letters added to a common word do not change that)."
            )
    return None
