"""`gitmonkey listen` handing its work to the workers (``events.record_on: workers``).

Each account's changes of a received batch become one ``gitmonkey.record_events`` task, sent with
``MessageGroupId = account id`` (the group of the account's scheduled ``sync_account`` tasks, so
the two never run at once) and a ``MessageDeduplicationId`` made from the event messages it
carries: a listener killed after sending and before deleting its event messages receives them
again and sends the same task, which SQS drops within its 5-minute deduplication window (after
it, the task runs twice and the second re-read finds nothing new: still no duplicate commit).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

from gitmonkey.config import AccountConfig, Config, ConfigError
from gitmonkey.distributed.settings import WorkerSettings, worker_settings
from gitmonkey.distributed.tasks import EVENTS_TASK_NAME
from gitmonkey.distributed.worker_events import changes_payload

if TYPE_CHECKING:
    from celery import Celery

    from gitmonkey.listen.messages import Change


MAX_CHANGES_PER_TASK = 100
"""A task carries at most this many changes (a RunInstances of hundreds of instances is split):
well under SQS's 256 KB per message once Celery has wrapped and base64-encoded the arguments."""


def events_deduplication_id(account_id: str, changes: Sequence[Change]) -> str:
    """``events-<account id>-<digest of the changes' messages and items>`` (at most 128 characters,
    as SQS wants): the same for the same changes, whatever their order."""
    lines = sorted({f"{c.message_id}\0{c.region}\0{c.technology}\0{c.item_id}" for c in changes})
    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()[:40]
    return f"events-{account_id}-{digest}"


def task_chunks(changes: Sequence[Change]) -> list[list[Change]]:
    """``changes`` in tasks of at most ``MAX_CHANGES_PER_TASK`` (a message's changes may span two:
    its message is done once every task is sent)."""
    return [list(changes[start:start + MAX_CHANGES_PER_TASK])
            for start in range(0, len(changes), MAX_CHANGES_PER_TASK)]


class EventsHandoff:
    """Sends changes to the workers' queue; built once per listener (it holds the broker connection)."""

    def __init__(self, config: Config, *, app: Celery | None = None,
                 settings: WorkerSettings | None = None) -> None:
        from gitmonkey.distributed.app import make_app

        try:
            self.settings = settings or worker_settings(config)
        except ConfigError as exc:
            raise ConfigError(f"events.record_on is workers, but the workers: section cannot be used: {exc}"
                              ) from exc
        try:
            self.app = app or make_app(config, self.settings)
        except ImportError as exc:
            raise ConfigError("events.record_on is workers, but Celery is not installed here: install the "
                              f"workers extra (pip install 'gitmonkey[workers]'): {exc}") from exc

    def send(self, account: AccountConfig, changes: Sequence[Change]) -> list[str]:
        """Enqueue ``record_events`` tasks for ``changes`` (all of ``account``: usually one task,
        see ``task_chunks``); their task ids. Raises the broker's error when it cannot be reached
        (tasks sent before it are sent again with the next attempt, and SQS drops them as
        duplicates)."""
        sent = []
        for chunk in task_chunks(changes):
            dedup = events_deduplication_id(account.id, chunk)
            self.app.send_task(EVENTS_TASK_NAME, args=[account.id, changes_payload(chunk)], task_id=dedup,
                               queue=self.settings.queue, MessageGroupId=account.id,
                               MessageDeduplicationId=dedup)
            sent.append(dedup)
        return sent
