"""An account repository's git remote: pull before a sync, push after it.

By the ownership rule (the bot writes items/ and issues/, people write justifications/) a
fast-forward or a merge of the remote's main never conflicts with the bot's commits. Local
commits are never dropped: nothing here resets or force-pushes. The pulled range is recorded as
pending for the audit (the merge itself runs with the hooks silenced, since the sync holds the
lock and audits once at its end).

A remote URL may carry credentials (``https://user:token@host/repo.git``); it is never written
into a commit and every message shows it through ``redact_url``.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from gitmonkey.gitcmd import git_process
from gitmonkey.hooks import SKIP_ENV, record_pending

if TYPE_CHECKING:
    from gitmonkey.config import AccountConfig
    from gitmonkey.store import AccountRepository

REMOTE = "origin"
BRANCH = "main"
TRACKING = f"refs/remotes/{REMOTE}/{BRANCH}"

_USERINFO = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]*://)[^/?#\s]*@")


def redact_url(url: str) -> str:
    """``url`` without its userinfo: ``https://user:token@host/r.git`` -> ``https://host/r.git``.

    An scp-like ``git@host:path`` or a local path has no password and is returned as is.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_text(url)
    if not parts.scheme or "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def redact_text(text: str) -> str:
    """``text`` (git's output, say) with the userinfo of every ``scheme://user:pass@`` URL removed."""
    return _USERINFO.sub(r"\1", text)


class RemoteError(Exception):
    """Pulling or pushing failed; the message says what happened to the local commits."""


@dataclass(frozen=True)
class PullResult:
    old: str | None
    new: str | None
    action: str  # "none", "fast-forward", "merge", "no-remote-branch"


def _git(repo: AccountRepository, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    raw = git_process(repo.path, *args, env={**repo.identity_env, SKIP_ENV: "1"})
    out, err = raw.stdout.decode("utf-8", "surrogateescape"), raw.stderr.decode("utf-8", "replace")
    proc = subprocess.CompletedProcess(raw.args, raw.returncode, out, err)
    if check and proc.returncode != 0:
        raise RemoteError(
            f"git {args[0]} failed in {repo.path}: {redact_text((proc.stderr or proc.stdout).strip())}"
        )
    return proc


def _rev(repo: AccountRepository, ref: str) -> str | None:
    proc = _git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
    return proc.stdout.strip() or None


def ensure_remote(repo: AccountRepository, url: str) -> None:
    current = _git(repo, "remote", "get-url", REMOTE, check=False)
    if current.returncode != 0:
        _git(repo, "remote", "add", REMOTE, url)
    elif current.stdout.strip() != url:
        _git(repo, "remote", "set-url", REMOTE, url)


def pull_before_sync(repo: AccountRepository, account: AccountConfig) -> PullResult:
    """Bring the remote's main into the local main (fast-forward, else a merge commit).

    Raises RemoteError when the remote cannot be reached or the merge would conflict; the
    local main is then exactly as it was.
    """
    old = repo.head()
    if not account.remote:
        return PullResult(old, old, "none")
    ensure_remote(repo, account.remote)
    listed = _git(repo, "ls-remote", "--exit-code", "--heads", REMOTE, f"refs/heads/{BRANCH}", check=False)
    if listed.returncode == 2:
        return PullResult(old, old, "no-remote-branch")
    if listed.returncode != 0:
        raise RemoteError(f"cannot reach {redact_url(account.remote)}: {redact_text(listed.stderr.strip())}")
    _git(repo, "fetch", "--quiet", "--no-tags", REMOTE, f"+refs/heads/{BRANCH}:{TRACKING}")
    theirs = _rev(repo, TRACKING)
    if theirs is None:
        return PullResult(old, old, "no-remote-branch")
    if old == theirs or (old and _is_ancestor(repo, theirs, old)):
        return PullResult(old, old, "none")
    if old is None or _is_ancestor(repo, old, theirs):
        _git(repo, "merge", "--quiet", "--ff-only", TRACKING)
        action = "fast-forward"
    else:
        merged = _git(repo, "merge", "--quiet", "--no-ff", "--no-edit", "-m",
                      f"Merge {REMOTE}/{BRANCH} before sync", TRACKING, check=False)
        if merged.returncode != 0:
            _git(repo, "merge", "--abort", check=False)
            raise RemoteError(
                f"merging {REMOTE}/{BRANCH} into {repo.path} conflicts (someone wrote a bot-owned path?); "
                f"local commits kept, main left at {old[:12]}: "
                f"{redact_text((merged.stdout + merged.stderr).strip())}"
            )
        action = "merge"
    new = repo.head()
    if new is not None and new != old:
        record_pending(repo.state_dir, old, new, f"pulled from {redact_url(account.remote)}")
    return PullResult(old, new, action)


def push_after_sync(repo: AccountRepository, account: AccountConfig) -> None:
    """Push main to the remote (never forced); raises RemoteError, keeping every local commit."""
    if not account.remote or repo.head() is None:
        return
    ensure_remote(repo, account.remote)
    pushed = _git(repo, "push", "--quiet", "--porcelain", REMOTE, f"refs/heads/{BRANCH}:refs/heads/{BRANCH}",
                  check=False)
    if pushed.returncode != 0:
        raise RemoteError(
            f"push of {repo.path} to {redact_url(account.remote)} was refused; local commits kept, the next "
            f"sync pulls and pushes again: {redact_text((pushed.stderr or pushed.stdout).strip())}"
        )


def push_reporting(repo: AccountRepository, account: AccountConfig, say: Callable[[str], None]) -> str | None:
    """Push after a store (sync or listen) if the account has a remote; never raises: the error's
    text, said and returned, or None (the commits stay local and the next run pushes them)."""
    if not account.remote:
        return None
    try:
        push_after_sync(repo, account)
    except Exception as exc:
        say(f"{account.name}: push to {redact_url(account.remote)} failed: {exc}")
        return f"{type(exc).__name__}: {exc}"
    return None


def _is_ancestor(repo: AccountRepository, ancestor: str, descendant: str) -> bool:
    return _git(repo, "merge-base", "--is-ancestor", ancestor, descendant, check=False).returncode == 0
