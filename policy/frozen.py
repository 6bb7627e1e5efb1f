"""Immutable views of JSON-shaped data, and plain copies back (one definition for the whole product)."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Mapping


def freeze(value: Any) -> Any:
    """A read-only deep view: dicts become mapping proxies, lists tuples."""
    if isinstance(value, dict):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """A plain, mutable, JSON-ready deep copy (mappings become dicts; tuples, lists and sets lists)."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [thaw(v) for v in value]
    return value


__all__ = ["freeze", "thaw"]
