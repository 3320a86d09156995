"""`gitmonkey site OUT_DIR`: the static dashboard of every account (``gitmonkey.site.build``)."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from gitmonkey.cli.common import config_option, echo_json, expected_errors, format_option, load
from gitmonkey.site.build import SiteError


@click.command("site")
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option("--account", "accounts", multiple=True, metavar="NAME",
              help="Only these accounts (repeatable, name or id).")
@click.option("--since", default=None, metavar="WHEN",
              help="Changes and charts from this date on (YYYY-MM-DD or any date git reads).")
@format_option("text", "json")
@config_option
@expected_errors(SiteError)
def site_command(out_dir: str, accounts: tuple[str, ...], since: str | None, output_format: str,
                 config_path: str | None) -> None:
    """Write a static site of every account to OUT_DIR: an overview (open issues by score band,
    unjustified high scores, failing or stale slices, expiring justifications, charts over time),
    one table of every issue (sortable, filterable), the change feed, and a page per item with its
    document, its issues and its history. Plain HTML, CSS and a little JavaScript: it opens from
    file:// and from GitHub / GitLab Pages, and makes no request elsewhere. A rebuild rewrites only
    the pages whose items or issues changed.

    \b
    Example:
      gitmonkey site public/
      gitmonkey site public/ --account prod --since 2026-11-01
    """
    from gitmonkey.forensics import parse_when
    from gitmonkey.site.build import build_site

    config = load(config_path)
    when = datetime.fromtimestamp(parse_when(config, since), UTC) if since else None
    report = build_site(config, out_dir, accounts=accounts, since=when)
    if output_format == "json":
        echo_json(report.to_dict())
        return
    for error in report.errors:
        click.echo(f"warning: {error}", err=True)
    click.echo(f"{report.pages} pages in {out_dir} ({len(report.written)} written, "
               f"{len(report.removed)} removed); open {report.out_dir / 'index.html'}")


commands = [site_command]
