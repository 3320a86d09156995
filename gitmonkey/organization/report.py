"""What ``gitmonkey accounts`` shows: every account of the organization and every ``accounts:``
entry, with what the configuration makes of it (its name, role, regions, remote, synced or not and why)."""

from __future__ import annotations

from typing import Any

from gitmonkey.config import AccountConfig
from gitmonkey.organization.discovery import DiscoveredAccount, Discovery


def _credentials(row: dict[str, Any]) -> str:
    if row["role_arn"]:
        return str(row["role_arn"])
    if row["profile"]:
        return f"profile {row['profile']}"
    return "default credentials"


def _settings(account: AccountConfig) -> dict[str, Any]:
    return {
        "name": account.name,
        "id": account.id,
        "role_arn": account.role_arn,
        "profile": account.profile,
        "external_id": account.external_id,
        "regions": list(account.regions) if account.regions else None,
        "endpoint_url": account.endpoint_url,
        "remote": account.remote,
    }


def _entry_row(entry: DiscoveredAccount) -> dict[str, Any]:
    found = entry.account
    if entry.configured is not None:
        why = f"configured in accounts[{entry.configured}]"
        if entry.filtered:
            why += f" (the organization's settings alone would skip it: {entry.filtered})"
        source = f"organization, accounts[{entry.configured}]"
    else:
        why = entry.skipped or "discovered"
        source = "organization"
    return {
        **_settings(entry.config),
        "aws_name": found.name,
        "email": found.email,
        "ou_path": found.ou_path,
        "ou_id_path": found.ou_id_path,
        "state": found.state,
        "joined_method": found.joined_method,
        "tags": found.tags,
        "synced": entry.synced,
        "reason": why,
        "source": source,
    }


def discovery_rows(discovery: Discovery) -> list[dict[str, Any]]:
    """One row per account of the organization, then one per ``accounts:`` entry not in it."""
    rows = [_entry_row(entry) for entry in discovery.entries]
    found = {entry.account.id for entry in discovery.entries}
    for account in (a for a in discovery.accounts if a.id not in found):
        outside = " (not in the organization)" if discovery.organization_id else ""
        rows.append({
            **_settings(account), "aws_name": None, "email": None, "ou_path": None, "ou_id_path": None,
            "state": None, "joined_method": None, "tags": None, "synced": True,
            "reason": f"configured in accounts:{outside}", "source": "accounts",
        })
    return rows


def discovery_dict(discovery: Discovery) -> dict[str, Any]:
    """``gitmonkey accounts --format json``."""
    organization = None
    if discovery.organization_id is not None:
        organization = {
            "id": discovery.organization_id,
            "management_account_id": discovery.management_account_id,
            "read_from": discovery.read_from,
            "partition": discovery.partition,
            "api_calls": discovery.api_calls,
        }
    rows = discovery_rows(discovery)
    return {
        "organization": organization,
        "accounts": rows,
        "synced": sum(1 for r in rows if r["synced"]),
        "skipped": sum(1 for r in rows if not r["synced"]),
    }


def sync_summary(discovery: Discovery | None, error: str | None = None) -> dict[str, Any]:
    """The ``organization`` part of ``gitmonkey sync``'s report: the skipped accounts and why, or
    the error that kept the organization from being read (``discovery`` None)."""
    if discovery is None:
        return {"id": None, "error": error, "skipped": []}
    return {
        "id": discovery.organization_id,
        "error": None,
        "skipped": [
            {"name": e.config.name, "id": e.account.id, "state": e.account.state,
             "ou_path": e.account.ou_path, "reason": e.skipped}
            for e in discovery.skipped
        ],
    }


COLUMNS = (("name", "NAME"), ("id", "ID"), ("ou_path", "OU PATH"), ("state", "STATE"), ("sync", "SYNC"),
           ("credentials", "ROLE"), ("regions", "REGIONS"), ("remote", "REMOTE"), ("reason", "WHY"))


def render_table(discovery: Discovery) -> str:
    """The rows as an aligned text table, with a line about the organization."""
    rows = discovery_rows(discovery)
    cells = []
    for row in rows:
        cells.append({
            "name": row["name"], "id": row["id"], "ou_path": row["ou_path"] or "-",
            "state": row["state"] or "-", "sync": "yes" if row["synced"] else "no",
            "credentials": _credentials(row),
            "regions": ",".join(row["regions"]) if row["regions"] else "enabled",
            "remote": row["remote"] or "-", "reason": row["reason"],
        })
    widths = {key: max([len(title)] + [len(c[key]) for c in cells]) for key, title in COLUMNS}
    lines = ["  ".join(title.ljust(widths[key]) for key, title in COLUMNS).rstrip()]
    lines += ["  ".join(c[key].ljust(widths[key]) for key, _ in COLUMNS).rstrip() for c in cells]
    synced = sum(1 for r in rows if r["synced"])
    if discovery.organization_id is not None:
        read_from = ("" if discovery.read_from == discovery.management_account_id
                     else f", read from the delegated administrator {discovery.read_from}")
        lines.append(
            f"organization {discovery.organization_id} (management account "
            f"{discovery.management_account_id}{read_from}): {len(discovery.entries)} accounts; "
            f"{synced} accounts synced, {len(rows) - synced} skipped"
        )
    else:
        lines.append(f"no organization configured: {synced} accounts from accounts:")
    return "\n".join(lines)
