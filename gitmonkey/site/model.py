"""What the static site shows, read from the account repositories (``gitmonkey.site.data``) and
turned into pages (``gitmonkey.site.render``). Plain data: every string is untrusted (item names come
from AWS) and is escaped by the templates, never before.

Page addresses are relative to the site root and made by ``item_page`` only, from escaped path
components (``gitmonkey.normalize.paths.escape_id``), so an item id can never name a file outside the site.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gitmonkey.normalize import paths

BANDS: tuple[tuple[str, int, int], ...] = (
    ("critical", 10, 100),
    ("high", 6, 9),
    ("medium", 3, 5),
    ("low", 0, 2),
)
"""Score bands (name, lowest, highest score), highest first."""


def band(score: int) -> str:
    for name, low, high in BANDS:
        if low <= score <= high:
            return name
    return "critical" if score > 100 else "low"


def item_page(account: str, region: str, technology: str, item_id: str) -> str:
    """``items/<account>/<region>/<service>/<type>/<escaped id>.html``, relative to the site root."""
    service, type_ = paths.validate_technology(technology).split(".", 1)
    return "/".join(
        (
            "items",
            paths.escape_id(account),
            paths.validate_region(region),
            service,
            type_,
            paths.escape_id(item_id) + ".html",
        )
    )


@dataclass(frozen=True)
class IssueRow:
    account: str
    region: str
    technology: str
    item_id: str
    item_name: str
    rule: str
    title: str
    score: int
    details: str
    path: str
    """JSON path of the finding in the item document (``configuration.IpPermissions[0]``)."""
    fingerprint: str
    first_seen: str
    """ISO date-time the issue was first seen ("" when unknown)."""
    age_days: int
    justified: bool
    justification: str = ""
    """Who justified it and why ("" when not justified)."""
    justification_expires: str = ""
    """ISO date the justification expires ("" when it does not)."""
    page: str = ""
    """The item's page (``item_page``)."""

    @property
    def band(self) -> str:
        return band(self.score)


@dataclass(frozen=True)
class SliceHealth:
    account: str
    region: str
    technology: str
    state: str
    """``failing`` (the last read failed), ``stale`` (no success for longer than the staleness limit)."""
    last_success: str
    last_error: str


@dataclass(frozen=True)
class Change:
    account: str
    commit: str
    date: str
    """ISO date-time of the commit."""
    author: str
    """Who made the change: the commit's author (the AWS principal where gitmonkey knows it)."""
    subject: str
    kind: str
    """``added``, ``modified`` or ``deleted``."""
    region: str
    technology: str
    item_id: str
    page: str
    commit_url: str = ""
    """The commit on the GitHub / GitLab remote ("" without a remote)."""

    @property
    def short(self) -> str:
        return self.commit[:10]


@dataclass(frozen=True)
class Revision:
    commit: str
    date: str
    author: str
    subject: str
    kind: str
    diff: str
    """Unified diff of the item's file in that commit (empty for the first version: see the document)."""
    commit_url: str = ""

    @property
    def short(self) -> str:
        return self.commit[:10]


@dataclass
class ItemView:
    account: str
    account_id: str
    region: str
    technology: str
    item_id: str
    name: str
    arn: str
    document: dict
    issues: list[IssueRow] = field(default_factory=list)
    history: list[Revision] = field(default_factory=list)
    """Newest first."""
    deleted: bool = False
    file_url: str = ""
    """The item's file on the remote ("" without one)."""

    @property
    def page(self) -> str:
        return item_page(self.account, self.region, self.technology, self.item_id)


@dataclass
class AccountSummary:
    name: str
    id: str
    items: int
    open_by_band: dict[str, int]
    """Band name -> open (unjustified) issues."""
    justified: int
    unjustified_high: list[IssueRow]
    """Unjustified issues with a score of 6 or more, highest first."""
    unhealthy: list[SliceHealth]
    expiring: list[IssueRow]
    """Justified issues whose justification expires within 30 days, soonest first."""
    issues_over_time: list[tuple[str, int]]
    """(ISO date, open unjustified issues at the end of that day), one point per day with an audit."""
    changes_per_day: list[tuple[str, int]]
    """(ISO date, item changes that day), oldest first."""
    last_sync: str = ""
    remote_url: str = ""


@dataclass
class Estate:
    generated_at: str
    accounts: list[AccountSummary]
    issues: list[IssueRow]
    """Every open issue (justified ones included, marked), highest score first."""
    changes: list[Change]
    """The recent changes across accounts, newest first."""
