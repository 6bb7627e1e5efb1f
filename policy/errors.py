"""The policy package's exception tree: one root, each class documented."""

from __future__ import annotations


class PolicyError(Exception):
    """A cheat sheet (or artifact) was refused; ``.errors`` lists every reason by field path."""

    def __init__(self, errors: list[dict[str, str]], message: str | None = None) -> None:
        self.errors = [{"path": e.get("path", ""), "message": e["message"]} for e in errors]
        super().__init__(message or self._summary())

    def _summary(self) -> str:
        lines = [f"{e['path'] or '(document)'}: {e['message']}" for e in self.errors[:20]]
        more = len(self.errors) - 20
        if more > 0:
            lines.append(f"... and {more} more")
        return f"{len(self.errors)} error(s) in cheat sheet:\n  " + "\n  ".join(lines)


class PolicyIntegrityError(PolicyError):
    """A stored artifact failed its checksum or format check and must never be served."""


def format_path(loc: tuple | list) -> str:
    """Turn a pydantic location tuple into ``edgeCases[3].match.regexPatterns[0]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out
