"""One account on a worker: ``run_account(config, account_id, round_id)``, usable without Celery.

A worker keeps its own clone of each account repository (``workers.clones_dir``, default
``repos_dir``) and treats it as a **cache of the account's git remote**, which is the source of
truth. A task:

1. opens (or creates and fills) the clone; an account without a ``remote`` is refused: a clone
   that is never pushed would be lost with the worker;
2. under the repository lock, **aligns** the clone with the remote: fetches the remote's ``main``
   and, when the clone's ``main`` differs, moves it there (``git reset --hard``). Local commits
   the remote does not have are discarded: they were made by a task that was killed (or whose
   push was refused) before its push. This is the **replay rule**: nothing of them is merged or
   pushed later; the sync that follows reads AWS again and records the account's *current*
   state, so a change those commits recorded is recorded again (once) if it still holds, and an
   intermediate state that no longer holds is not recorded at all. The audit marker
   (``audited-head``) moves to the remote's ``main`` too: every commit there was audited and
   handed to the notifier by the worker that pushed it (a sync audits before it pushes), so this
   clone never audits or notifies another worker's commits again;
3. runs ``run_sync`` for the account, which pulls (a no-op right after the alignment unless the
   remote just moved), reads, commits, audits, notifies and pushes (never forced);
4. when the push is refused (the remote moved during the sync): if the remote's new commits touch
   only people's paths (``justifications/``, by the ownership rule), they are merged, audited and
   pushed (no second read of AWS); otherwise the clone is aligned again and the sync replayed,
   up to ``workers.push_retries`` times.

Every worker redacts an account's secrets with the same key (``WorkerSettings.account_secret_key``),
written into the clone's ``.git/gitmonkey/secret.key``: with a key per clone, an account moving
between workers would record every redacted value as changed.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from gitmonkey import hooks
from gitmonkey.gitcmd import git_process
from gitmonkey.store import AccountRepository, RepositoryLocked
from gitmonkey.store.state import SECRET_KEY_FILE, SyncState, atomic_write

if TYPE_CHECKING:
    from gitmonkey.config import AccountConfig, Config
    from gitmonkey.distributed.settings import WorkerSettings
    from gitmonkey.sync import AccountReport

log = logging.getLogger("gitmonkey.worker")

REMOTE = "origin"
BRANCH = "main"
TRACKING = f"refs/remotes/{REMOTE}/{BRANCH}"
BOT_PREFIXES = ("items/", "issues/")
LOCK_WAIT_SECONDS = 300.0
"""How long a task waits for the repository lock held by another process on this machine (a
second task of the same account fetched in the same batch, ``gitmonkey listen``, a person's
hook) before it fails."""
LOCK_POLL_SECONDS = 0.5


class WorkerError(Exception):
    """The account could not be synced and pushed by this task; the message says why."""


@dataclass
class AccountOutcome:
    """What one task did for one account."""

    account: str
    account_id: str
    round_id: str
    attempts: int = 0
    replayed: list[str] = field(default_factory=list)
    """Local commits discarded because the remote did not have them (see the replay rule)."""
    merged: int = 0
    """Refused pushes resolved by merging people's commits (no second read of AWS)."""
    commits: int = 0
    """The commits of the sync that was pushed (an audit commit aside)."""
    head: str | None = None
    exit_code: int = 0
    failed_slices: int = 0
    api_calls: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "account_id": self.account_id,
            "round": self.round_id,
            "attempts": self.attempts,
            "replayed_commits": len(self.replayed),
            "merged": self.merged,
            "commits": self.commits,
            "head": self.head,
            "exit_code": self.exit_code,
            "failed_slices": self.failed_slices,
            "api_calls": self.api_calls,
            "seconds": round(self.seconds, 3),
        }


# -- which account ---------------------------------------------------------------------------------

_discovered: dict[tuple[str, int, str], Config] = {}
_discovered_lock = threading.Lock()


def accounts_config(config: Config, round_id: str | None = None) -> Config:
    """``config`` with the accounts the scheduler enqueues: with ``organization:``, the discovered
    ones (``with_discovered_accounts``), read once per round per process and file version.

    Raises ``OrganizationDiscoveryError`` when the organization cannot be read.
    """
    if config.organization is None:
        return config
    try:
        version = config.path.stat().st_mtime_ns
    except OSError:
        version = 0
    key = (str(config.path), version, round_id or "")
    with _discovered_lock:
        found = _discovered.get(key)
    if found is not None:
        return found
    from gitmonkey.config import save_known_accounts
    from gitmonkey.organization import with_discovered_accounts

    found = with_discovered_accounts(config)
    try:
        # for the commands run on the worker that never call AWS (status, notify flush, issues)
        save_known_accounts(config, found.accounts)
    except OSError as exc:
        log.warning("could not keep the discovered accounts in %s: %s", config.repos_dir, exc)
    with _discovered_lock:
        if len(_discovered) > 8:
            _discovered.clear()
        _discovered[key] = found
    return found


def resolve_account(config: Config, account_id: str, round_id: str | None = None
                    ) -> tuple[Config, AccountConfig]:
    """The config to sync with (accounts discovered) and the account whose id is ``account_id``.

    If the organization cannot be read, an ``accounts:`` entry with that id is still synced (as
    ``gitmonkey sync`` does); a discovered account then cannot be, and ``WorkerError`` says why.
    """
    from gitmonkey.organization import OrganizationDiscoveryError

    problem = ""
    try:
        full = accounts_config(config, round_id)
    except OrganizationDiscoveryError as exc:
        full, problem = config, f"; the organization could not be read: {exc}"
    for account in full.accounts:
        if account.id == account_id:
            return full, account
    raise WorkerError(f"no account with id {account_id} in {config.path}{problem}")


@dataclass(frozen=True)
class Clone:
    """An account's clone on this worker, with the config to record it with."""

    config: Config
    """The worker's config with the accounts discovered and ``repos_dir`` = ``workers.clones_dir``."""
    account: AccountConfig
    repo: AccountRepository
    secret_key: bytes


def open_clone(config: Config, account_id: str, round_id: str | None, settings: WorkerSettings) -> Clone:
    """The clone of the account whose id is ``account_id`` (created when missing); ``WorkerError``
    when the account is unknown or has no remote."""
    full, account = resolve_account(config, account_id, round_id)
    if not account.remote:
        raise WorkerError(
            f"account {account.name} ({account.id}) has no remote: a worker records only accounts whose "
            "repository has a git remote (accounts[].remote or organization.remote), since its clone is a "
            "cache and what it records must reach the remote"
        )
    key = settings.account_secret_key(account.id)
    cfg = dataclasses.replace(full, repos_dir=settings.clones_dir)
    repo = AccountRepository.open(cfg.repo_path(account), committer_name=cfg.committer_name,
                                  committer_email=cfg.committer_email)
    return Clone(cfg, account, repo, key)


# -- the task's work -------------------------------------------------------------------------------


def run_account(
    config: Config,
    account_id: str,
    round_id: str,
    *,
    settings: WorkerSettings | None = None,
    progress: Callable[[str], None] | None = None,
    lock_wait: float = LOCK_WAIT_SECONDS,
) -> AccountOutcome:
    """Sync one account on this worker and push it; raise ``WorkerError`` when it was not pushed.

    Failed slices are not an error (they are recorded, as by ``gitmonkey sync``, and the outcome's
    ``exit_code`` is 3). The steps and the replay rule are in the module docstring.
    """
    from gitmonkey.distributed.settings import worker_settings
    from gitmonkey.sync import run_sync

    clock = time.monotonic()
    settings = settings or worker_settings(config, need_broker=False, need_secret=True)
    clone = open_clone(config, account_id, round_id, settings)
    cfg, account, repo = clone.config, clone.account, clone.repo
    outcome = AccountOutcome(account.name, account.id, round_id)
    say = progress or (lambda message: log.debug("%s: %s", account.name, message))

    def attempt() -> Attempt:
        report = run_sync(cfg, accounts=[account.name], progress=say).accounts[0]
        _count(outcome, report)
        if report.error:
            raise WorkerError(f"{account.name}: {report.error}")
        refused = str(report.post_sync.get("push_error") or report.post_sync.get("pull_error") or "")
        return Attempt(refused, mergeable="pull_error" not in report.post_sync)

    landing = land(clone, settings.push_retries, attempt, what="sync", lock_wait=lock_wait)
    outcome.attempts, outcome.merged, outcome.replayed = landing.attempts, landing.merged, landing.replayed
    outcome.head = repo.head()
    outcome.seconds = time.monotonic() - clock
    return outcome


@dataclass(frozen=True)
class Attempt:
    """What one recording in a clone came to: ``refused`` is why its push was refused ('' when it
    was pushed or had nothing to push); ``mergeable`` when merging people's commits can mend it
    (a refused push, not a failed pull)."""

    refused: str
    mergeable: bool = True


@dataclass
class Landing:
    attempts: int = 0
    merged: int = 0
    replayed: list[str] = field(default_factory=list)


def land(
    clone: Clone,
    push_retries: int,
    attempt: Callable[[], Attempt],
    *,
    what: str,
    lock_wait: float = LOCK_WAIT_SECONDS,
) -> Landing:
    """Align the clone with the remote, then ``attempt`` (record, audit, push) until its work is on
    the remote: a refused push is mended by merging people's commits, else the clone is aligned
    again and ``attempt`` replayed, up to ``push_retries`` times; never forced. Raises
    ``WorkerError`` when the work did not reach the remote."""
    from gitmonkey.remote import RemoteError, redact_url

    repo, config, account = clone.repo, clone.config, clone.account
    landing = Landing()
    pushes = 0
    while True:
        landing.replayed += align_with_remote(repo, config, account, clone.secret_key, lock_wait=lock_wait)
        result = attempt()
        refused = result.refused
        pushes += 1
        while refused and result.mergeable and pushes <= push_retries:
            # The remote moved meanwhile: people's commits are merged, anything else replayed.
            pushes += 1
            try:
                if not merge_people_commits(repo, config, account, lock_wait=lock_wait):
                    pushes -= 1  # nothing was pushed
                    break
            except RemoteError as exc:
                refused = str(exc)
                continue
            landing.merged += 1
            refused = ""
        landing.attempts = pushes
        if not refused:
            return landing
        if pushes > push_retries:
            assert account.remote
            raise WorkerError(
                f"{account.name}: the push to {redact_url(account.remote)} was refused {pushes} time(s), "
                f"never forced; the next task replays the {what}: {refused}"
            )
        log.info("%s: push refused (%s); aligning with the remote and replaying the %s", account.name,
                 refused.splitlines()[0] if refused else "", what)


def _count(outcome: AccountOutcome, report: AccountReport) -> None:
    # The last sync's commits: an earlier attempt's were discarded when the sync was replayed.
    outcome.commits = len(report.commits)
    outcome.api_calls += report.api_calls
    outcome.failed_slices = len(report.failed_slices)
    outcome.exit_code = 3 if report.failed_slices else 0


# -- aligning the clone with the remote ----------------------------------------------------------------


def align_with_remote(
    repo: AccountRepository,
    config: Config,
    account: AccountConfig,
    secret_key: bytes,
    *,
    lock_wait: float = LOCK_WAIT_SECONDS,
) -> list[str]:
    """Move the clone's ``main`` to the remote's, as the module docstring says; return the local
    commits it discarded (newest first). Raises ``WorkerError`` when the remote cannot be read."""
    assert account.remote
    lock = acquire_lock(repo, lock_wait)
    try:
        repo.recover()
        install_secret_key(repo, secret_key)
        remote_head = fetch_remote(repo, account.remote)
        local = repo.head()
        if local == remote_head:
            return []
        discarded = _only_local(repo, local, remote_head)
        owed, _start = hooks.owed_audits(repo) if local else ([], None)
        pending = hooks.load_pending(repo.state_dir)
        _move_main(repo, remote_head)
        _forget_unrecorded_slices(repo, remote_head)
        _realign_audit_state(repo, config, account, remote_head, owed, pending)
        if discarded:
            log.warning("%s: discarded %d local commit(s) the remote does not have (%s); the sync records "
                        "the current state again", account.name, len(discarded), discarded[0][:12])
            hooks.log(repo.state_dir, f"worker: discarded {len(discarded)} unpushed commit(s) "
                                      f"{discarded[-1][:10]}..{discarded[0][:10]}; aligned with the remote")
        return discarded
    finally:
        lock.release()


def acquire_lock(repo: AccountRepository, wait: float) -> Any:
    """The repository's sync lock, waiting up to ``wait`` seconds for another process to release it."""
    deadline = time.monotonic() + wait
    while True:
        lock = repo.lock()
        try:
            lock.__enter__()
        except RepositoryLocked:
            if time.monotonic() >= deadline:
                raise
            time.sleep(LOCK_POLL_SECONDS)
            continue
        return lock


def install_secret_key(repo: AccountRepository, key: bytes) -> None:
    """Write the account's shared redaction key into the clone (replacing another one, logged)."""
    path = repo.state_dir / SECRET_KEY_FILE
    try:
        current = path.read_bytes()
    except FileNotFoundError:
        current = None
    if current == key:
        return
    if current is not None:
        log.warning("%s: replacing the clone's own secret.key with the workers' shared key (redacted "
                    "values recorded with the old key change once)", repo.path)
    atomic_write(path, key, mode=0o600)


def _git(repo: AccountRepository, *args: str, check: bool = True) -> str:
    from gitmonkey.remote import redact_text

    proc = git_process(repo.path, *args, env={**repo.identity_env, hooks.SKIP_ENV: "1"})
    if check and proc.returncode != 0:
        text = (proc.stderr or proc.stdout).decode("utf-8", "replace").strip()
        raise WorkerError(f"git {args[0]} failed in {repo.path}: {redact_text(text)}")
    return proc.stdout.decode("utf-8", "surrogateescape")


def fetch_remote(repo: AccountRepository, url: str) -> str | None:
    """Fetch the remote's ``main`` into ``origin/main``; its commit, or None when it has none yet."""
    from gitmonkey.remote import ensure_remote, redact_text, redact_url

    ensure_remote(repo, url)
    listed = git_process(repo.path, "ls-remote", "--exit-code", "--heads", REMOTE, f"refs/heads/{BRANCH}",
                         env={**repo.identity_env, hooks.SKIP_ENV: "1"})
    if listed.returncode == 2:
        _git(repo, "update-ref", "-d", TRACKING, check=False)
        return None
    if listed.returncode != 0:
        error = redact_text(listed.stderr.decode("utf-8", "replace").strip())
        raise WorkerError(f"cannot reach {redact_url(url)}: {error}")
    _git(repo, "fetch", "--quiet", "--no-tags", REMOTE, f"+refs/heads/{BRANCH}:{TRACKING}")
    return _git(repo, "rev-parse", "--verify", f"{TRACKING}^{{commit}}").strip()


def _only_local(repo: AccountRepository, local: str | None, remote: str | None) -> list[str]:
    if local is None:
        return []
    args = ["rev-list", local] + ([f"^{remote}"] if remote else [])
    return _git(repo, *args).split()


def _move_main(repo: AccountRepository, target: str | None) -> None:
    """``main`` (index and working tree included) to ``target``; None: back to an unborn branch."""
    if target is not None:
        _git(repo, "reset", "--quiet", "--hard", target)
    else:
        _git(repo, "update-ref", "-d", f"refs/heads/{BRANCH}")
        _git(repo, "read-tree", "--empty")
    repo.recover()


def _forget_unrecorded_slices(repo: AccountRepository, head: str | None) -> None:
    """Forget the success of the slices whose items were only in the discarded commits, so that
    the replayed sync records them as a baseline again rather than one commit per item.

    Such a slice is one the state file saw with items while ``head`` has none (with no ``head``
    at all, every slice).
    """
    state = SyncState.load(repo.state_dir)
    slices = state.slices()
    # items/<region>/<service>/<type>/<file> -> <region>/<service>/<type>
    present = {"/".join(path.split("/")[1:4]) for path in repo.list_blobs("items/")} if head else set()
    kept = {}
    for key, entry in slices.items():
        region, _, technology = key.partition("/")
        prefix = f"{region}/{technology.replace('.', '/', 1)}"
        if head is not None and (prefix in present or not entry.get("items")):
            kept[key] = entry
    if kept != slices:
        SyncState(state.path, kept).save()


def _realign_audit_state(
    repo: AccountRepository,
    config: Config,
    account: AccountConfig,
    remote_head: str | None,
    owed: list[str],
    pending: list[tuple[str | None, str]],
) -> None:
    """After ``main`` moved to the remote's: the audit starts there, and what this clone owed for
    commits that are on the remote is kept, what it owed for discarded commits is dropped."""
    if remote_head is None:
        (repo.state_dir / hooks.AUDITED_FILE).unlink(missing_ok=True)
        hooks.clear_pending(repo.state_dir)
        hooks.clear_handoff(repo)
        return
    hooks.mark_audited(repo, remote_head)
    kept = [(old, new) for old, new in pending
            if _on(repo, new, remote_head) and (old is None or _on(repo, old, remote_head))]
    hooks.clear_pending(repo.state_dir)
    for old, new in kept:
        # Pushed without an audit (the audit failed): audited by the sync that follows.
        hooks.record_pending(repo.state_dir, old, new, "worker: kept after aligning with the remote")
    pushed = [sha for sha in owed if _on(repo, sha, remote_head)]
    if not pushed:
        hooks.clear_handoff(repo)
        return
    # Audit commits that reached the remote before their issue events reached the outbox.
    from gitmonkey.audit.replay import audit_commits_at, issue_events_of

    events = issue_events_of(repo, account, audit_commits_at(repo, pushed))
    hooks.hand_to_notifier(repo, config, account, None, None, events,
                           on_queued=lambda: hooks.clear_handoff(repo))


def _on(repo: AccountRepository, sha: str, head: str) -> bool:
    """Whether ``sha`` is ``head`` or one of its ancestors (False for an unknown object)."""
    return git_process(repo.path, "merge-base", "--is-ancestor", sha, head).returncode == 0


# -- a refused push ------------------------------------------------------------------------------------


def merge_people_commits(repo: AccountRepository, config: Config, account: AccountConfig, *,
                         lock_wait: float = LOCK_WAIT_SECONDS) -> bool:
    """After a refused push: if the remote's new commits change only people's paths, merge them,
    audit (a merged justification) and push; True when pushed.

    False (nothing changed) when the remote gained bot-owned paths (``items/``, ``issues/``):
    another writer recorded the account, and the caller replays. Raises ``RemoteError`` when
    the push is refused again.
    """
    from gitmonkey.remote import pull_before_sync, push_after_sync

    assert account.remote
    lock = acquire_lock(repo, lock_wait)
    try:
        remote_head = fetch_remote(repo, account.remote)
        local = repo.head()
        if remote_head is None or local is None:
            return False
        base = _git(repo, "merge-base", local, remote_head, check=False).strip()
        if not base:
            return False
        changed = _git(repo, "diff", "--name-only", "--no-renames", "-z", base, remote_head).split("\0")
        if any(path.startswith(BOT_PREFIXES) for path in changed if path):
            return False
        pull_before_sync(repo, account)
        try:
            hooks.run_after_sync(repo.path, config, account, local, repo.head())
        except Exception as exc:  # recorded as pending by the audit; the next sync audits it
            log.warning("%s: audit after merging the remote's commits failed: %s", account.name, exc)
        push_after_sync(repo, account)
        return True
    finally:
        lock.release()


def deliver_due_notifications(config: Config, settings: WorkerSettings, *, now: datetime | None = None
                              ) -> dict[str, int]:
    """Deliver what is due in every outbox of this worker's clones; account name -> messages still
    pending. A task's own messages are delivered by its audit; this delivers those whose delivery
    failed earlier, in clones of accounts the worker may not get again for a while (another worker
    took them). Never raises: an outbox busy with another flush is skipped."""
    from gitmonkey.notify import flush

    left: dict[str, int] = {}
    if not config.notifications:
        return left
    for account in config.accounts:
        state_dir = settings.clones_dir / account.name / ".git" / "gitmonkey"
        if not (state_dir / "outbox").is_dir():
            continue
        try:
            result = flush(state_dir, config.notifications, now=now)
        except Exception as exc:
            log.warning("%s: delivering its outbox failed: %s", account.name, exc)
            continue
        if result.pending:
            left[account.name] = result.pending
    return left


def process_label() -> str:
    """``host:pid``, naming this worker process in logs."""
    return f"{os.uname().nodename}:{os.getpid()}"
