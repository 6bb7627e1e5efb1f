"""Reading untrusted input strictly: whole numbers in ASCII digits only, JSON of bounded depth."""

from __future__ import annotations

import json
import re
from typing import Any

_DIGITS = re.compile(r"[0-9]{1,15}")
#: Deeper JSON than this is refused (no document of ours nests beyond a dozen levels).
MAX_JSON_DEPTH = 32


def whole_number(raw: str | None) -> int | None:
    """A non-negative whole number written in ASCII digits ("12"), else None ("²", "١٢", "1_0", " 1", "1e3")."""
    if raw is None or not _DIGITS.fullmatch(raw):
        return None
    return int(raw)


def depth(value: Any) -> int:
    """How deeply a parsed JSON value nests (iterative: no recursion on hostile input)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            deepest = max(deepest, level)
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            deepest = max(deepest, level)
            stack.extend((v, level + 1) for v in item)
    return deepest


class BadJSON(ValueError):
    """A body that is not JSON we accept (the message says why)."""


def parse_json(raw: bytes | str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse JSON text, refusing invalid text and nesting deeper than ``max_depth``."""
    try:
        value = json.loads(raw)
    except RecursionError:
        raise BadJSON(f"the JSON nests deeper than {max_depth} levels") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadJSON(f"the body is not valid JSON: {exc}") from None
    if depth(value) > max_depth:
        raise BadJSON(f"the JSON nests deeper than {max_depth} levels")
    return value


__all__ = ["whole_number", "depth", "parse_json", "BadJSON", "MAX_JSON_DEPTH"]
