"""``gitmonkey init``: write a commented example ``gitmonkey.yaml`` that validates as written.

Lines starting with ``#: `` are optional settings: removing the ``#: `` prefix keeps the file
valid (the tests check both forms), so people can switch them on one by one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from gitmonkey.config import Config
from gitmonkey.store.state import atomic_write

EXAMPLE_CONFIG = """\
# gitmonkey.yaml: which AWS accounts to track, and how.
# Reference: the "Configuration" section of README.md. Check this file with: gitmonkey config validate
# Lines starting with "#: " are optional settings: delete the "#: " to switch one on.

# Folder holding one git repository per account (<repos_dir>/<account name>/).
# Relative paths are relative to this file's folder. Default: accounts
repos_dir: accounts

# The accounts to track. name: a folder name (letters, digits, . _ -), unique.
# id: the 12-digit account id, always quoted (unquoted digits are read as a number).
accounts:
  - name: example
    id: "123456789012"
    # Regions to read; omit to read every region enabled in the account.
    regions: [us-east-1, eu-west-1]
    # Credentials: the default boto3 chain unless one of these is set.
    #: profile: security-audit
    #: role_arn: arn:aws:iam::123456789012:role/gitmonkey-readonly
    #: external_id: gitmonkey-example
    # Send every AWS call to this endpoint instead (a moto server, LocalStack).
    #: endpoint_url: http://127.0.0.1:5000
    # Push the account repository here after each sync (git URL or path).
    #: remote: git@github.com:example-org/aws-example-config.git

# Technologies to watch, names or globs; omit for all of them.
#: technologies:
#:   - iam.*
#:   - s3.bucket
#:   - ec2.security_group

# Items never read or stored. technology and pattern are required; pattern (a glob) is
# matched against the item's id, name and ARN. region, account (name or id) are globs;
# tag is Key=ValueGlob.
#: ignore:
#:   - technology: iam.role
#:     pattern: AWSServiceRoleFor*
#:   - technology: ec2.security_group
#:     pattern: "*"
#:     account: example
#:     region: eu-*
#:     tag: scratch=true

# Accounts synced at once (regions and technologies are read in parallel too). Default: 8
concurrency: 8
# Attempts per AWS call, the first included (1 = no retry); throttling, 5xx, timeouts and
# unreadable answers are retried with backoff. Default: 5
max_attempts: 5
# Seconds to wait for a connection, and for an answer, before an attempt fails. A call to an
# endpoint that never answers gives up after max_attempts x read_timeout plus backoff
# (5 x 20 s + at most 15 s by default), and the rest of the sync then skips that endpoint.
connect_timeout: 5
read_timeout: 20
# A region x technology not synced successfully for this long is reported stale. Default: 24
stale_after_hours: 24

# Identity of the commits gitmonkey makes. Default: gitmonkey <gitmonkey@localhost>
committer:
  name: gitmonkey
  email: gitmonkey@example.com

# Who changed it: look up the CloudTrail event behind each change and record its actor,
# event name and source IP in the commit's trailers. Needs cloudtrail:LookupEvents; AWS
# allows about 2 lookups a second, and events arrive 5-15 minutes after the change.
#: attribution:
#:   enabled: true
#:   max_lookups: 100
#:   lookback_hours: 24

# audit: rule directories and scoring, see docs/readme/rules.md and docs/readme/audit.md.
# notifications: channels and recipients, see docs/readme/notify.md. Secrets are
# never written here: use password_env / password_file (url_env, secret_file, ...).
"""


class InitError(Exception):
    """``init`` refused to write (the file exists and ``force`` was not given)."""


def example_config() -> str:
    return EXAMPLE_CONFIG


def write_example_config(path: str | os.PathLike[str], *, force: bool = False) -> Path:
    """Write the example configuration to ``path``; refuse to replace an existing file unless ``force``.

    The file is written beside its destination first and then linked or renamed into place, so
    an interrupted write never leaves a truncated config, and without ``force`` a file created
    concurrently is not clobbered.
    """
    target = Path(path)
    if target.is_dir():
        raise InitError(f"{target} is a directory; give the path of the file to write")
    if target.exists() and not force:
        raise InitError(f"{target} already exists; use --force to overwrite it")
    try:
        atomic_write(target, EXAMPLE_CONFIG.encode("utf-8"), exclusive=not force)
    except FileExistsError:
        raise InitError(f"{target} already exists; use --force to overwrite it") from None
    return target


@dataclass(frozen=True)
class RepositorySetup:
    account: str
    path: Path
    hooks: tuple[Path, ...]
    ci_files: tuple[Path, ...]
    commit: str | None


def setup_repositories(
    config: Config, *, ci: Sequence[str] = (), accounts: Sequence[str] = (), pages: bool = False
) -> list[RepositorySetup]:
    """Create each account's repository, install the hooks, and optionally commit CI jobs.

    ``ci`` names the CI systems (``github``, ``gitlab``) whose job running ``gitmonkey check``
    is written into the repository and committed as a person's commit would be (those files are
    outside ``items/`` and ``issues/``, which only the bot writes); with ``pages``, also the job that
    publishes the account's site (``gitmonkey site``) to GitHub / GitLab Pages. Idempotent.
    """
    from gitmonkey.audit.check import write_ci_workflows
    from gitmonkey.hooks import SKIP_ENV, install_hooks
    from gitmonkey.store import AccountRepository

    unknown = sorted(set(ci) - {"github", "gitlab"})
    if unknown:
        raise InitError(f"--ci: unknown CI system {unknown[0]!r}; expected github or gitlab")
    selected = [config.account(a) for a in accounts] if accounts else list(config.accounts)
    done = []
    for account in selected:
        repo = AccountRepository.open(
            config.repo_path(account),
            committer_name=config.committer_name,
            committer_email=config.committer_email,
        )
        hooks = tuple(install_hooks(repo.path, config.path))
        ci_files: tuple[Path, ...] = ()
        commit = None
        if ci:
            ci_files = tuple(write_ci_workflows(repo.path, github="github" in ci, gitlab="gitlab" in ci,
                                                pages=(account.name, account.id) if pages else None))
            relative = [str(p.relative_to(repo.path)) for p in ci_files]
            repo.git("add", "--", *relative)
            if repo.git("diff", "--cached", "--name-only", "--", *relative).strip():
                with _env(SKIP_ENV, "1"):
                    message = "ci: run gitmonkey check on pull requests" + (
                        " and publish the site to Pages" if pages else "")
                    repo.git("commit", "-q", "-m", message, "--", *relative)
                commit = repo.head()
        done.append(RepositorySetup(account.name, repo.path, hooks, ci_files, commit))
    return done


@contextmanager
def _env(name: str, value: str) -> Iterator[None]:
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous
