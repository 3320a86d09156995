"""EC2 watchers, one region at a time.

- ``ec2.security_group``: one paginated DescribeSecurityGroups.
- ``ec2.snapshot``: the account's own EBS snapshots; per snapshot its createVolumePermission.
- ``ec2.image``: the account's own AMIs; per image its launchPermission.
- ``ec2.network_acl``: one paginated DescribeNetworkAcls.
- ``ec2.vpc_endpoint``: one paginated DescribeVpcEndpoints, the endpoint policy decoded.

Item building for the last four is in ``_ec2_storage`` and ``_ec2_network``. The VPC plumbing
(``ec2.vpc``, ``ec2.subnet``, ``ec2.route_table``, ``ec2.nat_gateway``, ``ec2.vpc_peering``,
``ec2.dhcp_options``, ``ec2.flow_log``, ``ec2.vpn_connection``, ``ec2.vpn_gateway``) is in
``_ec2_vpc``, and instances, Elastic IPs, network interfaces, key pairs and volumes in
``_ec2_compute``; they are listed here, in ``TECHNOLOGIES``.
"""

from __future__ import annotations

from gitmonkey.read.aws import SliceContext
from gitmonkey.model import Item, Technology
from gitmonkey.watchers import _ec2_account, _ec2_compute, _ec2_network, _ec2_storage, _ec2_vpc
from gitmonkey.watchers._common import collect, describe_each, ec2_arn, tags_dict

_RULE_LISTS = ("IpRanges", "Ipv6Ranges", "PrefixListIds", "UserIdGroupPairs")


def list_security_groups(ctx: SliceContext) -> list[Item]:
    ec2 = ctx.client("ec2")
    items = []
    for group in collect(ec2, "describe_security_groups", "SecurityGroups"):
        group_id = group["GroupId"]
        owner = group.get("OwnerId") or ctx.account_id
        arn = group.get("SecurityGroupArn") or ec2_arn(ctx, owner, f"security-group/{group_id}")
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


def list_snapshots(ctx: SliceContext) -> list[Item]:
    """Snapshots owned by the account, by an ``owner-id`` filter.

    ``OwnerIds`` is not used: moto ignores it (and would list every public Amazon snapshot),
    while the filter means the same thing to AWS and to moto.
    """
    owned = [{"Name": "owner-id", "Values": [ctx.account_id]}]
    listed = collect(ctx.client("ec2"), "describe_snapshots", "Snapshots", Filters=owned)
    return describe_each(
        lambda snapshot: _ec2_storage.snapshot_item(ctx, snapshot),
        listed,
        name="ec2-snapshot",
        gone=_ec2_storage.SNAPSHOT_GONE,
    )


def list_images(ctx: SliceContext) -> list[Item]:
    """AMIs owned by the account, disabled ones included (disabling is not deleting)."""
    listed = collect(
        ctx.client("ec2"),
        "describe_images",
        "Images",
        Owners=["self"],
        IncludeDeprecated=True,
        IncludeDisabled=True,
    )
    return describe_each(
        lambda image: _ec2_storage.image_item(ctx, image),
        listed,
        name="ec2-image",
        gone=_ec2_storage.IMAGE_GONE,
    )


def list_network_acls(ctx: SliceContext) -> list[Item]:
    return [
        _ec2_network.network_acl_item(ctx, acl, acl.get("OwnerId") or ctx.account_id)
        for acl in collect(ctx.client("ec2"), "describe_network_acls", "NetworkAcls")
    ]


def list_vpc_endpoints(ctx: SliceContext) -> list[Item]:
    return [
        _ec2_network.vpc_endpoint_item(ctx, endpoint, endpoint.get("OwnerId") or ctx.account_id)
        for endpoint in collect(ctx.client("ec2"), "describe_vpc_endpoints", "VpcEndpoints")
    ]


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
        always_returned={
            "ec2:DescribeSecurityGroups": ("SecurityGroups",),
        },
        iam_actions=("ec2:DescribeSecurityGroups",),
    ),
    Technology(
        name="ec2.snapshot",
        is_global=False,
        list_items=list_snapshots,
        description=(
            "EBS snapshots owned by the account: volume, size, encryption and key, storage tier, "
            "tags, and who may create volumes from it (createVolumePermission: accounts or group all)."
        ),
        ephemeral_paths=("State", "StateMessage", "Progress"),
        unordered_paths=("CreateVolumePermissions",),
        always_returned={
            "ec2:DescribeSnapshots": ("Snapshots",),
            "ec2:DescribeSnapshotAttribute": ("CreateVolumePermissions",),
        },
        iam_actions=("ec2:DescribeSnapshots", "ec2:DescribeSnapshotAttribute"),
    ),
    Technology(
        name="ec2.image",
        is_global=False,
        list_items=list_images,
        description=(
            "AMIs owned by the account: name, public flag, state, deprecation, platform and boot "
            "settings, block devices, product codes, tags, and launchPermission (accounts, "
            "organisations, group all)."
        ),
        ephemeral_paths=("LastLaunchedTime",),
        unordered_paths=("LaunchPermissions", "BlockDeviceMappings", "ProductCodes"),
        always_returned={
            "ec2:DescribeImages": ("Images",),
            "ec2:DescribeImageAttribute": ("LaunchPermissions",),
        },
        iam_actions=("ec2:DescribeImages", "ec2:DescribeImageAttribute"),
    ),
    Technology(
        name="ec2.network_acl",
        is_global=False,
        list_items=list_network_acls,
        description=(
            "VPC network ACLs: VPC, default flag, entries (ingress then egress, by rule number: "
            "the order AWS evaluates them), subnet associations, tags."
        ),
        unordered_paths=("Associations",),
        always_returned={
            "ec2:DescribeNetworkAcls": ("NetworkAcls",),
        },
        iam_actions=("ec2:DescribeNetworkAcls",),
    ),
    Technology(
        name="ec2.vpc_endpoint",
        is_global=False,
        list_items=list_vpc_endpoints,
        description=(
            "VPC endpoints: service, type, VPC, endpoint policy (PolicyDocument, decoded), route "
            "tables, subnets, security groups, network interfaces, private DNS and DNS entries, tags."
        ),
        ephemeral_paths=("State", "LastError", "FailureReason"),
        unordered_paths=("RouteTableIds", "SubnetIds", "Groups", "NetworkInterfaceIds", "DnsEntries"),
        always_returned={
            "ec2:DescribeVpcEndpoints": ("VpcEndpoints",),
        },
        iam_actions=("ec2:DescribeVpcEndpoints",),
    ),
    *_ec2_vpc.TECHNOLOGIES,
    *_ec2_compute.TECHNOLOGIES,
    *_ec2_account.TECHNOLOGIES,
)
