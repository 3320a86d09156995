"""``gitmonkey init`` and ``gitmonkey config validate``."""

from __future__ import annotations

from pathlib import Path

import click

from gitmonkey.cli.common import EXIT_CONFIG, config_option, echo_json, fail, format_option, load
from gitmonkey.config import DEFAULT_CONFIG_NAME, ConfigError, find_config_path, load_config
from gitmonkey.init import InitError, setup_repositories, write_example_config


@click.command("init")
@click.argument("directory", type=click.Path(file_okay=False), default=".")
@click.option("--force", is_flag=True, help="Overwrite an existing gitmonkey.yaml.")
@click.option("--repos", is_flag=True,
              help="Set up the account repositories of an existing config: create them, install the hooks.")
@click.option("--ci", "ci", multiple=True, type=click.Choice(["github", "gitlab"]),
              help="With --repos: also commit a CI job running 'gitmonkey check' (repeatable).")
@click.option("--pages", is_flag=True,
              help="With --ci: also commit a job publishing the account's site (gitmonkey site) to Pages.")
@config_option
def init_command(
    directory: str, force: bool, repos: bool, ci: tuple[str, ...], pages: bool, config_path: str | None
) -> None:
    """Write a commented example gitmonkey.yaml into DIRECTORY (default: here), or, with
    --repos, set up the account repositories of an existing configuration.

    \b
    Example:
      gitmonkey init ~/aws-history
      $EDITOR ~/aws-history/gitmonkey.yaml
      gitmonkey config validate --config ~/aws-history/gitmonkey.yaml
      gitmonkey init ~/aws-history --repos --ci github
      gitmonkey init ~/aws-history --repos --ci gitlab --pages
    """
    if repos or ci or pages:
        if ci and not repos:
            fail("--ci needs --repos", EXIT_CONFIG)
        if pages and not ci:
            fail("--pages needs --ci github or --ci gitlab", EXIT_CONFIG)
        config = load(config_path or str(Path(directory) / DEFAULT_CONFIG_NAME))
        try:
            done = setup_repositories(config, ci=ci, pages=pages)
        except (InitError, FileExistsError) as exc:
            fail(str(exc), EXIT_CONFIG)
        for setup in done:
            extra = f", committed {len(setup.ci_files)} CI files" if setup.commit else ""
            click.echo(f"{setup.account}: {setup.path} (hooks installed{extra})")
        return
    try:
        path = write_example_config(Path(directory) / DEFAULT_CONFIG_NAME, force=force)
    except InitError as exc:
        fail(str(exc), EXIT_CONFIG)
    except OSError as exc:
        fail(f"cannot write {Path(directory) / DEFAULT_CONFIG_NAME}: {exc.strerror}")
    click.echo(f"wrote {path}")
    click.echo("next: edit the accounts, run 'gitmonkey config validate', then 'gitmonkey init --repos'")


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


@click.command("iam-policy")
@config_option
@click.option("--technology", "technologies", multiple=True, metavar="GLOB",
              help="Only these technologies (repeatable; globs as in the config's technologies).")
@format_option("json", "text")
def iam_policy(config_path: str | None, technologies: tuple[str, ...], output_format: str) -> None:
    """Print the read-only IAM policy gitmonkey needs for the technologies the config enables: the
    watchers' actions, ec2:DescribeRegions if an account lists no regions, cloudtrail:LookupEvents
    with attribution enabled. --format text lists each action with what needs it.

    \b
    Example:
      gitmonkey iam-policy > gitmonkey-read-only.json
      gitmonkey iam-policy --technology 'iam.*' --format text
    """
    from gitmonkey import iam_policy as policy

    config = load(config_path)
    try:
        needed = policy.for_config(config, technologies)
    except ConfigError as exc:
        fail(str(exc), EXIT_CONFIG)
    if output_format == "json":
        echo_json(policy.policy_document(needed))
        return
    width = max((len(a) for a in needed), default=0)
    for action, users in needed.items():
        click.echo(f"{action:<{width}}  {', '.join(users)}")


commands = [init_command, config_group, iam_policy]
