"""`gitmonkey status`: per account, when each slice last synced, what failed, what is stale."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from gitmonkey.config import Config


def parse_time(value: Any) -> datetime | None:
    """A time of the sync state (ISO 8601, ``Z`` allowed; naive means UTC), or None if unset."""
    if not value:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def read_time(value: Any) -> datetime | None:
    """``parse_time`` for untrusted text (issue files, CloudTrail records): None where it is not a time."""
    try:
        return parse_time(value)
    except ValueError:
        return None


def age_text(delta: timedelta | None) -> str:
    if delta is None:
        return "never"
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def collect_status(
    config: Config, *, accounts: tuple[str, ...] = (), now: datetime | None = None
) -> list[dict]:
    from gitmonkey.store import AccountRepository
    from gitmonkey.store.state import SyncState

    now = now or datetime.now(UTC)
    max_age = timedelta(hours=config.stale_after_hours)
    result = []
    selected = [config.account(a) for a in accounts] if accounts else list(config.accounts)
    for account in selected:
        path = config.repo_path(account)
        entry: dict[str, Any] = {"account": account.name, "account_id": account.id, "repository": str(path)}
        if not (path / ".git").is_dir():
            entry.update(synced=False, slices=[], stale=[], failing=[])
            result.append(entry)
            continue
        repo = AccountRepository.open(path, create=False)
        state = SyncState.load(repo.state_dir)
        slices = []
        for key, info in sorted(state.slices().items()):
            last_success = parse_time(info.get("last_success"))
            last_error_at = parse_time(info.get("last_error_at"))
            age = now - last_success if last_success else None
            failing = bool(last_error_at and (not last_success or last_error_at > last_success))
            slices.append(
                {
                    "slice": key,
                    "items": info.get("items"),
                    "api_calls": info.get("api_calls"),
                    "last_success": info.get("last_success"),
                    "age": age_text(age),
                    "stale": age is None or age > max_age,
                    "failing": failing,
                    "last_error": info.get("last_error") if failing else None,
                }
            )
        entry.update(
            synced=True,
            head=repo.head(),
            slices=slices,
            stale=[s["slice"] for s in slices if s["stale"]],
            failing=[s["slice"] for s in slices if s["failing"]],
            pending_notifications=_pending(repo.state_dir),
        )
        result.append(entry)
    return result


def _pending(state_dir: Any) -> int | None:
    try:
        from gitmonkey.notify import pending_count
    except ImportError:
        return None
    return pending_count(state_dir)
