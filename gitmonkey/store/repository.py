"""One account's git repository, driven through git's own plumbing.

GitPython's ``IndexFile`` rewrites the whole index in Python on every commit (over a second per
commit in a 20,000-item repository), so commits are made by ONE ``git fast-import`` stream per
batch and the index and working tree are brought to the new HEAD once, by a two-tree
``git read-tree -m -u``. Git is run through :mod:`gitmonkey.gitcmd` (argument lists, no shell,
none of a hook's ``GIT_DIR``-like variables), in the repository, with the bot's identity in the
environment.

Crash safety: fast-import writes objects first and moves ``refs/heads/main`` only at the very
end, refusing a non-fast-forward; the stream ends with ``done`` so a writer that dies mid-stream
makes fast-import abort without touching the ref. Whatever a kill leaves between the ref and the
working tree, :meth:`AccountRepository.recover` repairs for the bot-owned directories.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gitmonkey.gitcmd import EMPTY_TREE, GitCommandError, GitObject, cat_file_objects, git_env, git_process
from gitmonkey.store.lock import RepositoryError, RepositoryLocked, SyncLock

__all__ = [
    "BOT_DIRS",
    "AccountRepository",
    "ConcurrentUpdateError",
    "FileChange",
    "GitError",
    "PlannedCommit",
    "RepositoryError",
    "RepositoryLocked",
]

log = logging.getLogger("gitmonkey.store")

BOT_DIRS = ("items", "issues")
NULL_SHA = "0" * 40
# A git lock file older than this is left over from a killed git command, not held by a live one.
STALE_GIT_LOCK_SECONDS = 600
_GIT_LOCKS = ("index.lock", "HEAD.lock", "refs/heads/main.lock", "packed-refs.lock")
_SHA = re.compile(r"^[0-9a-f]{40}$|^[0-9a-f]{64}$")
_NEEDS_QUOTE = re.compile(rb'[\x00-\x1f"\\\x7f]')


class GitError(RepositoryError):
    """A git command failed; the message names the command and git's own error."""


class ConcurrentUpdateError(RepositoryError):
    """``main`` moved while a batch was being written; nothing of the batch was applied."""


@dataclass(frozen=True)
class FileChange:
    path: str
    content: bytes | None


@dataclass(frozen=True)
class Author:
    """Who made a change, when it is not gitmonkey (the AWS principal behind a CloudTrail event);
    the committer stays the bot. ``name`` and ``email`` are untrusted and must already be clean:
    ``_checked`` refuses ``<``, ``>``, newlines and NUL, which would forge the author line."""

    name: str
    email: str
    when: datetime


@dataclass(frozen=True)
class PlannedCommit:
    message: str
    changes: tuple[FileChange, ...]
    author: Author | None = None
    """None: gitmonkey authored the commit (a sync)."""


class AccountRepository:
    BRANCH = "main"

    def __init__(
        self, path: Path, *, committer_name: str = "gitmonkey", committer_email: str = "gitmonkey@localhost"
    ) -> None:
        for label, value in (("committer name", committer_name), ("committer email", committer_email)):
            if not value or any(c in value for c in "<>\n\0"):
                raise ValueError(f"invalid {label} {value!r}: must be non-empty, without '<', '>', newline")
        self.path = Path(path).resolve()
        self.git_dir = self.path / ".git"
        self.state_dir = self.git_dir / "gitmonkey"
        self.committer_name = committer_name
        self.committer_email = committer_email
        #: The bot's identity as git environment variables (every git command here runs with them).
        self.identity_env = {
            "GIT_AUTHOR_NAME": committer_name, "GIT_AUTHOR_EMAIL": committer_email,
            "GIT_COMMITTER_NAME": committer_name, "GIT_COMMITTER_EMAIL": committer_email,
            "GIT_TERMINAL_PROMPT": "0",
        }

    @classmethod
    def open(cls, path: Path, *, create: bool = True, **identity: Any) -> AccountRepository:
        """Open the repository at ``path``; ``git init -b main`` it first if missing and ``create``."""
        path = Path(path)
        if not (path / ".git").is_dir():
            if path.exists() and not path.is_dir():
                raise RepositoryError(f"{path} is not a directory")
            if not create:
                raise RepositoryError(f"{path} is not a git repository (no .git directory)")
            path.mkdir(parents=True, exist_ok=True)
            repo = cls(path, **identity)
            repo._run(["init", "-q", "-b", cls.BRANCH, str(repo.path)])
        else:
            repo = cls(path, **identity)
        repo.state_dir.mkdir(exist_ok=True)
        return repo

    def __repr__(self) -> str:
        return f"AccountRepository({str(self.path)!r})"

    # -- running git ---------------------------------------------------------------------------

    def _run(self, args: Sequence[str], *, input: bytes | None = None, check: bool = True
             ) -> subprocess.CompletedProcess[bytes]:
        try:
            return git_process(self.path, *args, input=input, check=check, env=self.identity_env)
        except GitCommandError as exc:
            raise GitError(str(exc)) from exc

    def git(self, *args: str, input: bytes | None = None) -> str:
        """Run ``git args...`` in the repository with the bot's identity; return stdout as text."""
        return self._run(args, input=input).stdout.decode("utf-8", "surrogateescape")

    def lock(
        self, *, by: str = "sync", wait_for: tuple[str, ...] = (), wait_seconds: float = 0.0
    ) -> AbstractContextManager[None]:
        """The sync lock (``.git/gitmonkey/sync.lock``), held ``by`` a kind of run; raises
        :class:`RepositoryLocked` at once if held, unless by one of ``wait_for`` (waited for up to
        ``wait_seconds``)."""
        self.state_dir.mkdir(exist_ok=True)
        return SyncLock(self.state_dir / "sync.lock", label=f"repository {self.path}", by=by,
                        wait_for=wait_for, wait_seconds=wait_seconds)

    # -- reading -------------------------------------------------------------------------------

    def head(self) -> str | None:
        ref = f"refs/heads/{self.BRANCH}^{{commit}}"
        result = self._run(["rev-parse", "-q", "--verify", ref], check=False)
        if result.returncode != 0:
            return None
        return result.stdout.decode().strip() or None

    def list_blobs(self, prefix: str, rev: str = "HEAD") -> dict[str, str]:
        """Every blob under the directory ``prefix`` ("" for all) at ``rev``: path -> blob sha."""
        if self.head() is None:
            return {}
        prefix = prefix.strip("/")
        args = ["ls-tree", "-r", "-z", "--full-tree", rev]
        if prefix:
            args += ["--", prefix]
        out = self._run(args).stdout
        blobs: dict[str, str] = {}
        under = prefix + "/" if prefix else ""
        for record in out.split(b"\0"):
            if not record:
                continue
            meta, _, raw_path = record.partition(b"\t")
            _mode, kind, sha = meta.split(b" ")
            path = raw_path.decode("utf-8", "surrogateescape")
            if kind == b"blob" and path.startswith(under):
                blobs[path] = sha.decode()
        return blobs

    def read_blobs(self, shas: Iterable[str]) -> dict[str, bytes]:
        """The content of each blob, read through one ``git cat-file --batch``."""
        wanted = list(dict.fromkeys(shas))
        for sha in wanted:
            if not isinstance(sha, str) or not _SHA.match(sha):
                raise ValueError(f"not a full object id: {sha!r}")
        if not wanted:
            return {}
        objects = self._cat_file(wanted)
        missing = [sha for sha in wanted if sha not in objects]
        if missing:
            raise GitError(f"objects missing from {self.path}: {', '.join(missing[:5])}")
        return {sha: obj.content for sha, obj in objects.items()}

    def read_file(self, path: str, rev: str = "HEAD") -> bytes | None:
        """The content of ``path`` at ``rev``, or None if it does not exist there."""
        if self.head() is None:
            return None
        if "\n" in path or "\n" in rev:
            listing = self._run(["ls-tree", "-z", "--full-tree", rev, "--", path]).stdout
            entries = [r.partition(b"\t") for r in listing.split(b"\0") if r]
            match = [m.split(b" ") for m, _, p in entries if p.decode("utf-8", "surrogateescape") == path]
            if not match:
                return None
            spec = match[0][2].decode()
        else:
            spec = f"{rev}:{path}"
        found = self._cat_file([spec]).get(spec)
        if found is None:
            return None
        if found.kind != "blob":
            raise RepositoryError(f"{path} at {rev} is not a file")
        return found.content

    def _cat_file(self, specs: list[str]) -> dict[str, GitObject]:
        try:
            return cat_file_objects(self.path, specs)
        except GitCommandError as exc:
            raise GitError(str(exc)) from exc

    @staticmethod
    def blob_sha(content: bytes) -> str:
        """Git's blob id of ``content`` (sha1 object format), computed without writing anything."""
        return hashlib.sha1(b"blob %d\0" % len(content) + content, usedforsecurity=False).hexdigest()

    # -- writing -------------------------------------------------------------------------------

    def commit(self, commits: Sequence[PlannedCommit], *, when: datetime | None = None) -> list[str]:
        """Append ``commits`` to main in one fast-import stream; return their shas in order.

        ``when`` (default now; a naive datetime is taken as UTC) dates every commit of the batch.
        Afterwards the index and working tree are moved to the new HEAD in one step; people's
        uncommitted files outside the paths the batch changed are left alone.
        """
        planned = [_checked(i, c) for i, c in enumerate(commits)]
        if not planned:
            return []
        ident = f"{self.committer_name} <{self.committer_email}>".encode()
        stamp = _git_date(when or datetime.now(UTC))
        old = self.head()
        shas = self._fast_import(planned, old, ident, stamp)
        self._update_worktree(old, shas[-1])
        self._run(["-c", "gc.autoDetach=false", "gc", "--auto", "--quiet"], check=False)
        return shas

    def _fast_import(self, planned: list[PlannedCommit], old: str | None, ident: bytes, stamp: bytes
                     ) -> list[str]:
        self.state_dir.mkdir(exist_ok=True)
        marks = self.state_dir / f"fast-import-marks.{os.getpid()}.{secrets.token_hex(4)}"
        try:
            with tempfile.TemporaryFile() as errors:
                proc = subprocess.Popen(
                    ["git", "fast-import", "--quiet", "--done", f"--export-marks={marks}"],
                    cwd=self.path, env=git_env(self.identity_env), stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL, stderr=errors,
                )
                assert proc.stdin is not None
                try:
                    for record in _stream(planned, old, ident, stamp):
                        proc.stdin.write(record)
                        proc.stdin.flush()
                    proc.stdin.write(b"done\n")
                    proc.stdin.close()
                except BrokenPipeError:
                    pass
                except BaseException:
                    proc.kill()
                    proc.wait()
                    raise
                if proc.wait() != 0:
                    errors.seek(0)
                    message = errors.read().decode("utf-8", "replace").strip()
                    if self.head() != old:
                        raise ConcurrentUpdateError(
                            f"main of {self.path} moved from {old or 'nothing'} to {self.head()} while "
                            f"{len(planned)} commit(s) were being written; none were applied, sync again"
                        )
                    raise GitError(f"git fast-import failed in {self.path}: {message}")
            shas = _read_marks(marks, len(planned))
        finally:
            marks.unlink(missing_ok=True)
        return shas

    def _update_worktree(self, old: str | None, new: str) -> None:
        # Parallel checkout (one worker per core, only past git's 100-file threshold) matters for a
        # first sync, which writes every item file at once.
        args = ["-c", "checkout.workers=0", "read-tree", "-m", "-u", old or EMPTY_TREE, new]
        if self._run(args, check=False).returncode == 0:
            return
        self._run(["update-index", "-q", "--refresh"], check=False)
        result = self._run(args, check=False)
        if result.returncode != 0:
            log.warning("%s: read-tree failed (%s); repairing the bot-owned paths",
                        self.path, result.stderr.decode("utf-8", "replace").strip())
            self.recover()

    # -- recovery ------------------------------------------------------------------------------

    def recover(self) -> list[str]:
        """Make the index and working tree of items/ and issues/ equal HEAD; list what was repaired.

        People's files elsewhere (justifications/, uncommitted or not) are never touched.
        """
        repaired = self._clear_stale_git_locks()
        head = self.head()
        want = self._tree_entries(head) if head else {}
        have = self._index_entries()
        removals, additions = [], []
        for path, entries in have.items():
            if len(entries) != 1 or entries[0][2] != "0" or entries[0][:2] != want.get(path):
                removals.append(f"0 {NULL_SHA}\t{path}\0")
                repaired.append(f"index: {path}")
        for path, (mode, sha) in want.items():
            entries = have.get(path)
            if not entries or len(entries) != 1 or entries[0][2] != "0" or entries[0][:2] != (mode, sha):
                additions.append(f"{mode} {sha}\t{path}\0")
                if path not in have:
                    repaired.append(f"index: {path}")
        if removals or additions:
            self._run(["update-index", "-z", "--index-info"],
                      input="".join(removals + additions).encode("utf-8", "surrogateescape"))
        self._run(["update-index", "-q", "--refresh"], check=False)

        for path in self._z_paths(["ls-files", "-z", "-o", "--", *BOT_DIRS]):
            (self.path / path).unlink(missing_ok=True)
            self._prune_empty_dirs(path)
            repaired.append(f"removed untracked: {path}")
        stale = self._z_paths(["diff-files", "-z", "--name-only", "--", *BOT_DIRS])
        for path in stale:
            target = self.path / path
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            repaired.append(f"working tree: {path}")
        if stale:
            self._run(["checkout-index", "-f", "-z", "--stdin"],
                      input="".join(p + "\0" for p in stale).encode("utf-8", "surrogateescape"))
        return repaired

    def _clear_stale_git_locks(self) -> list[str]:
        repaired = []
        for name in _GIT_LOCKS:
            lock = self.git_dir / name
            try:
                age = time.time() - lock.stat().st_mtime
            except FileNotFoundError:
                continue
            if age < STALE_GIT_LOCK_SECONDS:
                raise RepositoryError(
                    f"{lock} exists: another git command is running in {self.path} "
                    f"(if none is, remove that file)"
                )
            lock.unlink(missing_ok=True)
            repaired.append(f"removed stale lock: .git/{name}")
        for marks in self.state_dir.glob("fast-import-marks.*"):
            if time.time() - marks.stat().st_mtime >= STALE_GIT_LOCK_SECONDS:
                marks.unlink(missing_ok=True)
        return repaired

    def _tree_entries(self, rev: str) -> dict[str, tuple[str, str]]:
        out = self._run(["ls-tree", "-r", "-z", "--full-tree", rev, "--", *BOT_DIRS]).stdout
        entries = {}
        for record in out.split(b"\0"):
            if record:
                meta, _, path = record.partition(b"\t")
                mode, _kind, sha = meta.decode().split(" ")
                entries[path.decode("utf-8", "surrogateescape")] = (mode, sha)
        return entries

    def _index_entries(self) -> dict[str, list[tuple[str, str, str]]]:
        out = self._run(["ls-files", "-s", "-z", "--", *BOT_DIRS]).stdout
        entries: dict[str, list[tuple[str, str, str]]] = {}
        for record in out.split(b"\0"):
            if record:
                meta, _, path = record.partition(b"\t")
                mode, sha, stage = meta.decode().split(" ")
                entries.setdefault(path.decode("utf-8", "surrogateescape"), []).append((mode, sha, stage))
        return entries

    def _z_paths(self, args: list[str]) -> list[str]:
        out = self._run(args).stdout
        return [p.decode("utf-8", "surrogateescape") for p in out.split(b"\0") if p]

    def _prune_empty_dirs(self, path: str) -> None:
        parent = (self.path / path).parent
        while parent != self.path and parent.is_dir():
            try:
                parent.rmdir()
            except OSError:
                return
            parent = parent.parent


def _checked(index: int, planned: PlannedCommit) -> PlannedCommit:
    where = f"commit {index + 1}"
    if not isinstance(planned, PlannedCommit):
        raise TypeError(f"{where}: expected a PlannedCommit, got {type(planned).__name__}")
    if not isinstance(planned.message, str) or not planned.message.strip():
        raise ValueError(f"{where}: the commit message is empty")
    if "\0" in planned.message:
        raise ValueError(f"{where}: the commit message contains a NUL character")
    if not planned.changes:
        raise ValueError(f"{where} ({planned.message.splitlines()[0]!r}) changes nothing")
    seen: set[str] = set()
    for change in planned.changes:
        _check_path(where, change.path)
        if change.path in seen:
            raise ValueError(f"{where}: {change.path!r} is changed twice")
        seen.add(change.path)
        if change.content is not None and not isinstance(change.content, bytes):
            raise TypeError(f"{where}: content of {change.path!r} must be bytes or None")
    author = planned.author
    if author is not None:
        for label, value in (("author name", author.name), ("author email", author.email)):
            if not isinstance(value, str) or not value.strip() or any(c in value for c in "<>\n\0"):
                raise ValueError(f"{where}: invalid {label} {value!r}: must be non-empty, without '<', '>', "
                                 "newline")
        if not isinstance(author.when, datetime):
            raise TypeError(f"{where}: the author's date must be a datetime")
    return planned


def _check_path(where: str, path: str) -> None:
    if not isinstance(path, str) or not path:
        raise ValueError(f"{where}: empty or non-text path {path!r}")
    problem = None
    if path.startswith("/"):
        problem = "is absolute"
    elif "\0" in path:
        problem = "contains a NUL character"
    elif any(part in ("", ".", "..") for part in path.split("/")):
        problem = "has an empty, '.' or '..' component"
    elif any(part.lower() == ".git" for part in path.split("/")):
        problem = "is inside .git"
    else:
        try:
            path.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            problem = "is not encodable as UTF-8"
    if problem:
        raise ValueError(f"{where}: path {path!r} {problem}")


def _quote(path: str) -> bytes:
    """A fast-import path: verbatim, or C-style quoted when it holds control characters or quotes."""
    raw = path.encode("utf-8", "surrogateescape")
    if not _NEEDS_QUOTE.search(raw):
        return raw
    out = bytearray(b'"')
    for byte in raw:
        if byte in (0x22, 0x5C):
            out += b"\\" + bytes([byte])
        elif byte < 0x20 or byte == 0x7F:
            out += b"\\%03o" % byte
        else:
            out.append(byte)
    return bytes(out + b'"')


def _git_date(when: datetime) -> bytes:
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    offset = when.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset else 0
    sign = "-" if minutes < 0 else "+"
    return f"{int(when.timestamp())} {sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}".encode()


def _stream(planned: list[PlannedCommit], parent: str | None, ident: bytes, stamp: bytes) -> Iterator[bytes]:
    """The fast-import records, one per commit, each commit's parent being the previous one."""
    for mark, commit in enumerate(planned, 1):
        message = commit.message.encode("utf-8", "surrogateescape")
        parts = [
            b"commit refs/heads/main\nmark :%d\n" % mark,
            b"author %s %s\ncommitter %s %s\n" % (*_author(commit, ident, stamp), ident, stamp),
            b"data %d\n" % len(message), message, b"\n",
        ]
        if mark == 1 and parent:
            parts.append(b"from %s\n" % parent.encode())
        for change in commit.changes:
            if change.content is None:
                parts += [b"D ", _quote(change.path), b"\n"]
            else:
                parts += [b"M 100644 inline ", _quote(change.path), b"\ndata %d\n" % len(change.content),
                          change.content, b"\n"]
        parts.append(b"\n")
        yield b"".join(parts)


def _author(commit: PlannedCommit, ident: bytes, stamp: bytes) -> tuple[bytes, bytes]:
    if commit.author is None:
        return ident, stamp
    name = commit.author.name.encode("utf-8", "replace")
    email = commit.author.email.encode("utf-8", "replace")
    return b"%s <%s>" % (name, email), _git_date(commit.author.when)


def _read_marks(marks: Path, count: int) -> list[str]:
    by_mark = {}
    for line in marks.read_text().splitlines():
        mark, _, sha = line.partition(" ")
        by_mark[int(mark.lstrip(":"))] = sha
    try:
        return [by_mark[i] for i in range(1, count + 1)]
    except KeyError as exc:
        raise GitError(f"git fast-import did not report commit {exc.args[0]} of {count}") from None
