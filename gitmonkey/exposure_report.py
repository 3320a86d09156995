"""What is reachable from the internet in each account, now or at a time (``gitmonkey exposure``).

Every item of the technologies whose exposure is judged (``gitmonkey.audit.exposure.PLACEMENTS``)
gets a verdict, read from the account repository at the commit of that time, with the path that
makes it reachable or the reason it is not. The same verdict makes the ``*.internet-exposed``
findings, so the report and the issues agree.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from gitmonkey.config import Config
from gitmonkey.forensics import parse_when

INTERFACES = ("ec2.network_interface",)
"""Judged (a security group's users include them) but reported only when asked for: each is
already the instance, load balancer or database it belongs to."""


@dataclass
class ExposureRow:
    account: str
    region: str
    technology: str
    id: str
    name: str
    exposed: bool
    openings: list[dict[str, Any]] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    def ports(self) -> str:
        ports = (f"{o['protocol']}/{o['ports']} ({o['family']})" for o in self.openings)
        return ", ".join(dict.fromkeys(ports))

    def to_dict(self) -> dict[str, Any]:
        return {"account": self.account, "region": self.region, "technology": self.technology,
                "id": self.id, "name": self.name, "exposed": self.exposed, "openings": self.openings,
                "reasons": self.reasons}


def exposure_report(config: Config, *, accounts: Sequence[str] = (), technologies: Sequence[str] = (),
                    at: str | None = None, exposed_only: bool = False) -> list[ExposureRow]:
    """The verdict of every judged item of the accounts (globs on name or id) as recorded ``at``
    (default: the latest commit, with the addresses the last sync saw)."""
    from gitmonkey.audit.exposure import PLACEMENTS, exposure
    from gitmonkey.audit.network import describe_ports
    from gitmonkey.audit.related import RepositoryItems
    from gitmonkey.store import AccountRepository
    from gitmonkey.store.state import EphemeralStore

    rows: list[ExposureRow] = []
    for account in config.accounts:
        names = (account.name, account.id)
        if accounts and not any(fnmatch.fnmatchcase(v, a) for a in accounts for v in names):
            continue
        path = config.repo_path(account)
        if not (path / ".git").exists():
            continue
        repo = AccountRepository(path)
        commit = repo.head()
        if at is not None and commit is not None:
            commit = repo.git("rev-list", "-1", f"--before=@{parse_when(config, at)}", commit).strip() or None
        if commit is None:
            continue
        blobs = {p: s for p, s in repo.list_blobs("items/", commit).items()}
        ephemeral = EphemeralStore.load(repo.state_dir) if at is None else None
        related = RepositoryItems(repo, blobs, ephemeral)
        for technology in PLACEMENTS:
            wanted = any(fnmatch.fnmatchcase(technology, t) for t in technologies) if technologies else (
                technology not in INTERFACES)
            if not wanted:
                continue
            for region in related.regions(technology):
                for document in related.all(technology, region):
                    verdict = exposure(document, related)
                    if verdict is None or (exposed_only and not verdict.exposed):
                        continue
                    rows.append(ExposureRow(
                        account.name, region, technology, str(document.get("id")),
                        str(document.get("name") or ""), verdict.exposed,
                        [{"protocol": o.protocol, "ports": describe_ports(o.ports), "family": o.family,
                          "security_group": o.via.group_id if o.via else None, "path": o.text}
                         for o in verdict.openings],
                        list(dict.fromkeys(verdict.closed)),
                    ))
    return sorted(rows, key=lambda r: (not r.exposed, r.account, r.region, r.technology, r.id))
