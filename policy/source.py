"""Reading cheat sheets and companies from YAML or JSON text, with YAML's traps closed."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from .errors import PolicyError


class _StrictLoader(yaml.SafeLoader):
    """YAML 1.2-style scalars: only true/false are booleans, no sexagesimal numbers.

    PyYAML's default (YAML 1.1) reads ``no`` as False and ``17:00`` as 1020, so a
    keyword list ``[yes, no]`` or business hours ``["08:00", 17:00]`` would silently change.
    """


_StrictLoader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag not in (
        "tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float")]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?[0-9]+$"), list("-+0123456789"))
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$"), list("-+0123456789."))


def parse_text(text: str, *, name: str = "input") -> Any:
    """Parse YAML or JSON text (JSON is YAML too); syntax errors become a PolicyError with the line."""
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            return json.loads(text)
        except RecursionError:
            raise PolicyError([{"path": "", "message": f"{name} nests too deeply"}]) from None
        except json.JSONDecodeError as exc:
            # Fall through to YAML, which accepts flow style JSON-like documents too.
            json_error = exc
        else:
            json_error = None
    else:
        json_error = None
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except RecursionError:
        raise PolicyError([{"path": "", "message": f"{name} nests too deeply"}]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        if json_error is not None:
            problem = f"{json_error.msg}"
            where = f" at line {json_error.lineno}, column {json_error.colno}"
        raise PolicyError([{"path": "", "message": f"{name} is not valid YAML or JSON{where}: {problem}"}]) from None


def line_of(text: str, path: str) -> int | None:
    """The line (from 1) where a field path such as ``edgeCases[3].match.regexPatterns[0]`` is written in YAML or
    JSON text: the deepest part of the path found (None when the text does not parse or the path is empty)."""
    if not path:
        return None
    try:
        node: Any = yaml.compose(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except (yaml.YAMLError, RecursionError):
        return None
    found = None
    for part in re.findall(r"\[(\d+)\]|([^.\[\]]+)", path):
        index, key = part
        if index and isinstance(node, yaml.SequenceNode) and int(index) < len(node.value):
            node = node.value[int(index)]
        elif key and isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if getattr(k, "value", None) == key), None)
        else:
            break
        if node is None:
            break
        found = node
    return found.start_mark.line + 1 if found is not None else None


def load_file(path: str | Path) -> Any:
    """Read a YAML or JSON file into plain Python data."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError([{"path": "", "message": f"cannot read {p}: {exc}"}]) from None
    return parse_text(text, name=p.name)
