"""``gitmonkey init`` and ``gitmonkey config validate``."""

from __future__ import annotations

from pathlib import Path

import click

from gitmonkey.cli.common import EXIT_CONFIG, config_option, echo_json, fail, format_option
from gitmonkey.config import DEFAULT_CONFIG_NAME, ConfigError, find_config_path, load_config
from gitmonkey.init import InitError, write_example_config


@click.command("init")
@click.argument("directory", type=click.Path(file_okay=False), default=".")
@click.option("--force", is_flag=True, help="Overwrite an existing gitmonkey.yaml.")
def init_command(directory: str, force: bool) -> None:
    """Write a commented example gitmonkey.yaml into DIRECTORY (default: here).

    \b
    Example:
      gitmonkey init ~/aws-history
      $EDITOR ~/aws-history/gitmonkey.yaml
      gitmonkey config validate --config ~/aws-history/gitmonkey.yaml
    """
    try:
        path = write_example_config(Path(directory) / DEFAULT_CONFIG_NAME, force=force)
    except InitError as exc:
        fail(str(exc), EXIT_CONFIG)
    except OSError as exc:
        fail(f"cannot write {Path(directory) / DEFAULT_CONFIG_NAME}: {exc.strerror}")
    click.echo(f"wrote {path}")
    click.echo("next: edit the accounts, then run 'gitmonkey config validate'")


@click.group("config")
def config_group() -> None:
    """Check the configuration."""


@config_group.command("validate")
@config_option
@format_option("text", "json")
def validate_command(config_path: str | None, output_format: str) -> None:
    """Validate gitmonkey.yaml: print "ok", or every problem with its key path (exit 2).

    \b
    Example:
      gitmonkey config validate --config prod/gitmonkey.yaml
      GITMONKEY_CONFIG=prod/gitmonkey.yaml gitmonkey config validate
    """
    path = find_config_path(config_path)
    try:
        config = load_config(path)
    except ConfigError as exc:
        if output_format == "json":
            echo_json({"path": str(path), "ok": False, "errors": exc.errors})
        else:
            click.echo(f"gitmonkey: config error: {exc}", err=True)
        raise SystemExit(EXIT_CONFIG) from None
    if output_format == "json":
        echo_json({"path": str(config.path), "ok": True, "errors": []})
    else:
        click.echo("ok")


commands = [init_command, config_group]
