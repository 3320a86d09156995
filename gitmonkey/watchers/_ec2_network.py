"""Network ACLs and VPC endpoints: items built from one region-wide listing each, or from the
same Describe call by id for one item.

The list and get functions live in ``gitmonkey.watchers.ec2`` (technology names come from that
module).
"""

from __future__ import annotations

from typing import Any

from gitmonkey.model import Item
from gitmonkey.read.aws import SliceContext
from gitmonkey.watchers._common import decode_policy, ec2_arn, tagged_item

# DescribeNetworkAcls / DescribeVpcEndpoints by id: the id does not exist.
NETWORK_ACL_GONE = ("InvalidNetworkAclID.NotFound",)
VPC_ENDPOINT_GONE = ("InvalidVpcEndpointId.NotFound",)

VPC_ENDPOINT_FIELDS = (
    "VpcEndpointId",
    "VpcEndpointType",
    "VpcId",
    "OwnerId",
    "ServiceName",
    "ServiceRegion",
    "State",
    "LastError",
    "FailureReason",
    "PolicyDocument",
    "RouteTableIds",
    "SubnetIds",
    "Groups",
    "NetworkInterfaceIds",
    "PrivateDnsEnabled",
    "DnsEntries",
    "DnsOptions",
    "IpAddressType",
    "RequesterManaged",
    "CreationTimestamp",
    "ServiceNetworkArn",
    "ResourceConfigurationArn",
)


def _entry_order(entry: dict[str, Any]) -> tuple[bool, int]:
    """Ingress before egress, then by rule number: the order in which AWS evaluates them."""
    return (bool(entry.get("Egress")), int(entry.get("RuleNumber") or 0))


def network_acl_item(ctx: SliceContext, acl: dict[str, Any]) -> Item:
    acl_id = acl["NetworkAclId"]
    owner = acl.get("OwnerId") or ctx.account_id
    configuration = {
        "NetworkAclId": acl_id,
        "VpcId": acl.get("VpcId"),
        "OwnerId": owner,
        "IsDefault": acl.get("IsDefault"),
        "Entries": sorted(acl.get("Entries") or [], key=_entry_order),
        "Associations": acl.get("Associations") or [],
    }
    arn = ec2_arn(ctx, owner, f"network-acl/{acl_id}")
    return tagged_item(ctx, "ec2.network_acl", acl_id, arn, configuration, acl.get("Tags"))


def vpc_endpoint_item(ctx: SliceContext, endpoint: dict[str, Any]) -> Item:
    endpoint_id = endpoint["VpcEndpointId"]
    owner = endpoint.get("OwnerId") or ctx.account_id
    configuration = {key: endpoint.get(key) for key in VPC_ENDPOINT_FIELDS}
    configuration["OwnerId"] = owner
    configuration["PolicyDocument"] = decode_policy(endpoint.get("PolicyDocument"))
    for key in ("RouteTableIds", "SubnetIds", "Groups", "NetworkInterfaceIds", "DnsEntries"):
        configuration[key] = configuration[key] or []
    arn = ec2_arn(ctx, owner, f"vpc-endpoint/{endpoint_id}")
    return tagged_item(ctx, "ec2.vpc_endpoint", endpoint_id, arn, configuration, endpoint.get("Tags"))
