"""AWS managed policies that the account uses (listed in ``iam.TECHNOLOGIES``): ``iam.aws_policy``.

The effective permissions of a user or role (``gitmonkey.audit.effective``) need the documents of
the AWS managed policies attached to it, which GetAccountAuthorizationDetails' customer-managed
filter leaves out. One paginated ListPolicies(Scope=AWS, OnlyAttached=True) names the attached
ones with their default version; one GetPolicyVersion per policy reads its document. Recording
them also records AWS's own changes to them: a new default version of ReadOnlyAccess is a commit.

Item id and name: the policy name (unique among AWS managed policies, e.g. ``AdministratorAccess``);
a policy no longer attached anywhere leaves the repository (and reads as ``None`` by id).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from gitmonkey.model import Item, Technology
from gitmonkey.read.aws import SliceContext
from gitmonkey.watchers._common import collect, decode_policy, describe_each, is_error

_GONE = ("NoSuchEntity",)


def _attached(ctx: SliceContext) -> list[dict[str, Any]]:
    """ListPolicies(Scope=AWS, OnlyAttached=True): the AWS managed policies the account uses."""
    return collect(ctx.client("iam"), "list_policies", "Policies", Scope="AWS", OnlyAttached=True)


def _item(ctx: SliceContext, entry: dict[str, Any]) -> Item:
    arn = entry["Arn"]
    version = ctx.client("iam").get_policy_version(PolicyArn=arn, VersionId=entry["DefaultVersionId"])
    configuration = {
        "PolicyName": entry["PolicyName"],
        "PolicyId": entry.get("PolicyId"),
        "Arn": arn,
        "Path": entry.get("Path"),
        "DefaultVersionId": entry["DefaultVersionId"],
        "UpdateDate": entry.get("UpdateDate"),
        "Document": decode_policy(version["PolicyVersion"].get("Document")),
        "AttachmentCount": entry.get("AttachmentCount", 0),
        "PermissionsBoundaryUsageCount": entry.get("PermissionsBoundaryUsageCount", 0),
    }
    name = entry["PolicyName"]
    return Item("iam.aws_policy", ctx.region, name, name, arn, configuration)


def list_aws_policies(ctx: SliceContext) -> list[Item]:
    return describe_each(lambda entry: _item(ctx, entry), _attached(ctx), name="iam-aws-policy", gone=_GONE)


def get_aws_policy(ctx: SliceContext, name: str) -> Item | None:
    """The policy's entry in the same listing (an AWS managed policy's ARN holds a path the id
    does not give, and "attached" is what the listing's OnlyAttached says), then one
    GetPolicyVersion: 1 + 1 calls for up to 100 attached AWS policies, not 1 + one per policy."""
    entry = next((entry for entry in _attached(ctx) if entry.get("PolicyName") == name), None)
    if entry is None:
        return None
    try:
        return _item(ctx, entry)
    except ClientError as exc:
        if is_error(exc, *_GONE):
            return None
        raise


TECHNOLOGIES: tuple[Technology, ...] = (
    Technology(
        name="iam.aws_policy",
        is_global=True,
        list_items=list_aws_policies,
        get_item=get_aws_policy,
        description=(
            "AWS managed IAM policies attached to a user, role or group of the account: default "
            "version and its document. Read so that effective-permission "
            "rules see what AdministratorAccess, PowerUserAccess... allow, and so that AWS's changes to "
            "them are recorded."
        ),
        # Counters move when another item (a user, role or group) changes, which is recorded there.
        ephemeral_paths=("AttachmentCount", "PermissionsBoundaryUsageCount"),
        always_returned={"iam:ListPolicies": ("Policies",), "iam:GetPolicyVersion": ("PolicyVersion",)},
        iam_actions=("iam:ListPolicies", "iam:GetPolicyVersion"),
    ),
)
