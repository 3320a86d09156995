"""Pieces shared by the click commands: the --config option, errors, output."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any

import click

from gitmonkey.config import Config, ConfigError, load_config, with_known_accounts

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CONFIG = 2
EXIT_PARTIAL = 3


def config_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--config PATH`` (default: $GITMONKEY_CONFIG, then ./gitmonkey.yaml)."""
    return click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False),
        default=None,
        help="Configuration file (default: $GITMONKEY_CONFIG, then ./gitmonkey.yaml).",
    )(func)


def format_option(*choices: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    choices = choices or ("text", "json")
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(choices),
        default=choices[0],
        show_default=True,
        help="Output format.",
    )


def load(config_path: str | None, *, known_accounts: bool = True) -> Config:
    """Load the configuration or exit 2 with the validation message. With ``organization:``, the
    accounts include those the last discovery found (``known_accounts=False``: only the config's,
    for the commands that discover)."""
    try:
        config = load_config(config_path)
        return with_known_accounts(config) if known_accounts else config
    except ConfigError as exc:
        click.echo(f"gitmonkey: config error: {exc}", err=True)
        sys.exit(EXIT_CONFIG)


def fail(message: str, code: int = EXIT_ERROR) -> None:
    click.echo(f"gitmonkey: {message}", err=True)
    sys.exit(code)


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


def expected_errors(*exceptions: type[BaseException]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Turn the library's expected exceptions into a one-line message and exit 1, not a traceback."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return func(*args, **kwargs)
            except ConfigError as exc:
                fail(f"config error: {exc}", EXIT_CONFIG)
            except exceptions as exc:
                fail(str(exc))

        return wrapper

    return decorate
