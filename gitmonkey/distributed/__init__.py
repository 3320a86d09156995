"""Past one machine: accounts recorded by Celery workers (``gitmonkey worker`` / ``schedule`` / ``enqueue``).

The unit of work is one account: the task ``gitmonkey.sync_account(account_id, round_id)``, and
``gitmonkey.record_events(account_id, changes)`` for what `gitmonkey listen` hands over. The
recommended broker is an SQS FIFO queue with the account id as message group, so two tasks of one
account never run at once anywhere while accounts run in parallel across workers. Each worker
keeps its own clone of each account repository; the account's git remote is the source of truth.

Modules: ``settings`` (the ``workers:`` section), ``app`` (the Celery application), ``tasks`` (the
tasks), ``worker_sync`` (one account's sync on a worker, and the clone it works in, usable without
Celery), ``worker_events`` (one account's events on a worker), ``periods`` (round names),
``rounds`` (enqueueing a round, the periodic producer), ``handoff`` (the listener's side of
``record_events``). Celery is imported only when an app is made (``app.make_app``). See
docs/readme/workers.md.
"""
