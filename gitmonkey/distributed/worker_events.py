"""Events on a worker: ``run_events(config, account_id, changes)``, usable without Celery.

With ``events.record_on: workers``, `gitmonkey listen` sorts each batch of CloudTrail events as
usual, then hands the changes of each account to the task ``gitmonkey.record_events`` on the
workers' queue, in the account's message group: on an SQS FIFO queue an account's event task and
its scheduled ``sync_account`` task never run at once anywhere, so event-driven and scheduled
writes to one repository are serialised by the same mechanism, with no lock across machines.

On the worker the task works in the account's clone as a sync task does (``worker_sync``): align
with the remote, record (``listen.record.record_account``: re-read the named items, one commit per
changed item authored by the AWS principal), audit, notify, push; a refused push is merged or the
recording replayed (a re-read records the current state, so a replay makes no duplicate commit).

An item that cannot be read yet (AWS is eventually consistent after a create), a failed read or a
busy repository is tried again inside the task after a short wait, up to ``events.create_retries``
more times (the account's group is held meanwhile, which is what serialising means). What still
fails is reported in the task's outcome (``unrecorded``) and left to the next scheduled sync,
which records the state without the event's author: the listener deleted the event message once
the task was enqueued, so the task is its only carrier.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from gitmonkey.distributed.periods import round_id
from gitmonkey.distributed.worker_sync import Attempt, land, open_clone, process_label

if TYPE_CHECKING:
    from gitmonkey.config import Config
    from gitmonkey.distributed.settings import WorkerSettings
    from gitmonkey.listen.messages import Change

log = logging.getLogger("gitmonkey.worker")

FIRST_RETRY_SECONDS = 2.0
MAX_RETRY_SECONDS = 30.0
"""In-task retries wait 2, 4, 8 ... seconds, never more than this (nor ``events.retry_seconds``)."""


@dataclass
class EventsOutcome:
    """What one ``record_events`` task did for one account."""

    account: str
    account_id: str
    messages: int = 0
    commits: list[str] = field(default_factory=list)
    tries: int = 0
    """Recordings of the changes still pending (1 when everything was recorded at once)."""
    attempts: int = 0
    merged: int = 0
    replayed: int = 0
    api_calls: int = 0
    unrecorded: dict[str, str] = field(default_factory=dict)
    """Message id -> why its changes could not be recorded (left to the next sync)."""
    notes: list[str] = field(default_factory=list)
    head: str | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "account_id": self.account_id,
            "messages": self.messages,
            "commits": len(self.commits),
            "tries": self.tries,
            "attempts": self.attempts,
            "merged": self.merged,
            "replayed_commits": self.replayed,
            "api_calls": self.api_calls,
            "unrecorded": self.unrecorded,
            "head": self.head,
            "seconds": round(self.seconds, 3),
        }


def changes_payload(changes: Sequence[Change]) -> list[dict[str, Any]]:
    """The task's argument: the changes as JSON-ready data."""
    return [change.to_dict() for change in changes]


def run_events(
    config: Config,
    account_id: str,
    changes: Sequence[Change | Mapping[str, Any]],
    *,
    settings: WorkerSettings | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    sleep: Callable[[float], None] = time.sleep,
    progress: Callable[[str], None] | None = None,
) -> EventsOutcome:
    """Record ``changes`` (all of the account ``account_id``) in this worker's clone and push them.

    Raises ``WorkerError`` when the recording did not reach the remote, ``ValueError`` for changes
    that are not ``Change.to_dict`` data.
    """
    from gitmonkey.distributed.settings import worker_settings
    from gitmonkey.listen.messages import Change
    from gitmonkey.listen.record import DEFAULT_CREATE_RETRIES, AccountOutcome, reads_of, record_account
    from gitmonkey.read.aws import AccountSession
    from gitmonkey.watchers import all_technologies, always_returned

    clock = time.monotonic()
    parsed = [c if isinstance(c, Change) else Change.from_dict(c) for c in changes]
    settings = settings or worker_settings(config, need_broker=False, need_secret=True)
    clone = open_clone(config, account_id, round_id(now(), settings.round_minutes), settings)
    cfg, account = clone.config, clone.account
    pending = [dataclasses.replace(c, account=account.name) for c in parsed]
    outcome = EventsOutcome(account.name, account.id, messages=len({c.message_id for c in pending}))
    say = progress or (lambda message: log.debug("%s: %s", account.name, message))
    technologies = {n: t for n, t in all_technologies().items() if cfg.technology_enabled(n)}
    session = AccountSession(account, max_attempts=cfg.max_attempts, connect_timeout=cfg.connect_timeout,
                             read_timeout=cfg.read_timeout, always_returned=always_returned())
    retries = int(cfg.events.get("create_retries", DEFAULT_CREATE_RETRIES))
    ceiling = min(MAX_RETRY_SECONDS, float(cfg.events.get("retry_seconds", MAX_RETRY_SECONDS)))
    run_id = f"{now():%Y%m%dT%H%M%SZ}-{process_label()}"
    wait = FIRST_RETRY_SECONDS

    def record_once(pending: list[Change], tries: int) -> AccountOutcome:
        recorded = AccountOutcome(account.name)
        delivery = {c.message_id: tries for c in pending}

        def attempt() -> Attempt:
            nonlocal recorded
            recorded = record_account(cfg, account, reads_of(pending).get(account.name, {}), technologies,
                                      session=session, run_id=run_id, receive_counts=delivery,
                                      create_retries=retries, now=now(), say=say)
            outcome.api_calls += recorded.api_calls
            return Attempt(str(recorded.after.get("push_error") or ""))

        landing = land(clone, settings.push_retries, attempt, what="recording of events")
        outcome.attempts += landing.attempts
        outcome.merged += landing.merged
        outcome.replayed += len(landing.replayed)
        return recorded

    while True:
        outcome.tries += 1
        recorded = record_once(pending, outcome.tries)
        outcome.commits += recorded.commits
        outcome.notes += recorded.notes
        if not recorded.retry:
            break
        if outcome.tries > retries:
            outcome.unrecorded = dict(recorded.retry)
            log.warning("%s: %d event message(s) not recorded after %d tries, left to the next sync: %s",
                        account.name, len(recorded.retry), outcome.tries,
                        "; ".join(sorted(set(recorded.retry.values()))))
            break
        pending = [c for c in pending if c.message_id in recorded.retry]
        sleep(min(wait, max(ceiling, 0.0)))
        wait *= 2
        session.new_round()
    outcome.head = clone.repo.head()
    outcome.seconds = time.monotonic() - clock
    return outcome
