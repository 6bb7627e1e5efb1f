"""Whether a spoken name is one we can be sure of (common first names and surnames, US census lists).

The lists ship with the ``names`` package (the 1990 US census files: 5,494 first names, 88,799
surnames). A name whose first word is a known first name, or a single known surname, is taken
as heard; anything else ("Zorp Blat", a name the recognizer mangled) is read back to the caller
to confirm or spell.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from importlib import resources

log = logging.getLogger(__name__)
_FIRST_COLUMN = re.compile(r"^(\S+)", re.M)


@lru_cache(maxsize=1)
def _lists() -> tuple[frozenset[str], frozenset[str]]:
    """(first names, surnames), lower case; empty when the package data cannot be read."""
    try:
        base = resources.files("names")
        first = set()
        for name in ("dist.male.first", "dist.female.first"):
            first.update(_FIRST_COLUMN.findall((base / name).read_text().lower()))
        last = _FIRST_COLUMN.findall((base / "dist.all.last").read_text().lower())
        return frozenset(first), frozenset(last)
    except (ModuleNotFoundError, FileNotFoundError, OSError) as exc:  # every name is then read back
        log.warning("name lists unavailable (%s): every name will be confirmed with the caller", exc)
        return frozenset(), frozenset()


def warm() -> None:
    """Read the lists now (at start, about 60 ms), so no caller waits for them."""
    _lists()


def known_name(name: str) -> bool:
    """Whether a name sounds like a real one we heard right."""
    words = [w.strip(".,'-").lower() for w in name.split() if w.strip(".,'-")]
    if not words:
        return False
    first, last = _lists()
    if len(words) == 1:
        return words[0] in first or words[0] in last
    return words[0] in first or (words[0] in last and words[-1] in last)


def known_first_name(word: str) -> bool:
    """Whether a word is a common first name (census list)."""
    return word.strip(".,'-").lower() in _lists()[0]


__all__ = ["known_name", "known_first_name", "warm"]
