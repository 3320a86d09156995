"""Per-recipient records of the events already queued or sent, so that no event is queued twice.

A message's key covers the set of its events; a run killed after queuing a digest but before the
audit marker moved rebuilds the same events plus new ones (a new ``sync.summary``), a different
set. These records let ``enqueue`` drop, per recipient, every event it already queued.

``outbox/events/<recipient hash>.json`` maps each message key to the identities of its events.
An entry counts only while its message is in the outbox (pending, ``sent/`` or ``dead/``): the
entry is written first and the message after, so a crash between them leaves an entry that does
not count rather than events that are never sent; and entries expire with the ``sent/`` records,
after ``keep_sent_days``. A lost or unreadable file is rebuilt from the messages themselves.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from gitmonkey import events as ev
from gitmonkey.notify.outbox import Outbox, iso, write_json

VERSION = 1
MAX_EVENTS = 100_000
"""Identities kept per recipient beyond the newest message's (oldest messages are forgotten first)."""
LOCK_TIMEOUT = 60.0

_ITEM_KINDS = (ev.ITEM_ADDED, ev.ITEM_MODIFIED, ev.ITEM_DELETED)
_ISSUE_KINDS = (
    ev.ISSUE_NEW, ev.ISSUE_FIXED, ev.ISSUE_REGRESSED, ev.ISSUE_JUSTIFIED, ev.JUSTIFICATION_EXPIRED,
)
_SYNC_KINDS = (ev.SLICE_FAILED, ev.SLICE_STALE, ev.SYNC_SUMMARY)


class RecordsBusy(RuntimeError):
    """Another process held the records lock for longer than ``LOCK_TIMEOUT``."""


def _digest(parts: list[Any]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]


def identity_of(event: dict[str, Any]) -> str:
    """What makes an event the same real-world event across runs (``Event.to_dict()`` form).

    An item change is its item and the commit that recorded it; an issue transition is its
    fingerprint and the audit commit; a slice or sync event is its sync (a failure repeating in
    the next sync is a new event). Titles, scores and diffs may be rebuilt differently and are
    left out. An event lacking these anchors is identified by all its content.
    """
    kind = event.get("kind")
    details = event.get("details") or {}
    commit = event.get("commit")
    anchor: list[Any] | None = None
    if kind in _ITEM_KINDS and commit:
        where = details.get("path") or [event.get("technology"), event.get("region"), event.get("item_id")]
        anchor = [where, commit]
    elif kind in _ISSUE_KINDS and commit and details.get("fingerprint"):
        anchor = [details["fingerprint"], commit]
    elif kind in _SYNC_KINDS and details.get("sync"):
        anchor = [details["sync"], event.get("technology"), event.get("region"), details.get("slice")]
    if anchor is None:
        content = {k: v for k, v in event.items() if k != "commit_url"}
        return _digest(["content", content])
    return _digest([kind, event.get("account_id"), *anchor])


def event_identity(event: ev.Event) -> str:
    return identity_of(event.to_dict())


def recipient_file(recipient_identity: str) -> str:
    return hashlib.sha256(recipient_identity.encode()).hexdigest()[:32] + ".json"


class EventRecords:
    """The records of one recipient (``Recipient.identity()``) in one outbox."""

    def __init__(self, outbox: Outbox, recipient_identity: str) -> None:
        self.outbox = outbox
        self.recipient = recipient_identity
        self.path = outbox.root / "events" / recipient_file(recipient_identity)
        self._entries: dict[str, dict[str, Any]] | None = None

    def _load(self) -> dict[str, dict[str, Any]] | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            messages = data["messages"]
            if data.get("version") != VERSION or not isinstance(messages, dict):
                return None
            return {str(k): {"at": str(v["at"]), "events": [str(i) for i in v["events"]]}
                    for k, v in messages.items()}
        except FileNotFoundError:
            return {} if not self._any_message() else None
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def _any_message(self) -> bool:
        return bool(_present_keys(self.outbox))

    def _rebuilt(self) -> dict[str, dict[str, Any]]:
        """The records read back from this recipient's digests in the outbox (a lost or old file)."""
        messages: dict[str, dict[str, Any]] = {}
        for folder in (self.outbox.root, self.outbox.sent_dir, self.outbox.dead_dir):
            for message in self.outbox.read(folder):
                if message.get("kind", "digest") != "digest" or not _is_for(message, self.recipient):
                    continue
                if not message.get("key"):
                    continue
                events = (message.get("payload") or {}).get("events") or []
                messages[str(message["key"])] = {
                    "at": str(message.get("created", "")),
                    "events": [identity_of(e) for e in events if isinstance(e, dict)],
                }
        return messages

    def _current(self) -> dict[str, dict[str, Any]]:
        """Entries whose message is still in the outbox, newest first, within ``MAX_EVENTS``.

        Cached until the next ``record``: use an instance under ``records_lock`` only.
        """
        if self._entries is not None:
            return self._entries
        messages = self._load()
        rebuilt = messages is None
        if messages is None:
            messages = self._rebuilt()
        present = _present_keys(self.outbox)
        live = sorted(((k, v) for k, v in messages.items() if k in present), key=lambda kv: kv[1]["at"],
                      reverse=True)
        kept: dict[str, dict[str, Any]] = {}
        total = 0
        for key, entry in live:
            total += len(entry["events"])
            if kept and total > MAX_EVENTS:
                break
            kept[key] = entry
        if rebuilt:
            self._save(kept)
        self._entries = kept
        return kept

    def known(self) -> set[str]:
        return {i for entry in self._current().values() for i in entry["events"]}

    def record(self, key: str, identities: Iterable[str], now: datetime) -> None:
        """Add a message's events (before the message is written) and drop expired entries."""
        messages = {**self._current(), key: {"at": iso(now), "events": sorted(set(identities))}}
        self._save(messages)
        self._entries = None

    def _save(self, messages: dict[str, dict[str, Any]]) -> None:
        data = {"version": VERSION, "recipient": json.loads(self.recipient), "messages": messages}
        write_json(self.path, data)


def _is_for(message: dict[str, Any], recipient_identity: str) -> bool:
    mine = [message.get("recipient"), message.get("channel"), list(message.get("address") or [])]
    return json.dumps(mine) == recipient_identity


def _keys_in(folder: Path) -> set[str]:
    try:
        names = os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return set()
    return {n.removesuffix(".json") for n in names if n.endswith(".json") and not n.startswith(".")}


def _present_keys(outbox: Outbox) -> set[str]:
    """Keys pending, sent or dead; safe against a concurrent flush or retry moving messages.

    A move writes the new file before removing the old one. Listing pending, sent, dead and
    pending again, a key being moved is seen in one of the listings whatever the interleaving.
    """
    keys = set()
    for folder in (outbox.root, outbox.sent_dir, outbox.dead_dir, outbox.root):
        keys |= _keys_in(folder)
    return keys


@contextlib.contextmanager
def records_lock(outbox: Outbox, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Serialise enqueuers (records are read, changed and rewritten); a flush does not take it."""
    outbox.root.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(outbox.root / ".events.lock"), timeout=timeout)
    try:
        lock.acquire()
    except Timeout as exc:
        raise RecordsBusy(f"{outbox.root}: another process is queuing notifications (lock held over "
                          f"{timeout:g} s)") from exc
    try:
        yield
    finally:
        lock.release()
