"""Reading an account repository for the site: items, issues, slice health, history and changes.

Everything comes from git in a few batched calls per account (one ``ls-tree``, one ``cat-file``
stream, one ``git log --raw`` over ``items/`` and one over ``issues/``), never one call per item:
an estate of 20,000 items is read in seconds.

Open issues over time are counted from the history of the issue files: each version of an issue file
is counted once (its unjustified issues), and the count of the account is the sum over its files
after each day's last audit commit. The count reads the files' fixed layout (``issues.IssueFile``
writes each issue's ``justified:`` key at two spaces of indentation) instead of parsing YAML, so the
whole history of a large account costs one pass over its issue blobs.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from gitmonkey.config import AccountConfig, Config
from gitmonkey.normalize import paths
from gitmonkey.notify.links import commit_url, repository_url, web_base
from gitmonkey.site.model import AccountSummary, Change, IssueRow, Revision, SliceHealth, band, item_page
from gitmonkey.status import read_time
from gitmonkey.store import AccountRepository

HISTORY_LIMIT = 20
"""Revisions shown on an item page (newest first)."""
CHANGES_LIMIT = 1000
"""Changes in the estate-wide feed."""
EXPIRING_DAYS = 30
HIGH_SCORE = 6
_UNJUSTIFIED = re.compile(rb"^  justified: false$", re.MULTILINE)
_RECORD = "\x1e"


@dataclass(frozen=True)
class FileChange:
    """One item file changed by one commit (from ``git log --raw``)."""

    commit: str
    date: str
    author: str
    subject: str
    old_blob: str
    new_blob: str
    status: str
    path: str

    @property
    def kind(self) -> str:
        return {"A": "added", "D": "deleted"}.get(self.status, "modified")


class AccountSource:
    """One account repository, read for the site."""

    def __init__(self, config: Config, account: AccountConfig) -> None:
        self.account = account
        self.repo = AccountRepository.open(config.repo_path(account), create=False)
        self.web = repository_url(account.remote) or ""
        self.commit_base = web_base(account.remote)
        self.head = self.repo.head()
        tree = self.repo.list_blobs("") if self.head else {}
        self.items = {p: s for p, s in tree.items() if p.startswith("items/") and p.endswith(".json")}
        self.issue_files = {p: s for p, s in tree.items() if p.startswith("issues/") and p.endswith(".yaml")}

    @property
    def name(self) -> str:
        return self.account.name

    # --- issues -----------------------------------------------------------------------------------

    def issues(self, now: datetime, errors: list[str]) -> list[IssueRow]:
        from gitmonkey.audit.output import read_issue_rows

        rows = []
        for row in read_issue_rows(self.repo, self.name, self.account.id, errors):
            issue, item = row.issue, row.item
            first_seen = read_time(issue.first_seen_date)
            justification = issue.justification or {}
            try:
                page = item_page(self.name, item.region, item.technology, item.id)
            except ValueError:
                continue
            rows.append(
                IssueRow(
                    account=self.name,
                    region=item.region,
                    technology=item.technology,
                    item_id=item.id,
                    item_name=item.name or item.id,
                    rule=issue.rule,
                    title=issue.title,
                    score=issue.score,
                    details=issue.details,
                    path=issue.path,
                    fingerprint=issue.fingerprint,
                    first_seen=issue.first_seen_date,
                    age_days=(now - first_seen).days if first_seen else 0,
                    justified=issue.justified,
                    justification=(
                        f"{justification.get('by', '?')}: {justification.get('reason', '')}"
                        if issue.justified
                        else ""
                    ),
                    justification_expires=str(justification.get("expires") or ""),
                    page=page if item.path in self.items else "",
                )
            )
        return rows

    def issues_over_time(self, since: datetime | None) -> list[tuple[str, int]]:
        """(date, open unjustified issues after that day's last audit), oldest first."""
        changes = self._log("issues/", since=None)
        counts: dict[str, int] = {}
        wanted = {c.new_blob for c in changes if c.status != "D"}
        contents = self.repo.read_blobs(wanted) if wanted else {}
        by_day: dict[str, int] = {}
        total = 0
        for change in reversed(changes):
            if not change.path.endswith(".yaml"):
                continue
            before = counts.pop(change.path, 0)
            after = (
                0 if change.status == "D" else len(_UNJUSTIFIED.findall(contents.get(change.new_blob, b"")))
            )
            if after:
                counts[change.path] = after
            total += after - before
            by_day[change.date[:10]] = total
        cutoff = since.date().isoformat() if since else ""
        return [(day, count) for day, count in sorted(by_day.items()) if day >= cutoff]

    # --- changes and history ----------------------------------------------------------------------

    def item_changes(self, since: datetime | None = None) -> list[FileChange]:
        """Every change of an item file, newest first (``since``: only commits after it)."""
        return self._log("items/", since=since)

    def changes(self, changes: Sequence[FileChange], limit: int) -> list[Change]:
        found = []
        for change in changes[:limit]:
            try:
                location = paths.parse_item_path(change.path)
            except ValueError:
                continue
            item_id = location.id or location.name
            live = change.path in self.items
            found.append(
                Change(
                    account=self.name,
                    commit=change.commit,
                    date=change.date,
                    author=change.author,
                    subject=change.subject,
                    kind=change.kind,
                    region=location.region,
                    technology=location.technology,
                    item_id=item_id,
                    page=item_page(self.name, location.region, location.technology, item_id) if live else "",
                    commit_url=commit_url(self.commit_base, change.commit) or "",
                )
            )
        return found

    def histories(self, changes: Sequence[FileChange], wanted: Iterable[str]) -> dict[str, list[Revision]]:
        """The last ``HISTORY_LIMIT`` revisions of each wanted item path, with their diffs."""
        wanted = set(wanted)
        picked: dict[str, list[FileChange]] = {}
        for change in changes:
            if change.path in wanted and len(picked.setdefault(change.path, [])) < HISTORY_LIMIT:
                picked[change.path].append(change)
        blobs = {b for found in picked.values() for c in found for b in (c.old_blob, c.new_blob) if _real(b)}
        contents = self.repo.read_blobs(blobs) if blobs else {}
        return {path: [self._revision(c, contents) for c in found] for path, found in picked.items()}

    def _revision(self, change: FileChange, contents: dict[str, bytes]) -> Revision:
        diff = ""
        if change.status != "A":
            old = contents.get(change.old_blob, b"").decode("utf-8", "replace").splitlines(keepends=True)
            new = contents.get(change.new_blob, b"").decode("utf-8", "replace").splitlines(keepends=True)
            diff = "".join(difflib.unified_diff(old, new, f"a/{change.path}", f"b/{change.path}", n=3))
        return Revision(
            commit=change.commit,
            date=change.date,
            author=change.author,
            subject=change.subject,
            kind=change.kind,
            diff=diff,
            commit_url=commit_url(self.commit_base, change.commit) or "",
        )

    def _log(self, prefix: str, since: datetime | None) -> list[FileChange]:
        if self.head is None:
            return []
        args = [
            "log",
            "--raw",
            "--no-renames",
            "--no-abbrev",
            "-z",
            "--first-parent",
            f"--format={_RECORD}%H%x00%aI%x00%an <%ae>%x00%s%x00",
        ]
        if since is not None:
            args.append(f"--since=@{int(since.timestamp())}")
        out = self.repo.git(*args, self.head, "--", prefix)
        return list(_parse_raw_log(out))

    # --- health -----------------------------------------------------------------------------------

    def health(self, config: Config, now: datetime) -> tuple[list[SliceHealth], str]:
        from gitmonkey.status import collect_status

        [status] = collect_status(config, accounts=(self.name,), now=now)
        unhealthy = []
        last = ""
        for entry in status.get("slices") or ():
            last = max(last, str(entry.get("last_success") or ""))
            if entry["failing"] or entry["stale"]:
                region, _, technology = str(entry["slice"]).partition("/")
                unhealthy.append(
                    SliceHealth(
                        account=self.name,
                        region=region,
                        technology=technology,
                        state="failing" if entry["failing"] else "stale",
                        last_success=str(entry.get("last_success") or ""),
                        last_error=str(entry.get("last_error") or ""),
                    )
                )
        return unhealthy, last

    def summary(
        self,
        config: Config,
        issues: list[IssueRow],
        changes: Sequence[FileChange],
        since: datetime | None,
        now: datetime,
    ) -> AccountSummary:
        open_issues = [i for i in issues if not i.justified]
        by_band = {name: 0 for name in ("critical", "high", "medium", "low")}
        for issue in open_issues:
            by_band[band(issue.score)] += 1
        soon = (now + timedelta(days=EXPIRING_DAYS)).date().isoformat()
        expiring = sorted(
            (
                i
                for i in issues
                if i.justified and i.justification_expires and i.justification_expires[:10] <= soon
            ),
            key=lambda i: i.justification_expires,
        )
        per_day: dict[str, int] = {}
        for change in changes:
            per_day[change.date[:10]] = per_day.get(change.date[:10], 0) + 1
        unhealthy, last_sync = self.health(config, now)
        return AccountSummary(
            name=self.name,
            id=self.account.id,
            items=len(self.items),
            open_by_band=by_band,
            justified=sum(i.justified for i in issues),
            unjustified_high=sorted(
                (i for i in open_issues if i.score >= HIGH_SCORE),
                key=lambda i: (-i.score, i.technology, i.item_id),
            ),
            unhealthy=unhealthy,
            expiring=expiring,
            issues_over_time=self.issues_over_time(since),
            changes_per_day=sorted(per_day.items()),
            last_sync=last_sync,
            remote_url=self.web,
        )


def _real(blob: str) -> bool:
    return bool(blob) and set(blob) != {"0"}


def _parse_raw_log(out: str) -> Iterable[FileChange]:
    """Records of ``git log --raw -z --format=<RS>%H%x00%aI%x00%an <%ae>%x00%s%x00``."""
    for record in out.split(_RECORD)[1:]:
        fields = record.split("\0")
        commit, date, author, subject = fields[:4]
        rest = [f for f in fields[4:] if f != "" and f != "\n"]
        for i in range(0, len(rest) - 1, 2):
            meta, path = rest[i].strip("\n"), rest[i + 1]
            parts = meta.lstrip(":").split()
            if len(parts) < 5:
                continue
            yield FileChange(commit, date, author, subject, parts[2], parts[3], parts[4][0], path)
