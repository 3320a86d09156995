"""`gitmonkey sync`, `gitmonkey status` and `gitmonkey demo`."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

import click

from gitmonkey.cli.common import EXIT_CONFIG, EXIT_ERROR, config_option, echo_json, fail, format_option, load
from gitmonkey.config import ConfigError, save_known_accounts


@click.command()
@config_option
@click.option("--account", "accounts", multiple=True, metavar="NAME", help="Only this account (repeatable).")
@click.option(
    "--technology",
    "technologies",
    multiple=True,
    metavar="TECH",
    help="Only this technology, e.g. iam.role or 'ec2.*' (repeatable).",
)
@click.option(
    "--region",
    "regions",
    multiple=True,
    metavar="REGION",
    help="Only this region; 'global' for IAM and S3 (repeatable).",
)
@click.option(
    "--allow-mass-delete",
    is_flag=True,
    help="Record a slice even if more than half of its items disappeared.",
)
@click.option(
    "--progress/--no-progress", default=None, help="Progress lines on stderr (default: on a terminal)."
)
@format_option("text", "json")
def sync(config_path, accounts, technologies, regions, allow_mass_delete, progress, output_format) -> None:
    """Read AWS and record every change as a commit in each account's repository.

    \b
    Example:
      gitmonkey sync
      gitmonkey sync --account prod --technology 'iam.*' --format json

    Exit codes: 0 all slices synced, 1 error before syncing (lock held, the
    organization could not be read), 2 bad configuration, 3 some slices failed
    (the others were recorded).

    With `organization:` in the config, the organization's accounts are
    discovered first (see `gitmonkey accounts`); the skipped ones are listed in
    the summary. If the organization cannot be read, the `accounts:` entries
    are synced all the same and the exit code is 1.
    """
    from gitmonkey.sync import render_summary, run_sync

    config = load(config_path, known_accounts=False)
    organization: dict[str, Any] | None = None
    if config.organization is not None:
        from gitmonkey.organization import OrganizationDiscoveryError, discover_accounts
        from gitmonkey.organization.report import sync_summary

        try:
            discovery = discover_accounts(config)
        except OrganizationDiscoveryError as exc:
            # A configured account never disappears because the organization could not be read.
            click.echo(f"gitmonkey: {exc}; syncing the accounts: entries only", err=True)
            organization = sync_summary(None, str(exc))
        else:
            config = dataclasses.replace(config, accounts=discovery.accounts)
            organization = sync_summary(discovery)
            save_known_accounts(config, discovery.accounts)
    show_progress = sys.stderr.isatty() if progress is None else progress
    try:
        report = run_sync(
            config,
            accounts=accounts,
            technologies=technologies,
            regions=regions,
            allow_mass_delete=allow_mass_delete,
            progress=(lambda msg: click.echo(msg, err=True)) if show_progress else None,
        )
    except ConfigError as exc:
        fail(f"config error: {exc}", EXIT_CONFIG)
    if output_format == "json":
        echo_json({**report.to_dict(), **({"organization": organization} if organization else {})})
    else:
        click.echo(render_summary(report))
        for skipped in (organization or {}).get("skipped", []):
            click.echo(f"skipped {skipped['name']} ({skipped['id']}): {skipped['reason']}")
        if organization and organization["error"]:
            click.echo(f"organization not read: {organization['error']}")
    sys.exit(EXIT_ERROR if organization and organization["error"] else report.exit_code)


@click.command()
@config_option
@click.option("--account", "accounts", multiple=True, metavar="NAME", help="Only this account (repeatable).")
@format_option("text", "json")
def status(config_path, accounts, output_format) -> None:
    """Show when each slice last synced, which fail and which are stale.

    \b
    Example:
      gitmonkey status --account prod
    """
    from gitmonkey.status import collect_status

    config = load(config_path)
    try:
        entries = collect_status(config, accounts=accounts)
    except ConfigError as exc:
        fail(str(exc), EXIT_CONFIG)
    if output_format == "json":
        echo_json(entries)
        return
    for entry in entries:
        head = (entry.get("head") or "")[:12]
        click.echo(f"{entry['account']} ({entry['account_id']})  {entry['repository']}  {head}")
        if not entry["synced"]:
            click.echo("  never synced")
            continue
        for s in entry["slices"]:
            flag = "FAILING" if s["failing"] else ("stale" if s["stale"] else "ok")
            click.echo(f"  {flag:<8} {s['slice']:<40} {s['items'] or 0:>6} items  {s['age']}")
            if s["last_error"]:
                click.echo(f"           {s['last_error']}")
        if entry.get("pending_notifications"):
            click.echo(f"  {entry['pending_notifications']} notifications pending")
    from gitmonkey.listen.health import health_lines, listen_health

    health = listen_health(config)
    if health is not None:
        click.echo(f"events  {health['queue_url']}")
        for line in health_lines(health):
            click.echo(line)
    from gitmonkey.distributed.health import workers_health, workers_lines

    workers = workers_health(config)
    if workers is not None:
        click.echo(f"workers  {workers.get('broker', '?')} queue {workers.get('queue')}")
        for line in workers_lines(workers):
            click.echo(line)


@click.command()
@click.argument("directory", required=False, default="gitmonkey-demo", type=click.Path(file_okay=False))
def demo(directory: str) -> None:
    """Run the whole loop against a simulated AWS account (moto), no credentials needed.

    \b
    Example:
      gitmonkey demo /tmp/gitmonkey-demo
    """
    from gitmonkey.demo import run_demo

    try:
        run_demo(Path(directory), echo=click.echo)
    except ModuleNotFoundError as exc:
        fail(f"the demo needs moto: pip install 'gitmonkey[demo]' ({exc})")


commands = [sync, status, demo]
