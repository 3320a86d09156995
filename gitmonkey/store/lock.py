"""The per-repository sync lock: an OS lock that dies with its process.

``fcntl.flock`` is released by the kernel when the holding process exits, however it exits
(SIGKILL included), so a crashed sync can never leave a lock that blocks the next one. The
file's content (pid, host, start time) is only there to name the holder in the error message;
it is never trusted to decide whether the lock is held.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType


class RepositoryError(Exception):
    """A problem with an account repository that the caller should report, not a bug."""


class RepositoryLocked(RepositoryError):
    """Another process holds the sync lock of the repository."""


@dataclass(frozen=True)
class LockHolder:
    pid: int | None
    host: str | None
    since: str | None

    def describe(self) -> str:
        pid = self.pid if self.pid is not None else "?"
        host = self.host or "?"
        since = self.since or "?"
        return f"pid {pid} on {host} since {since}"


class SyncLock:
    """Exclusive, non-blocking lock on ``path``; usable once as a context manager.

    A second acquisition, from another process or from this one, raises
    :class:`RepositoryLocked` at once instead of waiting.
    """

    def __init__(self, path: Path, *, label: str | None = None) -> None:
        self.path = Path(path)
        self.label = label or str(self.path)
        self._fd: int | None = None

    @property
    def locked(self) -> bool:
        return self._fd is not None

    def holder(self) -> LockHolder | None:
        """Who wrote the lock file last (may be a process that has since exited)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8") or "null")
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict):
            return None
        pid = data.get("pid")
        return LockHolder(
            pid=pid if isinstance(pid, int) else None,
            host=str(data["host"]) if data.get("host") else None,
            since=str(data["since"]) if data.get("since") else None,
        )

    def acquire(self) -> None:
        if self._fd is not None:
            raise RepositoryLocked(f"{self.label} is already locked by this lock object")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = self.holder()
            who = holder.describe() if holder else "a process that has not yet recorded itself"
            raise RepositoryLocked(
                f"{self.label} is locked by another sync ({who}); it is released when that process exits"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
        self._fd = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)
        finally:
            os.close(fd)

    def __enter__(self) -> None:
        self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
