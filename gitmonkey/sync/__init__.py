"""`gitmonkey sync`: read every slice of every account, record each change as a commit.

Slices (account x region x technology) are read concurrently on a bounded pool; each account's
repository is then updated in one fast-import batch: a baseline commit for slices seen for the
first time, then one commit per added, modified or deleted item. A slice whose read failed, or
whose item count collapsed suspiciously, keeps its files untouched (DESIGN invariant 2).
"""

from __future__ import annotations

import logging
import secrets
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from gitmonkey.config import AccountConfig, Config, ConfigError
from gitmonkey.model import GLOBAL_REGION, SliceKey, Technology
from gitmonkey.normalize.paths import slice_prefix
from gitmonkey.read.aws import AccountSession, offered_regions
from gitmonkey.read.slices import SliceOutcome, describe_error, read_slice
from gitmonkey.store import AccountRepository, RepositoryError
from gitmonkey.store import commits as commit_message
from gitmonkey.store.state import EphemeralStore, SyncState, secret_key
from gitmonkey.watchers import all_technologies, always_returned

log = logging.getLogger(__name__)

MASS_DELETE_MIN_ITEMS = 10
# Stands for "every region" in a report when the account's regions could not be listed; never
# recorded in the state file, where it would look like a region that is forever stale.
UNKNOWN_REGIONS = "*"
MASS_DELETE_FRACTION = 0.5
# `gitmonkey listen` holds an account's lock for a batch's reads and commits (seconds): a sync
# waits for it rather than fail; another sync holding the lock fails the account at once.
LISTENER_WAIT_SECONDS = 120.0

Progress = Callable[[str], None]


@dataclass
class AccountReport:
    account: str
    account_id: str
    sync_id: str = ""
    slices: list[SliceOutcome] = field(default_factory=list)
    added: int = 0
    modified: int = 0
    deleted: int = 0
    commits: list[str] = field(default_factory=list)
    error: str | None = None
    stale: list[str] = field(default_factory=list)
    post_sync: dict[str, Any] = field(default_factory=dict)
    attribution: Any = None  # the Attributor, when attribution is enabled

    @property
    def failed_slices(self) -> list[SliceOutcome]:
        return [s for s in self.slices if not s.ok]

    @property
    def items(self) -> int:
        return sum(len(s.documents) for s in self.slices if s.ok)

    @property
    def api_calls(self) -> int:
        return sum(s.api_calls for s in self.slices)

    def to_dict(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "account_id": self.account_id,
            "error": self.error,
            "items": self.items,
            "added": self.added,
            "modified": self.modified,
            "deleted": self.deleted,
            "commits": len(self.commits),
            "head": self.commits[-1] if self.commits else None,
            "api_calls": self.api_calls,
            "stale": self.stale,
            "attribution": _attribution_summary(self.attribution),
            "slices": [
                {
                    "region": s.key.region,
                    "technology": s.key.technology,
                    "ok": s.ok,
                    "error": s.error,
                    "items": len(s.documents) if s.ok else None,
                    "ignored": s.ignored,
                    "api_calls": s.api_calls,
                    "seconds": round(s.seconds, 3),
                }
                for s in self.slices
            ],
            "post_sync": self.post_sync,
        }


def _attribution_summary(attributor: Any) -> dict[str, Any] | None:
    if attributor is None:
        return None
    return {
        "lookups": attributor.lookups,
        "skipped": attributor.skipped + attributor.skipped_disabled,
        "errors": attributor.errors,
        "api_calls": sum(attributor.calls.values()),
        "disabled_regions": sorted(attributor.disabled_regions),
    }


@dataclass
class SyncReport:
    sync_id: str
    started: datetime
    accounts: list[AccountReport] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def exit_code(self) -> int:
        if any(a.error for a in self.accounts):
            return 1
        if any(a.failed_slices for a in self.accounts):
            return 3
        return 0

    def calls_per_item(self) -> dict[str, dict[str, float]]:
        """API calls and items per technology, summed over accounts and regions."""
        calls: Counter[str] = Counter()
        items: Counter[str] = Counter()
        for account in self.accounts:
            for s in account.slices:
                if s.ok:
                    calls[s.key.technology] += s.api_calls
                    items[s.key.technology] += len(s.documents)
        return {
            tech: {
                "api_calls": calls[tech],
                "items": items[tech],
                "calls_per_item": round(calls[tech] / items[tech], 3) if items[tech] else None,
            }
            for tech in sorted(calls)
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "sync_id": self.sync_id,
            "started": self.started.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "seconds": round(self.seconds, 3),
            "exit_code": self.exit_code,
            "accounts": [a.to_dict() for a in self.accounts],
            "technologies": self.calls_per_item(),
        }


def render_summary(report: SyncReport) -> str:
    """The sync's report as people read it: a line per account, its failed and stale slices, the audit."""
    lines = []
    for account in report.accounts:
        if account.error:
            lines.append(f"{account.account} ({account.account_id}): not synced: {account.error}")
            continue
        lines.append(
            f"{account.account} ({account.account_id}): {account.items} items, "
            f"{account.added + account.modified + account.deleted} changes "
            f"({account.added} added, {account.modified} modified, {account.deleted} deleted), "
            f"{len(account.commits)} commits, {account.api_calls} API calls, "
            f"{len(account.failed_slices)} failed slices"
        )
        for s in account.failed_slices:
            lines.append(f"  failed  {s.key.region:<15} {s.key.technology:<22} {s.error}")
        audit = account.post_sync.get("audit") or {}
        counts = {kind: n for kind, n in (audit.get("counts") or {}).items() if n}
        if counts:
            text = ", ".join(f"{n} {kind}" for kind, n in counts.items())
            lines.append(f"  audit: {text} (commit {str(audit.get('commit') or '')[:12]})")
        notify = audit.get("notify") or {}
        if notify.get("queued"):
            lines.append(f"  notifications: {notify['queued']} queued, {notify.get('flush', '')}")
        for key in account.stale:
            lines.append(f"  stale   {key}: no successful read within stale_after_hours")
        for key, value in sorted(account.post_sync.items()):
            if key.endswith("error"):
                lines.append(f"  {key.replace('_', ' ')}: {value}")
    lines.append(f"sync {report.sync_id} took {report.seconds:.1f}s")
    return "\n".join(lines)


def new_sync_id(now: datetime) -> str:
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"


def select_technologies(config: Config, requested: Sequence[str] = ()) -> list[Technology]:
    """The technologies to watch: the config's list (globs allowed) narrowed by ``requested``."""
    import fnmatch

    known = all_technologies()
    chosen = list(known.values())
    for patterns, origin in ((config.technologies, "technologies"), (requested or None, "--technology")):
        if not patterns:
            continue
        for pattern in patterns:
            if not fnmatch.filter(known, pattern):
                raise ConfigError(
                    f"{origin}: unknown technology {pattern!r}; known: {', '.join(sorted(known))}"
                )
        chosen = [t for t in chosen if any(fnmatch.fnmatchcase(t.name, p) for p in patterns)]
    return chosen


def select_accounts(config: Config, requested: Sequence[str] = ()) -> list[AccountConfig]:
    if not requested:
        return list(config.accounts)
    return [config.account(name) for name in requested]


class _AccountRun:
    """The in-flight state of one account during a sync."""

    def __init__(self, account: AccountConfig, config: Config) -> None:
        self.account = account
        self.config = config
        self.report = AccountReport(account=account.name, account_id=account.id)
        self.repo: AccountRepository | None = None
        self.session = AccountSession(
            account,
            max_attempts=config.max_attempts,
            connect_timeout=config.connect_timeout,
            read_timeout=config.read_timeout,
            always_returned=always_returned(),
        )
        self.key: bytes = b""
        self.futures: list[Future[SliceOutcome]] = []


def run_sync(
    config: Config,
    *,
    accounts: Sequence[str] = (),
    technologies: Sequence[str] = (),
    regions: Sequence[str] = (),
    allow_mass_delete: bool = False,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> SyncReport:
    """Sync the selected accounts; never raises for AWS failures (they become failed slices)."""
    started = now or datetime.now(UTC)
    report = SyncReport(sync_id=new_sync_id(started), started=started)
    clock = time.monotonic()
    techs = select_technologies(config, technologies)
    runs = [_AccountRun(a, config) for a in select_accounts(config, accounts)]
    say = progress or (lambda _msg: None)

    from contextlib import ExitStack

    with ExitStack() as stack, ThreadPoolExecutor(max_workers=config.concurrency) as pool:
        for run in runs:
            run.report.sync_id = report.sync_id
            report.accounts.append(run.report)
            try:
                run.repo = AccountRepository.open(
                    config.repo_path(run.account),
                    committer_name=config.committer_name,
                    committer_email=config.committer_email,
                )
                stack.enter_context(run.repo.lock(wait_for=("listen",), wait_seconds=LISTENER_WAIT_SECONDS))
                repaired = run.repo.recover()
                run.key = secret_key(run.repo.state_dir)
            except (RepositoryError, OSError, ValueError) as exc:
                # This account cannot be synced; the others still are.
                run.report.error = str(exc)
                run.repo = None
                continue
            if repaired:
                say(f"{run.account.name}: recovered an interrupted sync ({', '.join(repaired[:3])})")
            _install_hooks(run, say)
            _pull_before(run, say)
            run.futures = _submit_slices(pool, run, techs, regions, say)
        for run in runs:
            if run.repo is None:
                continue
            run.report.slices = [f.result() for f in run.futures]
            try:
                _store(run, report.sync_id, started, allow_mass_delete, say)
            except (RepositoryError, OSError) as exc:
                # Either nothing was recorded (fast-import moves the ref only at its end) or the
                # commits were and the state or audit after them was not: the next sync compares
                # with HEAD and audits from the last audited commit, so it catches up either way.
                run.report.error = f"recording the changes failed: {exc}"
                say(f"{run.account.name}: {run.report.error}")
    report.seconds = time.monotonic() - clock
    return report


def _submit_slices(
    pool: ThreadPoolExecutor,
    run: _AccountRun,
    techs: list[Technology],
    regions: Sequence[str],
    say: Progress,
) -> list[Future[SliceOutcome]]:
    global_techs = [t for t in techs if t.is_global]
    regional_techs = [t for t in techs if not t.is_global]
    wanted = set(regions)
    futures: list[Future[SliceOutcome]] = []
    if not wanted or GLOBAL_REGION in wanted:
        futures += [pool.submit(_read_slice, run, t, GLOBAL_REGION, say) for t in global_techs]
    if not regional_techs or wanted == {GLOBAL_REGION}:
        return futures
    try:
        account_regions = list(run.account.regions or run.session.enabled_regions())
    except Exception as exc:
        error = f"listing the account's regions failed: {describe_error(exc)}"
        failed: list[Future[SliceOutcome]] = []
        for tech in regional_techs:
            for region in sorted(wanted - {GLOBAL_REGION}) or [UNKNOWN_REGIONS]:
                done: Future[SliceOutcome] = Future()
                done.set_result(SliceOutcome(SliceKey(run.account.name, region, tech.name), error=error))
                failed.append(done)
        return futures + failed
    if wanted:
        account_regions = [r for r in account_regions if r in wanted]
    for region in account_regions:
        futures += [pool.submit(_read_slice, run, t, region, say) for t in regional_techs
                    if offered_in(t, region)]
    return futures


def offered_in(tech: Technology, region: str) -> bool:
    """Whether AWS offers the technology's service in ``region`` (a region it is not offered in
    is skipped, not failed)."""
    regions = offered_regions(tech.service)
    return regions is None or region in regions


def _read_slice(run: _AccountRun, tech: Technology, region: str, say: Progress) -> SliceOutcome:
    outcome = read_slice(
        run.session, run.account, tech, region, ignore=run.config.ignore, secret_key=run.key
    )
    if outcome.ok:
        say(f"{outcome.key}: {len(outcome.documents)} items, {outcome.api_calls} calls")
    else:
        say(f"{outcome.key}: FAILED {outcome.error}")
    return outcome


def _install_hooks(run: _AccountRun, say: Progress) -> None:
    """Keep the audit hooks installed (idempotent), so people's commits and merges are audited."""
    from gitmonkey.hooks import HookInstallError, install_hooks

    assert run.repo is not None
    try:
        install_hooks(run.repo.path, run.config.path)
    except (HookInstallError, OSError) as exc:
        run.report.post_sync["hooks_error"] = str(exc)
        say(f"{run.account.name}: hooks not installed: {exc}")


def _pull_before(run: _AccountRun, say: Progress) -> None:
    if not run.account.remote or run.repo is None:
        return
    from gitmonkey.remote import pull_before_sync, redact_url

    try:
        pull_before_sync(run.repo, run.account)
    except Exception as exc:
        run.report.post_sync["pull_error"] = str(exc)
        say(f"{run.account.name}: pull from {redact_url(run.account.remote)} failed: {exc}")


def _store(run: _AccountRun, sync_id: str, when: datetime, allow_mass_delete: bool, say: Progress) -> None:
    repo = run.repo
    assert repo is not None
    state = SyncState.load(repo.state_dir)
    ephemeral = EphemeralStore.load(repo.state_dir)
    head_blobs = repo.list_blobs("items/")
    plan = commit_message.Plan(run.account, sync_id)
    old_head = repo.head()

    previous_success = {key: info.get("last_success") for key, info in state.slices().items()}
    for outcome in run.report.slices:
        region, tech = outcome.key.region, outcome.key.technology
        if not outcome.ok:
            if region != UNKNOWN_REGIONS:
                state.record_failure(region, tech, outcome.error or "failed", when)
            continue
        prefix = slice_prefix(region, tech)
        old = {p: sha for p, sha in head_blobs.items() if p.startswith(prefix)}
        deleted = sorted(set(old) - set(outcome.documents))
        if (
            not allow_mass_delete
            and len(old) >= MASS_DELETE_MIN_ITEMS
            and len(deleted) > len(old) * MASS_DELETE_FRACTION
        ):
            outcome.error = (
                f"refused: the read would delete {len(deleted)} of {len(old)} items; "
                "run with --allow-mass-delete if this is real"
            )
            state.record_failure(region, tech, outcome.error, when)
            say(f"{outcome.key}: {outcome.error}")
            continue
        baseline = not old and not state.has_succeeded(region, tech)
        for path, doc in outcome.documents.items():
            sha = repo.blob_sha(doc.content)
            if path not in old:
                plan.add(path, doc, baseline=baseline)
            elif old[path] != sha:
                plan.modify(path, doc, old[path])
            ephemeral.update(path, doc.ephemeral)
        for path in deleted:
            plan.delete(path, old[path])
            ephemeral.remove(path)
        state.record_success(
            region, tech, items=len(outcome.documents), api_calls=outcome.api_calls, when=when
        )

    annotate = _attribution(run, previous_success, when, say)
    commits = plan.build(repo, annotate=annotate)
    if commits:
        run.report.commits = repo.commit(commits, when=when)
    run.report.added, run.report.modified, run.report.deleted = plan.counts()
    ephemeral.save()
    state.save()
    run.report.stale = state.stale(when, timedelta(hours=run.config.stale_after_hours))
    _after_store(run, old_head, say, when)


def _attribution(
    run: _AccountRun, previous_success: dict[str, Any], until: datetime, say: Progress
) -> commit_message.Annotate | None:
    """With ``attribution.enabled``, a function giving each change's CloudTrail trailers.

    Lookups run here, after every slice was read, so their calls are not counted in a slice.
    """
    settings = run.config.attribution
    if not settings.get("enabled"):
        return None
    from gitmonkey.attribution import Attributor

    attributor = Attributor(
        run.session,
        max_lookups=int(settings.get("max_lookups", 100)),
        lookback=timedelta(hours=float(settings.get("lookback_hours", 24))),
    )
    run.report.attribution = attributor

    def annotate(document: dict[str, Any]) -> list[tuple[str, str]]:
        region = str(document.get("region", ""))
        technology = str(document.get("technology", ""))
        since = previous_success.get(f"{region}/{technology}")
        if technology == "s3.bucket":  # a bucket's events are recorded in its own region
            region = str((document.get("configuration") or {}).get("Region") or region)
        found = attributor.attribute(
            region,
            technology,
            str(document.get("id", "")),
            str(document.get("name", "")),
            str(document.get("arn", "")),
            datetime.fromisoformat(since.replace("Z", "+00:00")) if since else None,
            until,
        )
        return found.trailers() if found else []

    say(f"{run.account.name}: looking up who made the changes in CloudTrail")
    return annotate


def _after_store(run: _AccountRun, old_head: str | None, say: Progress, when: datetime) -> None:
    """Audit and notify over the sync's whole range, then push: never fails the sync."""
    from gitmonkey.sync import after as post_sync

    assert run.repo is not None
    run.report.post_sync.update(
        post_sync.run(run.repo, run.config, run.account, old_head, run.report, say, now=when)
    )
