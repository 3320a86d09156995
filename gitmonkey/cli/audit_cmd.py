"""Audit commands: audit, issues, rules list/test, justify, check, and the internal hook."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Any

import click

from gitmonkey.cli.common import (
    EXIT_CONFIG,
    EXIT_ERROR,
    EXIT_OK,
    config_option,
    echo_json,
    fail,
    format_option,
    load,
)
from gitmonkey.config import AccountConfig, Config, ConfigError, find_config_path


def _accounts(config: Config, name: str | None) -> list[AccountConfig]:
    if name is None:
        return list(config.accounts)
    try:
        return [config.account(name)]
    except ConfigError as exc:
        fail(str(exc), EXIT_CONFIG)
        raise


def _open(config: Config, account: AccountConfig, *, create: bool = False) -> Any:
    from gitmonkey.store import AccountRepository, RepositoryError

    try:
        return AccountRepository.open(config.repo_path(account), create=create,
                                      committer_name=config.committer_name,
                                      committer_email=config.committer_email)
    except RepositoryError as exc:
        fail(f"{account.name}: {exc}")
        raise


@click.command()
@click.option("--all", "everything", is_flag=True, help="Re-audit every item, not only what hooks missed.")
@click.option("--account", help="Only this account (name or id).")
@format_option("text", "json")
@config_option
def audit(everything: bool, account: str | None, output_format: str, config_path: str | None) -> None:
    """Audit account repositories and commit the issue files.

    Without --all, audits the ranges a hook could not audit (recorded in
    .git/gitmonkey/audit-pending.json). With --all, re-evaluates every item; re-running it
    changes nothing.

    \b
    Example:
      gitmonkey audit --all --account prod
    """
    from gitmonkey import hooks
    from gitmonkey.audit.rules import RuleError
    from gitmonkey.audit.run import audit_all
    from gitmonkey.store import RepositoryLocked

    config = load(config_path)
    summaries: dict[str, Any] = {}
    code = EXIT_OK
    for acct in _accounts(config, account):
        repo = _open(config, acct)
        try:
            with repo.lock(by="audit"):
                if everything:
                    # The audited-head marker, pending ranges and owed audit commits are left
                    # to the hooks and syncs: they still owe the item events and any issue
                    # events of an interrupted run, which --all does not produce.
                    result = audit_all(repo, config, acct)
                    summary = result.to_dict()
                    summary["notify"] = hooks.hand_to_notifier(repo, config, acct, None, None, result.events)
                else:
                    summary = hooks.audit_and_notify(repo, config, acct, None, None, [],
                                                     recheck_justifications=True)
        except RepositoryLocked as exc:
            summaries[acct.name] = {"error": str(exc)}
            click.echo(f"{acct.name}: {exc}", err=True)
            code = EXIT_ERROR
            continue
        except (RuleError, ConfigError) as exc:
            fail(f"{acct.name}: {exc}", EXIT_CONFIG)
        summaries[acct.name] = summary
        if output_format == "text":
            click.echo(_audit_line(acct.name, summary))
            for error in summary.get("errors", []):
                click.echo(f"  warning: {error}", err=True)
    if output_format == "json":
        echo_json(summaries)
    sys.exit(code)


def _audit_line(name: str, summary: dict[str, Any]) -> str:
    if "counts" not in summary or not (summary.get("audited") or any(summary["counts"].values())):
        return f"{name}: nothing to audit"
    counts = ", ".join(f"{v} {k}" for k, v in summary["counts"].items())
    commit = summary.get("commit")
    return f"{name}: {summary['audited']} items audited, {counts}" + (f" [{commit[:10]}]" if commit else "")


@click.command()
@click.option("--account", help="Only this account (name or id).")
@click.option("--technology", help="Only this technology (glob), e.g. 'iam.*'.")
@click.option("--min-score", type=int, help="Only issues scoring at least N.")
@click.option("--justified/--unjustified", default=None, help="Only justified (or only unjustified) issues.")
@format_option("table", "json", "csv", "sarif")
@config_option
def issues(account: str | None, technology: str | None, min_score: int | None, justified: bool | None,
           output_format: str, config_path: str | None) -> None:
    """List the issues recorded in the account repositories.

    \b
    Example:
      gitmonkey issues --min-score 10 --unjustified
      gitmonkey issues --format sarif > gitmonkey.sarif
    """
    from gitmonkey.audit import output

    config = load(config_path)
    errors: list[str] = []
    runs = []
    for acct in _accounts(config, account):
        if not (config.repo_path(acct) / ".git").is_dir():
            continue
        repo = _open(config, acct)
        rows = output.sort_rows(output.filter_rows(
            output.read_issue_rows(repo, acct.name, acct.id, errors),
            technology=technology, min_score=min_score, justified=justified,
        ))
        runs.append((acct, repo, rows))
    for error in errors:
        click.echo(f"warning: {error}", err=True)
    all_rows = [row for _, _, rows in runs for row in rows]
    if output_format == "table":
        click.echo(output.render_table(all_rows), nl=False)
    elif output_format == "json":
        click.echo(output.render_json(all_rows), nl=False)
    elif output_format == "csv":
        click.echo(output.render_csv(all_rows), nl=False)
    else:
        sarif_runs = []
        for acct, repo, rows in runs:
            paths = sorted({r.item.path for r in rows})
            blobs = repo.list_blobs("items/")
            contents = repo.read_blobs(blobs[p] for p in paths if p in blobs)
            sarif_runs.append((acct.name, rows, {p: contents[blobs[p]] for p in paths if p in blobs}))
        echo_json(output.render_sarif(sarif_runs, _rule_info(config)))


def _rule_info(config: Config) -> dict[str, dict[str, Any]]:
    from gitmonkey.audit.rules import RuleError
    from gitmonkey.audit.run import load_ruleset

    try:
        ruleset = load_ruleset(config)
    except (RuleError, ConfigError):
        return {}
    return {r.id: {"title": r.title, "description": r.description, "remediation": r.remediation,
                   "score": r.score, "compliance": {k: list(v) for k, v in r.compliance.items()}}
            for r in ruleset.rules}


@click.group()
def rules() -> None:
    """List the audit rules, or run rule test cases."""


@rules.command("list")
@click.option("--technology", help="Only rules for this technology (glob).")
@format_option("text", "json")
@config_option
def rules_list(technology: str | None, output_format: str, config_path: str | None) -> None:
    """List every rule (built-in, rule_dirs, entry points) with its effective score.

    \b
    Example:
      gitmonkey rules list --technology 'iam.*'
    """
    import fnmatch

    from gitmonkey.audit.rules import RuleError

    try:
        ruleset = _ruleset_for(config_path)
    except (RuleError, ConfigError) as exc:
        fail(str(exc), EXIT_CONFIG)
    selected = [r for r in ruleset.rules
                if technology is None or fnmatch.fnmatchcase(r.technology, technology)]
    if output_format == "json":
        echo_json([{"id": r.id, "technology": r.technology, "score": r.score, "title": r.title,
                    "description": r.description, "remediation": r.remediation, "source": r.source,
                    "enabled": r.enabled, "compliance": {k: list(v) for k, v in r.compliance.items()}}
                   for r in selected])
        return
    width = max((len(r.id) for r in selected), default=2)
    tech_width = max((len(r.technology) for r in selected), default=10)
    for r in sorted(selected, key=lambda r: (r.technology, r.id)):
        flag = "" if r.enabled else "  (disabled)"
        controls = " ".join(f"{k}/{c}" for k, ids in sorted(r.compliance.items()) for c in ids)
        controls = f"  [{controls}]" if controls else ""
        click.echo(f"{r.id:<{width}}  {r.technology:<{tech_width}}  {r.score:>2}  {r.title}{flag}{controls}")


@rules.command("test")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@config_option
def rules_test(files: tuple[str, ...], config_path: str | None) -> None:
    """Run rule case files (fires:/passes: items); exit 1 if any case fails.

    \b
    Example:
      gitmonkey rules test tests/rule_cases/s3_bucket_public_acl.yaml
    """
    from gitmonkey.audit.rules import RuleError

    try:
        ruleset = _ruleset_for(config_path)
        failures = [f"{name}: {failure}" for name in files for failure in ruleset.test_file(Path(name))]
    except (RuleError, ConfigError) as exc:
        fail(str(exc), EXIT_CONFIG)
    for failure in failures:
        click.echo(failure)
    click.echo(f"{len(files)} file(s), {len(failures)} failure(s)")
    sys.exit(EXIT_ERROR if failures else EXIT_OK)


def _ruleset_for(config_path: str | None) -> Any:
    """The rules of the configuration, or the built-in ones when there is no configuration file
    (rules can be listed and tested before anything is set up)."""
    from gitmonkey.audit.rules import RuleSet

    if config_path or find_config_path().exists():
        config = load(config_path)
        return RuleSet.load(config.audit, base_dir=config.path.parent)
    return RuleSet.load({}, base_dir=Path.cwd())


def _repo_path(repo: str | None, account: str | None, config_path: str | None) -> Path:
    if repo:
        return Path(repo)
    if account:
        config = load(config_path)
        return config.repo_path(_accounts(config, account)[0])
    return Path.cwd()


@click.command()
@click.argument("fingerprint")
@click.option("--reason", required=True, help="Why the issue is accepted.")
@click.option("--expires", type=click.DateTime(formats=["%Y-%m-%d"]), help="Last day it holds (YYYY-MM-DD).")
@click.option("--by", help="Who justifies it (default: git config user.name).")
@click.option("--branch", is_flag=True, help="Commit on a new branch justify/FINGERPRINT for review.")
@click.option("--repo", type=click.Path(file_okay=False), help="Account repository (default: .).")
@click.option("--account", help="Account whose repository to use (instead of --repo).")
@click.option("--force", is_flag=True, help="Justify even if no issue has this fingerprint yet.")
@config_option
def justify(fingerprint: str, reason: str, expires: Any, by: str | None, branch: bool, repo: str | None,
            account: str | None, force: bool, config_path: str | None) -> None:
    """Justify an issue: write justifications/FINGERPRINT.yaml and commit it.

    The commit is a normal `git commit` (hooks fire, so the issue is marked justified at once
    on main). With --branch it goes on justify/FINGERPRINT, ready to push for review.

    \b
    Example:
      gitmonkey justify 3f2a9c0d1e2b4a5c --reason "public website" --expires 2025-12-31 --branch
    """
    from gitmonkey.audit.justify import JustificationError, write_justification

    path = _repo_path(repo, account, config_path)
    if not force and not _known_fingerprint(path, fingerprint):
        fail(f"no issue in {path / 'issues'} has fingerprint {fingerprint!r} (--force justifies it anyway)")
    expiry: date | None = expires.date() if expires else None
    try:
        result = write_justification(path, fingerprint, reason, by=by, expires=expiry, branch=branch)
    except JustificationError as exc:
        fail(str(exc))
        return
    click.echo(f"justified {fingerprint} in {result.path.relative_to(path)} [{result.commit[:10]}]")
    if result.branch:
        click.echo(f"push it for review: git -C {path} push origin {result.branch}")


def _known_fingerprint(repo_path: Path, fp: str) -> bool:
    issues_dir = repo_path / "issues"
    return issues_dir.is_dir() and any(
        fp in p.read_text(encoding="utf-8", errors="replace") for p in issues_dir.rglob("*.yaml")
    )


@click.command()
@click.option(
    "--repo", type=click.Path(file_okay=False, exists=True), help="Account repository (default: .)."
)
@click.option("--account", help="Account whose repository to check (instead of --repo).")
@format_option("text", "json")
@config_option
def check(repo: str | None, account: str | None, output_format: str, config_path: str | None) -> None:
    """Validate rules, config and justifications; exit 1 on any error (for pull-request CI).

    The config is optional: without one (e.g. in CI of an account repository) only the
    built-in rules are known.

    \b
    Example:
      gitmonkey check --repo .
    """
    from gitmonkey.audit.check import ERROR, check_repository

    config = None
    if config_path or account or find_config_path().exists():
        config = load(config_path)
    path = _repo_path(repo, account, config_path)
    if not _is_git_repository(path):
        fail(f"{path.resolve()} is not a git repository: nothing to check (give --repo or --account)")
    problems = check_repository(
        path,
        audit_config=config.audit if config else None,
        base_dir=config.path.parent if config else path,
        config_given=config is not None,
    )
    errors = [p for p in problems if p.severity == ERROR]
    if output_format == "json":
        echo_json([{"severity": p.severity, "where": p.where, "message": p.message} for p in problems])
    else:
        for problem in problems:
            click.echo(str(problem), err=True)
        click.echo("ok" if not errors else f"{len(errors)} error(s)")
    sys.exit(EXIT_ERROR if errors else EXIT_OK)


def _is_git_repository(path: Path) -> bool:
    from gitmonkey.gitcmd import git_process

    return path.is_dir() and git_process(path, "rev-parse", "--git-dir", check=False).returncode == 0


@click.command(hidden=True)
@click.argument("name", type=click.Choice(["post-commit", "post-merge"]))
@click.argument("args", nargs=-1)
@config_option
def hook(name: str, args: tuple[str, ...], config_path: str | None) -> None:
    """Internal: run by the installed git hooks."""
    from gitmonkey.hooks import run_hook

    sys.exit(run_hook(name, Path.cwd(), config_path))


commands = [audit, issues, rules, justify, check, hook]
