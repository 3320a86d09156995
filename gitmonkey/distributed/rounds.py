"""Rounds: one ``gitmonkey.sync_account`` task per account, enqueued together.

A round is named by the wall-clock boundary of ``workers.round_minutes`` it belongs to
(``20260301T1000Z`` for 10:00-10:59 with 60-minute rounds). Each task is sent with
``MessageGroupId = account id`` (an SQS FIFO queue delivers no message of a group while another
of it is in flight: two tasks of one account never run at once) and
``MessageDeduplicationId = <account id>-<round id>``: SQS drops a message whose deduplication id
it has seen in the last 5 minutes, so two schedulers started by mistake, or a scheduler and a cron
``gitmonkey enqueue``, enqueue a round once. Brokers other than SQS ignore both properties.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from gitmonkey.config import AccountConfig, Config, ConfigError
from gitmonkey.distributed.periods import deduplication_id, next_round, round_id, round_start
from gitmonkey.distributed.settings import WorkerSettings, worker_settings
from gitmonkey.distributed.tasks import TASK_NAME

if TYPE_CHECKING:
    from celery import Celery

__all__ = ["deduplication_id", "enqueue_round", "next_round", "round_id", "round_start", "schedule"]

log = logging.getLogger("gitmonkey.schedule")

RETRY_SECONDS = 30.0
"""How soon ``schedule`` tries again when a round could not be enqueued (the broker was down)."""


@dataclass(frozen=True)
class EnqueuedTask:
    account: str
    account_id: str
    round: str
    task_id: str
    message_group_id: str
    deduplication_id: str

    def to_dict(self) -> dict[str, str]:
        return dataclasses.asdict(self)


@dataclass
class RoundReport:
    round: str
    queue: str
    tasks: list[EnqueuedTask] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    error: str | None = None
    """The organization could not be read: only the ``accounts:`` entries were enqueued."""

    @property
    def exit_code(self) -> int:
        return 1 if self.error or self.skipped else 0

    def to_dict(self) -> dict[str, Any]:
        return {"round": self.round, "queue": self.queue, "tasks": [t.to_dict() for t in self.tasks],
                "skipped": self.skipped, "error": self.error, "exit_code": self.exit_code}

    def summary(self) -> str:
        text = f"round {self.round}: {len(self.tasks)} task(s) enqueued on {self.queue}"
        if self.skipped:
            text += "; skipped " + ", ".join(f"{s['account']} ({s['reason']})" for s in self.skipped)
        if self.error:
            text += f"; {self.error}"
        return text


def round_accounts(config: Config, names: Sequence[str] = ()) -> tuple[list[AccountConfig], str | None]:
    """The accounts of a round (discovered with ``organization:``) narrowed to ``names`` (names or
    ids), and the discovery error when the organization could not be read (then only the
    ``accounts:`` entries: a configured account never disappears because of it)."""
    error = None
    if config.organization is not None:
        from gitmonkey.organization import OrganizationDiscoveryError, with_discovered_accounts

        try:
            config = with_discovered_accounts(config)
        except OrganizationDiscoveryError as exc:
            error = f"the organization could not be read, only the accounts: entries were enqueued: {exc}"
    if not names:
        return list(config.accounts), error
    return [config.account(name) for name in dict.fromkeys(names)], error


def enqueue_round(
    config: Config,
    now: datetime | None = None,
    *,
    accounts: Sequence[str] = (),
    app: Celery | None = None,
    settings: WorkerSettings | None = None,
) -> RoundReport:
    """Send one task per account (or per named account) for the round of ``now``.

    An account without a ``remote`` is skipped (a worker refuses it). Raises ``ConfigError`` for
    a bad ``workers:`` section or an unknown account name, and the broker's error when it cannot
    be reached.
    """
    from gitmonkey.distributed.app import make_app

    settings = settings or worker_settings(config)
    app = app or make_app(config, settings)
    name = round_id(now or datetime.now(UTC), settings.round_minutes)
    chosen, error = round_accounts(config, accounts)
    report = RoundReport(round=name, queue=settings.queue, error=error)
    with app.producer_or_acquire() as producer:
        for account in chosen:
            if not account.remote:
                report.skipped.append({"account": account.name, "account_id": account.id,
                                       "reason": "no remote: a worker's clone must push somewhere"})
                continue
            dedup = deduplication_id(account.id, name)
            app.send_task(TASK_NAME, args=[account.id, name], task_id=dedup, queue=settings.queue,
                          producer=producer, MessageGroupId=account.id, MessageDeduplicationId=dedup)
            report.tasks.append(EnqueuedTask(account.name, account.id, name, dedup, account.id, dedup))
    return report


def schedule(
    config: Config,
    stop: threading.Event,
    *,
    say: Callable[[str], None] = log.info,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> int:
    """Enqueue a round at once, then one at each round boundary, until ``stop`` is set; return the
    number of rounds enqueued.

    The configuration file is read again before each round, so accounts added to it are picked up
    (a file that no longer validates is reported and the last good one used). A round that cannot
    be enqueued (broker down) is tried again every ``RETRY_SECONDS`` until its period ends.
    """
    from gitmonkey.config import load_config
    from gitmonkey.distributed.app import celery_settings, make_app

    current = config
    app: Celery | None = None
    app_for: dict[str, object] | None = None
    last: str | None = None
    rounds = 0
    while not stop.is_set():
        name = round_id(clock(), worker_settings(current, need_broker=False).round_minutes)
        if name != last:
            try:
                current = load_config(config.path)
            except ConfigError as exc:
                say(f"config error, using the last good configuration: {exc}")
            try:
                settings = worker_settings(current)
                if app is None or app_for != celery_settings(settings):
                    app, app_for = make_app(current, settings), celery_settings(settings)
                report = enqueue_round(current, clock(), app=app, settings=settings)
            except ConfigError:
                raise
            except Exception as exc:  # the broker or the organization: try again soon
                say(f"round {name}: enqueueing failed, trying again in {RETRY_SECONDS:.0f}s: "
                    f"{type(exc).__name__}: {exc}")
                stop.wait(RETRY_SECONDS)
                continue
            last, rounds = name, rounds + 1
            say(report.summary())
        minutes = worker_settings(current, need_broker=False).round_minutes
        wait = (next_round(clock(), minutes) - clock()).total_seconds()
        stop.wait(max(0.5, wait))
    return rounds
