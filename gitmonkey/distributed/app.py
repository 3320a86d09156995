"""The Celery application of the worker commands, built from the ``workers:`` section.

Settings that make "one task of an account at a time, anywhere" true with an SQS FIFO queue (the
account id is the message group, see ``rounds``):

- ``task_acks_late``: a message is deleted only once its task finished, so it stays in flight
  (and its group blocked) while the account syncs, and a worker killed mid-task leaves it to be
  delivered again after the visibility timeout;
- ``task_reject_on_worker_lost``: a pool process killed mid-task (OOM killer, SIGKILL) puts the
  message back at once instead of acknowledging it;
- ``worker_prefetch_multiplier = 1``: a worker holds no more messages than it has processes, so
  no group waits behind a busy worker;
- the visibility timeout (``workers.visibility_timeout``, longer than the slowest account) and a
  hard task time limit at 90 % of it: a task never outlives its message's invisibility, so SQS
  never hands the account to a second worker while the first still runs;
- no result backend (``task_ignore_result``): the outcome is the account's git remote and the log.

Remote control, events, gossip and mingle are off: with SQS they would need fanout exchanges
(SNS topics) that nothing here uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gitmonkey.distributed.settings import WorkerSettings, worker_settings

if TYPE_CHECKING:
    from celery import Celery

    from gitmonkey.config import Config

MAX_TASKS_PER_CHILD = 100
"""A pool process is replaced after this many tasks, bounding the memory a long-lived one gathers."""


def celery_settings(settings: WorkerSettings) -> dict[str, object]:
    """The Celery configuration (``app.conf``) for ``settings``."""
    return {
        "broker_url": settings.broker_url,
        "broker_transport_options": settings.transport(),
        "broker_connection_retry_on_startup": True,
        "task_default_queue": settings.queue,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_acks_on_failure_or_timeout": True,
        "task_ignore_result": True,
        "result_backend": None,
        "task_time_limit": settings.time_limit,
        "task_serializer": "json",
        "accept_content": ["json"],
        "worker_prefetch_multiplier": 1,
        "worker_concurrency": settings.concurrency,
        "worker_max_tasks_per_child": MAX_TASKS_PER_CHILD,
        "worker_enable_remote_control": False,
        "worker_send_task_events": False,
        "worker_hijack_root_logger": True,
    }


def make_app(config: Config, settings: WorkerSettings | None = None) -> Celery:
    """The Celery app with the task ``gitmonkey.sync_account`` registered; imports Celery."""
    from celery import Celery

    from gitmonkey.distributed.tasks import register

    settings = settings or worker_settings(config)
    app = Celery("gitmonkey", set_as_current=False)
    app.conf.update(celery_settings(settings))
    register(app)
    return app
