"""Operational state kept beside the history in ``.git/gitmonkey/``, never committed.

- ``state.json``: per slice ("<region>/<technology>") the last attempt, success and error.
- ``ephemeral.json``: item path -> {dotted path: value} of the fields that are kept out of history.
- ``secret.key``: the per-repository key the normaliser uses to HMAC secrets.

Every file is written atomically (temporary file, fsync, ``os.replace``). A corrupt state or
ephemeral file must not stop a sync: it is moved aside and an empty one is started, with a
:class:`CorruptStateWarning`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import tempfile
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

log = logging.getLogger("gitmonkey.store")

STATE_FILE = "state.json"
EPHEMERAL_FILE = "ephemeral.json"
SECRET_KEY_FILE = "secret.key"  # noqa: S105 - a file name, not a secret
SECRET_KEY_BYTES = 32
_SLICE_FIELDS = ("last_attempt", "last_success", "last_error", "last_error_at", "items", "api_calls")


class CorruptStateWarning(UserWarning):
    """A state file could not be read and was moved aside."""


def atomic_write(path: Path, data: bytes, *, mode: int = 0o644, exclusive: bool = False) -> None:
    """Replace ``path`` with ``data`` so that a reader sees the old or the new file, never half.

    The data is written and fsynced beside ``path`` (the temporary file is private until then).
    With ``exclusive`` it is linked into place instead: FileExistsError if ``path`` exists, so of
    two concurrent writers the first wins and the second changes nothing.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        (os.link if exclusive else os.replace)(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if exclusive:
        Path(tmp).unlink()


def fsync_dir(path: Path) -> None:
    """Make the entries of directory ``path`` (a rename, a link) durable; best effort."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _iso(when: datetime | None) -> str:
    when = when or datetime.now(UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _load_json(path: Path, validate: Any, problems: list[str]) -> Any:
    """The decoded file, or None if missing; a file that fails ``validate`` is moved aside."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        data = json.loads(raw)
        validate(data)
        return data
    except (ValueError, TypeError, KeyError) as exc:
        aside = path.with_name(f"{path.name}.corrupt-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%fZ')}")
        os.replace(path, aside)
        message = f"{path} is unreadable ({exc}); moved to {aside.name}, starting empty"
        problems.append(message)
        log.warning("%s", message)
        warnings.warn(message, CorruptStateWarning, stacklevel=3)
        return None


def slice_key(region: str, technology: str) -> str:
    for label, value in (("region", region), ("technology", technology)):
        if not value or "/" in value:
            raise ValueError(f"invalid {label} {value!r} for a slice key")
    return f"{region}/{technology}"


def _validate_state(data: Any) -> None:
    if not isinstance(data, dict) or not isinstance(data.get("slices"), dict):
        raise ValueError("expected an object with a 'slices' object")
    for key, entry in data["slices"].items():
        if not isinstance(entry, dict) or key.count("/") != 1:
            raise ValueError(f"bad slice entry {key!r}")
        for name in ("last_attempt", "last_success", "last_error_at"):
            if entry.get(name) is not None:
                _parse_iso(entry[name])


class SyncState:
    """Last attempt, success and error of every slice of one account, in ``state.json``."""

    def __init__(self, path: Path, slices: dict[str, dict[str, Any]] | None = None) -> None:
        self.path = Path(path)
        self._slices: dict[str, dict[str, Any]] = slices or {}
        self.warnings: list[str] = []

    @classmethod
    def load(cls, state_dir: Path) -> SyncState:
        problems: list[str] = []
        path = Path(state_dir) / STATE_FILE
        data = _load_json(path, _validate_state, problems)
        state = cls(path, data["slices"] if data else None)
        state.warnings = problems
        return state

    def save(self) -> None:
        body = json.dumps({"version": 1, "slices": self._slices}, indent=2, sort_keys=True) + "\n"
        atomic_write(self.path, body.encode())

    def _entry(self, region: str, technology: str) -> dict[str, Any]:
        entry = self._slices.setdefault(slice_key(region, technology), {})
        for name in _SLICE_FIELDS:
            entry.setdefault(name, None)
        return entry

    def record_success(self, region: str, technology: str, *, items: int, api_calls: int,
                       when: datetime | None = None) -> None:
        entry = self._entry(region, technology)
        stamp = _iso(when)
        entry.update(last_attempt=stamp, last_success=stamp, items=items, api_calls=api_calls)

    def record_failure(self, region: str, technology: str, error: str, when: datetime | None = None) -> None:
        """Record a failed read; the counts of the last success are kept."""
        entry = self._entry(region, technology)
        stamp = _iso(when)
        entry.update(last_attempt=stamp, last_error=str(error), last_error_at=stamp)

    def has_succeeded(self, region: str, technology: str) -> bool:
        entry = self._slices.get(slice_key(region, technology))
        return bool(entry and entry.get("last_success"))

    def is_failing(self, region: str, technology: str) -> bool:
        """True when the last attempt of the slice failed."""
        entry = self._slices.get(slice_key(region, technology)) or {}
        error_at, success = entry.get("last_error_at"), entry.get("last_success")
        return bool(error_at) and (not success or _parse_iso(error_at) >= _parse_iso(success))

    def slices(self) -> dict[str, dict[str, Any]]:
        return {key: dict(entry) for key, entry in sorted(self._slices.items())}

    def stale(self, now: datetime, max_age: timedelta) -> list[str]:
        """Slices with no success within ``max_age`` of ``now`` (including never successful ones)."""
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        return sorted(
            key for key, entry in self._slices.items()
            if not entry.get("last_success") or now - _parse_iso(entry["last_success"]) > max_age
        )


def _validate_ephemeral(data: Any) -> None:
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise ValueError("expected an object of item path -> object")


class EphemeralStore:
    """Item path -> {dotted path: value} for the ephemeral fields kept out of history."""

    def __init__(self, path: Path, values: dict[str, dict[str, Any]] | None = None) -> None:
        self.path = Path(path)
        self._values: dict[str, dict[str, Any]] = values or {}
        self.warnings: list[str] = []

    @classmethod
    def load(cls, state_dir: Path) -> EphemeralStore:
        problems: list[str] = []
        path = Path(state_dir) / EPHEMERAL_FILE
        store = cls(path, _load_json(path, _validate_ephemeral, problems))
        store.warnings = problems
        return store

    def update(self, path: str, values: dict[str, Any]) -> None:
        """Set the item's ephemeral values to ``values`` (replacing the old set; empty removes)."""
        if values:
            try:
                json.dumps(values)
            except (TypeError, ValueError) as exc:
                raise TypeError(f"ephemeral values of {path} are not JSON: {exc}") from None
            self._values[path] = dict(values)
        else:
            self._values.pop(path, None)

    def remove(self, path: str) -> None:
        self._values.pop(path, None)

    def get(self, path: str) -> dict[str, Any]:
        return dict(self._values.get(path, {}))

    def paths(self) -> list[str]:
        return sorted(self._values)

    def save(self) -> None:
        body = json.dumps(self._values, indent=1, sort_keys=True) + "\n"
        atomic_write(self.path, body.encode())


def secret_key(state_dir: Path) -> bytes:
    """The repository's HMAC key for secrets, created once (mode 0600) and never committed.

    Creation is race-free: the key is written to a private temporary file and linked into place,
    so a concurrent reader never sees a partial key and two creators agree on one.
    """
    path = Path(state_dir) / SECRET_KEY_FILE
    if not path.exists():
        with contextlib.suppress(FileExistsError):
            atomic_write(path, secrets.token_bytes(SECRET_KEY_BYTES), mode=0o600, exclusive=True)
    key = path.read_bytes()
    if len(key) != SECRET_KEY_BYTES:
        raise ValueError(
            f"{path} holds {len(key)} bytes, expected {SECRET_KEY_BYTES}: restore it from a backup "
            "(deleting it makes every redacted secret look changed)"
        )
    return key
