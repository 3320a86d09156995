"""IAM instance profiles (listed in ``iam.TECHNOLOGIES``): ``iam.instance_profile``.

An EC2 instance runs as the role of its instance profile (instance -> instance profile -> role),
so judging an instance by what it may do needs the profiles of the account. One paginated
ListInstanceProfiles reads them all, each with its roles; no call is made per profile.

Tags are not recorded: ListInstanceProfiles does not return them ("IAM resource-listing
operations return a subset of the available attributes"), and reading them would cost one
ListInstanceProfileTags per profile. Of each role only its identity is recorded (``RoleName``,
``RoleId``, ``Arn``, ``Path``): its trust policy, policies and last use are the ``iam.role``
item's, and copying them here would make one role change two commits.

Item id and name: the instance profile name (unique in the account); ARN: the profile's ``Arn``.
A profile no longer listed leaves the repository.
"""

from __future__ import annotations

from typing import Any

from gitmonkey.model import Item, Technology
from gitmonkey.read.aws import SliceContext
from gitmonkey.read.aws_responses import UnreadableResponseError
from gitmonkey.watchers._common import call_or_absent, collect

ROLE_KEYS = ("RoleName", "RoleId", "Arn", "Path")


def list_instance_profiles(ctx: SliceContext) -> list[Item]:
    listed = collect(ctx.client("iam"), "list_instance_profiles", "InstanceProfiles")
    return [_item(ctx, entry, "ListInstanceProfiles") for entry in listed]


def get_instance_profile(ctx: SliceContext, name: str) -> Item | None:
    """One GetInstanceProfile, whose answer is the listing's entry with tags (not recorded)."""
    iam = ctx.client("iam")
    answer = call_or_absent(iam.get_instance_profile, ("NoSuchEntity",), InstanceProfileName=name)
    if answer is None or answer["InstanceProfile"].get("InstanceProfileName") != name:
        return None
    return _item(ctx, answer["InstanceProfile"], "GetInstanceProfile")


def _item(ctx: SliceContext, entry: dict[str, Any], operation: str) -> Item:
    if not isinstance(entry.get("Roles"), list):
        # AWS always sends Roles (empty for a profile without a role); without it a profile
        # would read as "no role" and record a false change.
        reason = f"instance profile {entry.get('InstanceProfileName')!r} has no Roles"
        raise UnreadableResponseError("iam", operation, reason)
    name = entry["InstanceProfileName"]
    roles = sorted(
        ({key: role.get(key) for key in ROLE_KEYS} for role in entry["Roles"]),
        key=lambda role: str(role["RoleName"]),
    )
    configuration = {
        "InstanceProfileName": name,
        "InstanceProfileId": entry.get("InstanceProfileId"),
        "Path": entry.get("Path"),
        "Arn": entry.get("Arn"),
        "CreateDate": entry.get("CreateDate"),
        "Roles": roles,
    }
    return Item("iam.instance_profile", ctx.region, name, name, entry.get("Arn") or "", configuration)


TECHNOLOGIES: tuple[Technology, ...] = (
    Technology(
        name="iam.instance_profile",
        is_global=True,
        list_items=list_instance_profiles,
        get_item=get_instance_profile,
        description=(
            "IAM instance profiles: name, id, path, ARN, creation date and the role an EC2 instance "
            "launched with the profile runs as (RoleName, RoleId, Arn, Path of each role; the "
            "role's policies are recorded by iam.role). Tags are not read: ListInstanceProfiles "
            "does not return them, and ListInstanceProfileTags would cost a call per profile."
        ),
        # AWS allows one role per profile, but the API returns a list: keep it in a defined order.
        unordered_paths=("Roles",),
        always_returned={"iam:ListInstanceProfiles": ("InstanceProfiles",)},
        iam_actions=("iam:ListInstanceProfiles", "iam:GetInstanceProfile"),
    ),
)
