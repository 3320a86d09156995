"""The effective identity policies of an IAM user, role or group, read from the repository.

A user is allowed what its inline policies, its attached managed policies, and the inline and
attached policies of each of its groups allow; a role and a group what their own inline and
attached policies allow. Managed policies are read from the account's ``iam.policy`` items
(customer managed) and ``iam.aws_policy`` items (AWS managed, attached ones); an AWS managed policy
whose document is not recorded is judged by ``policy.AWS_MANAGED_EQUIVALENTS`` only, and named in
``EffectivePolicies.unresolved``.

Each ``Grant`` keeps the chain that brought the statement to the principal, so a finding can say
``via group admins, attached policy AdminAll statement 0`` and point at ``configuration.GroupList[0]``.

What this does not model: service control policies and resource control policies (they belong to the
Organization), session policies, resource policies, and conditions (a conditional statement counts
as granted; its finding says it is conditional). An explicit Deny counts only when it has no
condition and applies to every resource.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import gitmonkey.audit.policy as policy
from gitmonkey.audit.policy import StatementRef
from gitmonkey.audit.related import Ref, RelatedItems, managed_policy_ref, references

PRINCIPALS = ("iam.user", "iam.role", "iam.group")


@dataclass(frozen=True)
class Grant:
    """One statement that applies to the principal, and how it gets there."""

    ref: StatementRef
    chain: tuple[str, ...]
    """Empty for the principal's own inline policy; else e.g. ("group admins", "attached policy AdminAll")."""
    path: str
    """Where the chain starts in the principal's document (the statement, the group, the attachment)."""
    key_prefix: str = ""

    @property
    def key(self) -> str:
        return self.key_prefix + self.ref.key

    @property
    def statement_id(self) -> str:
        return self.ref.key.split("/", 1)[1]

    def where(self) -> str:
        """``policy P statement S``, or ``via group G, attached policy P statement S``."""
        if not self.chain:
            return f"policy {self.ref.policy_name} statement {self.statement_id}"
        via = ", ".join(self.chain)
        last = "" if self.chain[-1].endswith(f"policy {self.ref.policy_name}") else (
            f", policy {self.ref.policy_name}")
        return f"via {via}{last} statement {self.statement_id}"

    @property
    def conditional(self) -> bool:
        return bool(self.ref.statement.get("Condition"))


@dataclass(frozen=True)
class Unresolved:
    """An attached managed policy whose document the repository does not hold."""

    name: str
    arn: str
    chain: tuple[str, ...]
    path: str
    key_prefix: str

    @property
    def key(self) -> str:
        return f"{self.key_prefix}managed:{self.name}"

    def where(self) -> str:
        via = f"via {', '.join(self.chain)}: " if self.chain else ""
        return f"{via}attached AWS managed policy {self.name}"


@dataclass
class EffectivePolicies:
    grants: list[Grant] = field(default_factory=list)
    unresolved: list[Unresolved] = field(default_factory=list)
    boundary: tuple[str, list[StatementRef] | None] | None = None
    """(name, statements or None if not recorded) of the permissions boundary, if one is set."""

    def allows(self, action: str) -> list[Grant]:
        """Grants that allow ``action`` (lower case ``service:action``) and no unconditional Deny
        on every resource takes away; [] if the permissions boundary (when recorded) does not allow it."""
        if any(_denies(g.ref, action) for g in self.grants):
            return []
        if self.boundary is not None and self.boundary[1] is not None and not any(
            ref.allows and action in policy.expanded_actions(ref) for ref in self.boundary[1]
        ):
            return []
        return [g for g in self.grants if g.ref.allows and action in policy.expanded_actions(g.ref)]

    def full_admin(self) -> bool:
        """An unconditional Allow of Action * on Resource * (or AdministratorAccess) applies."""
        if any(name == "*" for name, _ in self.equivalents()):
            return True
        return any(
            g.ref.allows and not g.conditional and "*" in g.ref.actions() and "*" in g.ref.resources()
            for g in self.grants
        ) and not any(_denies(g.ref, "*") for g in self.grants)

    def equivalents(self) -> Iterator[tuple[str, Unresolved]]:
        """(action it amounts to, policy) of unrecorded AWS managed policies in
        ``policy.AWS_MANAGED_EQUIVALENTS``."""
        for entry in self.unresolved:
            action = policy.AWS_MANAGED_EQUIVALENTS.get(entry.arn)
            if action:
                yield action, entry


def _denies(ref: StatementRef, action: str) -> bool:
    statement = ref.statement
    if statement.get("Effect") != "Deny" or statement.get("Condition") or "NotResource" in statement:
        return False
    if "*" not in ref.resources():
        return False
    if action == "*":
        return "*" in ref.actions()
    return action in policy.expanded_actions(ref)


def _managed_statements(related: RelatedItems, ref: Ref) -> list[StatementRef] | None:
    document = related.get(ref.technology, ref.item_id, ref.region)
    configuration = document.get("configuration") if isinstance(document, dict) else None
    if not isinstance(configuration, dict):
        return None
    name = str(configuration.get("PolicyName") or ref.item_id)
    return [
        s
        for _, path, doc in policy.identity_policies("iam.policy", {**configuration, "PolicyName": name})
        for s in policy.statements(doc, name, path)
    ]


def _own_policies(
    technology: str, configuration: Mapping[str, Any], related: RelatedItems, chain: tuple[str, ...],
    path: str | None, key_prefix: str, result: EffectivePolicies,
) -> None:
    for ref in policy.identity_statements(technology, dict(configuration)):
        result.grants.append(Grant(ref, chain, path or ref.path, key_prefix))
    for attached in references(technology, configuration):
        if attached.technology not in ("iam.policy", "iam.aws_policy"):
            continue
        if attached.path == "configuration.PermissionsBoundary":
            continue
        statements = _managed_statements(related, attached)
        label = f"attached policy {attached.item_id}"
        where = path or attached.path
        if statements is None:
            result.unresolved.append(Unresolved(attached.item_id, attached.value, chain, where, key_prefix))
            continue
        prefix = f"{key_prefix}managed:{attached.item_id}/"
        result.grants.extend(Grant(ref, (*chain, label), where, prefix) for ref in statements)


def effective_policies(document: Mapping[str, Any], related: RelatedItems) -> EffectivePolicies:
    """The policies that apply to the IAM principal of ``document`` (user, role or group)."""
    technology = str(document.get("technology") or "")
    configuration = document.get("configuration")
    result = EffectivePolicies()
    if technology not in PRINCIPALS or not isinstance(configuration, Mapping):
        return result
    _own_policies(technology, configuration, related, (), None, "", result)
    if technology == "iam.user":
        for group_ref, group in related.referenced(document, "iam.group"):
            group_configuration = group.get("configuration") if isinstance(group, dict) else None
            if not isinstance(group_configuration, Mapping):
                continue
            _own_policies("iam.group", group_configuration, related, (f"group {group_ref.item_id}",),
                          group_ref.path, f"group:{group_ref.item_id}/", result)
    boundary = configuration.get("PermissionsBoundary")
    arn = boundary.get("PermissionsBoundaryArn") if isinstance(boundary, Mapping) else None
    if isinstance(arn, str) and arn:
        ref = managed_policy_ref(arn, "configuration.PermissionsBoundary")
        name = ref.item_id if ref else arn
        result.boundary = (name, _managed_statements(related, ref) if ref else None)
    return result
