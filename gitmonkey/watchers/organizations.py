"""AWS Organizations watchers: the organization itself, recorded in its management account's
repository: every account (``organizations.account``), the tree of roots and OUs
(``organizations.unit``) and the policies (``organizations.policy``: service control policies, and
the policies of every other type enabled at the root, with their targets).

**Only the management account records them.** Every technology first calls DescribeOrganization
(once per account and sync, shared by the three):

- the account is the organization's management account (``MasterAccountId``): the organization
  is read;
- the account is another member (a delegated administrator too): no items. The organization is
  one history, in one repository; a member's repository never held these items, so its empty
  slice records nothing;
- ``AWSOrganizationsNotInUseException``: the account is in no organization, AWS says so: no items
  (a management account whose organization was deleted records the deletions, which is what
  happened);
- any other failure (AccessDenied included) raises: the slice fails and keeps its files.

The rule is read from AWS, not from the configuration, so it holds whether the account was
configured under ``accounts:`` or discovered through ``organization:``, and for ``gitmonkey listen``.

The tree walk (ListRoots, then per root and OU ListOrganizationalUnitsForParent and
ListAccountsForParent, paginated: ``gitmonkey.organization.tree``) is shared by the account and
unit technologies. Per item: ListTagsForResource (accounts, roots, OUs, customer-managed policies),
DescribePolicy and ListTargetsForPolicy (policies).
"""

from __future__ import annotations

from typing import Any

from gitmonkey.model import Item, Technology
from gitmonkey.organization.tree import (
    NOT_IN_USE,
    ROOT,
    Member,
    OrganizationTree,
    Unit,
    list_roots,
    read_tree,
    tags_of,
)
from gitmonkey.read.aws import SliceContext
from gitmonkey.watchers._common import call_or_absent, collect, decode_policy, describe_each

WORKERS = 4  # Organizations allows few requests a second per account; botocore backs off beyond
SCP = "SERVICE_CONTROL_POLICY"
# A thing deleted between the listing and its per-item read is left out.
GONE_CODES = (
    "AccountNotFoundException",
    "OrganizationalUnitNotFoundException",
    "PolicyNotFoundException",
    "TargetNotFoundException",
)


def _organization(ctx: SliceContext) -> dict[str, Any] | None:
    """DescribeOrganization's ``Organization`` when this account is its management account, else None."""

    def describe() -> dict[str, Any] | None:
        answer = call_or_absent(ctx.client("organizations").describe_organization, (NOT_IN_USE,))
        return None if answer is None else dict(answer["Organization"])

    organization = ctx.shared(("organizations", "describe"), describe)
    if organization is None or organization.get("MasterAccountId") != ctx.account_id:
        return None
    return organization


def _roots(ctx: SliceContext) -> list[Unit]:
    return ctx.shared(("organizations", "roots"), lambda: list_roots(ctx.client("organizations")))


def _tree(ctx: SliceContext) -> OrganizationTree:
    return ctx.shared(("organizations", "tree"), lambda: read_tree(ctx.client("organizations"), _roots(ctx)))


def _account_item(ctx: SliceContext, member: Member, management_id: str) -> Item:
    configuration = {
        "Id": member.id,
        "Arn": member.arn,
        "Name": member.name,
        "Email": member.email,
        "State": member.state,
        "JoinedMethod": member.joined_method,
        "JoinedTimestamp": member.joined_timestamp,
        "ParentId": member.parent.id,
        "OrganizationalUnitPath": member.parent.path_text,
        "OrganizationalUnitIdPath": member.parent.id_path_text,
        "Management": member.id == management_id,
        "Tags": tags_of(ctx.client("organizations"), member.id),
    }
    return Item("organizations.account", ctx.region, member.id, member.name, member.arn, configuration)


def list_accounts(ctx: SliceContext) -> list[Item]:
    """Every account of the organization, where it sits in the tree, its tags; nothing outside
    the management account."""
    organization = _organization(ctx)
    if organization is None:
        return []
    tree = _tree(ctx)
    management_id = organization["MasterAccountId"]
    return describe_each(lambda member: _account_item(ctx, member, management_id), tree.accounts,
                         workers=WORKERS, name="org-account", gone=GONE_CODES)


def _unit_item(ctx: SliceContext, unit: Unit) -> Item:
    configuration = {
        "Id": unit.id,
        "Arn": unit.arn,
        "Name": unit.name,
        "Type": unit.type,
        "ParentId": unit.parent_id,
        "Path": unit.path_text,
        "IdPath": unit.id_path_text,
        # The policy types enabled at the root (SCPs, RCPs, tag policies...); null for an OU.
        "PolicyTypes": [dict(t) for t in unit.policy_types] if unit.type == ROOT else None,
        "Tags": tags_of(ctx.client("organizations"), unit.id),
    }
    return Item("organizations.unit", ctx.region, unit.id, unit.path_text, unit.arn, configuration)


def list_units(ctx: SliceContext) -> list[Item]:
    """The roots and every OU, with their path of names from the root; nothing outside the
    management account."""
    if _organization(ctx) is None:
        return []
    return describe_each(lambda unit: _unit_item(ctx, unit), _tree(ctx).units,
                         workers=WORKERS, name="org-unit", gone=GONE_CODES)


def policy_types(organization: dict[str, Any], roots: list[Unit]) -> list[str]:
    """The policy types read: SCPs in an organization with all features, and every type enabled
    (or being enabled or disabled) at a root. None in a consolidated-billing organization."""
    if organization.get("FeatureSet") != "ALL":
        return []
    types = {SCP} | {str(t["Type"]) for root in roots for t in root.policy_types if t.get("Type")}
    return sorted(types)


def _policy_item(ctx: SliceContext, summary: dict[str, Any]) -> Item:
    client = ctx.client("organizations")
    policy_id = summary["Id"]
    policy = client.describe_policy(PolicyId=policy_id)["Policy"]
    described = {**summary, **(policy.get("PolicySummary") or {})}
    targets = collect(client, "list_targets_for_policy", "Targets", PolicyId=policy_id)
    # AWS-managed policies (FullAWSAccess...) cannot be tagged.
    tags = {} if described.get("AwsManaged") else tags_of(client, policy_id)
    configuration = {
        "Id": policy_id,
        "Arn": described.get("Arn") or "",
        "Name": described.get("Name") or policy_id,
        "Description": described.get("Description"),
        "Type": described.get("Type"),
        "AwsManaged": bool(described.get("AwsManaged")),
        "Content": decode_policy(policy.get("Content")),
        "Targets": [
            {"TargetId": t.get("TargetId"), "Arn": t.get("Arn"), "Name": t.get("Name"), "Type": t.get("Type")}
            for t in targets
        ],
        "Tags": tags,
    }
    return Item("organizations.policy", ctx.region, policy_id, configuration["Name"], configuration["Arn"],
                configuration)


def list_policies(ctx: SliceContext) -> list[Item]:
    """The policies of each type read (see ``policy_types``), their content and targets; nothing
    outside the management account."""
    organization = _organization(ctx)
    if organization is None:
        return []
    client = ctx.client("organizations")
    summaries: dict[str, dict[str, Any]] = {}
    for policy_type in policy_types(organization, _roots(ctx)):
        for summary in collect(client, "list_policies", "Policies", Filter=policy_type):
            summaries.setdefault(summary["Id"], dict(summary))
    return describe_each(lambda summary: _policy_item(ctx, summary), summaries.values(),
                         workers=WORKERS, name="org-policy", gone=GONE_CODES)


_TREE_CALLS = {
    "organizations:DescribeOrganization": ("Organization",),
    "organizations:ListRoots": ("Roots",),
    "organizations:ListOrganizationalUnitsForParent": ("OrganizationalUnits",),
    "organizations:ListAccountsForParent": ("Accounts",),
    "organizations:ListTagsForResource": ("Tags",),
}
_TREE_ACTIONS = (
    "organizations:DescribeOrganization",
    "organizations:ListRoots",
    "organizations:ListOrganizationalUnitsForParent",
    "organizations:ListAccountsForParent",
    "organizations:ListTagsForResource",
)

TECHNOLOGIES: tuple[Technology, ...] = (
    Technology(
        name="organizations.account",
        is_global=True,
        list_items=list_accounts,
        description=(
            "The accounts of the AWS Organization (recorded in the management account only): name, "
            "e-mail, state, how and when it joined, its OU (id, path of names and of ids), tags."
        ),
        always_returned=_TREE_CALLS,
        iam_actions=_TREE_ACTIONS,
    ),
    Technology(
        name="organizations.unit",
        is_global=True,
        list_items=list_units,
        description=(
            "The roots and organizational units of the AWS Organization (management account only): "
            "name, path from the root, parent, the policy types enabled at the root, tags."
        ),
        unordered_paths=("PolicyTypes",),
        always_returned=_TREE_CALLS,
        iam_actions=_TREE_ACTIONS,
    ),
    Technology(
        name="organizations.policy",
        is_global=True,
        list_items=list_policies,
        description=(
            "The policies of the AWS Organization (management account only): service control "
            "policies and those of the other types enabled at the root, their content as a "
            "policy document, the roots, OUs and accounts they are attached to, tags."
        ),
        unordered_paths=("Targets",),
        always_returned={
            "organizations:DescribeOrganization": ("Organization",),
            "organizations:ListRoots": ("Roots",),
            "organizations:ListPolicies": ("Policies",),
            "organizations:DescribePolicy": ("Policy",),
            "organizations:ListTargetsForPolicy": ("Targets",),
            "organizations:ListTagsForResource": ("Tags",),
        },
        iam_actions=(
            "organizations:DescribeOrganization",
            "organizations:ListRoots",
            "organizations:ListPolicies",
            "organizations:DescribePolicy",
            "organizations:ListTargetsForPolicy",
            "organizations:ListTagsForResource",
        ),
    ),
)
