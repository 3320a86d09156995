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
import time
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
    by: str | None = None
    """What holds it: ``sync``, ``listen``, ``audit``... (None for files written before)."""

    def describe(self) -> str:
        pid = self.pid if self.pid is not None else "?"
        host = self.host or "?"
        since = self.since or "?"
        return f"{self.by or 'a process'}: pid {pid} on {host} since {since}"


class SyncLock:
    """Exclusive lock on ``path``; usable once as a context manager.

    A second acquisition, from another process or from this one, raises
    :class:`RepositoryLocked` at once instead of waiting — unless the holder is one of
    ``wait_for`` (holders known to hold it briefly: `gitmonkey listen` recording a batch), which
    is waited for up to ``wait_seconds``.
    """

    def __init__(
        self, path: Path, *, label: str | None = None, by: str = "sync",
        wait_for: tuple[str, ...] = (), wait_seconds: float = 0.0,
    ) -> None:
        self.path = Path(path)
        self.label = label or str(self.path)
        self.by = by
        self.wait_for = wait_for
        self.wait_seconds = wait_seconds
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
            by=str(data["by"]) if data.get("by") else None,
        )

    def acquire(self) -> None:
        if self._fd is not None:
            raise RepositoryLocked(f"{self.label} is already locked by this lock object")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + self.wait_seconds
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                os.close(fd)
                holder = self.holder()
                if holder is not None and holder.by in self.wait_for and time.monotonic() < deadline:
                    time.sleep(0.2)
                    continue
                who = holder.describe() if holder else "a process that has not yet recorded itself"
                raise RepositoryLocked(
                    f"{self.label} is locked by another run ({who}); it is released when that process exits"
                ) from None
            except BaseException:
                os.close(fd)
                raise
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "by": self.by,
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
