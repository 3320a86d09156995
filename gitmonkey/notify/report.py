"""The audit report (Security Monkey's daily audit email), from the issue files at HEAD.

The reader is deliberately tolerant: an issue file is either the auditor's document
(``{item: {...}, issues: [...]}``) or a bare list of issues; a file that cannot be read is
reported by name and skipped, never fatal.
"""

from __future__ import annotations

import hashlib
import html
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from gitmonkey import yamlio
from gitmonkey.config import AccountConfig
from gitmonkey.gitcmd import cat_file_batch, git_process
from gitmonkey.notify import subscriptions
from gitmonkey.notify.deliver import new_message
from gitmonkey.notify.outbox import Outbox, parse_time, utcnow
from gitmonkey.notify.render import Rendered, one_line


@dataclass(frozen=True)
class ReportItem:
    technology: str
    region: str
    id: str
    name: str
    path: str
    issues: tuple[dict[str, Any], ...]

    @property
    def score(self) -> int:
        return sum(i["score"] for i in self.issues if not i["justified"])


@dataclass
class AccountReport:
    account: str
    account_id: str
    date: str
    items: list[ReportItem] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def score(self) -> int:
        return sum(i.score for i in self.items)

    @property
    def issue_count(self) -> int:
        return sum(len(i.issues) for i in self.items)

    def to_dict(self) -> dict[str, Any]:
        return {
            "account": self.account, "account_id": self.account_id, "date": self.date,
            "score": self.score, "issues": self.issue_count, "errors": self.errors,
            "items": [
                {"technology": i.technology, "region": i.region, "id": i.id, "name": i.name,
                 "path": i.path, "score": i.score, "issues": list(i.issues)}
                for i in self.items
            ],
        }


def _issue_blobs(repo: Path) -> list[tuple[str, bytes | None]]:
    """Every issue file at HEAD with its content (None: its object is missing from the repository)."""
    listing = git_process(repo, "ls-tree", "-r", "-z", "HEAD", "--", "issues/")
    if listing.returncode != 0:
        return []
    entries = []
    for record in listing.stdout.decode("utf-8", errors="replace").split("\0"):
        meta, _, path = record.partition("\t")
        parts = meta.split()
        if len(parts) == 3 and parts[1] == "blob" and path.endswith(".yaml"):
            entries.append((path, parts[2]))
    blobs = cat_file_batch(repo, (sha for _, sha in entries))
    return [(path, blobs.get(sha)) for path, sha in entries]


def _is_justified(issue: dict[str, Any], now: datetime) -> bool:
    record = issue.get("justification")
    if isinstance(record, dict):
        if record.get("expired"):
            return False
        expires = record.get("expires")
        if expires:
            try:
                when = parse_time(str(expires) if "T" in str(expires) else f"{expires}T23:59:59Z")
            except ValueError:
                when = None
            if when is not None and when < now:
                return False
    if "justified" in issue:
        return bool(issue["justified"])
    return bool(record)


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _parse(path: str, content: bytes, now: datetime) -> ReportItem:
    data = yamlio.safe_load(content.decode("utf-8"))
    item: dict[str, Any] = {}
    if isinstance(data, dict):
        item = data.get("item") if isinstance(data.get("item"), dict) else {}
        raw = data.get("issues") or []
    else:
        raw = data or []
    if not isinstance(raw, list):
        raise ValueError("issues is not a list")
    parts = path.split("/")
    guess: dict[str, str] = {}
    if len(parts) == 5:
        guess = {"region": parts[1], "technology": f"{parts[2]}.{parts[3]}", "id": parts[4][:-5]}
    issues = []
    for entry in raw:
        if not isinstance(entry, dict):
            raise ValueError("an issue is not a mapping")
        score = entry.get("score", 0)
        record = entry.get("justification")
        issues.append({
            "fingerprint": str(entry.get("fingerprint", "")),
            "rule": str(entry.get("rule", "")),
            "score": _int(score),
            "title": str(entry.get("title", "")),
            "details": str(entry.get("details") or ""),
            "path": str(entry.get("path") or ""),
            "justified": _is_justified(entry, now),
            "justification": record if isinstance(record, dict) else None,
        })
    issues.sort(key=lambda i: (-i["score"], i["rule"], i["fingerprint"]))
    return ReportItem(
        technology=str(item.get("technology") or guess.get("technology", "")),
        region=str(item.get("region") or guess.get("region", "")),
        id=str(item.get("id") or guess.get("id", path)),
        name=str(item.get("name") or ""),
        path=path,
        issues=tuple(issues),
    )


def build_report(repo_path: Path, account: AccountConfig, *, now: datetime | None = None) -> AccountReport:
    """Every open issue of the account at HEAD, items sorted by unjustified score."""
    now = now or utcnow()
    report = AccountReport(account.name, account.id, now.strftime("%Y-%m-%d"))
    if not (Path(repo_path) / ".git").exists():
        report.errors.append(f"no account repository at {repo_path} (run gitmonkey sync first)")
        return report
    for path, content in _issue_blobs(Path(repo_path)):
        if content is None:
            report.errors.append(f"{path}: unreadable issue file (its object is missing from the repository)")
            continue
        try:
            item = _parse(path, content, now)
        except yaml.YAMLError:
            report.errors.append(f"{path}: unreadable issue file (invalid YAML)")
            continue
        except (UnicodeDecodeError, ValueError, TypeError, AttributeError) as exc:
            report.errors.append(f"{path}: unreadable issue file ({exc})")
            continue
        if item.issues:
            report.items.append(item)
    report.items.sort(key=lambda i: (-i.score, i.technology, i.region, i.id))
    return report


def filtered(
    report: AccountReport, recipient: subscriptions.Recipient | None, *, include_justified: bool = False
) -> AccountReport:
    """The part of the report a recipient subscribed to: accounts, regions, technologies, items, min_score."""
    items = []
    for item in report.items:
        issues = tuple(
            i for i in item.issues
            if (include_justified or not i["justified"])
            and (recipient is None or i["score"] >= recipient.min_score)
        )
        wanted = recipient is None or recipient.wants_item(item.technology, item.region, item.id, item.name)
        if issues and wanted:
            items.append(replace(item, issues=issues))
    return AccountReport(report.account, report.account_id, report.date, items, list(report.errors))


def _colour(score: int) -> str:
    return "#f8d7da" if score > 6 else "#fff3cd" if score >= 1 else "#ffffff"


def render_report(report: AccountReport) -> Rendered:
    subject = one_line(
        f"AUDIT REPORT - [{report.account}] score {report.score} in {len(report.items)} "
        f"item{'s' if len(report.items) != 1 else ''} ({report.date})"
    )
    text = [subject, ""]
    rows = []
    if not report.items:
        text.append("No open issues.")
    for item in report.items:
        label = " ".join(p for p in (item.technology, item.region, _name(item)) if p)
        text.append(f"{item.score:>5}  {one_line(label, 300)}")
        rows.append(f'<tr><td><b>{item.score}</b></td><td colspan="3"><b>{html.escape(label)}</b></td></tr>')
        for issue in item.issues:
            mark = " (justified)" if issue["justified"] else ""
            title = issue["title"] + (f": {issue['details']}" if issue["details"] else "")
            title = one_line(title, 500)
            text.append(f"         [{issue['score']:>2}] {issue['rule']}  {title}{mark}")
            colour = "#d4edda" if issue["justified"] else _colour(issue["score"])
            rows.append(
                f'<tr style="background:{colour}"><td></td><td>{issue["score"]}</td>'
                f"<td>{html.escape(issue['rule'])}</td><td>{html.escape(title + mark)}</td></tr>"
            )
    text += [f"{e}" for e in report.errors]
    body = (
        f"<html><body><h2>{html.escape(subject)}</h2>"
        + ("<table>" + "".join(rows) + "</table>" if rows else "<p>No open issues.</p>")
        + "".join(f"<p><small>{html.escape(e)}</small></p>" for e in report.errors)
        + "</body></html>"
    )
    slack = "\n".join(
        [f"*{_slack(subject)}*"]
        + [f"• {i.score}  {_slack(' '.join(p for p in (i.technology, i.region, _name(i)) if p))}"
           for i in report.items[:30]]
    )
    payload = {"version": 1, "kind": "audit.report", "subject": subject, **report.to_dict()}
    return Rendered(subject=subject, text="\n".join(text) + "\n", html=body, slack=slack, payload=payload)


def _name(item: ReportItem) -> str:
    return f"{item.name} ({item.id})" if item.name and item.name != item.id else item.id


def _slack(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def enqueue_report(
    state_dir: Path, report: AccountReport, notifications: dict[str, Any], *, now: datetime | None = None,
    include_justified: bool = False,
) -> int:
    """One report message per recipient with ``report: true``, at most one per UTC day.

    The key is the recipient, the account and the report's date: a scheduler that fires twice
    (Security Monkey #939) sends one report a day.
    """
    settings = subscriptions.load(notifications)
    now = now or utcnow()
    outbox = Outbox(state_dir)
    written = 0
    for recipient in settings.recipients:
        if not recipient.report or not recipient.wants_account(report.account, report.account_id):
            continue
        seed = f"{recipient.identity()}|audit.report|{report.account_id}|{report.date}"
        key = hashlib.sha256(seed.encode()).hexdigest()
        if outbox.known(key):
            continue
        rendered = render_report(filtered(report, recipient, include_justified=include_justified))
        rendered.payload["idempotency_key"] = key
        message = new_message(key, recipient, report.account, report.account_id, rendered, now, kind="report")
        if outbox.add(message):
            written += 1
    return written
