"""One digest message per recipient: subject, plain text, HTML, Slack text and a JSON payload.

Item names, ids and diffs come from AWS and are untrusted: they are escaped for HTML and Slack,
and stripped of control characters in subjects.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

from gitmonkey import events as ev
from gitmonkey.notify.links import commit_url

SLACK_LIMIT = 3500
SUBJECT_LIMIT = 200

SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("New issues", (ev.ISSUE_NEW,)),
    ("Regressed issues", (ev.ISSUE_REGRESSED,)),
    ("Expired justifications", (ev.JUSTIFICATION_EXPIRED,)),
    ("Sync problems", (ev.SLICE_FAILED, ev.SLICE_STALE)),
    ("Added items", (ev.ITEM_ADDED,)),
    ("Modified items", (ev.ITEM_MODIFIED,)),
    ("Deleted items", (ev.ITEM_DELETED,)),
    ("Fixed issues", (ev.ISSUE_FIXED,)),
    ("Justified issues", (ev.ISSUE_JUSTIFIED,)),
    ("Summary", (ev.SYNC_SUMMARY,)),
)
ITEM_KINDS = (ev.ITEM_ADDED, ev.ITEM_MODIFIED, ev.ITEM_DELETED)
ISSUE_EVENT_KINDS = (
    ev.ISSUE_NEW, ev.ISSUE_REGRESSED, ev.ISSUE_FIXED, ev.ISSUE_JUSTIFIED, ev.JUSTIFICATION_EXPIRED,
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    slack: str
    payload: dict[str, Any]


def one_line(value: str, limit: int = SUBJECT_LIMIT) -> str:
    value = _CONTROL.sub(" ", value).strip()
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _technologies(events: list[ev.Event]) -> str:
    techs = sorted({e.technology for e in events if e.technology})
    if len(techs) > 3:
        return ", ".join(techs[:3]) + f" and {len(techs) - 3} more"
    return ", ".join(techs)


def subject_for(account: str, events: list[ev.Event]) -> str:
    """What matters first, as Security Monkey did: ``NEW ISSUE - [prod] changes in ec2.security_group``."""
    kinds = {e.kind for e in events}
    prefix = ""
    if ev.ISSUE_NEW in kinds:
        prefix = "NEW ISSUE - "
    elif ev.ISSUE_REGRESSED in kinds:
        prefix = "REGRESSED ISSUE - "
    elif ev.JUSTIFICATION_EXPIRED in kinds:
        prefix = "JUSTIFICATION EXPIRED - "
    elif kinds & {ev.SLICE_FAILED, ev.SLICE_STALE}:
        prefix = "SYNC PROBLEM - "
    items = [e for e in events if e.kind in ITEM_KINDS]
    issues = [e for e in events if e.kind in ISSUE_EVENT_KINDS]
    problems = [e for e in events if e.kind in (ev.SLICE_FAILED, ev.SLICE_STALE)]
    if items:
        what = f"changes in {_technologies(items)}"
    elif issues and kinds <= {ev.ISSUE_FIXED, ev.SYNC_SUMMARY}:
        what = f"{len(issues)} fixed issue{'s' if len(issues) != 1 else ''} in {_technologies(issues)}"
    elif issues:
        what = f"issues in {_technologies(issues)}"
    elif problems:
        what = f"{len(problems)} slice{'s' if len(problems) != 1 else ''} failing or stale"
    else:
        what = events[0].title if events else "nothing"
    return one_line(f"{prefix}[{account}] {what}")


def _where(e: ev.Event) -> str:
    name = e.item_name or e.item_id or ""
    if e.item_name and e.item_id and e.item_name != e.item_id:
        name = f"{e.item_name} ({e.item_id})"
    return " ".join(p for p in (e.technology, e.region, name) if p)


def _diff(e: ev.Event, limit: int) -> str:
    diff = str((e.details or {}).get("diff") or "")
    if len(diff) > limit:
        diff = diff[:limit] + f"\n… diff truncated ({len(diff) - limit} more characters)\n"
    return diff


def _line(e: ev.Event) -> str:
    score = f"[{e.score:>2}] " if e.kind in ISSUE_EVENT_KINDS else ""
    where = _where(e)
    return one_line(f"{score}{e.title}" + (f" — {where}" if where and where not in e.title else ""), 500)


def _extra(e: ev.Event) -> str:
    details = e.details or {}
    for key in ("error", "details", "reason"):
        value = details.get(key)
        if value and isinstance(value, str):
            return one_line(value, 1000)
    return ""


def render(
    account: str, account_id: str, events: list[ev.Event], *, base_url: str | None, max_diff_chars: int,
    key: str,
) -> Rendered:
    subject = subject_for(account, events)
    text: list[str] = [subject, ""]
    parts: list[str] = [f"<h2>{html.escape(subject)}</h2>"]
    slack: list[str] = [f"*{_slack(subject)}*"]
    payload_events = []
    for title, kinds in SECTIONS:
        group = [e for e in events if e.kind in kinds]
        if not group:
            continue
        text += [f"{title} ({len(group)})"]
        parts.append(f"<h3>{html.escape(title)} ({len(group)})</h3><ul>")
        slack.append(f"*{title}* ({len(group)})")
        for e in group:
            url = commit_url(base_url, e.commit)
            line, extra, diff = _line(e), _extra(e), _diff(e, max_diff_chars)
            text.append(f"  {line}")
            if extra:
                text.append(f"      {extra}")
            if url:
                text.append(f"      {url}")
            if diff:
                text += ["      " + d for d in diff.rstrip("\n").split("\n")]
            parts.append(
                "<li>" + html.escape(line)
                + (f"<br><small>{html.escape(extra)}</small>" if extra else "")
                + (f' <a href="{html.escape(url)}">{html.escape(e.commit[:12])}</a>' if url else "")
                + (f"<pre>{html.escape(diff)}</pre>" if diff else "")
                + "</li>"
            )
            slack.append(f"• {_slack(line)}" + (f" <{url}|{e.commit[:7]}>" if url else ""))
            data = e.to_dict()
            if "diff" in (data.get("details") or {}):
                data["details"] = {**data["details"], "diff": diff}
            data["commit_url"] = url
            payload_events.append(data)
        text.append("")
        parts.append("</ul>")
    text.append(f"-- gitmonkey, account {account} ({account_id}), message {key[:16]}")
    slack_text = "\n".join(slack)
    if len(slack_text) > SLACK_LIMIT:
        slack_text = slack_text[: SLACK_LIMIT - 40].rsplit("\n", 1)[0] + "\n… (more in the full message)"
    payload = {
        "version": 1,
        "idempotency_key": key,
        "account": account,
        "account_id": account_id,
        "subject": subject,
        "events": payload_events,
    }
    return Rendered(
        subject=subject,
        text="\n".join(text) + "\n",
        html="<html><body>" + "".join(parts) + f"<p><small>gitmonkey, account {html.escape(account)} "
        f"({html.escape(account_id)})</small></p></body></html>",
        slack=slack_text,
        payload=payload,
    )


def _slack(value: str) -> str:
    """Slack's own escaping: ``<`` ``>`` ``&`` would otherwise let an item name forge a link."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
