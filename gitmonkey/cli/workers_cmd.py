"""`gitmonkey worker`, `gitmonkey schedule` and `gitmonkey enqueue`: syncing accounts through Celery."""

from __future__ import annotations

import importlib
import os
import signal
import sys
import threading
from datetime import UTC, datetime

import click

from gitmonkey.cli.common import EXIT_CONFIG, EXIT_ERROR, config_option, echo_json, fail, format_option, load
from gitmonkey.config import CONFIG_ENV, ConfigError

NEEDS_CELERY = "the worker commands need Celery with its SQS transport: pip install 'gitmonkey[workers]'"


def _settings(config, **kwargs):
    from gitmonkey.distributed.settings import worker_settings

    try:
        return worker_settings(config, **kwargs)
    except ConfigError as exc:
        fail(f"config error: {exc}", EXIT_CONFIG)


def _check_celery() -> None:
    try:
        import celery  # noqa: F401
    except ImportError:
        fail(NEEDS_CELERY)


@click.command()
@config_option
@click.option("--concurrency", type=click.IntRange(1, 256), default=None,
              help="Worker processes (default: workers.concurrency, else 1).")
@click.option("--loglevel", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
@click.option("--hostname", default=None, help="The worker's node name (default: gitmonkey@HOST).")
def worker(config_path, concurrency, loglevel, hostname) -> None:
    """Run a Celery worker that syncs the accounts it is handed, one task per account.

    Each task syncs one account into this worker's clone of its repository
    (workers.clones_dir), aligned with the account's git remote first and pushed
    after (never forced). Logs one `gitmonkey-task {json}` line when a task
    starts and one when it is done or failed. Stop it with SIGTERM: the task in
    hand finishes first (a second SIGTERM or SIGKILL stops at once; the task is
    then delivered again after the visibility timeout).

    \b
    Example:
      gitmonkey worker --config /etc/gitmonkey/gitmonkey.yaml --concurrency 4
    """
    config = load(config_path)
    settings = _settings(config, need_secret=True)
    _check_celery()
    from gitmonkey.distributed.app import make_app

    # The task reads the worker's own configuration file at every run (an edit is picked up).
    os.environ[CONFIG_ENV] = str(config.path)
    app = make_app(config, settings)
    # Imported once here, so pool processes forked from this one start warm.
    for module in ("gitmonkey.sync", "gitmonkey.audit.run", "gitmonkey.organization"):
        importlib.import_module(module)

    argv = [
        "worker",
        f"--concurrency={concurrency or settings.concurrency}",
        f"--queues={settings.queue}",
        f"--loglevel={loglevel.upper()}",
        "--pool=prefork",
        "--without-mingle",
        "--without-gossip",
        "--without-heartbeat",
    ]
    if hostname:
        argv.append(f"--hostname={hostname}")
    app.worker_main(argv)


@click.command()
@config_option
def schedule(config_path) -> None:
    """Enqueue a round of account tasks now and at every round boundary (workers.round_minutes).

    Runs until SIGTERM or SIGINT. The configuration is read again before each
    round, so added accounts (or organization accounts) are picked up. With an
    SQS FIFO queue, a second scheduler started by mistake enqueues nothing twice
    (the deduplication id is account id + round).

    \b
    Example:
      gitmonkey schedule --config /etc/gitmonkey/gitmonkey.yaml
    """
    config = load(config_path)
    _settings(config)
    _check_celery()
    from gitmonkey.distributed.rounds import schedule as run_schedule

    stop = threading.Event()

    def on_signal(_signum, _frame) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    def say(message: str) -> None:
        click.echo(f"{datetime.now(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')} {message}")
        sys.stdout.flush()

    try:
        run_schedule(config, stop, say=say)
    except ConfigError as exc:
        fail(f"config error: {exc}", EXIT_CONFIG)


@click.command()
@config_option
@click.option("--account", "accounts", multiple=True, metavar="NAME",
              help="Only this account, by name or id (repeatable).")
@format_option("text", "json")
def enqueue(config_path, accounts, output_format) -> None:
    """Enqueue one round of account tasks now (for cron or a CI schedule) and print them.

    \b
    Example:
      gitmonkey enqueue
      gitmonkey enqueue --account prod --format json

    Exit codes: 0 enqueued, 1 the broker could not be reached, an account has
    no remote (skipped) or the organization could not be read (its accounts:
    entries were enqueued), 2 bad configuration or an unknown account.
    """
    config = load(config_path)
    settings = _settings(config)
    _check_celery()
    from gitmonkey.distributed.rounds import enqueue_round

    try:
        report = enqueue_round(config, accounts=accounts, settings=settings)
    except ConfigError as exc:
        fail(f"config error: {exc}", EXIT_CONFIG)
    except Exception as exc:  # the broker's own errors (kombu, botocore, redis) have no common base
        fail(f"enqueueing failed: {type(exc).__name__}: {exc}", EXIT_ERROR)
    if output_format == "json":
        echo_json(report.to_dict())
    else:
        for task in report.tasks:
            click.echo(f"{task.account} ({task.account_id})  {task.task_id}")
        click.echo(report.summary())
    sys.exit(report.exit_code)


commands = [worker, schedule, enqueue]
