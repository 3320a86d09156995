"""``gitmonkey notify flush|status|test|retry`` and ``gitmonkey report``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from gitmonkey.cli.common import EXIT_ERROR, EXIT_PARTIAL, config_option, echo_json, fail, format_option, load
from gitmonkey.config import AccountConfig, Config, ConfigError


def _accounts(config: Config, names: tuple[str, ...]) -> list[AccountConfig]:
    try:
        return [config.account(n) for n in names] if names else list(config.accounts)
    except ConfigError as exc:
        fail(str(exc), 2)
        raise


def _state_dir(config: Config, account: AccountConfig) -> Path:
    return config.repo_path(account) / ".git" / "gitmonkey"


def _checked(config: Config) -> dict[str, Any]:
    from gitmonkey.notify import subscriptions

    try:
        subscriptions.load(config.notifications)
    except ConfigError as exc:
        fail(f"config error: {exc}", 2)
    return config.notifications


account_option = click.option(
    "--account", "accounts", multiple=True, metavar="NAME", help="Only this account (repeatable)."
)


@click.group("notify")
def notify() -> None:
    """Deliver, inspect and test notifications (the outbox in .git/gitmonkey/outbox/)."""


@notify.command("flush")
@config_option
@account_option
@format_option("text", "json")
def flush_cmd(config_path: str | None, accounts: tuple[str, ...], output_format: str) -> None:
    """Deliver the pending messages that are due; exit 3 if some are still waiting.

    \b
    Example:
      gitmonkey notify flush --account prod
    """
    from gitmonkey.notify import flush

    config = load(config_path)
    notifications = _checked(config)
    results = []
    for account in _accounts(config, accounts):
        result = flush(_state_dir(config, account), notifications)
        results.append({"account": account.name, "delivered": result.delivered, "pending": result.pending,
                        "dead": result.dead, "errors": result.errors, "busy": result.busy})
    if output_format == "json":
        echo_json(results)
    else:
        for r in results:
            busy = " (another flush is running)" if r["busy"] else ""
            click.echo(f"{r['account']}: {r['delivered']} delivered, {r['pending']} pending, "
                       f"{r['dead']} given up{busy}")
            for error in r["errors"]:
                click.echo(f"  {error}")
    if any(r["pending"] or r["dead"] for r in results):
        sys.exit(EXIT_PARTIAL)


@notify.command("status")
@config_option
@account_option
@format_option("text", "json")
def status_cmd(config_path: str | None, accounts: tuple[str, ...], output_format: str) -> None:
    """Show pending and given-up messages per account.

    \b
    Example:
      gitmonkey notify status --format json
    """
    from gitmonkey.notify.outbox import Outbox

    config = load(config_path)
    rows = []
    for account in _accounts(config, accounts):
        outbox = Outbox(_state_dir(config, account))
        pending = outbox.pending()
        rows.append({
            "account": account.name,
            "pending": [_summary(m) for m in pending],
            "dead": [_summary(m) for m in outbox.dead()],
        })
    if output_format == "json":
        echo_json(rows)
        return
    for row in rows:
        click.echo(f"{row['account']}: {len(row['pending'])} pending, {len(row['dead'])} given up")
        for m in row["pending"]:
            click.echo(f"  pending  {m['recipient']:<16} {m['subject'][:60]}  next {m['next_attempt']}"
                       f"  attempts {m['attempts']}")
            if m["last_error"]:
                click.echo(f"           {m['last_error']}")
        for m in row["dead"]:
            click.echo(f"  dead     {m['recipient']:<16} {m['subject'][:60]}")
            click.echo(f"           {m['last_error']}")


_SUMMARY_KEYS = (
    "key", "recipient", "channel", "subject", "created", "next_attempt", "attempts", "last_error", "state",
)


def _summary(message: dict[str, Any]) -> dict[str, Any]:
    return {k: message.get(k) for k in _SUMMARY_KEYS}


@notify.command("test")
@click.argument("recipient")
@config_option
@click.option("--account", "account_name", metavar="NAME", help="Account named in the test message.")
def test_cmd(recipient: str, config_path: str | None, account_name: str | None) -> None:
    """Send a test message to RECIPIENT now, bypassing the outbox.

    \b
    Example:
      gitmonkey notify test security-team
    """
    from gitmonkey.notify import DeliveryError, send_test

    config = load(config_path)
    notifications = _checked(config)
    account = _accounts(config, (account_name,))[0] if account_name else None
    try:
        message = send_test(notifications, recipient, account=account)
    except ConfigError as exc:
        fail(f"config error: {exc}", 2)
    except DeliveryError as exc:
        fail(f"test message to {recipient} failed: {exc}", EXIT_ERROR)
    click.echo(f"sent test message to {recipient} via {message['channel']}")


@notify.command("retry")
@config_option
@account_option
def retry_cmd(config_path: str | None, accounts: tuple[str, ...]) -> None:
    """Move given-up messages back to pending (after fixing a channel), then run notify flush.

    \b
    Example:
      gitmonkey notify retry --account prod && gitmonkey notify flush
    """
    from gitmonkey.notify.outbox import Outbox, utcnow

    config = load(config_path)
    for account in _accounts(config, accounts):
        moved = Outbox(_state_dir(config, account)).requeue_dead(utcnow())
        click.echo(f"{account.name}: {moved} message{'s' if moved != 1 else ''} back in the outbox")


@click.command("report")
@config_option
@account_option
@click.option("--send", is_flag=True, help="Send to recipients with report: true (once per day).")
@click.option("--include-justified", is_flag=True, help="Also list justified issues.")
@format_option("text", "json")
def report(
    config_path: str | None, accounts: tuple[str, ...], send: bool, include_justified: bool,
    output_format: str,
) -> None:
    """The audit report: open issues by account and score. Meant for a daily schedule.

    Without --send it prints the report. With --send each recipient with ``report: true`` gets
    it through the outbox, at most once per UTC day.

    \b
    Example:
      gitmonkey report --account prod
      gitmonkey report --send          # from cron, daily
    """
    from gitmonkey.notify import flush
    from gitmonkey.notify.report import build_report, enqueue_report, filtered, render_report

    config = load(config_path)
    notifications = _checked(config) if send else config.notifications
    reports = []
    exit_code = 0
    for account in _accounts(config, accounts):
        full = build_report(config.repo_path(account), account)
        shown = filtered(full, None, include_justified=include_justified)
        reports.append(shown)
        if send:
            state = _state_dir(config, account)
            queued = enqueue_report(state, full, notifications, include_justified=include_justified)
            result = flush(state, notifications)
            if output_format == "text":
                click.echo(f"{account.name}: {queued} report message(s) queued; {result}", err=True)
                for error in result.errors:
                    click.echo(f"  {error}", err=True)
            if result.pending or result.dead:
                exit_code = EXIT_PARTIAL
    if output_format == "json":
        echo_json([r.to_dict() for r in reports])
    elif not send:
        click.echo("\n".join(render_report(r).text for r in reports), nl=False)
    sys.exit(exit_code)


# ``report`` is registered by ``report_cmd``, which adds --framework (the compliance report) to it.
commands = [notify]
