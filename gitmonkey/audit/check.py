"""``gitmonkey check``: what a pull request's CI runs on an account repository.

It validates the rules (built-in, and the config's rule directories when a config is given),
the configuration, and every justification: its shape, that its fingerprint names an issue in
``issues/``, that its rule exists, and that it has not expired. Files are read from the working
tree, i.e. the pull request's version.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gitmonkey.audit.issues import ISSUES_PREFIX, IssueFile, IssueFileError
from gitmonkey.audit.justify import JUSTIFICATIONS_PREFIX, Justifications
from gitmonkey.store.state import atomic_write

ERROR = "error"
WARNING = "warning"

GITHUB_WORKFLOW = ".github/workflows/gitmonkey-check.yml"
GITLAB_CI = ".gitlab-ci.yml"

_GITHUB = """\
# Written by `gitmonkey init --ci github`: checks justifications in pull requests.
name: gitmonkey check
on:
  pull_request:
    paths: ["justifications/**", "rules/**", "gitmonkey.yaml"]
  push:
    branches: [main]
jobs:
  check:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.12"
      - run: pip install gitmonkey
      - run: gitmonkey check --repo .
"""

_GITLAB = """\
# Written by `gitmonkey init --ci gitlab`: checks justifications in merge requests.
gitmonkey-check:
  image: python:3.12-slim
  rules:
    - if: $CI_PIPELINE_SOURCE == "merge_request_event"
    - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH
  before_script:
    - apt-get update -qq && apt-get install -y -qq git >/dev/null
    - pip install gitmonkey
  script:
    - gitmonkey check --repo .
"""


@dataclass(frozen=True)
class Problem:
    severity: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.severity}: {self.where}: {self.message}"


def _read_tree(root: Path, prefix: str) -> dict[str, bytes]:
    base = root / prefix
    if not base.is_dir():
        return {}
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(base.rglob("*"))
        if path.is_file()
    }


def check_repository(
    repo_path: Path,
    *,
    audit_config: dict[str, Any] | None = None,
    base_dir: Path | None = None,
    config_given: bool = False,
    now: datetime | None = None,
) -> list[Problem]:
    """Every problem found; errors make ``gitmonkey check`` exit 1, warnings do not."""
    from gitmonkey.audit.rules import RuleError, RuleSet
    from gitmonkey.config import ConfigError

    now = now or datetime.now(UTC)
    repo_path = Path(repo_path)
    problems: list[Problem] = []
    rule_ids: set[str] | None = None
    try:
        ruleset = RuleSet.load(audit_config or {}, base_dir=base_dir or repo_path)
        rule_ids = {r.id for r in ruleset.rules}
    except (RuleError, ConfigError) as exc:
        problems.append(Problem(ERROR, "rules", str(exc)))

    fingerprints: set[str] = set()
    for path, content in _read_tree(repo_path, ISSUES_PREFIX).items():
        if not path.endswith(".yaml"):
            continue
        try:
            fingerprints.update(i.fingerprint for i in IssueFile.load(content, path).issues)
        except IssueFileError as exc:
            problems.append(Problem(ERROR, path, str(exc)))

    justifications = Justifications.from_files(_read_tree(repo_path, JUSTIFICATIONS_PREFIX))
    problems += [Problem(ERROR, "justifications", e) for e in justifications.errors]
    for entry in justifications.entries:
        label = entry.fingerprint or f"rule {entry.rule}"
        if entry.fingerprint is not None and entry.fingerprint not in fingerprints:
            problems.append(Problem(ERROR, entry.source, f"fingerprint {entry.fingerprint} names no issue in "
                                                         f"{ISSUES_PREFIX} (fixed already, or a typo?)"))
        if entry.rule is not None and rule_ids is not None and entry.rule not in rule_ids:
            problems.append(Problem(ERROR if config_given else WARNING, entry.source,
                                    f"rule {entry.rule!r} is not a known rule"))
        if entry.expired(now):
            problems.append(Problem(ERROR, entry.source, f"{label}: expired on {entry.expires.isoformat()}; "
                                                         "renew it (new reason and expiry) or remove it"))
    return problems


def write_ci_workflows(repo_path: Path, *, github: bool = True, gitlab: bool = True,
                       force: bool = False, pages: tuple[str, str] | None = None) -> list[Path]:
    """Write the CI jobs that run ``gitmonkey check`` into an account repository (not committed);
    with ``pages`` (account name, id), also the job that publishes its site to Pages
    (``gitmonkey.site.ci``).

    A file that exists with other content is kept unless ``force``; raises FileExistsError.
    """
    repo_path = Path(repo_path)
    wanted = []
    if github:
        wanted.append((repo_path / GITHUB_WORKFLOW, _GITHUB))
        if pages:
            from gitmonkey.site.ci import GITHUB_PAGES_WORKFLOW, github_pages

            wanted.append((repo_path / GITHUB_PAGES_WORKFLOW, github_pages(*pages)))
    if gitlab:
        if pages:
            from gitmonkey.site.ci import gitlab_pages

            wanted.append((repo_path / GITLAB_CI, _GITLAB + "\n" + gitlab_pages(*pages)))
        else:
            wanted.append((repo_path / GITLAB_CI, _GITLAB))
    for path, text in wanted:
        if path.exists() and path.read_text(encoding="utf-8") != text and not force:
            raise FileExistsError(f"{path} exists with other content; merge it by hand or use --force")
    written = []
    for path, text in wanted:
        atomic_write(path, text.encode("utf-8"))
        written.append(path)
    return written
