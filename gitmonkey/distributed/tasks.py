"""The task ``gitmonkey.sync_account(account_id, round_id)``: one account, on whichever worker.

The task reads the worker's own configuration (``GITMONKEY_CONFIG``, set by ``gitmonkey worker``
from its ``--config``) at every run, so a config edited between rounds (a new account) is used
without restarting the workers. Each run logs two lines for monitoring, ``gitmonkey-task {json}``
with ``"event": "start"`` and then ``"done"`` or ``"failed"``: the account, its id, the round,
the worker (host:pid) and the time (epoch seconds), and when done the outcome.
"""

from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING, Any

from gitmonkey.distributed.worker_sync import process_label, run_account

if TYPE_CHECKING:
    from celery import Celery

TASK_NAME = "gitmonkey.sync_account"
LOG_MARK = "gitmonkey-task"

log = logging.getLogger("gitmonkey.worker")


def _record(event: str, **fields: Any) -> None:
    line = {"event": event, "worker": process_label(), "at": round(time.time(), 3), **fields}
    log.log(logging.ERROR if event == "failed" else logging.INFO, "%s %s", LOG_MARK,
            json.dumps(line, sort_keys=True))


def sync_account(account_id: str, round_id: str) -> dict[str, Any]:
    """Sync and push one account (``worker_sync.run_account``); raises when it was not pushed."""
    from gitmonkey.config import load_config

    _record("start", account_id=account_id, round=round_id)
    try:
        config = load_config(None)
        outcome = run_account(config, account_id, round_id)
    except Exception as exc:
        _record("failed", account_id=account_id, round=round_id, error=f"{type(exc).__name__}: {exc}")
        raise
    result = outcome.to_dict()
    _record("done", **{k: v for k, v in result.items() if k != "round"}, round=round_id)
    return result


def register(app: Celery) -> Any:
    """Register ``sync_account`` on ``app`` under ``TASK_NAME``."""
    return app.task(name=TASK_NAME, acks_late=True, reject_on_worker_lost=True, ignore_result=True)(
        sync_account
    )
