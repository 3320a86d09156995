"""The ``gitmonkey`` command: a thin click layer over the library.

Each module of this package exports ``commands``, the click commands it adds.
"""

from __future__ import annotations

import click

from gitmonkey import __version__
from gitmonkey.cli import (
    accounts_cmd,
    audit_cmd,
    config_cmd,
    events_cmd,
    forensics_cmd,
    notify_cmd,
    report_cmd,
    site_cmd,
    sync_cmd,
    workers_cmd,
)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="gitmonkey")
def cli() -> None:
    """Track the security configuration of AWS accounts in git, audit it, and notify people."""


for _module in (config_cmd, sync_cmd, accounts_cmd, forensics_cmd, audit_cmd, notify_cmd, report_cmd,
                site_cmd, events_cmd, workers_cmd):
    for _command in _module.commands:
        cli.add_command(_command)


def main() -> None:
    cli(prog_name="gitmonkey")
