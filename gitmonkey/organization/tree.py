"""An AWS Organization's tree as AWS lists it: its roots, its OUs and the accounts in each.

``ListAccountsForParent`` and ``ListOrganizationalUnitsForParent`` answer for one parent only, so
the tree is walked from the roots, level by level, every listing paginated. The accounts then
carry where they sit: the parent's id, the path of OU names from the root (``("Root", "Prod",
"Web")``, written ``/Root/Prod/Web``) and the path of ids (``/r-ab12/ou-ab12-11111111/...``).
Used by the discovery (``gitmonkey.organization.discovery``) and by the ``organizations.*``
watchers, so that both place an account alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gitmonkey.watchers._common import collect

ROOT = "ROOT"
ORGANIZATIONAL_UNIT = "ORGANIZATIONAL_UNIT"
NOT_IN_USE = "AWSOrganizationsNotInUseException"


def path_text(segments: Sequence[str]) -> str:
    """``("Root", "Prod", "Web")`` -> ``/Root/Prod/Web``."""
    return "/" + "/".join(segments)


@dataclass(frozen=True)
class Unit:
    """A root or an OU. ``path`` holds the names from the root down to this unit, ``id_path`` the ids."""

    id: str
    arn: str
    name: str
    type: str
    parent_id: str | None
    path: tuple[str, ...]
    id_path: tuple[str, ...]
    policy_types: tuple[Mapping[str, Any], ...] = ()

    @property
    def path_text(self) -> str:
        return path_text(self.path)

    @property
    def id_path_text(self) -> str:
        return path_text(self.id_path)


@dataclass(frozen=True)
class Member:
    """An account of the organization as ``ListAccountsForParent`` gave it, with its parent."""

    id: str
    arn: str
    name: str
    email: str
    state: str
    joined_method: str | None
    joined_timestamp: datetime | None
    parent: Unit

    @classmethod
    def from_answer(cls, answer: Mapping[str, Any], parent: Unit) -> Member:
        # AWS's State (PENDING_ACTIVATION, ACTIVE, SUSPENDED, PENDING_CLOSURE, CLOSED) replaces the
        # deprecated Status (ACTIVE, SUSPENDED, PENDING_CLOSURE); an endpoint that only gives Status
        # is read through it.
        return cls(
            id=answer["Id"],
            arn=answer.get("Arn") or "",
            name=answer.get("Name") or answer["Id"],
            email=answer.get("Email") or "",
            state=answer.get("State") or answer.get("Status") or "UNKNOWN",
            joined_method=answer.get("JoinedMethod"),
            joined_timestamp=answer.get("JoinedTimestamp"),
            parent=parent,
        )


@dataclass(frozen=True)
class OrganizationTree:
    """The roots and OUs (roots first, then level by level) and every account, once each."""

    units: tuple[Unit, ...]
    accounts: tuple[Member, ...]


def list_roots(client: Any) -> list[Unit]:
    """The organization's roots (AWS has one), with the policy types enabled at each."""
    return [
        Unit(
            id=root["Id"],
            arn=root.get("Arn") or "",
            name=root.get("Name") or "Root",
            type=ROOT,
            parent_id=None,
            path=(root.get("Name") or "Root",),
            id_path=(root["Id"],),
            policy_types=tuple(dict(t) for t in root.get("PolicyTypes") or ()),
        )
        for root in collect(client, "list_roots", "Roots")
    ]


def read_tree(client: Any, roots: Sequence[Unit] | None = None) -> OrganizationTree:
    """Walk the tree from ``roots`` (``ListRoots`` when None): for each parent, its OUs and its
    accounts (``ListOrganizationalUnitsForParent``, ``ListAccountsForParent``, both paginated).

    Any failure raises: a tree with a branch missing would drop that branch's accounts.
    """
    units: list[Unit] = list(roots if roots is not None else list_roots(client))
    seen_units = {u.id for u in units}
    accounts: dict[str, Member] = {}
    level = list(units)
    while level:
        below: list[Unit] = []
        for parent in level:
            for ou in collect(client, "list_organizational_units_for_parent", "OrganizationalUnits",
                              ParentId=parent.id):
                if ou["Id"] in seen_units:
                    continue  # never from AWS; an endpoint that loops must not walk for ever
                seen_units.add(ou["Id"])
                name = ou.get("Name") or ou["Id"]
                below.append(Unit(
                    id=ou["Id"], arn=ou.get("Arn") or "", name=name, type=ORGANIZATIONAL_UNIT,
                    parent_id=parent.id, path=(*parent.path, name), id_path=(*parent.id_path, ou["Id"]),
                ))
            for account in collect(client, "list_accounts_for_parent", "Accounts", ParentId=parent.id):
                accounts.setdefault(account["Id"], Member.from_answer(account, parent))
        units += below
        level = below
    return OrganizationTree(units=tuple(units), accounts=tuple(accounts.values()))


def tags_of(client: Any, resource_id: str) -> dict[str, str]:
    """``ListTagsForResource`` (paginated) of an account, OU, root or policy, as ``{key: value}``."""
    return {t["Key"]: t.get("Value", "") for t in collect(client, "list_tags_for_resource", "Tags",
                                                          ResourceId=resource_id)}


def partition_of(arn: str, default: str = "aws") -> str:
    """The partition of an ARN (``arn:aws-cn:...`` -> ``aws-cn``)."""
    parts = arn.split(":")
    return parts[1] if len(parts) > 2 and parts[0] == "arn" and parts[1] else default
