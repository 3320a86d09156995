"""Justifications: people's reasons for accepting an issue, kept in ``justifications/``.

Only people write there (the bot never does), so a merged pull request never conflicts with a
sync. A file holds one entry or a list of entries::

    fingerprint: 3f2a9c0d1e2b4a5c     # or: rule: ID + item: GLOB (id or name) [+ technology, region]
    reason: The load balancer must be public.
    by: alice
    date: 2024-05-01
    expires: 2024-12-31               # optional: the last day it holds

An active entry wins over an expired one; then an entry naming the fingerprint wins over a
rule + glob entry.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml

from gitmonkey import yamlio
from gitmonkey.audit.issues import Issue, ItemRef, JustificationMatch
from gitmonkey.gitcmd import GitCommandError, git_process, run_git

JUSTIFICATIONS_PREFIX = "justifications/"
FINGERPRINT_RE = re.compile(r"^[0-9a-f]{16}$")
_FIELDS = {"fingerprint", "rule", "item", "technology", "region", "reason", "by", "date", "expires"}


class JustificationError(ValueError):
    """A justification that cannot be used; the message names the file and what is wrong."""


@dataclass(frozen=True)
class Entry:
    source: str
    reason: str
    by: str
    date: date
    fingerprint: str | None = None
    rule: str | None = None
    item: str | None = None
    technology: str | None = None
    region: str | None = None
    expires: date | None = None

    def matches(self, issue: Issue, item: ItemRef) -> bool:
        if self.fingerprint is not None:
            return self.fingerprint == issue.fingerprint
        if self.rule != issue.rule:
            return False
        if self.technology and not fnmatch.fnmatchcase(item.technology, self.technology):
            return False
        if self.region and not fnmatch.fnmatchcase(item.region, self.region):
            return False
        pattern = self.item or "*"
        return any(fnmatch.fnmatchcase(s, pattern) for s in (item.id, item.name) if s)

    def expired(self, now: datetime) -> bool:
        return self.expires is not None and now.astimezone(UTC).date() > self.expires

    def record(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "reason": self.reason,
            "by": self.by,
            "date": self.date.isoformat(),
            "source": self.source,
        }
        if self.expires is not None:
            data["expires"] = self.expires.isoformat()
        return data


def _as_date(value: Any, where: str) -> date:
    if isinstance(value, datetime):
        return value.astimezone(UTC).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()[:10])
        except ValueError:
            pass
    raise JustificationError(f"{where}: expected a date like 2024-12-31, got {value!r}")


def parse_entry(data: Any, source: str, index: int | None = None) -> Entry:
    where = source if index is None else f"{source} entry {index + 1}"
    if not isinstance(data, Mapping):
        raise JustificationError(f"{where}: expected a mapping, got {type(data).__name__}")
    unknown = sorted(set(map(str, data)) - _FIELDS)
    if unknown:
        allowed = ", ".join(sorted(_FIELDS))
        raise JustificationError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {allowed}")
    for key in ("reason", "by"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise JustificationError(f"{where}: '{key}' is required and must be a non-empty string")
    if "date" not in data:
        raise JustificationError(f"{where}: 'date' is required")
    fp = data.get("fingerprint")
    if fp is not None:
        if not isinstance(fp, str) or not FINGERPRINT_RE.match(fp):
            raise JustificationError(f"{where}: 'fingerprint' must be 16 lowercase hex digits, got {fp!r}")
        if "rule" in data or "item" in data:
            raise JustificationError(f"{where}: give either 'fingerprint' or 'rule' + 'item', not both")
    elif not isinstance(data.get("rule"), str) or not data["rule"]:
        raise JustificationError(f"{where}: needs 'fingerprint', or 'rule' (with an optional 'item' glob)")
    for key in ("item", "technology", "region"):
        if key in data and not isinstance(data[key], str):
            raise JustificationError(f"{where}: '{key}' must be a string (a glob)")
    return Entry(
        source=source,
        reason=data["reason"].strip(),
        by=data["by"].strip(),
        date=_as_date(data["date"], f"{where}: 'date'"),
        fingerprint=fp,
        rule=data.get("rule"),
        item=data.get("item"),
        technology=data.get("technology"),
        region=data.get("region"),
        expires=_as_date(data["expires"], f"{where}: 'expires'") if data.get("expires") is not None else None,
    )


def parse_file(source: str, content: bytes) -> list[Entry]:
    """All entries of one file; raises JustificationError naming the file on the first problem."""
    try:
        data = yamlio.safe_load(content.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise JustificationError(f"{source}: not valid YAML: {exc}") from exc
    if isinstance(data, list):
        return [parse_entry(entry, source, i) for i, entry in enumerate(data)]
    return [parse_entry(data, source)]


@dataclass
class Justifications:
    """Every usable entry of a repository, plus the files that could not be used."""

    entries: list[Entry] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @classmethod
    def from_files(cls, files: Mapping[str, bytes]) -> Justifications:
        result = cls()
        for source in sorted(files):
            if not source.endswith((".yaml", ".yml")):
                continue
            try:
                result.entries.extend(parse_file(source, files[source]))
            except JustificationError as exc:
                result.errors.append(str(exc))
        return result

    def lookup(self, issue: Issue, item: ItemRef, now: datetime) -> JustificationMatch | None:
        candidates = [e for e in self.entries if e.matches(issue, item)]
        if not candidates:
            return None
        best = min(candidates, key=lambda e: (e.expired(now), e.fingerprint is None, e.source))
        return JustificationMatch(entry=best.record(), expired=best.expired(now))


@dataclass(frozen=True)
class JustifyResult:
    path: Path
    commit: str
    branch: str | None


def _git(repo: Path, *args: str) -> str:
    try:
        return run_git(repo, *args).strip()
    except GitCommandError as exc:
        message = exc.stderr or exc.stdout.strip()
        raise JustificationError(f"git {' '.join(args[:2])} failed: {message}") from exc


def default_author(repo: Path) -> str:
    """The committer's git identity (config or GIT_AUTHOR_NAME), else the login name."""
    proc = git_process(repo, "var", "GIT_AUTHOR_IDENT")
    name = proc.stdout.decode("utf-8", "replace").partition(" <")[0].strip() if proc.returncode == 0 else ""
    return name or os.environ.get("USER") or "unknown"


def write_justification(
    repo_path: Path,
    fp: str,
    reason: str,
    *,
    by: str | None = None,
    expires: date | None = None,
    branch: bool = False,
    today: date | None = None,
) -> JustifyResult:
    """Write ``justifications/<fp>.yaml`` and commit it with plain ``git commit`` (hooks fire).

    With ``branch`` the commit goes on a new branch ``justify/<fp>``, ready to push for a pull
    request, and the repository is switched back to the branch it was on.
    """
    if not FINGERPRINT_RE.match(fp):
        raise JustificationError(f"fingerprint must be 16 lowercase hex digits, got {fp!r}")
    if not reason.strip():
        raise JustificationError("a reason is required")
    today = today or datetime.now(UTC).date()
    if expires is not None and expires < today:
        raise JustificationError(f"--expires {expires.isoformat()} is in the past")
    repo_path = Path(repo_path)
    relative = f"{JUSTIFICATIONS_PREFIX}{fp}.yaml"
    target = repo_path / relative
    if target.exists():
        raise JustificationError(f"{relative} already exists: edit it instead")
    entry: dict[str, Any] = {
        "fingerprint": fp,
        "reason": reason.strip(),
        "by": by or default_author(repo_path),
        "date": today,
    }
    if expires is not None:
        entry["expires"] = expires
    content = yaml.safe_dump(entry, sort_keys=False, allow_unicode=True)
    parse_file(relative, content.encode("utf-8"))
    original = None
    new_branch = None
    if branch:
        original = _git(repo_path, "symbolic-ref", "--quiet", "--short", "HEAD")
        new_branch = f"justify/{fp}"
        _git(repo_path, "switch", "--quiet", "-c", new_branch)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
        _git(repo_path, "add", "--", relative)
        subject = reason.strip().splitlines()[0][:60]
        _git(repo_path, "commit", "--quiet", "-m", f"justify {fp}: {subject}", "--", relative)
        commit = _git(repo_path, "rev-parse", "HEAD")
    except JustificationError:
        git_process(repo_path, "rm", "--cached", "--quiet", "--ignore-unmatch", "--", relative)
        target.unlink(missing_ok=True)
        if original:
            _git(repo_path, "switch", "--quiet", original)
            _git(repo_path, "branch", "--quiet", "-D", new_branch or "")
        raise
    if original:
        _git(repo_path, "switch", "--quiet", original)
    return JustifyResult(path=target, commit=commit, branch=new_branch)
