"""EC2 watchers: security groups (one paginated DescribeSecurityGroups per region)."""

from __future__ import annotations

from gitmonkey.aws import SliceContext
from gitmonkey.model import Item, Technology
from gitmonkey.watchers._common import collect, partition, tags_dict

_RULE_LISTS = ("IpRanges", "Ipv6Ranges", "PrefixListIds", "UserIdGroupPairs")


def list_security_groups(ctx: SliceContext) -> list[Item]:
    ec2 = ctx.client("ec2")
    items = []
    for group in collect(ec2, "describe_security_groups", "SecurityGroups"):
        group_id = group["GroupId"]
        owner = group.get("OwnerId") or ctx.account_id
        arn = group.get("SecurityGroupArn") or (
            f"arn:{partition(ctx.client_region)}:ec2:{ctx.region}:{owner}:security-group/{group_id}"
        )
        configuration = {
            "GroupId": group_id,
            "GroupName": group.get("GroupName", ""),
            "Description": group.get("Description", ""),
            "VpcId": group.get("VpcId"),
            "OwnerId": owner,
            "IpPermissions": group.get("IpPermissions") or [],
            "IpPermissionsEgress": group.get("IpPermissionsEgress") or [],
            "Tags": tags_dict(group.get("Tags")),
        }
        items.append(
            Item(
                technology="ec2.security_group",
                region=ctx.region,
                id=group_id,
                name=group.get("GroupName") or group_id,
                arn=arn,
                configuration=configuration,
            )
        )
    return items


TECHNOLOGIES = (
    Technology(
        name="ec2.security_group",
        is_global=False,
        list_items=list_security_groups,
        description="VPC security groups: description, VPC, owner, ingress and egress rules, tags.",
        unordered_paths=(
            "IpPermissions",
            "IpPermissionsEgress",
            *(f"IpPermissions.*.{key}" for key in _RULE_LISTS),
            *(f"IpPermissionsEgress.*.{key}" for key in _RULE_LISTS),
        ),
        iam_actions=("ec2:DescribeSecurityGroups",),
    ),
)
