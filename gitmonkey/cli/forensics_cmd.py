"""``gitmonkey history | show | diff | at | compare | exposure``: forensics over the account repositories."""

from __future__ import annotations

import json
import re

import click

from gitmonkey import forensics
from gitmonkey.cli.common import config_option, echo_json, expected_errors, format_option, load
from gitmonkey.forensics import ForensicsError, ItemRef

_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")

account_option = click.option("--account", default=None, help="Only this account (name or id).")


def _safe(text: str) -> str:
    """Item names come from AWS: never let them move the cursor or recolour the terminal."""
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _table(rows: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))] if rows else []
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        click.echo("  ".join(cells).rstrip())


@click.command("history")
@click.argument("item")
@account_option
@format_option("text", "json")
@config_option
@expected_errors(ForensicsError)
def history_command(item: str, account: str | None, output_format: str, config_path: str | None) -> None:
    """List the commits that changed ITEM (an id, name, ARN or items/ path), newest first.

    \b
    Example:
      gitmonkey history sg-0abc1234
      gitmonkey history arn:aws:iam::123456789012:role/deploy --format json
      gitmonkey history items/global/s3/bucket/logs.json --account prod
    """
    config = load(config_path)
    ref = forensics.resolve_item(config, item, account=account)
    revisions = forensics.history(config, ref)
    if output_format == "json":
        echo_json({"item": ref.to_dict(), "revisions": [r.to_dict() for r in revisions]})
        return
    click.echo(_safe(f"{ref.account}  {ref.path}  {ref.label()}"))
    _table([[r.commit[:10], r.date, r.kind, _safe(r.subject)] for r in revisions])


@click.command("show")
@click.argument("item")
@click.option("--at", "at", default=None, metavar="WHEN",
              help="Content at that time: 2024-05-01, '2024-05-01 13:00:00', '3 days ago'.")
@account_option
@config_option
@expected_errors(ForensicsError)
def show_command(item: str, at: str | None, account: str | None, config_path: str | None) -> None:
    """Print ITEM's JSON document as it is now, or as it was at WHEN.

    \b
    Example:
      gitmonkey show web-sg
      gitmonkey show sg-0abc1234 --at '2024-05-01 13:00:00'
      gitmonkey show deploy --account prod --at '3 days ago'
    """
    config = load(config_path)
    ref = forensics.resolve_item(config, item, account=account)
    content = forensics.show(config, ref, at=at)
    if ref.deleted and at is None:
        gone = forensics.history(config, ref)[0]
        click.echo(f"note: deleted in {gone.commit[:10]} ({gone.date}); this is its last version", err=True)
    click.echo(content, nl=not content.endswith("\n"))


@click.command("diff")
@click.argument("item")
@click.option("--since", default=None, metavar="WHEN",
              help="Compare from that time (default: from the previous revision).")
@account_option
@config_option
@expected_errors(ForensicsError)
def diff_command(item: str, since: str | None, account: str | None, config_path: str | None) -> None:
    """Show a unified diff of ITEM from WHEN (or its previous revision) to now.

    \b
    Example:
      gitmonkey diff web-sg
      gitmonkey diff arn:aws:s3:::logs --since '2024-05-01'
      gitmonkey diff deploy --account prod --since '1 week ago'
    """
    config = load(config_path)
    ref = forensics.resolve_item(config, item, account=account)
    text = forensics.diff(config, ref, since=since)
    if not text:
        click.echo(f"no change to {_safe(ref.label())} since {since or 'its previous revision'}", err=True)
        return
    click.echo(text, nl=not text.endswith("\n"))


@click.command("at")
@click.argument("when")
@account_option
@format_option("text", "json")
@config_option
@expected_errors(ForensicsError)
def at_command(when: str, account: str | None, output_format: str, config_path: str | None) -> None:
    """List the items that existed at WHEN (marked "deleted since" when gone now).

    \b
    Example:
      gitmonkey at '2024-05-01 13:00:00'
      gitmonkey at '2 days ago' --account prod --format json
    """
    config = load(config_path)
    refs = forensics.items_at(config, when, account=account)
    if output_format == "json":
        echo_json([r.to_dict() for r in refs])
        return
    if not refs:
        click.echo(f"no items recorded at {when!r}", err=True)
    _table([_row(r) for r in refs])


def _row(ref: ItemRef) -> list[str]:
    return [_safe(s) for s in (ref.account, ref.region, ref.technology, ref.id, ref.name,
                               "(deleted since)" if ref.deleted else "")]


@click.command("compare")
@click.argument("item")
@click.option("--account", "accounts", multiple=True, metavar="NAME",
              help="Only items of these accounts (repeatable, globs).")
@click.option("--region", "regions", multiple=True, metavar="REGION",
              help="Only items in these regions (repeatable, globs).")
@click.option("--at", "at", default=None, metavar="WHEN", help="As the items were then.")
@format_option("text", "json")
@config_option
@expected_errors(ForensicsError)
def compare_command(item: str, accounts: tuple[str, ...], regions: tuple[str, ...], at: str | None,
                    output_format: str, config_path: str | None) -> None:
    """Compare ITEM (an id, name or ARN, or a glob of them) across accounts and regions: each
    configuration path whose value differs, with every item's value side by side.

    \b
    Example:
      gitmonkey compare deploy --account prod --account staging
      gitmonkey compare web-sg --region us-east-1 --region eu-west-1
      gitmonkey compare 'deploy*' --at '2026-11-01'
    """
    from gitmonkey import compare

    config = load(config_path)
    refs = compare.find(config, item, accounts=accounts, regions=regions, at=at)
    result = compare.compare(config, refs, at=at)
    if output_format == "json":
        echo_json(result.to_dict())
        return
    labels = [f"{r.account}/{r.region}/{r.id}" for r in result.items]
    rows = [["path", *labels]]
    rows += [[path, *(json.dumps(v, sort_keys=True, default=str) for v in values)]
             for path, values in result.differences]
    _table([[_safe(c) for c in row] for row in rows])
    click.echo(f"{len(result.differences)} path(s) differ, {result.same} the same, "
               f"across {len(labels)} items", err=True)


@click.command("exposure")
@click.option("--account", "accounts", multiple=True, metavar="NAME",
              help="Only these accounts (repeatable, globs on name or id).")
@click.option("--technology", "technologies", multiple=True, metavar="TECH",
              help="Only these technologies (repeatable, globs), e.g. 'rds.*'.")
@click.option("--at", "at", default=None, metavar="WHEN", help="As the account was then.")
@click.option("--all", "show_all", is_flag=True, help="Also list the items that are not reachable, with why.")
@format_option("text", "json")
@config_option
@expected_errors(ForensicsError)
def exposure_command(accounts: tuple[str, ...], technologies: tuple[str, ...], at: str | None, show_all: bool,
                     output_format: str, config_path: str | None) -> None:
    """List what is reachable from the internet (instances, load balancers, databases, Redshift,
    OpenSearch), on which ports, and the path: public address, route, security group, network ACL.

    Exit status 1 when something is reachable.

    \b
    Example:
      gitmonkey exposure
      gitmonkey exposure --account prod --technology 'rds.*' --all
      gitmonkey exposure --at '2026-11-01' --format json
    """
    from gitmonkey.exposure_report import exposure_report

    config = load(config_path)
    rows = exposure_report(config, accounts=accounts, technologies=technologies, at=at,
                           exposed_only=not show_all)
    if output_format == "json":
        echo_json([r.to_dict() for r in rows])
    else:
        table = [["account", "region", "technology", "id", "reachable on"]]
        for row in rows:
            table.append([_safe(c) for c in (row.account, row.region, row.technology, row.id,
                                              row.ports() if row.exposed else "not reachable")])
        if len(table) > 1:
            _table(table)
        for row in rows:
            for line in [o["path"] for o in row.openings] or row.reasons:
                click.echo(_safe(f"  {row.id}: {line}"))
        exposed = sum(r.exposed for r in rows)
        click.echo(f"{exposed} item(s) reachable from the internet", err=True)
        if at is not None:
            click.echo("note: auto-assigned public IPv4 addresses are ephemeral and not kept in history; "
                       "--at sees Elastic IPs and IPv6 addresses", err=True)
    if any(r.exposed for r in rows):
        raise SystemExit(1)


commands = [history_command, show_command, diff_command, at_command, compare_command, exposure_command]
