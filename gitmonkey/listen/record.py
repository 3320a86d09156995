"""Record what a batch of events changed in one account: re-read, compare with HEAD, commit.

Under the account's repository lock (the one a sync holds, so a listener and a sync never read
and store at the same time), each slice an event touched is read again — just the named items
through the watcher's ``get_item``, or the whole slice when the event names none — and every item
whose document differs from HEAD becomes one commit authored by the AWS principal of the latest
event that named it, dated at its ``eventTime``; gitmonkey stays the committer. The stored state is
always the item's current state, so duplicates, replays and out-of-order events make no extra
commit. Then the new range is audited and notified, and pushed, as after a sync.

A message is done when every change it asked for is recorded (or needs no record); a failed read
leaves its messages for a retry and never records a deletion.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from gitmonkey.config import AccountConfig, Config
from gitmonkey.listen.messages import Change
from gitmonkey.model import Technology
from gitmonkey.normalize.paths import item_path, slice_prefix
from gitmonkey.read.aws import AccountSession
from gitmonkey.read.slices import read_items, read_slice
from gitmonkey.store import AccountRepository, Author, RepositoryError, RepositoryLocked
from gitmonkey.store.commits import Plan
from gitmonkey.store.state import EphemeralStore, SyncState, secret_key

log = logging.getLogger(__name__)

DEFAULT_CREATE_RETRIES = 3
"""Deliveries of an event whose item cannot be read yet before giving up (``events.create_retries``)."""
# The same guard as a sync's: a slice re-read that would delete most of a large slice is refused.
MASS_DELETE_MIN_ITEMS = 10
MASS_DELETE_FRACTION = 0.5
# An event of these calls may leave the item gone: its absence is the change, not a read too early.
_REMOVING = ("Delete", "Remove", "Terminate", "Deregister", "Disassociate", "Detach", "Revoke",
             "Release", "Cancel", "Deactivate", "Disable", "Untag", "Purge", "Deprovision")



@dataclass
class SliceReads:
    """What to read again in one slice, and the messages that asked for it."""

    changes: dict[str | None, Change] = field(default_factory=dict)
    """Item id (None: the whole slice) -> the latest change naming it."""
    messages: set[str] = field(default_factory=set)
    """Every message with a change in this slice, the superseded duplicates included."""


Reads = Mapping[tuple[str, str], SliceReads]
"""(region, technology) -> what to read there."""


def reads_of(changes: Iterable[Change]) -> dict[str, dict[tuple[str, str], SliceReads]]:
    """Account -> (region, technology) -> the reads a batch's changes ask for: several events for
    one item are one read, credited to the latest (by event time, then id)."""
    found: dict[str, dict[tuple[str, str], SliceReads]] = {}
    for change in changes:
        slices = found.setdefault(change.account, {})
        reads = slices.setdefault((change.region, change.technology), SliceReads())
        reads.messages.add(change.message_id)
        known = reads.changes.get(change.item_id)
        if known is None or (change.event_time, change.event_id) > (known.event_time, known.event_id):
            reads.changes[change.item_id] = change
    return found


@dataclass
class AccountOutcome:
    account: str
    commits: list[str] = field(default_factory=list)
    done: set[str] = field(default_factory=set)
    """Message ids whose changes are recorded, or need no record."""
    retry: dict[str, str] = field(default_factory=dict)
    """Message id -> why it must be read again later."""
    api_calls: int = 0
    reads: int = 0
    notes: list[str] = field(default_factory=list)
    after: dict[str, Any] = field(default_factory=dict)


def record_account(
    config: Config,
    account: AccountConfig,
    reads: Reads,
    technologies: Mapping[str, Technology],
    *,
    session: AccountSession,
    run_id: str,
    receive_counts: Mapping[str, int] | None = None,
    create_retries: int = DEFAULT_CREATE_RETRIES,
    now: datetime | None = None,
    say: Callable[[str], None] = lambda _text: None,
) -> AccountOutcome:
    """Re-read and record ``reads`` for ``account``; never raises for AWS or lock failures."""
    outcome = AccountOutcome(account.name)
    messages = {m for slice_reads in reads.values() for m in slice_reads.messages}
    path = config.repo_path(account)
    if not (path / ".git").is_dir():
        outcome.done |= messages
        outcome.notes.append(f"{account.name}: no repository yet; the first sync records the account")
        return outcome
    try:
        repo = AccountRepository.open(
            path, create=False, committer_name=config.committer_name, committer_email=config.committer_email
        )
        with repo.lock(by="listen"):
            repo.recover()
            _record(repo, config, account, reads, technologies, session, run_id, outcome,
                    receive_counts or {}, create_retries, now or datetime.now(UTC), say)
    except RepositoryLocked as exc:
        outcome.retry.update(dict.fromkeys(messages - outcome.done, f"repository busy: {exc}"))
    except (RepositoryError, OSError) as exc:
        outcome.retry.update(dict.fromkeys(messages - outcome.done, f"recording failed: {exc}"))
        say(f"{account.name}: recording failed: {exc}")
    outcome.done -= set(outcome.retry)
    return outcome


def _record(
    repo: AccountRepository,
    config: Config,
    account: AccountConfig,
    reads: Reads,
    technologies: Mapping[str, Technology],
    session: AccountSession,
    run_id: str,
    outcome: AccountOutcome,
    receive_counts: Mapping[str, int],
    create_retries: int,
    now: datetime,
    say: Callable[[str], None],
) -> None:
    key = secret_key(repo.state_dir)
    state = SyncState.load(repo.state_dir)
    ephemeral = EphemeralStore.load(repo.state_dir)
    plan = Plan(account, run_id, seen_by="Listen")
    old_head = repo.head()
    for (region, tech_name), slice_reads in sorted(reads.items()):
        changes, ids = slice_reads.changes, slice_reads.messages
        tech = technologies.get(tech_name)
        old = repo.list_blobs(slice_prefix(region, tech_name)) if tech is not None else {}
        if tech is None or not (state.has_succeeded(region, tech_name) or old):
            # An unwatched technology, or a slice no sync has read yet: its first sync records it.
            # (A slice with items in HEAD was read, by this clone or by the worker that pushed them.)
            outcome.done |= ids
            continue
        if None in changes:
            found = read_slice(session, account, tech, region, ignore=config.ignore, secret_key=key)
            documents: dict[str, Any] = dict(found.documents)
            error, calls = found.error, found.api_calls
            if found.ok:
                documents.update(dict.fromkeys(set(old) - set(documents)))
        else:
            items = read_items(session, account, tech, region, [i for i in changes if i],
                               ignore=config.ignore, secret_key=key)
            documents, error, calls = items.documents, items.error, items.api_calls
        outcome.api_calls += calls
        outcome.reads += 1
        if error is not None:
            outcome.retry.update(dict.fromkeys(ids, f"reading {tech_name} in {region} failed: {error}"))
            say(f"{account.name}/{region}/{tech_name}: read failed, will retry: {error}")
            continue
        fallback = changes[None] if None in changes else next(iter(changes.values()))
        gone = [p for p, doc in documents.items() if doc is None and p in old]
        mass = len(old) >= MASS_DELETE_MIN_ITEMS and len(gone) > len(old) * MASS_DELETE_FRACTION
        if None in changes and mass:
            outcome.done |= ids
            outcome.notes.append(f"{account.name}/{region}/{tech_name}: refused to delete {len(gone)} of "
                                 f"{len(old)} items after an event; the next sync decides")
            continue
        asked = _changes_by_path(changes, tech_name, region)
        for path_, doc in sorted(documents.items()):
            change = asked.get(path_) or fallback
            if doc is None:
                if path_ in old:
                    plan.delete(path_, old[path_], **_attribution(change, changes))
                    ephemeral.remove(path_)
                elif _too_early(change, receive_counts, create_retries):
                    outcome.retry[change.message_id] = f"{tech_name} {path_} not readable yet"
                continue
            sha = repo.blob_sha(doc.content)
            if path_ not in old:
                plan.add(path_, doc, **_attribution(change, changes))
            elif old[path_] != sha:
                plan.modify(path_, doc, old[path_], **_attribution(change, changes))
            ephemeral.update(path_, doc.ephemeral)
        if None in changes:
            state.record_success(region, tech_name, items=sum(d is not None for d in documents.values()),
                                 api_calls=calls, when=now)
        outcome.done |= ids
    commits = plan.build(repo)
    if commits:
        outcome.commits = repo.commit(commits, when=now)
    ephemeral.save()
    state.save()
    if outcome.commits:
        outcome.after = after_store(repo, config, account, old_head, now, say)


def _changes_by_path(changes: Mapping[str | None, Change], technology: str, region: str) -> dict[str, Change]:
    """Item path -> the change naming that item (an item no change names is credited to the
    slice's change, or else to the first)."""
    return {item_path(region, technology, item_id): change
            for item_id, change in changes.items() if item_id is not None}


def _attribution(change: Change, changes: Mapping[str | None, Change]) -> dict[str, Any]:
    """The commit's author (who made the change, when) and trailers (how it was seen)."""
    trailers = [
        ("Gitmonkey-Actor", change.principal.arn or change.principal.name),
        ("Gitmonkey-Event", change.event_name),
        ("Gitmonkey-Event-Time", change.event_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")),
        ("Gitmonkey-Event-Id", change.event_id),
    ]
    if change.source_ip:
        trailers.append(("Gitmonkey-Source-Ip", change.source_ip))
    if change.user_agent:
        trailers.append(("Gitmonkey-User-Agent", change.user_agent))
    if change.item_id is None:
        trailers.append(("Gitmonkey-Read", "slice (the event names no item of this technology)"))
    author = Author(change.principal.name, change.principal.email, change.event_time)
    return {"author": author, "trailers": [(k, v) for k, v in trailers if v]}


def _too_early(change: Change, receive_counts: Mapping[str, int], create_retries: int) -> bool:
    """An item an event created or changed that cannot be read yet (AWS is eventually consistent):
    worth another delivery, up to ``create_retries``."""
    if change.item_id is None or change.event_name.startswith(_REMOVING):
        return False
    return receive_counts.get(change.message_id, 1) <= create_retries


def after_store(
    repo: AccountRepository,
    config: Config,
    account: AccountConfig,
    old_head: str | None,
    now: datetime,
    say: Callable[[str], None],
) -> dict[str, Any]:
    """Audit and notify the new commits, then push, as after a sync; never raises (the history is
    recorded, and what failed here is retried by the next run)."""
    from gitmonkey.hooks import audit_and_notify

    result: dict[str, Any] = {}
    try:
        result["audit"] = audit_and_notify(repo, config, account, old_head, repo.head(), [], now=now)
    except Exception as exc:
        log.exception("audit after events failed")
        result["audit_error"] = f"{type(exc).__name__}: {exc}"
        say(f"{account.name}: audit failed (the next run audits from the last audited commit): {exc}")
    from gitmonkey.remote import push_reporting

    pushed = push_reporting(repo, account, say)
    if pushed is not None:
        result["push_error"] = pushed
    return result
