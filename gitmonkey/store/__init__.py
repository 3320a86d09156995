"""The per-account git store: repository, sync lock and operational state (``.git/gitmonkey/``)."""

from gitmonkey.store.lock import RepositoryError, RepositoryLocked, SyncLock
from gitmonkey.store.repository import (
    BOT_DIRS,
    AccountRepository,
    Author,
    ConcurrentUpdateError,
    FileChange,
    GitError,
    PlannedCommit,
)

__all__ = [
    "BOT_DIRS",
    "AccountRepository",
    "Author",
    "ConcurrentUpdateError",
    "FileChange",
    "GitError",
    "PlannedCommit",
    "RepositoryError",
    "RepositoryLocked",
    "SyncLock",
]
