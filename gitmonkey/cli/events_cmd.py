"""``gitmonkey listen`` and ``gitmonkey events template`` (the CloudFormation that sets it up)."""

from __future__ import annotations

import signal
import sys
import threading

import click

from gitmonkey.cli.common import EXIT_CONFIG, config_option, echo_json, fail, format_option, load
from gitmonkey.config import ConfigError
from gitmonkey.listen.templates import ACCOUNT_ID, ORGANIZATION_ID, write_templates


@click.group("events")
def events_group() -> None:
    """Set up event-driven collection (gitmonkey listen)."""


@events_group.command("template")
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option("--organization-id", default=None, metavar="o-...",
              help="Let every account of this AWS Organization put events on the central bus.")
@click.option("--account", "accounts", multiple=True, metavar="ID",
              help="Let this account (12 digits) put events on the central bus (repeatable).")
@click.option("--central-bus-arn", default=None, metavar="ARN",
              help="The central bus, if it already exists: the forwarder's default CentralEventBusArn.")
def template_command(out_dir: str, organization_id: str | None, accounts: tuple[str, ...],
                     central_bus_arn: str | None) -> None:
    """Write the CloudFormation templates of event-driven collection into OUT_DIR:
    gitmonkey-events-central.yaml (the SQS queue gitmonkey listen reads, its dead-letter queue,
    and the EventBridge bus 'gitmonkey' the watched accounts forward to) and
    gitmonkey-events-forwarder.yaml (in every watched account and region, and in us-east-1,
    where IAM's and other global services' events arrive: a rule forwarding them to that bus).

    \b
    Example:
      gitmonkey events template cfn/ --organization-id o-a1b2c3d4e5
      gitmonkey events template cfn/ --account 111122223333 --account 444455556666
    """
    if organization_id is not None and not ORGANIZATION_ID.match(organization_id):
        fail(f"--organization-id {organization_id!r}: expected 'o-' and 10 to 32 lowercase letters or digits",
             EXIT_CONFIG)
    for account in accounts:
        if not ACCOUNT_ID.match(account):
            fail(f"--account {account!r}: expected a 12-digit AWS account id", EXIT_CONFIG)
    if organization_id and accounts:
        fail("give --organization-id or --account, not both", EXIT_CONFIG)
    try:
        central, forwarder = write_templates(
            out_dir, organization_id=organization_id, account_ids=accounts, central_bus_arn=central_bus_arn
        )
    except ValueError as exc:
        fail(str(exc), EXIT_CONFIG)
    except OSError as exc:
        fail(f"cannot write into {out_dir}: {exc.strerror}")
    click.echo(f"wrote {central}")
    click.echo(f"wrote {forwarder}")
    targets = (f"every account of {organization_id}" if organization_id
               else ", ".join(accounts) if accounts else "this account only")
    bus = central_bus_arn or "<EventBusArn output of gitmonkey-events>"
    if organization_id:
        permissions = (
            "--permission-model SERVICE_MANAGED \\\n"
            "      --auto-deployment Enabled=true,RetainStacksOnAccountRemoval=false"
        )
        where = "--deployment-targets OrganizationalUnitIds=<ou-...>"
        note = "(service-managed StackSets skip the management account: deploy there as for one account.)"
    else:
        permissions = "--permission-model SELF_MANAGED"
        where = f"--accounts {' '.join(accounts) or '<account ids>'}"
        note = "(self-managed StackSets need their administration and execution roles.)"
    click.echo(f"""
Central stack (once, in the account and region running gitmonkey listen; accepts events from {targets}):
  aws cloudformation deploy --stack-name gitmonkey-events --template-file {central}
  aws cloudformation describe-stacks --stack-name gitmonkey-events --query 'Stacks[0].Outputs'
  then set events.queue_url in gitmonkey.yaml to its QueueUrl output.

Forwarder (a StackSet: every watched account, the central one included, in every watched region
AND us-east-1, where IAM's, Route 53's and other global services' events arrive):
  aws cloudformation create-stack-set --stack-set-name gitmonkey-events-forwarder \\
      --template-body file://{forwarder} --capabilities CAPABILITY_IAM \\
      --parameters ParameterKey=CentralEventBusArn,ParameterValue={bus} \\
      {permissions}
  aws cloudformation create-stack-instances --stack-set-name gitmonkey-events-forwarder \\
      {where} --regions us-east-1 <watched regions...>
  {note}
  For one account: aws cloudformation deploy --stack-name gitmonkey-events-forwarder \\
      --template-file {forwarder} --capabilities CAPABILITY_IAM \\
      --parameter-overrides CentralEventBusArn={bus} \\
      --region R   (us-east-1 and each watched region R)

CloudTrail must record management events in every watched account (a multi-region trail or an
organization trail).""")




@events_group.command("status")
@config_option
@format_option("text", "json")
def events_status(config_path, output_format) -> None:
    """Show the event queue's depth, its dead-letter queue (messages no listener could read) and
    what the last `gitmonkey listen` run did. Exit 1 when the dead-letter queue holds messages.

    \b
    Example:
      gitmonkey events status --format json
    """
    from gitmonkey.listen.health import health_lines, listen_health

    config = load(config_path)
    health = listen_health(config)
    if health is None:
        fail("events: not configured (add events.queue_url; see `gitmonkey events template`)", EXIT_CONFIG)
    if output_format == "json":
        echo_json(health)
    else:
        click.echo(f"events  {health['queue_url']}")
        for line in health_lines(health):
            click.echo(line)
    sys.exit(1 if (health.get("dead_letter") or {}).get("messages") else 0)


@click.command("listen")
@config_option
@click.option("--once", is_flag=True, help="Stop when the queue has nothing more to give.")
@click.option("--max-messages", type=click.IntRange(min=1), default=None, metavar="N",
              help="Stop after receiving N messages.")
@click.option("--progress/--no-progress", default=None,
              help="A line per recorded batch on stderr (default: on a terminal).")
@format_option("text", "json")
def listen(config_path, once, max_messages, progress, output_format) -> None:
    """Record each change seconds after it happens: read the CloudTrail events EventBridge
    delivers to the SQS queue of `events.queue_url`, re-read the items they name, and commit each
    changed item authored by the AWS principal who made the change. SIGTERM (or Ctrl-C) finishes
    the batch in hand and exits 0. Keep a daily `gitmonkey sync` as the safety net.

    \b
    Example:
      gitmonkey listen
      gitmonkey listen --once --format json
    """
    from gitmonkey.listen.run import run_listener

    config = load(config_path)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    show_progress = sys.stderr.isatty() if progress is None else progress
    try:
        report = run_listener(
            config, once=once, max_messages=max_messages, stop=stop,
            progress=(lambda msg: click.echo(msg, err=True)) if show_progress else None,
        )
    except ConfigError as exc:
        fail(f"config error: {exc}", EXIT_CONFIG)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if output_format == "json":
        echo_json(report.to_dict())
    else:
        skipped = sum(report.skipped.values())
        click.echo(
            f"listen {report.run_id}: {report.received} messages received, {report.recorded} recorded, "
            f"{skipped} skipped, {report.poison} unreadable (left for the dead-letter queue), "
            f"{report.retried} kept for a retry; {report.commits} commits, {report.api_calls} API calls"
            + (f"; {report.tasks} tasks handed to the workers" if report.tasks else "")
        )
        for error in report.errors:
            click.echo(f"  error: {error}")


commands = [events_group, listen]
