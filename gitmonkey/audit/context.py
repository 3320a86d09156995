"""What a rule may know beyond the item: the account, the known accounts, trusted networks, the time.

Entity classification follows Security Monkey's ``inspect_entity``: an account id is SAME (the
audited account), FRIENDLY or THIRD_PARTY (listed in ``audit.known_accounts``) or UNKNOWN.
"""

from __future__ import annotations

import fnmatch
import ipaddress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gitmonkey.audit.related import NoRelatedItems, RelatedItems

SAME = "same"
FRIENDLY = "friendly"
THIRD_PARTY = "third_party"
UNKNOWN = "unknown"


@dataclass(frozen=True)
class AuditContext:
    account_id: str
    account_name: str
    known_accounts: dict[str, dict]
    trusted_cidrs: tuple[str, ...]
    now: datetime
    # Services whose Write actions the mutating-services rules report; None means all of them.
    sensitive_services: tuple[str, ...] | None = None
    # The account's other items at the audited commit, for rules that follow references
    # (see ``gitmonkey.audit.related``); empty when an item is judged alone.
    related: RelatedItems = field(default_factory=NoRelatedItems, compare=False, repr=False)
    # The ``technologies`` globs of the config (None: every technology is watched).
    technologies: tuple[str, ...] | None = None

    @classmethod
    def from_config(
        cls, audit_config: dict[str, Any] | None, *, account_id: str, account_name: str, now: datetime
    ) -> AuditContext:
        """Build a context from the (validated) ``audit:`` section of gitmonkey.yaml."""
        audit_config = audit_config or {}
        known = {str(k): dict(v) for k, v in (audit_config.get("known_accounts") or {}).items()}
        return cls(
            account_id=str(account_id),
            account_name=account_name,
            known_accounts=known,
            trusted_cidrs=tuple(audit_config.get("trusted_cidrs") or ()),
            now=now,
            sensitive_services=tuple(audit_config["sensitive_services"])
            if audit_config.get("sensitive_services")
            else None,
        )

    def watches(self, technology: str) -> bool:
        """Whether the account's items of ``technology`` are read (so that none recorded means none)."""
        return self.technologies is None or any(fnmatch.fnmatchcase(technology, p) for p in self.technologies)

    def classify_account(self, account_id: str) -> str:
        if account_id == self.account_id:
            return SAME
        entry = self.known_accounts.get(account_id)
        if entry is None:
            return UNKNOWN
        return THIRD_PARTY if entry.get("type") == THIRD_PARTY else FRIENDLY

    def account_label(self, account_id: str) -> str:
        """``111111111111 (partner)`` for a known account, the bare id otherwise."""
        if account_id == self.account_id:
            return f"{account_id} ({self.account_name})"
        entry = self.known_accounts.get(account_id)
        return f"{account_id} ({entry['name']})" if entry and entry.get("name") else account_id

    def classify_canonical_id(self, canonical_id: str, owner_id: str | None) -> tuple[str, str | None]:
        """Classify an S3 canonical user id; returns (class, account id if known)."""
        if owner_id and canonical_id == owner_id:
            return SAME, self.account_id
        for account_id, entry in self.known_accounts.items():
            if entry.get("canonical_id") == canonical_id:
                return self.classify_account(account_id), account_id
        return UNKNOWN, None

    def is_trusted_cidr(self, cidr: str) -> bool:
        """True if ``cidr`` lies inside one of ``audit.trusted_cidrs`` (which count as the same account)."""
        try:
            network = ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            return False
        for trusted in self.trusted_cidrs:
            try:
                trusted_net = ipaddress.ip_network(trusted, strict=False)
            except ValueError:
                continue
            if network.version == trusted_net.version and network.subnet_of(trusted_net):  # type: ignore[arg-type]
                return True
        return False
