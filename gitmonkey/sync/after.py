"""What follows a sync's store phase: audit and notify over its range, then push.

Nothing here may fail the sync: the history is already recorded, and each step records what it
could not do so that the next run retries it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from gitmonkey import events as ev
from gitmonkey.config import AccountConfig, Config

if TYPE_CHECKING:
    from gitmonkey.store import AccountRepository
    from gitmonkey.sync import AccountReport

log = logging.getLogger(__name__)


def sync_events(account: AccountConfig, report: AccountReport) -> list[ev.Event]:
    """The sync's own events: failed slices, stale slices and a summary."""
    events = [
        ev.Event(
            kind=ev.SLICE_FAILED,
            account=account.name,
            account_id=account.id,
            title=f"reading {s.key.technology} in {s.key.region} failed",
            technology=s.key.technology,
            region=s.key.region,
            # the sync id makes a failure that repeats a new message, not a duplicate of the last
            details={"error": s.error, "sync": report.sync_id},
        )
        for s in report.failed_slices
    ]
    for key in report.stale:
        region, _, technology = key.partition("/")
        events.append(
            ev.Event(
                kind=ev.SLICE_STALE,
                account=account.name,
                account_id=account.id,
                title=f"{technology} in {region} has not been read successfully for too long",
                technology=technology,
                region=region,
                details={"slice": key, "sync": report.sync_id},
            )
        )
    events.append(
        ev.Event(
            kind=ev.SYNC_SUMMARY,
            account=account.name,
            account_id=account.id,
            title=(
                f"sync of {account.name}: {report.added} added, {report.modified} modified, "
                f"{report.deleted} deleted, {len(report.failed_slices)} failed slices"
            ),
            commit=report.commits[-1] if report.commits else None,
            details={
                "sync": report.sync_id,
                "items": report.items,
                "added": report.added,
                "modified": report.modified,
                "deleted": report.deleted,
                "failed_slices": [str(s.key) for s in report.failed_slices],
                "api_calls": report.api_calls,
            },
        )
    )
    return events


def run(
    repo: AccountRepository,
    config: Config,
    account: AccountConfig,
    old_head: str | None,
    report: AccountReport,
    say: Callable[[str], None],
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    result: dict[str, Any] = {}
    new_head = repo.head()
    extra = sync_events(account, report)
    from gitmonkey.hooks import hand_to_notifier, run_after_sync

    try:
        result["audit"] = run_after_sync(
            repo.path, config, account, old_head, new_head, extra_events=extra, now=now
        )
    except Exception as exc:
        log.exception("audit after sync failed")
        result["audit_error"] = f"{type(exc).__name__}: {exc}"
        say(f"{account.name}: audit failed (the next sync audits from the last audited commit): {exc}")
        # The sync's own events (failed and stale slices) still reach people.
        result["notifications"] = hand_to_notifier(repo, config, account, None, None, extra)
    from gitmonkey.remote import push_reporting

    pushed = push_reporting(repo, account, say)
    if pushed is not None:
        result["push_error"] = pushed
    return result
