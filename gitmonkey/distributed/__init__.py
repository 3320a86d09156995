"""Past one machine: accounts synced by Celery workers (``gitmonkey worker`` / ``schedule`` / ``enqueue``).

The unit of work is one account: the task ``gitmonkey.sync_account(account_id, round_id)``. The
recommended broker is an SQS FIFO queue with the account id as message group, so two tasks of one
account never run at once anywhere while accounts run in parallel across workers. Each worker
keeps its own clone of each account repository; the account's git remote is the source of truth.

Modules: ``settings`` (the ``workers:`` section), ``app`` (the Celery application), ``tasks`` (the
task), ``worker_sync`` (one account on a worker, usable without Celery), ``rounds`` (enqueueing a
round, the periodic producer). Celery is imported only by ``app`` and ``tasks``. See
docs/readme/workers.md.
"""
