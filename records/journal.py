"""The turn journal: a turn's writes made durable by one append to a local file, written to the document
store just after the caller is answered.

Each process appends to a file of its own (``<pid>-<journal>-<n>.wal`` in the journal directory), one JSON line
per group of writes, with one ``write`` system call; the file is held under an exclusive ``flock`` for
as long as the process lives. Once a group reached the document store (or the outbox, when the store is
down), the file is emptied (or, grown past ``ROTATE_BYTES`` under steady load, replaced). A process that
dies leaves its file behind, unlocked: the next process to look (at start, on a read of a call the cache
tiers do not have, and every few seconds) takes the lock and replays the groups in order. Every write the
journal carries is idempotent (inserts keyed by ``_id``, updates guarded by a turn number), so a group
replayed after it already landed changes nothing.

A line is written by the kernel before the turn is answered, so it survives the process being killed
(as the embedded store's commits do: neither waits for the disk itself). A line torn by a crash in the
middle of its ``write`` belongs to a turn that was never answered; it is skipped.
"""

from __future__ import annotations

import fcntl
import itertools
import json
import logging
import os
import threading
from typing import Any, Iterator, Mapping

log = logging.getLogger(__name__)

#: A journal file this large is replaced by a new one at the next flush rather than emptied later.
ROTATE_BYTES = 4 << 20

_instances = itertools.count(1)


class Journal:
    """This process's append-only file of write groups not yet in the document store."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        self._pid = 0
        self._fd = -1
        self._path = ""
        self._segment = 0
        self._name = next(_instances)  # two journals of one process (two apps on one directory) never share a file
        # The lines appended and not yet taken, as written: what lands is what the file holds (the session dicts
        # a group was encoded from may change with the call's next turn before it lands).
        self._pending: list[bytes] = []
        self._failing = False

    # -- this process's file

    def _own(self) -> None:
        """Open this process's file (again after a fork: the parent's file and groups stay the parent's)."""
        if self._pid == os.getpid() and self._fd >= 0:
            return
        if self._pid != os.getpid():
            self._pending, self._fd, self._segment = [], -1, 0
        os.makedirs(self.directory, exist_ok=True)
        self._segment += 1
        path = os.path.join(self.directory, f"{os.getpid()}-{self._name}-{self._segment}.wal")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a new file of a live process: never contended
        self._pid, self._fd, self._path = os.getpid(), fd, path

    def append(self, writes: list[Mapping[str, Any]], key: str | None = None) -> bool:
        """Make a group of writes durable in this process's file; False if the local disk refused it."""
        line = _line(writes, key)
        with self._lock:
            try:
                self._own()
                done = os.write(self._fd, line)
            except OSError as exc:
                return self._refused(key, str(exc))
            if done != len(line):  # a full disk: the torn line is ended here and skipped on replay
                try:
                    os.write(self._fd, b"\n")
                except OSError:
                    pass
                return self._refused(key, "cut short")
            if self._failing:
                log.warning("journal appends work again")
                self._failing = False
            self._pending.append(line)
        return True

    def _refused(self, key: str | None, why: str) -> bool:
        """An append the local disk refused: logged once per outage (the writes are made at once instead)."""
        if not self._failing:
            log.critical("%s: journal append failed (%s): turns are written before their answer until it works",
                         key or "write", why)
            self._failing = True
        return False

    def pending(self) -> int:
        """Groups appended by this process and not yet taken by a flush."""
        return len(self._pending) if self._pid == os.getpid() else 0

    def take(self) -> tuple[list[tuple[list[dict[str, Any]], str | None]], Any]:
        """The groups waiting, and a token for ``landed`` once they reached the store (or the outbox)."""
        with self._lock:
            if self._pid != os.getpid() or not self._pending:
                return [], None
            lines, self._pending = self._pending, []
            if os.fstat(self._fd).st_size < ROTATE_BYTES:
                token = (self._fd, self._path, False)
            else:
                token = (self._fd, self._path, True)  # steady load never empties it: new groups go to a new file
                self._fd = -1
                self._own()
        return list(_read(lines, token[1])), token

    def landed(self, token: Any) -> None:
        """The groups of a ``take`` are in the store: empty the file (when nothing newer waits in it) or
        remove the file that was replaced."""
        if token is None:
            return
        fd, path, rotated = token
        with self._lock:
            try:
                if rotated:
                    os.unlink(path)
                    os.close(fd)
                elif not self._pending and fd == self._fd:
                    os.ftruncate(fd, 0)
            except OSError as exc:
                log.error("journal %s could not be emptied (its writes are replayed again, harmlessly): %s",
                          path, exc)

    def put_back(self, groups: list[tuple[list[dict[str, Any]], str | None]]) -> None:
        """Groups that reached neither the store nor the outbox wait again, before newer ones."""
        lines = [_line(writes, key) for writes, key in groups]
        with self._lock:
            self._pending[:0] = lines

    def close(self) -> None:
        """Remove this process's file when nothing waits in it (at exit, after a final flush)."""
        with self._lock:
            if self._pid != os.getpid() or self._fd < 0:
                return
            try:
                if not self._pending:
                    os.unlink(self._path)
                os.close(self._fd)
            except OSError:
                pass
            self._fd = -1

    # -- files of processes that are gone

    def orphans(self) -> Iterator[tuple[str, list[tuple[list[dict[str, Any]], str | None]], Any]]:
        """Each journal file no live process holds, with its groups in order (the file is held meanwhile):
        pass the token to ``replayed`` once they are in the store."""
        try:
            names = sorted(os.listdir(self.directory), key=_order)
        except FileNotFoundError:
            return
        for name in names:
            if not name.endswith(".wal") or (self._pid == os.getpid() and self._fd >= 0
                                              and name == os.path.basename(self._path)):
                continue
            path = os.path.join(self.directory, name)
            try:
                fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # its process is alive (or another is replaying it)
                os.close(fd)
                continue
            if os.fstat(fd).st_nlink == 0:  # replayed and removed by another process meanwhile
                os.close(fd)
                continue
            with os.fdopen(os.dup(fd), "rb") as f:
                groups = list(_read(f, path))
            yield path, groups, fd

    @staticmethod
    def replayed(path: str, token: Any) -> None:
        """An orphan's groups are in the store: remove its file."""
        try:
            os.unlink(path)
        finally:
            os.close(token)

    @staticmethod
    def release(token: Any) -> None:
        """Leave an orphan for a later replay (the store took none of it)."""
        os.close(token)


def _order(name: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in name.partition(".")[0].split("-"))
    except ValueError:
        return (0,)


def _line(writes: Any, key: str | None) -> bytes:
    return json.dumps({"k": key, "w": writes}, separators=(",", ":")).encode() + b"\n"


def _read(lines: Any, path: str) -> Iterator[tuple[list[dict[str, Any]], str | None]]:
    """The groups of journal lines (a file, or the lines this process appended), in order."""
    for n, line in enumerate(lines, 1):
        try:
            group = json.loads(line)
            yield group["w"], group.get("k")
        except (ValueError, KeyError, TypeError):
            # Only the last line can be torn (its turn was never answered); anything else is logged.
            log.error("journal %s line %d unreadable, skipped", path, n)


__all__ = ["Journal", "ROTATE_BYTES"]
