"""The tasks, each one account on whichever worker: ``gitmonkey.sync_account(account_id, round_id)``
(a scheduled sync) and ``gitmonkey.record_events(account_id, changes)`` (what `gitmonkey listen`
hands over with ``events.record_on: workers``).

The task reads the worker's own configuration (``GITMONKEY_CONFIG``, set by ``gitmonkey worker``
from its ``--config``) at every run, so a config edited between rounds (a new account) is used
without restarting the workers. Each run logs two lines for monitoring, ``gitmonkey-task {json}``
with ``"event": "start"`` and then ``"done"`` or ``"failed"``: the account, its id, the round,
the worker (host:pid), the task (``sync`` or ``events``) and the time (epoch seconds), and when
done the outcome.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gitmonkey.distributed.worker_events import run_events
from gitmonkey.distributed.worker_sync import deliver_due_notifications, process_label, run_account

if TYPE_CHECKING:
    from celery import Celery

    from gitmonkey.config import Config

TASK_NAME = "gitmonkey.sync_account"
EVENTS_TASK_NAME = "gitmonkey.record_events"
LOG_MARK = "gitmonkey-task"

log = logging.getLogger("gitmonkey.worker")


def _record(event: str, **fields: Any) -> None:
    line = {"event": event, "worker": process_label(), "at": round(time.time(), 3), **fields}
    log.log(logging.ERROR if event == "failed" else logging.INFO, "%s %s", LOG_MARK,
            json.dumps(line, sort_keys=True))


def _deliver_left_overs(config: Config) -> None:
    """After each task: what earlier deliveries left in any of this worker's outboxes."""
    from gitmonkey.config import with_known_accounts
    from gitmonkey.distributed.settings import worker_settings

    try:
        settings = worker_settings(config, need_broker=False)
        left = deliver_due_notifications(with_known_accounts(config), settings)
    except Exception as exc:  # the task's own outcome stands
        log.warning("delivering the outboxes failed: %s", exc)
        return
    if left:
        log.info("notifications still pending (retried after the next task): %s", left)


def _run_logged(task: str, fields: dict[str, Any], work: Callable[[Config], Any], **start: Any
                ) -> dict[str, Any]:
    """Log the start (``fields`` and ``start``), run ``work`` on the worker's configuration, log
    ``done`` with its outcome (or ``failed``, and raise); then deliver what the worker's outboxes
    hold."""
    from gitmonkey.config import load_config

    _record("start", task=task, **fields, **start)
    config = None
    try:
        config = load_config(None)
        result = work(config).to_dict()
    except Exception as exc:
        _record("failed", task=task, **fields, error=f"{type(exc).__name__}: {exc}")
        raise
    finally:
        if config is not None:
            _deliver_left_overs(config)
    _record("done", task=task, **{**result, **fields})
    return result


def sync_account(account_id: str, round_id: str) -> dict[str, Any]:
    """Sync and push one account (``worker_sync.run_account``); raises when it was not pushed."""
    return _run_logged("sync", {"account_id": account_id, "round": round_id},
                       lambda config: run_account(config, account_id, round_id))


def record_events(account_id: str, changes: list[dict[str, Any]]) -> dict[str, Any]:
    """Record one account's changes from events (``worker_events.run_events``); raises when the
    recording was not pushed."""
    return _run_logged("events", {"account_id": account_id},
                       lambda config: run_events(config, account_id, changes), changes=len(changes))


def register(app: Celery) -> None:
    """Register ``sync_account`` and ``record_events`` on ``app`` under their names."""
    for name, function in ((TASK_NAME, sync_account), (EVENTS_TASK_NAME, record_events)):
        app.task(name=name, acks_late=True, reject_on_worker_lost=True, ignore_result=True)(function)
