"""The EC2 part of the event map (gitmonkey/watchers/events/ec2.yaml): CloudTrail records shaped like
AWS's samples (old query-API calls in lowerCamelCase, newer calls wrapped in ``<Action>Request`` /
``<Action>Response`` with ``{content, tag}`` list members) give exactly the watched items they touched,
with the watchers' item ids."""

from __future__ import annotations

from typing import Any

import pytest

from gitmonkey.listen.event_map import EventMap, Target, load_event_map

EC2_TECHNOLOGIES = (
    "ec2.account_settings",
    "ec2.dhcp_options",
    "ec2.elastic_ip",
    "ec2.flow_log",
    "ec2.image",
    "ec2.instance",
    "ec2.key_pair",
    "ec2.nat_gateway",
    "ec2.network_acl",
    "ec2.network_interface",
    "ec2.route_table",
    "ec2.security_group",
    "ec2.snapshot",
    "ec2.subnet",
    "ec2.volume",
    "ec2.vpc",
    "ec2.vpc_endpoint",
    "ec2.vpc_peering",
    "ec2.vpn_connection",
    "ec2.vpn_gateway",
)


@pytest.fixture(scope="module")
def event_map() -> EventMap:
    return load_event_map()


def event(name: str, request: Any = None, response: Any = None, region: str = "us-east-1") -> dict[str, Any]:
    return {
        "eventVersion": "1.08",
        "eventSource": "ec2.amazonaws.com",
        "eventName": name,
        "awsRegion": region,
        "eventType": "AwsApiCall",
        "requestParameters": request,
        "responseElements": response,
    }


def targets(
    event_map: EventMap, name: str, request: Any = None, response: Any = None, **kw: Any
) -> set[Target]:
    found = event_map.targets(event(name, request, response, **kw))
    assert len(found) == len(set(found))
    return set(found)


def T(technology: str, item_id: str | None = None) -> Target:
    return Target(technology, item_id)


def wrapped(action: str, **members: Any) -> dict[str, Any]:
    return {f"{action}Request": members}


def test_every_ec2_technology_is_mapped(event_map: EventMap) -> None:
    assert set(EC2_TECHNOLOGIES) <= event_map.technologies()


def test_only_ec2_source_is_claimed_by_the_file(event_map: EventMap) -> None:
    other = {"eventSource": "sqs.amazonaws.com", "eventName": "RunInstances"}
    assert event_map.targets(other) == []
    assert event_map.targets(event("DescribeInstances", {"instancesSet": {}})) == []


# --- tags ---------------------------------------------------------------------------------------


def test_create_tags_by_prefix_over_every_kind(event_map: EventMap) -> None:
    ids = {
        "acl-1": "ec2.network_acl",
        "ami-1": "ec2.image",
        "dopt-1": "ec2.dhcp_options",
        "eipalloc-1": "ec2.elastic_ip",
        "eni-1": "ec2.network_interface",
        "fl-1": "ec2.flow_log",
        "i-1": "ec2.instance",
        "nat-1": "ec2.nat_gateway",
        "pcx-1": "ec2.vpc_peering",
        "rtb-1": "ec2.route_table",
        "sg-1": "ec2.security_group",
        "snap-1": "ec2.snapshot",
        "subnet-1": "ec2.subnet",
        "vgw-1": "ec2.vpn_gateway",
        "vol-1": "ec2.volume",
        "vpc-1": "ec2.vpc",
        "vpce-1": "ec2.vpc_endpoint",
        "vpn-1": "ec2.vpn_connection",
    }
    request = {
        "resourcesSet": {"items": [{"resourceId": i} for i in [*ids, "igw-1", "key-0abc", "lt-1"]]},
        "tagSet": {"items": [{"key": "Name", "value": "x"}]},
    }
    expected = {T(tech, i) for i, tech in ids.items()}
    assert targets(event_map, "CreateTags", request, {"_return": True}) == expected
    assert targets(event_map, "DeleteTags", request, {"_return": True}) == expected


# --- account settings ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "request_"),
    [
        ("EnableEbsEncryptionByDefault", {"EnableEbsEncryptionByDefaultRequest": ""}),
        ("DisableEbsEncryptionByDefault", None),
        ("ModifyEbsDefaultKmsKeyId", wrapped("ModifyEbsDefaultKmsKeyId", KmsKeyId="alias/mine")),
        ("ResetEbsDefaultKmsKeyId", None),
        ("ModifyInstanceMetadataDefaults", wrapped("ModifyInstanceMetadataDefaults", HttpTokens="required")),
        (
            "EnableSnapshotBlockPublicAccess",
            wrapped("EnableSnapshotBlockPublicAccess", State="block-all-sharing"),
        ),
        ("DisableSnapshotBlockPublicAccess", None),
        (
            "EnableImageBlockPublicAccess",
            wrapped("EnableImageBlockPublicAccess", ImageBlockPublicAccessState="block-new-sharing"),
        ),
        ("DisableImageBlockPublicAccess", None),
        ("EnableSerialConsoleAccess", None),
        ("DisableSerialConsoleAccess", None),
    ],
)
def test_account_settings_item_is_the_region(event_map: EventMap, name: str, request_: Any) -> None:
    assert targets(event_map, name, request_, region="eu-west-3") == {T("ec2.account_settings", "eu-west-3")}


# --- security groups ----------------------------------------------------------------------------


def test_security_group_create_update_delete(event_map: EventMap) -> None:
    created = targets(
        event_map,
        "CreateSecurityGroup",
        {"groupName": "web", "groupDescription": "web", "vpcId": "vpc-a1"},
        {"requestId": "r", "_return": True, "groupId": "sg-04d0"},
    )
    assert created == {T("ec2.security_group", "sg-04d0")}
    ingress = {
        "groupId": "sg-1",
        "ipPermissions": {
            "items": [
                {
                    "ipProtocol": "tcp",
                    "fromPort": 22,
                    "toPort": 22,
                    "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]},
                }
            ]
        },
    }
    for name in (
        "AuthorizeSecurityGroupIngress",
        "RevokeSecurityGroupEgress",
        "UpdateSecurityGroupRuleDescriptionsIngress",
    ):
        assert targets(event_map, name, ingress, {"_return": True}) == {T("ec2.security_group", "sg-1")}
    modify = wrapped(
        "ModifySecurityGroupRules",
        GroupId="sg-2",
        SecurityGroupRule={"SecurityGroupRuleId": "sgr-1", "tag": 1},
    )
    assert targets(event_map, "ModifySecurityGroupRules", modify) == {T("ec2.security_group", "sg-2")}
    assert targets(event_map, "DeleteSecurityGroup", {"groupId": "sg-3"}) == {T("ec2.security_group", "sg-3")}


# --- VPCs ---------------------------------------------------------------------------------------


def test_vpc_create_reads_its_default_companions(event_map: EventMap) -> None:
    response = {
        "requestId": "r",
        "vpc": {"vpcId": "vpc-1", "state": "pending", "cidrBlock": "10.0.0.0/16", "dhcpOptionsId": "dopt-1"},
    }
    assert targets(event_map, "CreateVpc", {"cidrBlock": "10.0.0.0/16"}, response) == {
        T("ec2.vpc", "vpc-1"),
        T("ec2.security_group"),
        T("ec2.route_table"),
        T("ec2.network_acl"),
    }
    default = {"CreateDefaultVpcResponse": {"vpc": {"vpcId": "vpc-d"}, "requestId": "r"}}
    assert T("ec2.vpc", "vpc-d") in targets(
        event_map, "CreateDefaultVpc", wrapped("CreateDefaultVpc"), default
    )


def test_vpc_update_and_delete(event_map: EventMap) -> None:
    assert targets(
        event_map, "ModifyVpcAttribute", {"vpcId": "vpc-1", "enableDnsHostnames": {"value": True}}
    ) == {T("ec2.vpc", "vpc-1")}
    assert targets(event_map, "AssociateDhcpOptions", {"dhcpOptionsId": "dopt-1", "vpcId": "vpc-1"}) == {
        T("ec2.vpc", "vpc-1")
    }
    assert targets(event_map, "AttachInternetGateway", {"internetGatewayId": "igw-1", "vpcId": "vpc-1"}) == {
        T("ec2.vpc", "vpc-1")
    }
    assert targets(event_map, "DetachInternetGateway", {"internetGatewayId": "igw-1", "vpcId": "vpc-1"}) == {
        T("ec2.vpc", "vpc-1"),
        T("ec2.route_table"),
    }
    assert targets(event_map, "AssociateVpcCidrBlock", {"vpcId": "vpc-1", "cidrBlock": "10.1.0.0/16"}) == {
        T("ec2.vpc", "vpc-1")
    }
    disassociate = targets(
        event_map,
        "DisassociateVpcCidrBlock",
        {"associationId": "vpc-cidr-assoc-1"},
        {"vpcId": "vpc-1", "cidrBlockAssociation": {"associationId": "vpc-cidr-assoc-1"}},
    )
    assert disassociate == {T("ec2.vpc", "vpc-1")}
    assert targets(
        event_map, "ModifyVpcTenancy", wrapped("ModifyVpcTenancy", VpcId="vpc-2", InstanceTenancy="default")
    ) == {T("ec2.vpc", "vpc-2")}
    assert targets(event_map, "DeleteVpc", {"vpcId": "vpc-1"}) == {
        T("ec2.vpc", "vpc-1"),
        T("ec2.security_group"),
        T("ec2.route_table"),
        T("ec2.network_acl"),
    }


# --- flow logs ----------------------------------------------------------------------------------


def test_flow_logs_create_and_delete(event_map: EventMap) -> None:
    request = wrapped(
        "CreateFlowLogs",
        ResourceId=[{"content": "vpc-1", "tag": 1}, {"content": "subnet-1", "tag": 2}],
        ResourceType="VPC",
        TrafficType="ALL",
        LogDestinationType="s3",
    )
    response = {"CreateFlowLogsResponse": {"flowLogIdSet": {"item": ["fl-1", "fl-2"]}, "unsuccessful": ""}}
    assert targets(event_map, "CreateFlowLogs", request, response) == {
        T("ec2.vpc", "vpc-1"),
        T("ec2.flow_log", "fl-1"),
        T("ec2.flow_log", "fl-2"),
    }
    one = wrapped("CreateFlowLogs", ResourceId={"content": "vpc-9", "tag": 1}, TrafficType="REJECT")
    one_response = {"CreateFlowLogsResponse": {"flowLogIdSet": {"item": "fl-9"}}}
    assert targets(event_map, "CreateFlowLogs", one, one_response) == {
        T("ec2.vpc", "vpc-9"),
        T("ec2.flow_log", "fl-9"),
    }
    # The panther-analysis sample of AWS's DeleteFlowLogs record.
    delete = {"DeleteFlowLogsRequest": {"FlowLogId": {"content": "fl-0ef673ef70c4f07cc", "tag": 1}}}
    assert targets(event_map, "DeleteFlowLogs", delete, {"DeleteFlowLogsResponse": {"unsuccessful": ""}}) == {
        T("ec2.flow_log", "fl-0ef673ef70c4f07cc"),
        T("ec2.vpc"),
    }


# --- subnets, route tables, network ACLs --------------------------------------------------------


def test_subnet_create_update_delete(event_map: EventMap) -> None:
    response = {"subnet": {"subnetId": "subnet-1", "vpcId": "vpc-1", "cidrBlock": "10.0.1.0/24"}}
    assert targets(event_map, "CreateSubnet", {"vpcId": "vpc-1", "cidrBlock": "10.0.1.0/24"}, response) == {
        T("ec2.subnet", "subnet-1"),
        T("ec2.network_acl"),
    }
    assert targets(
        event_map, "ModifySubnetAttribute", {"subnetId": "subnet-1", "mapPublicIpOnLaunch": {"value": True}}
    ) == {T("ec2.subnet", "subnet-1")}
    assert targets(
        event_map,
        "DisassociateSubnetCidrBlock",
        {"associationId": "subnet-cidr-assoc-1"},
        {"subnetId": "subnet-1", "ipv6CidrBlockAssociation": {}},
    ) == {T("ec2.subnet", "subnet-1")}
    assert targets(event_map, "DeleteSubnet", {"subnetId": "subnet-1"}) == {
        T("ec2.subnet", "subnet-1"),
        T("ec2.network_acl"),
    }


def test_route_table_create_update_delete_and_associations(event_map: EventMap) -> None:
    assert targets(
        event_map, "CreateRouteTable", {"vpcId": "vpc-1"}, {"routeTable": {"routeTableId": "rtb-1"}}
    ) == {T("ec2.route_table", "rtb-1")}
    route = {"routeTableId": "rtb-1", "destinationCidrBlock": "0.0.0.0/0", "gatewayId": "igw-1"}
    for name in ("CreateRoute", "ReplaceRoute", "DeleteRoute"):
        assert targets(event_map, name, route, {"_return": True}) == {T("ec2.route_table", "rtb-1")}
    assert targets(
        event_map, "EnableVgwRoutePropagation", {"routeTableId": "rtb-1", "gatewayId": "vgw-1"}
    ) == {T("ec2.route_table", "rtb-1")}
    associate = targets(
        event_map,
        "AssociateRouteTable",
        {"routeTableId": "rtb-1", "subnetId": "subnet-1"},
        {"associationId": "rtbassoc-1"},
    )
    assert associate == {T("ec2.route_table", "rtb-1"), T("ec2.subnet", "subnet-1")}
    assert targets(event_map, "DisassociateRouteTable", {"associationId": "rtbassoc-1"}) == {
        T("ec2.route_table"),
        T("ec2.subnet"),
    }
    assert targets(
        event_map, "ReplaceRouteTableAssociation", {"associationId": "rtbassoc-1", "routeTableId": "rtb-2"}
    ) == {T("ec2.route_table"), T("ec2.subnet")}
    assert targets(event_map, "DeleteRouteTable", {"routeTableId": "rtb-1"}) == {
        T("ec2.route_table", "rtb-1")
    }


def test_network_acl_create_update_delete(event_map: EventMap) -> None:
    assert targets(
        event_map, "CreateNetworkAcl", {"vpcId": "vpc-1"}, {"networkAcl": {"networkAclId": "acl-1"}}
    ) == {T("ec2.network_acl", "acl-1")}
    entry = {
        "networkAclId": "acl-1",
        "ruleNumber": 500,
        "egress": True,
        "ruleAction": "allow",
        "aclProtocol": "-1",
        "cidrBlock": "0.0.0.0/0",
    }
    assert targets(event_map, "CreateNetworkAclEntry", entry, {"_return": True}) == {
        T("ec2.network_acl", "acl-1")
    }
    assert targets(event_map, "ReplaceNetworkAclEntry", entry) == {T("ec2.network_acl", "acl-1")}
    assert targets(
        event_map, "ReplaceNetworkAclAssociation", {"associationId": "aclassoc-1", "networkAclId": "acl-2"}
    ) == {T("ec2.network_acl")}
    assert targets(event_map, "DeleteNetworkAcl", {"networkAclId": "acl-1"}) == {
        T("ec2.network_acl", "acl-1")
    }


# --- gateways, endpoints, peering, DHCP, VPN ----------------------------------------------------


def test_nat_gateway_create_update_delete(event_map: EventMap) -> None:
    request = wrapped("CreateNatGateway", SubnetId="subnet-1", AllocationId="eipalloc-1")
    response = {"CreateNatGatewayResponse": {"natGateway": {"natGatewayId": "nat-1", "subnetId": "subnet-1"}}}
    assert targets(event_map, "CreateNatGateway", request, response) == {
        T("ec2.nat_gateway", "nat-1"),
        T("ec2.network_interface"),
        T("ec2.elastic_ip"),
    }
    assoc = wrapped(
        "AssociateNatGatewayAddress", NatGatewayId="nat-1", AllocationId={"content": "eipalloc-2", "tag": 1}
    )
    assert targets(event_map, "AssociateNatGatewayAddress", assoc) == {
        T("ec2.nat_gateway", "nat-1"),
        T("ec2.elastic_ip"),
    }
    assert targets(event_map, "DeleteNatGateway", wrapped("DeleteNatGateway", NatGatewayId="nat-1")) == {
        T("ec2.nat_gateway", "nat-1"),
        T("ec2.network_interface"),
        T("ec2.elastic_ip"),
        T("ec2.route_table"),
    }
    # The lowerCamelCase shape is read too.
    assert T("ec2.nat_gateway", "nat-3") in targets(event_map, "DeleteNatGateway", {"natGatewayId": "nat-3"})


def test_vpc_endpoint_create_update_delete(event_map: EventMap) -> None:
    request = wrapped(
        "CreateVpcEndpoint",
        VpcId="vpc-1",
        ServiceName="com.amazonaws.us-east-1.s3",
        RouteTableId={"content": "rtb-1", "tag": 1},
    )
    response = {"CreateVpcEndpointResponse": {"vpcEndpoint": {"vpcEndpointId": "vpce-1", "vpcId": "vpc-1"}}}
    assert targets(event_map, "CreateVpcEndpoint", request, response) == {
        T("ec2.vpc_endpoint", "vpce-1"),
        T("ec2.route_table", "rtb-1"),
        T("ec2.network_interface"),
    }
    modify = wrapped(
        "ModifyVpcEndpoint",
        VpcEndpointId="vpce-1",
        PolicyDocument="{}",
        AddRouteTableId=[{"content": "rtb-2", "tag": 1}, {"content": "rtb-3", "tag": 2}],
        RemoveRouteTableId={"content": "rtb-1", "tag": 1},
    )
    assert targets(event_map, "ModifyVpcEndpoint", modify) == {
        T("ec2.vpc_endpoint", "vpce-1"),
        T("ec2.route_table", "rtb-1"),
        T("ec2.route_table", "rtb-2"),
        T("ec2.route_table", "rtb-3"),
    }
    assert targets(
        event_map,
        "ModifyVpcEndpoint",
        wrapped("ModifyVpcEndpoint", VpcEndpointId="vpce-1", PolicyDocument="{}"),
    ) == {T("ec2.vpc_endpoint", "vpce-1")}
    delete = wrapped(
        "DeleteVpcEndpoints", VpcEndpointId=[{"content": "vpce-1", "tag": 1}, {"content": "vpce-2", "tag": 2}]
    )
    assert targets(event_map, "DeleteVpcEndpoints", delete) == {
        T("ec2.vpc_endpoint", "vpce-1"),
        T("ec2.vpc_endpoint", "vpce-2"),
        T("ec2.route_table"),
        T("ec2.network_interface"),
    }


def test_vpc_peering_create_update_delete(event_map: EventMap) -> None:
    response = {
        "vpcPeeringConnection": {"vpcPeeringConnectionId": "pcx-1", "status": {"code": "initiating-request"}}
    }
    assert targets(
        event_map, "CreateVpcPeeringConnection", {"vpcId": "vpc-1", "peerVpcId": "vpc-2"}, response
    ) == {T("ec2.vpc_peering", "pcx-1")}
    assert targets(event_map, "AcceptVpcPeeringConnection", {"vpcPeeringConnectionId": "pcx-1"}) == {
        T("ec2.vpc_peering", "pcx-1")
    }
    options = wrapped("ModifyVpcPeeringConnectionOptions", VpcPeeringConnectionId="pcx-1")
    assert targets(event_map, "ModifyVpcPeeringConnectionOptions", options) == {T("ec2.vpc_peering", "pcx-1")}
    assert targets(event_map, "DeleteVpcPeeringConnection", {"vpcPeeringConnectionId": "pcx-1"}) == {
        T("ec2.vpc_peering", "pcx-1"),
        T("ec2.route_table"),
    }


def test_dhcp_options_create_and_delete(event_map: EventMap) -> None:
    response = {"dhcpOptions": {"dhcpOptionsId": "dopt-1", "dhcpConfigurationSet": {"items": []}}}
    assert targets(event_map, "CreateDhcpOptions", {"dhcpConfigurationSet": {"items": []}}, response) == {
        T("ec2.dhcp_options", "dopt-1")
    }
    assert targets(event_map, "DeleteDhcpOptions", {"dhcpOptionsId": "dopt-1"}) == {
        T("ec2.dhcp_options", "dopt-1")
    }


def test_vpn_connection_create_update_delete(event_map: EventMap) -> None:
    response = {
        "vpnConnection": {
            "vpnConnectionId": "vpn-1",
            "customerGatewayConfiguration": "<sensitiveDataRemoved>",
        }
    }
    assert targets(
        event_map, "CreateVpnConnection", {"type": "ipsec.1", "customerGatewayId": "cgw-1"}, response
    ) == {T("ec2.vpn_connection", "vpn-1")}
    assert targets(
        event_map,
        "CreateVpnConnectionRoute",
        {"vpnConnectionId": "vpn-1", "destinationCidrBlock": "10.9.0.0/16"},
    ) == {T("ec2.vpn_connection", "vpn-1")}
    tunnel = wrapped("ModifyVpnTunnelOptions", VpnConnectionId="vpn-1", VpnTunnelOutsideIpAddress="1.2.3.4")
    assert targets(event_map, "ModifyVpnTunnelOptions", tunnel) == {T("ec2.vpn_connection", "vpn-1")}
    assert targets(event_map, "DeleteVpnConnection", {"vpnConnectionId": "vpn-1"}) == {
        T("ec2.vpn_connection", "vpn-1")
    }


def test_vpn_gateway_create_update_delete(event_map: EventMap) -> None:
    assert targets(
        event_map, "CreateVpnGateway", {"type": "ipsec.1"}, {"vpnGateway": {"vpnGatewayId": "vgw-1"}}
    ) == {T("ec2.vpn_gateway", "vgw-1")}
    assert targets(event_map, "AttachVpnGateway", {"vpnGatewayId": "vgw-1", "vpcId": "vpc-1"}) == {
        T("ec2.vpn_gateway", "vgw-1")
    }
    assert targets(event_map, "DetachVpnGateway", {"vpnGatewayId": "vgw-1", "vpcId": "vpc-1"}) == {
        T("ec2.vpn_gateway", "vgw-1"),
        T("ec2.route_table"),
    }
    assert targets(event_map, "DeleteVpnGateway", {"vpnGatewayId": "vgw-1"}) == {
        T("ec2.vpn_gateway", "vgw-1")
    }


# --- instances and what they bring --------------------------------------------------------------

RUN_RESPONSE = {
    "reservationId": "r-05b201b7",
    "ownerId": "619193117841",
    "groupSet": {},
    "instancesSet": {
        "items": [
            {
                "instanceId": "i-784cdacd",
                "imageId": "ami-06116566",
                "instanceState": {"code": 0, "name": "pending"},
                "groupSet": {"items": [{"groupId": "sg-bd2d87d9", "groupName": "default"}]},
                "networkInterfaceSet": {
                    "items": [
                        {
                            "networkInterfaceId": "eni-6a08d837",
                            "subnetId": "subnet-5f7a3106",
                            "attachment": {"attachmentId": "eni-attach-1cabe8dc", "instanceId": "i-784cdacd"},
                        }
                    ]
                },
            },
            {"instanceId": "i-2", "networkInterfaceSet": {"items": [{"networkInterfaceId": "eni-2"}]}},
        ]
    },
}


def test_run_instances_reads_instances_interfaces_and_volumes(event_map: EventMap) -> None:
    request = {
        "instancesSet": {"items": [{"imageId": "ami-06116566", "minCount": 1, "maxCount": 2}]},
        "subnetId": "subnet-5f7a3106",
    }
    assert targets(event_map, "RunInstances", request, RUN_RESPONSE) == {
        T("ec2.instance", "i-784cdacd"),
        T("ec2.instance", "i-2"),
        T("ec2.network_interface", "eni-6a08d837"),
        T("ec2.network_interface", "eni-2"),
        T("ec2.volume"),
    }


def test_instance_updates(event_map: EventMap) -> None:
    assert targets(
        event_map,
        "ModifyInstanceAttribute",
        {"instanceId": "i-012345abcde", "userData": "<sensitiveDataRemoved>"},
    ) == {T("ec2.instance", "i-012345abcde")}
    metadata = {"ModifyInstanceMetadataOptionsRequest": {"HttpTokens": "required", "InstanceId": "i-abcd"}}
    assert targets(event_map, "ModifyInstanceMetadataOptions", metadata) == {T("ec2.instance", "i-abcd")}
    monitor = {"instancesSet": {"items": [{"instanceId": "i-1"}, {"instanceId": "i-2"}]}}
    assert targets(event_map, "MonitorInstances", monitor) == {
        T("ec2.instance", "i-1"),
        T("ec2.instance", "i-2"),
    }
    profile = wrapped("AssociateIamInstanceProfile", InstanceId="i-3", IamInstanceProfile={"Name": "role"})
    assert targets(event_map, "AssociateIamInstanceProfile", profile) == {T("ec2.instance", "i-3")}
    replaced = {
        "ReplaceIamInstanceProfileAssociationResponse": {
            "iamInstanceProfileAssociation": {"associationId": "iip-assoc-1", "instanceId": "i-4"}
        }
    }
    assert targets(
        event_map,
        "ReplaceIamInstanceProfileAssociation",
        wrapped("ReplaceIamInstanceProfileAssociation", AssociationId="iip-assoc-1"),
        replaced,
    ) == {T("ec2.instance", "i-4")}
    # Stopping and starting change only ephemeral fields: not mapped.
    assert targets(event_map, "StopInstances", monitor) == set()
    assert targets(event_map, "StartInstances", monitor) == set()


def test_terminate_instances(event_map: EventMap) -> None:
    request = {"instancesSet": {"items": [{"instanceId": "i-0d9853f67e40ab80b"}]}}
    response = {
        "instancesSet": {
            "items": [
                {"instanceId": "i-0d9853f67e40ab80b", "currentState": {"code": 32, "name": "shutting-down"}}
            ]
        }
    }
    assert targets(event_map, "TerminateInstances", request, response) == {
        T("ec2.instance", "i-0d9853f67e40ab80b"),
        T("ec2.network_interface"),
        T("ec2.volume"),
        T("ec2.elastic_ip"),
    }


# --- network interfaces, Elastic IPs, key pairs -------------------------------------------------


def test_network_interface_create_update_delete(event_map: EventMap) -> None:
    response = {"networkInterface": {"networkInterfaceId": "eni-1", "subnetId": "subnet-1"}}
    assert targets(event_map, "CreateNetworkInterface", {"subnetId": "subnet-1"}, response) == {
        T("ec2.network_interface", "eni-1")
    }
    groups = {"networkInterfaceId": "eni-1", "groupSet": {"items": [{"groupId": "sg-1"}]}}
    assert targets(event_map, "ModifyNetworkInterfaceAttribute", groups) == {
        T("ec2.network_interface", "eni-1")
    }
    attach = targets(
        event_map,
        "AttachNetworkInterface",
        {"networkInterfaceId": "eni-1", "instanceId": "i-1", "deviceIndex": 1},
    )
    assert attach == {T("ec2.network_interface", "eni-1"), T("ec2.instance", "i-1")}
    assert targets(event_map, "DetachNetworkInterface", {"attachmentId": "eni-attach-1", "force": False}) == {
        T("ec2.network_interface"),
        T("ec2.instance"),
    }
    assert targets(event_map, "DeleteNetworkInterface", {"networkInterfaceId": "eni-1"}) == {
        T("ec2.network_interface", "eni-1")
    }


def test_elastic_ip_allocate_associate_release(event_map: EventMap) -> None:
    allocated = {
        "publicIp": "3.3.3.3",
        "domain": "vpc",
        "allocationId": "eipalloc-1",
        "networkBorderGroup": "us-east-1",
    }
    assert targets(event_map, "AllocateAddress", {"domain": "vpc"}, allocated) == {
        T("ec2.elastic_ip", "eipalloc-1")
    }
    associate = {"allocationId": "eipalloc-1", "instanceId": "i-1", "allowReassociation": False}
    assert targets(event_map, "AssociateAddress", associate, {"associationId": "eipassoc-1"}) == {
        T("ec2.elastic_ip", "eipalloc-1")
    }
    assert targets(event_map, "DisassociateAddress", {"associationId": "eipassoc-1"}) == {T("ec2.elastic_ip")}
    assert targets(event_map, "ReleaseAddress", {"allocationId": "eipalloc-1"}) == {
        T("ec2.elastic_ip", "eipalloc-1")
    }


def test_key_pair_by_name(event_map: EventMap) -> None:
    created = {
        "keyName": "deploy",
        "keyFingerprint": "aa:bb",
        "keyPairId": "key-0abc",
        "keyMaterial": "<sensitiveDataRemoved>",
    }
    assert targets(event_map, "CreateKeyPair", {"keyName": "deploy", "keyType": "ed25519"}, created) == {
        T("ec2.key_pair", "deploy")
    }
    assert targets(
        event_map, "ImportKeyPair", {"keyName": "laptop", "publicKeyMaterial": "c3NoLXJzYQ=="}
    ) == {T("ec2.key_pair", "laptop")}
    assert targets(event_map, "DeleteKeyPair", {"keyPairId": "key-0abc"}) == {T("ec2.key_pair")}


# --- EBS volumes, snapshots, AMIs ---------------------------------------------------------------


def test_volume_create_update_delete(event_map: EventMap) -> None:
    # The Cloud Custodian test data's CreateVolume record.
    response = {
        "status": "creating",
        "zone": "us-east-1b",
        "encrypted": True,
        "volumeId": "vol-97c02b3e",
        "snapshotId": "snap-37beda4c",
    }
    assert targets(
        event_map, "CreateVolume", {"snapshotId": "snap-37beda4c", "zone": "us-east-1b"}, response
    ) == {T("ec2.volume", "vol-97c02b3e")}
    attach = {"volumeId": "vol-1", "instanceId": "i-1", "device": "/dev/sdf"}
    assert targets(event_map, "AttachVolume", attach, {**attach, "status": "attaching"}) == {
        T("ec2.volume", "vol-1"),
        T("ec2.instance", "i-1"),
    }
    detached = targets(
        event_map,
        "DetachVolume",
        {"volumeId": "vol-1", "force": False},
        {"volumeId": "vol-1", "instanceId": "i-1"},
    )
    assert detached == {T("ec2.volume", "vol-1"), T("ec2.instance", "i-1")}
    modify = wrapped("ModifyVolume", VolumeId="vol-1", VolumeType="gp3")
    assert targets(event_map, "ModifyVolume", modify) == {T("ec2.volume", "vol-1")}
    assert targets(event_map, "DeleteVolume", {"volumeId": "vol-1"}) == {T("ec2.volume", "vol-1")}


def test_snapshot_create_share_delete(event_map: EventMap) -> None:
    response = {"snapshotId": "snap-1", "volumeId": "vol-1", "status": "pending"}
    assert targets(event_map, "CreateSnapshot", {"volumeId": "vol-1"}, response) == {
        T("ec2.snapshot", "snap-1")
    }
    assert targets(
        event_map,
        "CopySnapshot",
        {"sourceSnapshotId": "snap-1", "sourceRegion": "us-west-2"},
        {"snapshotId": "snap-2"},
    ) == {T("ec2.snapshot", "snap-2")}
    share = {
        "attributeType": "CREATE_VOLUME_PERMISSION",
        "createVolumePermission": {"add": {"items": [{"group": "all"}]}},
        "snapshotId": "snap-1111",
    }
    assert targets(event_map, "ModifySnapshotAttribute", share, {"_return": True}) == {
        T("ec2.snapshot", "snap-1111")
    }
    assert targets(
        event_map,
        "ModifySnapshotTier",
        wrapped("ModifySnapshotTier", SnapshotId="snap-3", StorageTier="archive"),
    ) == {T("ec2.snapshot", "snap-3")}
    assert targets(
        event_map, "CreateSnapshots", wrapped("CreateSnapshots", InstanceSpecification={"InstanceId": "i-1"})
    ) == {T("ec2.snapshot")}
    assert targets(event_map, "DeleteSnapshot", {"snapshotId": "snap-1"}) == {T("ec2.snapshot", "snap-1")}


def test_image_create_share_delete(event_map: EventMap) -> None:
    request = {"instanceId": "i-0381a3817f72a949d", "name": "testimage", "noReboot": False}
    response = {"imageId": "ami-06aaf5e4b77161786", "requestId": "e686939a"}
    assert targets(event_map, "CreateImage", request, response) == {
        T("ec2.image", "ami-06aaf5e4b77161786"),
        T("ec2.snapshot"),
    }
    assert targets(
        event_map, "RegisterImage", {"name": "x", "rootDeviceName": "/dev/xvda"}, {"imageId": "ami-2"}
    ) == {T("ec2.image", "ami-2")}
    share = {
        "attributeType": "launchPermission",
        "imageId": "ami-1111",
        "launchPermission": {"add": {"items": [{"group": "all"}]}},
    }
    assert targets(event_map, "ModifyImageAttribute", share, {"_return": True}) == {
        T("ec2.image", "ami-1111")
    }
    deprecate = wrapped("EnableImageDeprecation", ImageId="ami-3", DeprecateAt="2030-01-01T00:00:00Z")
    assert targets(event_map, "EnableImageDeprecation", deprecate) == {T("ec2.image", "ami-3")}
    assert targets(event_map, "DeregisterImage", {"imageId": "ami-1111"}) == {T("ec2.image", "ami-1111")}


def test_failed_or_empty_events_map_to_nothing_without_error(event_map: EventMap) -> None:
    """A failed call is logged with ``errorCode`` and null responseElements (and some calls have null
    requestParameters): every EC2 expression must evaluate on it (no JMESPath type error), giving
    no item id (slices and the region-named account settings item still come out)."""
    names = sorted(name for source, name in event_map.rules if source == "ec2.amazonaws.com")
    assert len(names) > 130
    for name in names:
        for request in (None, {}, {"SomeRequest": {"Other": "x"}}):
            record = {**event(name, request, None), "errorCode": "Client.UnauthorizedOperation"}
            for target in event_map.targets(record):
                assert target.item_id is None or target == T("ec2.account_settings", "us-east-1"), (
                    name,
                    target,
                )


def test_old_and_wrapped_shapes_are_both_read(event_map: EventMap) -> None:
    assert T("ec2.vpc_endpoint", "vpce-9") in targets(
        event_map, "CreateVpcEndpoint", {"vpcId": "vpc-1"}, {"vpcEndpoint": {"vpcEndpointId": "vpce-9"}}
    )
    assert targets(
        event_map,
        "CreateSubnet",
        wrapped("CreateSubnet", VpcId="vpc-1"),
        {"CreateSubnetResponse": {"subnet": {"subnetId": "subnet-9"}}},
    ) == {
        T("ec2.subnet", "subnet-9"),
        T("ec2.network_acl"),
    }
    assert targets(event_map, "DeleteFlowLogs", wrapped("DeleteFlowLogs", FlowLogId=["fl-1", "fl-2"])) == {
        T("ec2.flow_log", "fl-1"),
        T("ec2.flow_log", "fl-2"),
        T("ec2.vpc"),
    }
