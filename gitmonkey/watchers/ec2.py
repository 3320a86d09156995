"""EC2 watchers, one region at a time.

- ``ec2.security_group``: one paginated DescribeSecurityGroups.
- ``ec2.snapshot``: the account's own EBS snapshots; per snapshot its createVolumePermission.
- ``ec2.image``: the account's own AMIs; per image its launchPermission.
- ``ec2.network_acl``: one paginated DescribeNetworkAcls.
- ``ec2.vpc_endpoint``: one paginated DescribeVpcEndpoints, the endpoint policy decoded.

Each also reads one item by its id (``get_item``, for a re-read after a CloudTrail event) with
the same Describe call by id and the same item builder: 1 call for a security group, network ACL
or VPC endpoint, 2 for a snapshot or an image (its Describe and its attribute call).

Item building for the last four is in ``_ec2_storage`` and ``_ec2_network``. The VPC plumbing
(``ec2.vpc``, ``ec2.subnet``, ``ec2.route_table``, ``ec2.nat_gateway``, ``ec2.vpc_peering``,
``ec2.dhcp_options``, ``ec2.flow_log``, ``ec2.vpn_connection``, ``ec2.vpn_gateway``) is in
``_ec2_vpc``, and instances, Elastic IPs, network interfaces, key pairs and volumes in
``_ec2_compute``; they are listed here, in ``TECHNOLOGIES``.
"""

from __future__ import annotations

from typing import Any

from gitmonkey.model import Item, Technology
from gitmonkey.read.aws import SliceContext
from gitmonkey.watchers import _ec2_account, _ec2_compute, _ec2_network, _ec2_storage, _ec2_vpc
from gitmonkey.watchers._common import collect, describe_each, ec2_arn, tags_dict
from gitmonkey.watchers._ec2_vpc import describe_one, unless_gone

_RULE_LISTS = ("IpRanges", "Ipv6Ranges", "PrefixListIds", "UserIdGroupPairs")
# DescribeSecurityGroups by id: the group does not exist (InvalidGroup.NotFound; EC2 also has
# InvalidSecurityGroupID.NotFound for an unknown group id, and the two mean the same).
SECURITY_GROUP_GONE = ("InvalidGroup.NotFound", "InvalidSecurityGroupID.NotFound")


def security_group_item(ctx: SliceContext, group: dict[str, Any]) -> Item:
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
    return Item(
        technology="ec2.security_group",
        region=ctx.region,
        id=group_id,
        name=group.get("GroupName") or group_id,
        arn=arn,
        configuration=configuration,
    )


def list_security_groups(ctx: SliceContext) -> list[Item]:
    return [
        security_group_item(ctx, group)
        for group in collect(ctx.client("ec2"), "describe_security_groups", "SecurityGroups")
    ]


def get_security_group(ctx: SliceContext, group_id: str) -> Item | None:
    group = describe_one(
        ctx.client("ec2"), "describe_security_groups", "SecurityGroups", "GroupId", group_id,
        gone=SECURITY_GROUP_GONE, GroupIds=[group_id],
    )
    return None if group is None else security_group_item(ctx, group)


def _owned(ctx: SliceContext) -> list[dict[str, Any]]:
    """The account's own snapshots, by an ``owner-id`` filter.

    ``OwnerIds`` is not used: moto ignores it (and would list every public Amazon snapshot),
    while the filter means the same thing to AWS and to moto.
    """
    return [{"Name": "owner-id", "Values": [ctx.account_id]}]


def list_snapshots(ctx: SliceContext) -> list[Item]:
    """Snapshots owned by the account."""
    listed = collect(ctx.client("ec2"), "describe_snapshots", "Snapshots", Filters=_owned(ctx))
    return describe_each(
        lambda snapshot: _ec2_storage.snapshot_item(ctx, snapshot),
        listed,
        name="ec2-snapshot",
        gone=_ec2_storage.SNAPSHOT_GONE,
    )


def get_snapshot(ctx: SliceContext, snapshot_id: str) -> Item | None:
    """One snapshot if the account owns it (the listing's filter): 2 calls."""
    gone = _ec2_storage.SNAPSHOT_GONE
    snapshot = describe_one(
        ctx.client("ec2"), "describe_snapshots", "Snapshots", "SnapshotId", snapshot_id,
        gone=gone, SnapshotIds=[snapshot_id], Filters=_owned(ctx),
    )
    if snapshot is None:
        return None
    return unless_gone(lambda: _ec2_storage.snapshot_item(ctx, snapshot), gone)


# Disabled images are listed: disabling is not deleting.
_IMAGES = {"Owners": ["self"], "IncludeDeprecated": True, "IncludeDisabled": True}


def list_images(ctx: SliceContext) -> list[Item]:
    """AMIs owned by the account, disabled and deprecated ones included."""
    listed = collect(ctx.client("ec2"), "describe_images", "Images", **_IMAGES)
    return describe_each(
        lambda image: _ec2_storage.image_item(ctx, image),
        listed,
        name="ec2-image",
        gone=_ec2_storage.IMAGE_GONE,
    )


def get_image(ctx: SliceContext, image_id: str) -> Item | None:
    """One AMI if the account owns it: 2 calls. AWS applies ``Owners`` to ``ImageIds``; moto does
    not, so the owner is checked too (``self`` is the account itself)."""
    gone = _ec2_storage.IMAGE_GONE
    image = describe_one(
        ctx.client("ec2"), "describe_images", "Images", "ImageId", image_id,
        gone=gone, ImageIds=[image_id], **_IMAGES,
    )
    if image is None or image.get("OwnerId") != ctx.account_id:
        return None
    return unless_gone(lambda: _ec2_storage.image_item(ctx, image), gone)


def list_network_acls(ctx: SliceContext) -> list[Item]:
    return [
        _ec2_network.network_acl_item(ctx, acl)
        for acl in collect(ctx.client("ec2"), "describe_network_acls", "NetworkAcls")
    ]


def get_network_acl(ctx: SliceContext, acl_id: str) -> Item | None:
    acl = describe_one(
        ctx.client("ec2"), "describe_network_acls", "NetworkAcls", "NetworkAclId", acl_id,
        gone=_ec2_network.NETWORK_ACL_GONE, NetworkAclIds=[acl_id],
    )
    return None if acl is None else _ec2_network.network_acl_item(ctx, acl)


def list_vpc_endpoints(ctx: SliceContext) -> list[Item]:
    return [
        _ec2_network.vpc_endpoint_item(ctx, endpoint)
        for endpoint in collect(ctx.client("ec2"), "describe_vpc_endpoints", "VpcEndpoints")
    ]


def get_vpc_endpoint(ctx: SliceContext, endpoint_id: str) -> Item | None:
    endpoint = describe_one(
        ctx.client("ec2"), "describe_vpc_endpoints", "VpcEndpoints", "VpcEndpointId", endpoint_id,
        gone=_ec2_network.VPC_ENDPOINT_GONE, VpcEndpointIds=[endpoint_id],
    )
    return None if endpoint is None else _ec2_network.vpc_endpoint_item(ctx, endpoint)


TECHNOLOGIES = (
    Technology(
        name="ec2.security_group",
        is_global=False,
        list_items=list_security_groups,
        get_item=get_security_group,
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
        get_item=get_snapshot,
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
        get_item=get_image,
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
        get_item=get_network_acl,
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
        get_item=get_vpc_endpoint,
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
