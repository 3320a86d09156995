"""`gitmonkey report`: the daily audit report, or with --framework the compliance report of a
framework (CIS AWS Foundations v3.0, AWS FSBP).

Without --framework it runs the audit report of ``notify_cmd`` (its options and behaviour
unchanged); ``notify_cmd`` leaves the ``report`` name to this command.
"""

from __future__ import annotations

import sys

import click

from gitmonkey.cli.common import EXIT_CONFIG, config_option, fail, format_option, load
from gitmonkey.cli.notify_cmd import account_option
from gitmonkey.cli.notify_cmd import report as audit_report
from gitmonkey.compliance.catalogue import known_frameworks


@click.command("report")
@click.option("--framework", type=click.Choice(known_frameworks()), default=None,
              help="Report the controls of this compliance framework instead of the audit report.")
@config_option
@account_option
@click.option("--send", is_flag=True, help="Send to recipients with report: true (once per day).")
@click.option("--include-justified", is_flag=True, help="Also list justified issues.")
@format_option("text", "json", "markdown")
def report(framework: str | None, config_path: str | None, accounts: tuple[str, ...], send: bool,
           include_justified: bool, output_format: str) -> None:
    """The audit report (open issues by account and score, meant for a daily schedule), or with
    --framework the compliance report: per account, each control of the framework as pass, fail
    (with the failing items) or not evaluated (with the reason).

    Without --framework: without --send it prints the audit report; with --send each recipient
    with ``report: true`` gets it through the outbox, at most once per UTC day.

    With --framework: read from the issue files at HEAD of each account repository and the sync
    state of its slices. Exit status 0 when no control fails and every control a rule implements
    could be evaluated; 1 when a control fails; 3 when none fails but some could not be evaluated
    for want of data (a failing, stale or never-read slice, an account never synced, an audit
    pending); 2 on a configuration error. See docs/readme/compliance.md.

    \b
    Example:
      gitmonkey report --account prod
      gitmonkey report --send          # from cron, daily
      gitmonkey report --framework cis-aws-3.0 --account prod --format markdown
    """
    if framework is None:
        if output_format == "markdown":
            fail("--format markdown needs --framework", EXIT_CONFIG)
        audit_report.callback(  # type: ignore[misc]
            config_path=config_path, accounts=accounts, send=send, include_justified=include_justified,
            output_format=output_format,
        )
        return
    if send or include_justified:
        fail("--send and --include-justified are options of the audit report, not of --framework",
             EXIT_CONFIG)
    compliance_report(framework, config_path, accounts, output_format)


def compliance_report(framework: str, config_path: str | None, accounts: tuple[str, ...],
                      output_format: str) -> None:
    """Print the compliance report of ``framework`` and exit with its status."""
    from gitmonkey.audit.rules import RuleError
    from gitmonkey.compliance import report as compliance
    from gitmonkey.config import ConfigError

    config = load(config_path)
    try:
        result = compliance.build_report(config, framework, accounts=accounts)
    except (RuleError, ConfigError) as exc:
        fail(str(exc), EXIT_CONFIG)
        return
    renderer = {"text": compliance.render_text, "json": compliance.render_json,
                "markdown": compliance.render_markdown}[output_format]
    click.echo(renderer(result), nl=False)
    sys.exit(result.exit_code)


commands = [report]
