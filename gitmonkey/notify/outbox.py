"""The outbox: one JSON file per message under ``<state_dir>/outbox/``, written before delivery.

``outbox/<key>.json`` is pending (state ``pending`` or ``sending``); ``outbox/sent/<key>.json``
records a delivery; ``outbox/dead/<key>.json`` a message given up on. A message is moved by
writing its new file first and removing the old one after, so at every instant its key is
present in at least one folder: that is what makes enqueuing the same events twice a no-op
even while a flush runs. ``outbox/events/`` holds, per recipient, the events already queued
(``dedup``).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from gitmonkey.store.state import atomic_write, fsync_dir

PENDING = "pending"
SENDING = "sending"
SENT = "sent"
DEAD = "dead"


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def write_json(path: Path, message: dict[str, Any], *, exclusive: bool = False) -> None:
    """Write ``message`` to ``path`` atomically (private: mode 0600) and make the entry durable."""
    data = json.dumps(message, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    atomic_write(path, data.encode("utf-8"), mode=0o600, exclusive=exclusive)
    fsync_dir(path.parent)


class Outbox:
    def __init__(self, state_dir: Path) -> None:
        self.root = Path(state_dir) / "outbox"
        self.sent_dir = self.root / SENT
        self.dead_dir = self.root / DEAD

    def _path(self, key: str, folder: Path | None = None) -> Path:
        if not key.isalnum():
            raise ValueError(f"bad outbox key {key!r}")
        return (folder or self.root) / f"{key}.json"

    def known(self, key: str) -> bool:
        return any(self._path(key, d).exists() for d in (self.root, self.sent_dir, self.dead_dir))

    def add(self, message: dict[str, Any]) -> bool:
        """Write a new message atomically; False (nothing written) if its key is already known."""
        if self.known(message["key"]):
            return False
        try:
            write_json(self._path(message["key"]), message, exclusive=True)
        except FileExistsError:
            return False
        return True

    def save(self, message: dict[str, Any]) -> None:
        """Replace a pending message's file atomically (and durably: ``sending`` must survive a crash)."""
        write_json(self._path(message["key"]), message)

    def _move(self, message: dict[str, Any], folder: Path) -> None:
        write_json(self._path(message["key"], folder), message)
        self._path(message["key"]).unlink(missing_ok=True)
        fsync_dir(self.root)

    def mark_sent(self, message: dict[str, Any], now: datetime) -> None:
        self._move({**message, "state": SENT, "sent_at": iso(now)}, self.sent_dir)

    def finish_sent(self, key: str) -> bool:
        """Complete a move to ``sent/`` cut short by a crash: drop the pending file if the record exists."""
        if not self._path(key, self.sent_dir).exists():
            return False
        self._path(key).unlink(missing_ok=True)
        fsync_dir(self.root)
        return True

    def mark_dead(self, message: dict[str, Any], reason: str, now: datetime) -> None:
        self._move({**message, "state": DEAD, "dead_at": iso(now), "last_error": reason}, self.dead_dir)

    def read(self, folder: Path) -> Iterator[dict[str, Any]]:
        """The readable messages of one folder (the root, ``sent_dir`` or ``dead_dir``)."""
        if not folder.is_dir():
            return
        for path in sorted(folder.glob("*.json")):
            if path.name.startswith("."):
                continue
            try:
                yield json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue

    _read = read

    def pending(self) -> list[dict[str, Any]]:
        return sorted(self.read(self.root), key=lambda m: (m.get("created", ""), m["key"]))

    def dead(self) -> list[dict[str, Any]]:
        return list(self.read(self.dead_dir))

    def count(self, folder: Path | None = None) -> int:
        folder = folder or self.root
        if not folder.is_dir():
            return 0
        return sum(1 for p in folder.glob("*.json") if not p.name.startswith("."))

    def unreadable(self) -> list[Path]:
        """Pending files that do not parse (a disk fault, a hand edit): reported, never deleted."""
        bad = []
        for path in sorted(self.root.glob("*.json")) if self.root.is_dir() else []:
            try:
                json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                bad.append(path)
        return bad

    def requeue_dead(self, now: datetime) -> int:
        """Give every dead message a fresh start (after fixing a channel's configuration)."""
        moved = 0
        for message in self.dead():
            message.update(state=PENDING, attempts=0, created=iso(now), next_attempt=iso(now))
            self.save(message)
            self._path(message["key"], self.dead_dir).unlink(missing_ok=True)
            moved += 1
        return moved

    def prune_sent(self, now: datetime, keep_days: float) -> None:
        """Forget deliveries older than ``keep_days``: their keys stop deduplicating after that."""
        cutoff = now - timedelta(days=keep_days)
        for message in list(self.read(self.sent_dir)):
            sent_at = message.get("sent_at")
            if sent_at and parse_time(sent_at) < cutoff:
                self._path(message["key"], self.sent_dir).unlink(missing_ok=True)

    @contextlib.contextmanager
    def locked(self, timeout: float = 0) -> Iterator[bool]:
        """Hold the flush lock; yields False if another flush holds it past ``timeout``."""
        self.root.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.root / ".lock"), timeout=timeout)
        try:
            lock.acquire()
        except Timeout:
            yield False
            return
        try:
            yield True
        finally:
            lock.release()
