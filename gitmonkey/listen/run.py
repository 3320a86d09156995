"""`gitmonkey listen`: the event-driven driver over the same stages as a sync.

Each round receives a batch (long poll), sorts it (``messages.read_batch``), deletes what records
nothing, leaves unreadable messages for the dead-letter queue, and records the rest per account
(``record.record_account``). Events that name no item ask for their whole slice to be read again;
those reads wait ``slice_debounce_seconds`` so that a burst of such events costs one listing (their
messages are kept invisible meanwhile). A message is deleted only after its commit exists, so a
listener killed between the two makes the redelivered event find nothing new: no second commit.

With ``events.record_on: workers`` the listener records nothing itself: each account's changes of
a batch go to the Celery workers as one task in the account's message group
(``distributed.handoff``), and the event messages are deleted once the task is enqueued.

``stop`` (set by SIGTERM or SIGINT in the CLI) ends the loop after the batch in hand is recorded.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitmonkey.config import (
    AccountConfig,
    Config,
    ConfigError,
    load_config,
    save_known_accounts,
    with_known_accounts,
)
from gitmonkey.listen.event_map import EventMap, load_event_map
from gitmonkey.listen.messages import Change, read_batch
from gitmonkey.listen.queue import EventQueue, Message
from gitmonkey.listen.record import DEFAULT_CREATE_RETRIES, AccountOutcome, reads_of, record_account
from gitmonkey.read.aws import AccountSession
from gitmonkey.store.state import atomic_write
from gitmonkey.watchers import all_technologies, always_returned

if TYPE_CHECKING:
    from gitmonkey.distributed.handoff import EventsHandoff

log = logging.getLogger(__name__)

STATUS_FILE = ".gitmonkey-listen.json"
DEFAULT_DEBOUNCE_SECONDS = 10.0
ACCOUNTS_REFRESH_SECONDS = 300.0
"""With ``organization:``, how often a long-running listener takes in the accounts found since."""


@dataclass
class ListenReport:
    run_id: str
    received: int = 0
    recorded: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    poison: int = 0
    retried: int = 0
    commits: int = 0
    tasks: int = 0
    """``record_events`` tasks handed to the workers (``events.record_on: workers``)."""
    api_calls: int = 0
    reads: int = 0
    rounds: int = 0
    errors: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    """Seconds from a message's receipt to its commit (or to its deletion when nothing changed)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "received": self.received,
            "recorded": self.recorded,
            "skipped": dict(self.skipped),
            "poison": self.poison,
            "retried": self.retried,
            "commits": self.commits,
            "tasks": self.tasks,
            "api_calls": self.api_calls,
            "reads": self.reads,
            "rounds": self.rounds,
            "errors": self.errors,
        }


class Listener:
    """The state of one `gitmonkey listen` run; ``run`` is its loop."""

    def __init__(
        self,
        config: Config,
        *,
        queue: EventQueue | None = None,
        event_map: EventMap | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.config = config
        self.queue = queue or EventQueue.from_config(config)
        self.technologies = {
            name: tech for name, tech in all_technologies().items() if config.technology_enabled(name)
        }
        self.event_map = event_map or load_event_map(known_technologies=all_technologies())
        self.global_technologies = {n for n, t in all_technologies().items() if t.is_global}
        settings = config.events
        self.debounce = float(settings.get("slice_debounce_seconds", DEFAULT_DEBOUNCE_SECONDS))
        self.create_retries = int(settings.get("create_retries", DEFAULT_CREATE_RETRIES))
        self.say = progress or (lambda _text: None)
        self.handoff: EventsHandoff | None = None
        if settings.get("record_on", "listener") == "workers":
            from gitmonkey.distributed.handoff import EventsHandoff

            self.handoff = EventsHandoff(config)
        self.report = ListenReport(run_id=f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}")
        self._sessions: dict[str, AccountSession] = {}
        # slice re-reads waiting for their debounce: (account, region, technology) -> due time
        self._due: dict[tuple[str, str, str], float] = {}
        self._held: dict[str, tuple[Message, list[Change], float]] = {}
        self._accounts_due = 0.0 if config.organization is not None else float("inf")

    def session(self, account: AccountConfig) -> AccountSession:
        """The account's session for one round: clients and credentials kept across rounds, what
        slices share (``ctx.shared``) read afresh."""
        if account.name in self._sessions:
            self._sessions[account.name].new_round()
        else:
            self._sessions[account.name] = AccountSession(
                account,
                max_attempts=self.config.max_attempts,
                connect_timeout=self.config.connect_timeout,
                read_timeout=self.config.read_timeout,
                always_returned=always_returned(),
            )
        return self._sessions[account.name]

    def run(
        self, *, once: bool = False, max_messages: int | None = None, stop: threading.Event | None = None
    ) -> ListenReport:
        """Receive and record until ``stop`` is set; with ``once`` until the queue has nothing to
        give; with ``max_messages`` until that many were received. Held slice re-reads are done
        before returning."""
        stop = stop or threading.Event()
        seen: set[str] = set()
        while not stop.is_set():
            self.refresh_accounts()
            limit = None if max_messages is None else max_messages - self.report.received
            if limit is not None and limit <= 0:
                break
            wait = self.queue.wait_seconds
            if self._due:
                wait = max(0, min(wait, int(min(self._due.values()) - time.monotonic()) + 1))
            try:
                messages = self.queue.receive(limit, wait_seconds=wait)
            except Exception as exc:
                self._error(f"receiving from {self.queue.url} failed: {exc}")
                if once:
                    break
                stop.wait(min(30.0, max(1.0, self.queue.wait_seconds)))
                continue
            if once and messages and all(m.message_id in seen for m in messages):
                # only messages this run kept for a retry: they are the next run's
                self._release(list(messages))
                break
            seen.update(m.message_id for m in messages)
            self.handle(messages)
            if once and not messages:
                break
        self.flush(force=True)
        self.write_status()
        return self.report

    def refresh_accounts(self) -> None:
        """With ``organization:``, every ``ACCOUNTS_REFRESH_SECONDS``: the accounts of the last
        discovery a sync saved, or (handing to the workers, where no sync runs beside the
        listener) a discovery of its own, saved for the other commands. A failure keeps the
        accounts in hand."""
        if time.monotonic() < self._accounts_due:
            return
        self._accounts_due = time.monotonic() + ACCOUNTS_REFRESH_SECONDS
        from gitmonkey.organization import OrganizationDiscoveryError, with_discovered_accounts

        try:
            fresh = load_config(self.config.path)
            if self.handoff is not None:
                accounts = with_discovered_accounts(fresh).accounts
                save_known_accounts(fresh, accounts)
            else:
                accounts = with_known_accounts(fresh).accounts
        except (ConfigError, OrganizationDiscoveryError, OSError) as exc:
            self._error(f"the organization's accounts could not be refreshed, keeping "
                        f"{len(self.config.accounts)}: {exc}")
            return
        added = {a.id for a in accounts} - {a.id for a in self.config.accounts}
        if added:
            self.say(f"{len(added)} account(s) of the organization taken in: {', '.join(sorted(added))}")
        self.config = dataclasses.replace(self.config, accounts=accounts)

    def handle(self, messages: Sequence[Message]) -> None:
        """Sort, record and acknowledge one received batch (plus any slice re-read now due)."""
        self.report.rounds += 1
        self.report.received += len(messages)
        received_at = time.monotonic()
        by_id = {m.message_id: m for m in messages}
        batch = read_batch([m.as_mapping() for m in messages], self.event_map, self.config,
                           self.global_technologies)
        for message_id, why in batch.poison:
            self.report.poison += 1
            log.warning("message %s left for the dead-letter queue: %s", message_id, why)
            self.say(f"unreadable message {message_id} left for the dead-letter queue: {why}")
        self.report.skipped.update(_reason(why) for _, why in batch.skipped)
        self._delete([by_id[i] for i, _ in batch.skipped if i in by_id])
        now_items: list[Change] = []
        for change in batch.changes:
            if change.item_id is None and self.debounce > 0:
                slice_key = (change.account, change.region, change.technology)
                self._due.setdefault(slice_key, received_at + self.debounce)
            else:
                now_items.append(change)
        held_ids = {c.message_id for c in batch.changes if c.item_id is None and self.debounce > 0}
        for message_id in held_ids:
            mine = [c for c in batch.changes if c.message_id == message_id]
            self._held[message_id] = (by_id[message_id], mine, received_at)
        if held_ids:
            # keep the held messages invisible until their re-read, with room to spare
            self._release([by_id[i] for i in held_ids], int(self.debounce) + 60)
        immediate = {c.message_id for c in now_items} - held_ids
        changes = [c for c in now_items if c.message_id in immediate]
        self._record(changes, {i: by_id[i] for i in immediate}, received_at)
        self.flush()

    def flush(self, *, force: bool = False) -> None:
        """Do the slice re-reads whose debounce has passed (all of them with ``force``)."""
        clock = time.monotonic()
        due = {k for k, when in self._due.items() if force or when <= clock}
        if not due:
            return
        for key in due:
            del self._due[key]
        ready = {
            message_id: held for message_id, held in self._held.items()
            if any((c.account, c.region, c.technology) in due for c in held[1] if c.item_id is None)
        }
        for message_id in ready:
            del self._held[message_id]
        changes = [c for _, held_changes, _ in ready.values() for c in held_changes]
        first = min((received for _, _, received in ready.values()), default=clock)
        self._record(changes, {i: held[0] for i, held in ready.items()}, first)

    def _record(self, changes: list[Change], messages: dict[str, Message], received_at: float) -> None:
        if not messages:
            return
        accounts = {a.name: a for a in self.config.accounts}
        if self.handoff is not None:
            done, retry = self._hand_over(changes, accounts)
        else:
            counts = {i: m.receive_count for i, m in messages.items()}
            done, retry = self._record_here(changes, accounts, counts)
        done -= set(retry)
        for message_id, why in retry.items():
            log.info("message %s kept for a retry: %s", message_id, why)
        self._release([messages[i] for i in retry if i in messages])
        self._delete([messages[i] for i in done if i in messages])
        self.report.retried += len(retry)
        self.report.recorded += len(done)
        elapsed = time.monotonic() - received_at
        self.report.latencies += [elapsed] * len(done)

    def _record_here(self, changes: list[Change], accounts: dict[str, AccountConfig], counts: dict[str, int]
                     ) -> tuple[set[str], dict[str, str]]:
        """Record each account's changes in its repository on this machine; the messages done, and
        those to retry."""
        done: set[str] = set()
        retry: dict[str, str] = {}
        for name, reads in sorted(reads_of(changes).items()):
            outcome = record_account(
                self.config, accounts[name], reads, self.technologies,
                session=self.session(accounts[name]), run_id=self.report.run_id,
                receive_counts=counts, create_retries=self.create_retries, say=self.say,
            )
            self._account_done(outcome)
            done |= outcome.done
            retry.update(outcome.retry)
        return done, retry

    def _hand_over(self, changes: list[Change], accounts: dict[str, AccountConfig]
                   ) -> tuple[set[str], dict[str, str]]:
        """One ``record_events`` task per account; the messages handed over, and those to retry."""
        assert self.handoff is not None
        by_account: dict[str, list[Change]] = {}
        for change in changes:
            by_account.setdefault(change.account, []).append(change)
        done: set[str] = set()
        retry: dict[str, str] = {}
        for name, mine in sorted(by_account.items()):
            ids = {c.message_id for c in mine}
            try:
                tasks = self.handoff.send(accounts[name], mine)
            except Exception as exc:
                why = f"handing {name}'s events to the workers failed: {type(exc).__name__}: {exc}"
                self._error(why)
                retry.update(dict.fromkeys(ids, why))
                continue
            self.report.tasks += len(tasks)
            done |= ids
        if done:
            self.say(f"{len(done)} event message(s) handed to the workers")
        return done, retry

    def _account_done(self, outcome: AccountOutcome) -> None:
        self.report.commits += len(outcome.commits)
        self.report.api_calls += outcome.api_calls
        self.report.reads += outcome.reads
        for note in outcome.notes:
            self.say(note)
        for key, value in outcome.after.items():
            if key.endswith("error"):
                self._error(f"{outcome.account}: {key.replace('_', ' ')}: {value}")
        if outcome.commits:
            self.say(f"{outcome.account}: {len(outcome.commits)} commits from events")

    def _delete(self, messages: list[Message]) -> None:
        if not messages:
            return
        try:
            failed = self.queue.delete(messages)
        except Exception as exc:
            self._error(f"deleting {len(messages)} messages failed (they will be delivered again): {exc}")
            return
        if failed:
            self._error(f"SQS did not delete {len(failed)} messages; they will be delivered again")

    def _release(self, messages: list[Message], seconds: int | None = None) -> None:
        if not messages:
            return
        try:
            self.queue.release(messages, seconds)
        except Exception as exc:
            self._error(f"changing the visibility of {len(messages)} messages failed: {exc}")

    def _error(self, text: str) -> None:
        log.warning("%s", text)
        self.report.errors.append(text)
        self.say(text)

    def write_status(self) -> None:
        """What this run did, for `gitmonkey status` (beside the account repositories)."""
        path = status_path(self.config)
        data = {"finished": f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}", **self.report.to_dict()}
        data["errors"] = data["errors"][-20:]
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())
        except OSError as exc:
            log.warning("could not write %s: %s", path, exc)


def _reason(why: str) -> str:
    """A skip reason without the account or region it names, for counting."""
    return "not configured" if why.endswith("is not configured") else why


def status_path(config: Config) -> Path:
    return config.repos_dir / STATUS_FILE


def run_listener(
    config: Config,
    *,
    once: bool = False,
    max_messages: int | None = None,
    stop: threading.Event | None = None,
    progress: Callable[[str], None] | None = None,
) -> ListenReport:
    """Listen to ``events.queue_url`` and record each change an event names (see module doc)."""
    return Listener(config, progress=progress).run(once=once, max_messages=max_messages, stop=stop)
