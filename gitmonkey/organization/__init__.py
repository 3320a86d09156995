"""A whole AWS Organization: discover its accounts (``discover_accounts``,
``with_discovered_accounts``) from ``organization:`` in gitmonkey.yaml.

Modules: ``tree`` (the roots, OUs and accounts as AWS lists them), ``filters`` (statuses,
include / exclude), ``naming`` (repository names), ``discovery`` (the accounts to sync),
``report`` (what ``gitmonkey accounts`` shows). See docs/readme/organizations.md.
"""

from __future__ import annotations

from gitmonkey.organization.discovery import (
    DiscoveredAccount,
    Discovery,
    OrganizationAccount,
    OrganizationDiscoveryError,
    discover_accounts,
    with_discovered_accounts,
)

__all__ = [
    "DiscoveredAccount",
    "Discovery",
    "OrganizationAccount",
    "OrganizationDiscoveryError",
    "discover_accounts",
    "with_discovered_accounts",
]
