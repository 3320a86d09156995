"""`gitmonkey accounts`: what the organization holds and what the configuration makes of it."""

from __future__ import annotations

import click

from gitmonkey.cli.common import EXIT_ERROR, config_option, echo_json, fail, format_option, load


@click.command()
@config_option
@format_option("table", "json")
def accounts(config_path, output_format) -> None:
    """List the accounts to sync: those of `organization:` and of `accounts:`.

    For each account: its name (its repository folder), id, OU path, state,
    whether it is synced or skipped and why, its role, regions and remote.
    Reads the organization from its management account (no AWS call without
    `organization:` in the config).

    \b
    Example:
      gitmonkey accounts
      gitmonkey accounts --format json

    Exit codes: 0 listed, 1 the organization could not be read, 2 bad configuration.
    """
    from gitmonkey.organization import OrganizationDiscoveryError, discover_accounts
    from gitmonkey.organization.report import discovery_dict, render_table

    config = load(config_path, known_accounts=False)
    try:
        discovery = discover_accounts(config)
    except OrganizationDiscoveryError as exc:
        fail(str(exc), EXIT_ERROR)
    if output_format == "json":
        echo_json(discovery_dict(discovery))
    else:
        click.echo(render_table(discovery))


commands = [accounts]
