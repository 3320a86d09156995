"""The post-commit / post-merge flow: install the hooks, run the audit over a range, notify.

A sync commits through ``git fast-import``, which fires no hooks, and calls
``run_after_sync`` once over its whole range. People's commits and merges (a merged
justification pulled with ``git pull``) fire the installed hooks, which run
``python -m gitmonkey.hooks post-commit|post-merge`` (the same as ``gitmonkey hook NAME``
without importing every CLI command).

A hook never fails the commit: a range it could not audit is recorded as pending in
``.git/gitmonkey/audit-pending.json`` and audited by the next hook or sync; what happened is
appended to ``.git/gitmonkey/hook.log``.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitmonkey.gitcmd import HOOK_ENV, GitCommandError, git_process, run_git
from gitmonkey.resources import hooks_dir
from gitmonkey.store.state import atomic_write

if TYPE_CHECKING:
    from gitmonkey.config import AccountConfig, Config
    from gitmonkey.events import Event
    from gitmonkey.store import AccountRepository

HOOK_NAMES = ("post-commit", "post-merge")
MARKER = "# gitmonkey-hook"
SKIP_ENV = "GITMONKEY_NO_HOOK"
PENDING_FILE = "audit-pending.json"
LOG_FILE = "hook.log"
AUDITED_FILE = "audited-head"
CONFIG_KEY = "gitmonkey.config"
BRANCH = "main"


class HookInstallError(Exception):
    """The hooks cannot be installed without losing a hook the user already has."""


def _git(repo_path: Path, *args: str, check: bool = True) -> str:
    try:
        return run_git(repo_path, *args, check=check).strip()
    except GitCommandError as exc:
        raise RuntimeError(f"git {' '.join(args)} failed: {exc.stderr}") from exc


def install_hooks(repo_path: Path, config_path: Path, *, python: str | None = None) -> list[Path]:
    """Install post-commit and post-merge into the repository; idempotent.

    A hook the user already had is moved to ``<hook>.user`` and called first by ours. The
    interpreter (default ``sys.executable``) and the config path are baked into the installed
    file; the config path is also stored as the repository's local ``gitmonkey.config``.
    """
    repo_path = Path(repo_path)
    config_path = Path(config_path).resolve()
    hooks = Path(_git(repo_path, "rev-parse", "--git-path", "hooks"))
    if not hooks.is_absolute():
        hooks = repo_path / hooks
    hooks.mkdir(parents=True, exist_ok=True)
    _git(repo_path, "config", "--local", CONFIG_KEY, str(config_path))
    installed = []
    for name in HOOK_NAMES:
        target = hooks / name
        text = render_hook(name, python or sys.executable, config_path)
        if target.exists() and MARKER not in target.read_text(encoding="utf-8", errors="replace"):
            user = hooks / f"{name}.user"
            if user.exists():
                raise HookInstallError(
                    f"{target} is not gitmonkey's and {user} exists too: merge them by hand, then re-run"
                )
            os.replace(target, user)
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            atomic_write(target, text.encode("utf-8"), mode=0o755)
        installed.append(target)
    return installed


def render_hook(name: str, python: str, config_path: Path) -> str:
    template = (hooks_dir() / name).read_text(encoding="utf-8")
    text = template.replace("@PYTHON@", shlex.quote(python))
    return text.replace("@CONFIG@", shlex.quote(str(config_path)))


# -- pending ranges and the log ------------------------------------------------------------


def load_pending(state_dir: Path) -> list[tuple[str | None, str]]:
    path = Path(state_dir) / PENDING_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return [(r.get("old"), r["new"]) for r in data.get("ranges", [])]
    except FileNotFoundError:
        return []
    except (ValueError, KeyError, TypeError, AttributeError):
        log(state_dir, f"{path} is unreadable; the next audit --all repairs what it listed")
        return []


def record_pending(state_dir: Path, old: str | None, new: str, reason: str) -> None:
    """Remember a range that was not audited, for the next hook or sync (atomic write)."""
    ranges = [{"old": o, "new": n} for o, n in load_pending(state_dir)]
    if {"old": old, "new": new} not in ranges:
        ranges.append({"old": old, "new": new})
    _write_json(Path(state_dir) / PENDING_FILE, {"ranges": ranges, "reason": reason})


def clear_pending(state_dir: Path) -> None:
    (Path(state_dir) / PENDING_FILE).unlink(missing_ok=True)


def _write_json(path: Path, data: Any) -> None:
    atomic_write(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode("utf-8"))


def log(state_dir: Path, message: str) -> None:
    path = Path(state_dir) / LOG_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    with path.open("a", encoding="utf-8") as fh:
        fh.write(f"{stamp} {message}\n")


# -- the audit over a range ---------------------------------------------------------------------


def run_after_sync(
    repo_path: Path,
    config: Config,
    account: AccountConfig,
    old_head: str | None,
    new_head: str | None,
    *,
    extra_events: list[Event] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Audit a sync's whole range (plus pending ranges) and hand the events to the notifier.

    The caller holds the repository lock. Raises if the audit fails; the range is then
    recorded as pending first, so the next run audits it.
    """
    from gitmonkey.store import AccountRepository

    repo = AccountRepository.open(
        Path(repo_path), committer_name=config.committer_name, committer_email=config.committer_email
    )
    return audit_and_notify(repo, config, account, old_head, new_head, extra_events or [], now=now,
                             recheck_justifications=True)


def audit_and_notify(
    repo: AccountRepository,
    config: Config,
    account: AccountConfig,
    old: str | None,
    new: str | None,
    extra_events: list[Event],
    *,
    now: datetime | None = None,
    recheck_justifications: bool = False,
) -> dict[str, Any]:
    """Audit the range plus pending ranges; every issue file's justifications are re-checked
    (for expiries) when asked or when the ranges changed a justification.

    Issue events of audit commits that an earlier run made but did not hand over (see
    ``HANDOFF_FILE``) are rebuilt from those commits and handed over with this run's events.
    """
    from gitmonkey.audit.run import audit_ranges

    owed, owed_from = owed_audits(repo)
    pending = load_pending(repo.state_dir)
    ranges = list(pending)
    if new is not None:
        old = audited_head(repo, new) or (owed_from[0] if owed_from else old)
        if old != new:
            ranges.append((old, new))
    summary: dict[str, Any] = {"ranges": len(ranges)}
    replayed = _replay(repo, account, owed)
    events = list(extra_events) + replayed
    if owed:
        summary["replayed"] = {"commits": list(owed), "events": len(replayed)}
    if ranges or recheck_justifications:
        item_old = (ranges[0][0] if len(ranges) == 1 else _oldest(repo, ranges)) if ranges else None
        start = (item_old,) if new is not None and ranges else owed_from
        _save_handoff(repo, owed, start=start, base=repo.head())
        try:
            result = audit_ranges(repo, config, account, ranges, now=now,
                                  recheck_justifications=recheck_justifications)
        except Exception as exc:
            _save_handoff(repo, owed, start=start)
            if new is not None and old != new:
                record_pending(repo.state_dir, old, new, f"{type(exc).__name__}: {exc}")
            raise
        if result.commit:
            owed = [*owed, result.commit]
            _save_handoff(repo, owed, start=start)
        summary.update(result.to_dict())
        events += result.events
        log(repo.state_dir, f"audit {_range_text(ranges)}: {result.counts()} commit={result.commit}")

        # Only once the events are in the outbox does the range count as done; otherwise the
        # next run starts again from the last audited commit (the audit itself is idempotent)
        # and rebuilds the issue events of the audit commits it owes.
        def handed_over() -> None:
            clear_pending(repo.state_dir)
            if new is not None:
                mark_audited(repo, result.commit or new)
            clear_handoff(repo)

        if ranges:
            summary["notify"] = hand_to_notifier(repo, config, account, item_old, new, events,
                                                 on_queued=handed_over)
        elif events:
            summary["notify"] = hand_to_notifier(repo, config, account, None, None, events,
                                                 on_queued=handed_over)
        else:
            summary["notify"] = {}
            handed_over()
    elif events or owed:
        summary["notify"] = hand_to_notifier(repo, config, account, None, None, events,
                                             on_queued=lambda: clear_handoff(repo))
    return summary


# -- audit commits not yet handed to the notifier -----------------------------------------------

HANDOFF_FILE = "audit-handoff.json"
"""``{"commits": [...], "base": sha, "from": [sha | null]}``, written around every audit.

``commits`` are audit commits this repository made whose issue events are not yet in the outbox;
``base`` (only while an audit runs) is HEAD before it, so that an audit commit made by a run
killed before it could record it is found too (the bot's audit commit right after ``base``);
``from`` is where that run's item range started, for when no commit was ever marked audited.
Only this repository's own audit commits are owed: audit commits pulled from a remote, or made
by ``gitmonkey audit`` and handed over, are never replayed.
"""


def owed_audits(repo: AccountRepository) -> tuple[list[str], tuple[str | None] | None]:
    """Audit commits whose events an earlier run did not hand over, and that run's range start."""
    path = repo.state_dir / HANDOFF_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        commits = [str(c) for c in data.get("commits", [])]
        base = data.get("base")
        start = tuple(data["from"]) if isinstance(data.get("from"), list) else None
    except FileNotFoundError:
        return [], None
    except (ValueError, TypeError, AttributeError) as exc:
        log(repo.state_dir, f"{path} is unreadable ({exc}); audit events it listed may not be notified")
        return [], None
    head = repo.head()
    if head is None:
        return [], None
    if base:
        from gitmonkey.audit.replay import audit_commits

        if _is_ancestor(repo, base, head):
            commits += [c.sha for c in audit_commits(repo, base, head)[:1] if c.parent == base]
    if start and start[0] and not _is_ancestor(repo, start[0], head):
        start = None
    # The marker moves only once events are queued: a commit it has passed was handed over.
    marker = audited_head(repo, head)
    owed = [c for c in dict.fromkeys(commits)
            if _is_ancestor(repo, c, head) and not (marker and _is_ancestor(repo, c, marker))]
    return owed, start


def _replay(repo: AccountRepository, account: AccountConfig, owed: list[str]) -> list[Event]:
    if not owed:
        return []
    from gitmonkey.audit.replay import audit_commits_at, issue_events_of

    return issue_events_of(repo, account, audit_commits_at(repo, owed))


def _save_handoff(
    repo: AccountRepository, commits: list[str], *, start: tuple[str | None] | None, base: str | None = None
) -> None:
    data: dict[str, Any] = {"commits": list(commits)}
    if base:
        data["base"] = base
    if start is not None:
        data["from"] = list(start)
    if commits or base:
        _write_json(repo.state_dir / HANDOFF_FILE, data)
    else:
        clear_handoff(repo)


def clear_handoff(repo: AccountRepository) -> None:
    (repo.state_dir / HANDOFF_FILE).unlink(missing_ok=True)


def _is_ancestor(repo: AccountRepository, ancestor: str, descendant: str) -> bool:
    return git_process(repo.path, "merge-base", "--is-ancestor", ancestor, descendant).returncode == 0


def audited_head(repo: AccountRepository, new: str) -> str | None:
    """The last commit audited (and handed to the notifier), if it is an ancestor of ``new``.

    Every audit starts there rather than at the caller's idea of the previous commit, so a sync
    or hook that died between its commits and its audit is caught up by the next one.
    """
    try:
        marker = (repo.state_dir / AUDITED_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    if not marker:
        return None
    proc = git_process(repo.path, "merge-base", "--is-ancestor", marker, new)
    return marker if proc.returncode == 0 else None


def mark_audited(repo: AccountRepository, sha: str) -> None:
    atomic_write(repo.state_dir / AUDITED_FILE, (sha + "\n").encode("utf-8"))


def _range_text(ranges: list[tuple[str | None, str]]) -> str:
    return ", ".join(f"{(o or 'root')[:10]}..{n[:10]}" for o, n in ranges)


def _oldest(repo: AccountRepository, ranges: list[tuple[str | None, str]]) -> str | None:
    olds = [o for o, _ in ranges]
    if None in olds:
        return None
    base = olds[0]
    for other in olds[1:]:
        base = repo.git("merge-base", base, other).strip() or None
        if base is None:
            return None
    return base


def hand_to_notifier(
    repo: AccountRepository,
    config: Config,
    account: AccountConfig,
    old: str | None,
    new: str | None,
    issue_events: list[Event],
    *,
    on_queued: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """The single place where the audit flow hands events to ``gitmonkey.notify``.

    Item events for ``old..new`` come first, then the audit's and the caller's events. A
    notifier failure never fails the flow: messages stay in the outbox for ``notify flush``.
    ``on_queued`` runs once the events are in the outbox (or no notifications are configured),
    before delivery: a process killed while delivering does not queue them again.
    """
    if not config.notifications:
        if on_queued is not None:
            on_queued()
        return {"skipped": "no notifications configured"}
    from gitmonkey import notify
    from gitmonkey.notify import changes

    try:
        events = changes.item_events(repo.path, account, old, new) if new is not None else []
        events += issue_events
        queued = notify.enqueue(repo.state_dir, account, events, config.notifications)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        log(repo.state_dir, f"queuing notifications failed; the range will be audited again: {error}")
        return {"error": error}
    if on_queued is not None:
        on_queued()
    try:
        flushed = notify.flush(repo.state_dir, config.notifications)
    except Exception as exc:
        log(repo.state_dir, f"delivery failed, the messages wait in the outbox: {type(exc).__name__}: {exc}")
        return {"queued": queued, "flush_error": f"{type(exc).__name__}: {exc}"}
    return {"queued": queued, "flush": str(flushed)}


# -- the installed hook's entry point -------------------------------------------------------------


def run_hook(name: str, repo_path: Path | None = None, config_path: str | None = None) -> int:
    """Entry point of ``gitmonkey hook NAME``; returns 0 whatever happens (the commit is made)."""
    for var in HOOK_ENV:
        os.environ.pop(var, None)
    repo_path = Path(repo_path or Path.cwd())
    state_dir = repo_path / ".git" / "gitmonkey"
    if os.environ.get(SKIP_ENV):
        return 0
    try:
        _run_hook(name, repo_path, config_path)
    except Exception as exc:
        log(state_dir, f"{name} failed: {type(exc).__name__}: {exc}\n{traceback.format_exc()}")
        print(f"gitmonkey: {name} audit failed, will be retried (see {state_dir / LOG_FILE})",
              file=sys.stderr)
    return 0


def _run_hook(name: str, repo_path: Path, config_path: str | None) -> None:
    from gitmonkey.config import load_config, with_known_accounts
    from gitmonkey.store import AccountRepository, RepositoryLocked

    if name not in HOOK_NAMES:
        raise ValueError(f"unknown hook {name!r}; expected one of {', '.join(HOOK_NAMES)}")
    state_dir = repo_path / ".git" / "gitmonkey"
    new, parents, refs = _git(repo_path, "log", "-1", "--format=%H%x00%P%x00%D", "HEAD").split("\0", 2)
    if not refs.startswith(f"HEAD -> {BRANCH}"):
        log(state_dir, f"{name}: HEAD is not on {BRANCH} ({refs or 'detached'}): nothing audited")
        return
    old = (parents.split() or [None])[0]
    if name == "post-merge":
        orig = _git(repo_path, "rev-parse", "--verify", "--quiet", "ORIG_HEAD", check=False)
        old = orig if orig and orig != new else old
    try:
        configured = config_path or _git(repo_path, "config", "--local", CONFIG_KEY, check=False)
        config = with_known_accounts(
            load_config(configured or None, validation_cache=state_dir / "validated.json")
        )
        account = _account_for(config, repo_path)
        repo = AccountRepository.open(
            repo_path, committer_name=config.committer_name, committer_email=config.committer_email
        )
        with repo.lock(by="hook"):
            audit_and_notify(repo, config, account, old, new, [])
    except RepositoryLocked as exc:
        record_pending(state_dir, old, new, f"locked: {exc}")
        log(state_dir, f"{name}: repository busy ({exc}); {_range_text([(old, new)])} left for the next run")
    except Exception as exc:
        record_pending(state_dir, old, new, f"{type(exc).__name__}: {exc}")
        raise


def _account_for(config: Config, repo_path: Path) -> AccountConfig:
    here = repo_path.resolve()
    for account in config.accounts:
        if config.repo_path(account).resolve() == here:
            return account
    raise LookupError(f"{here} is not the repository of any account in {config.path}")


def main(argv: list[str] | None = None) -> int:
    """``python -m gitmonkey.hooks NAME [--config PATH]``: the installed hooks' fast entry point.

    It skips importing the whole click CLI (every command module), which would cost the hook
    more than its own work; ``gitmonkey hook NAME`` does the same thing through the CLI.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    config_path = None
    if "--config" in args:
        at = args.index("--config")
        config_path = args[at + 1] if at + 1 < len(args) else None
        del args[at : at + 2]
    if len(args) < 1 or args[0] not in HOOK_NAMES:
        print(f"usage: python -m gitmonkey.hooks {{{'|'.join(HOOK_NAMES)}}} [--config PATH]", file=sys.stderr)
        return 2
    return run_hook(args[0], Path.cwd(), config_path)


if __name__ == "__main__":
    sys.exit(main())
