"""Events passed from sync and audit to the notifier."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

ITEM_ADDED = "item.added"
ITEM_MODIFIED = "item.modified"
ITEM_DELETED = "item.deleted"
ISSUE_NEW = "issue.new"
ISSUE_FIXED = "issue.fixed"
ISSUE_REGRESSED = "issue.regressed"
ISSUE_JUSTIFIED = "issue.justified"
JUSTIFICATION_EXPIRED = "justification.expired"
SLICE_FAILED = "slice.failed"
SLICE_STALE = "slice.stale"
SYNC_SUMMARY = "sync.summary"

EVENT_KINDS = (
    ITEM_ADDED, ITEM_MODIFIED, ITEM_DELETED,
    ISSUE_NEW, ISSUE_FIXED, ISSUE_REGRESSED, ISSUE_JUSTIFIED, JUSTIFICATION_EXPIRED,
    SLICE_FAILED, SLICE_STALE, SYNC_SUMMARY,
)


@dataclass(frozen=True)
class Event:
    """Something a person may want to hear about.

    ``details`` is kind-specific and JSON-able: ``diff`` (unified diff text) for item events;
    ``fingerprint``, ``rule``, ``path`` for issue events; ``error`` for slice events; counts
    for the sync summary. ``commit`` is the full sha of the commit that recorded it, if any.
    """

    kind: str
    account: str
    account_id: str
    title: str
    technology: str | None = None
    region: str | None = None
    item_id: str | None = None
    item_name: str | None = None
    score: int = 0
    commit: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Event:
        return cls(**data)
