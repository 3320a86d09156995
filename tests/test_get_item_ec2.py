"""``get_item`` of the EC2 technologies (all but ec2.account_settings, one fixed item a region)
against moto, and a botocore Stubber for answers moto does not give: every listed item read alone
is the listed item (the joins of a VPC and a subnet included), an unknown or deleted id reads as
None, a denied or throttled call raises, and so does an answer by id that names another item."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws
from moto.ec2 import exceptions as moto_exceptions
from moto.ec2.models import network_acls as moto_network_acls

from gitmonkey.config import AccountConfig
from gitmonkey.read.aws import AccountSession, SliceContext
from gitmonkey.read.aws_responses import UnreadableResponseError
from gitmonkey.watchers import get_technology
from tests.helpers import assert_get_item_matches_listing, error_response, inject, slice_context

ACCOUNT = "123456789012"
STRANGER = "999999999999"
REGION = "us-east-1"
USER_DATA = base64.b64encode(b"#!/bin/sh\necho TOKEN=s3cr3t > /etc/app.env\n").decode()
PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl ann@laptop"
POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{STRANGER}:root"},
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::data/*",
        }
    ],
}


_session: list[AccountSession] = []


@pytest.fixture(autouse=True)
def _one_session_per_test() -> Any:
    """The reads of one test share an account session: its clients cost more to make than the
    calls. Each read still counts its own calls."""
    _session.clear()
    yield
    _session.clear()


def make_ctx() -> SliceContext:
    if not _session:
        _session.append(slice_context(REGION).session)
    return SliceContext(_session[0], REGION)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Any:
    """moto's EC2 in us-east-1. moto answers DescribeNetworkAcls for an unknown id with
    InvalidRouteTableID.NotFound; AWS answers InvalidNetworkAclID.NotFound, which the watcher
    reads as "does not exist", so moto is given AWS's answer."""
    aws_answer = moto_exceptions.InvalidNetworkAclIdError
    monkeypatch.setattr(moto_network_acls, "InvalidRouteTableIdError", aws_answer)
    with mock_aws():
        yield boto3.client("ec2", region_name=REGION)


def _tags(resource: str, **tags: str) -> list[dict[str, Any]]:
    return [{"ResourceType": resource, "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}]


def _vpc(ec2: Any, cidr: str, **tags: str) -> str:
    params: dict[str, Any] = {"CidrBlock": cidr}
    if tags:
        params["TagSpecifications"] = _tags("vpc", **tags)
    return ec2.create_vpc(**params)["Vpc"]["VpcId"]


def _subnet(ec2: Any, vpc: str, cidr: str, **tags: str) -> str:
    params: dict[str, Any] = {"VpcId": vpc, "CidrBlock": cidr}
    if tags:
        params["TagSpecifications"] = _tags("subnet", **tags)
    return ec2.create_subnet(**params)["Subnet"]["SubnetId"]


def _instance(ec2: Any, **extra: Any) -> str:
    params = {"ImageId": "ami-12345678", "MinCount": 1, "MaxCount": 1, "InstanceType": "t3.micro", **extra}
    return ec2.run_instances(**params)["Instances"][0]["InstanceId"]


def _flow_log(ec2: Any, resource: str, kind: str, traffic: str) -> str:
    return ec2.create_flow_logs(
        ResourceIds=[resource],
        ResourceType=kind,
        TrafficType=traffic,
        LogGroupName=f"flow-{traffic.lower()}",
        DeliverLogsPermissionArn=f"arn:aws:iam::{ACCOUNT}:role/flow-logs",
    )["FlowLogIds"][0]


# --- seeds: several items of one technology; they return (an item id, a function deleting it) ---

Seeded = tuple[str, Callable[[], Any]]


def seed_security_group(ec2: Any) -> Seeded:
    vpc = _vpc(ec2, "10.1.0.0/16")
    peer = ec2.create_security_group(GroupName="peer", Description="peer", VpcId=vpc)["GroupId"]
    web = ec2.create_security_group(
        GroupName="web", Description="web servers", VpcId=vpc,
        TagSpecifications=_tags("security-group", env="prod", team="a"),
    )["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=web,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
             "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "https"}],
             "Ipv6Ranges": [{"CidrIpv6": "::/0"}]},
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "UserIdGroupPairs": [{"GroupId": peer}]},
        ],
    )
    ec2.authorize_security_group_egress(
        GroupId=peer, IpPermissions=[{"IpProtocol": "udp", "FromPort": 53, "ToPort": 53,
                                      "IpRanges": [{"CidrIp": "10.0.0.2/32"}]}],
    )
    return web, lambda: ec2.delete_security_group(GroupId=web)


def seed_network_acl(ec2: Any) -> Seeded:
    vpc = _vpc(ec2, "10.2.0.0/16")
    subnet = _subnet(ec2, vpc, "10.2.1.0/24")
    acl = ec2.create_network_acl(VpcId=vpc, TagSpecifications=_tags("network-acl", Name="dmz"))
    acl_id = acl["NetworkAcl"]["NetworkAclId"]
    entries = ((200, False, "allow", "0.0.0.0/0"), (50, False, "deny", "198.51.100.0/24"),
               (100, True, "allow", "10.0.0.0/8"))
    for number, egress, action, cidr in entries:
        ec2.create_network_acl_entry(NetworkAclId=acl_id, RuleNumber=number, Egress=egress, Protocol="6",
                                     RuleAction=action, CidrBlock=cidr, PortRange={"From": 443, "To": 443})
    default = ec2.describe_network_acls(Filters=[{"Name": "association.subnet-id", "Values": [subnet]}])
    association = next(a["NetworkAclAssociationId"] for a in default["NetworkAcls"][0]["Associations"]
                       if a["SubnetId"] == subnet)
    ec2.replace_network_acl_association(AssociationId=association, NetworkAclId=acl_id)
    spare = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
    return spare, lambda: ec2.delete_network_acl(NetworkAclId=spare)


def seed_vpc_endpoint(ec2: Any) -> Seeded:
    vpc = _vpc(ec2, "10.3.0.0/16")
    subnet = _subnet(ec2, vpc, "10.3.1.0/24")
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    group = ec2.create_security_group(GroupName="endpoints", Description="e", VpcId=vpc)["GroupId"]
    ec2.create_vpc_endpoint(
        VpcId=vpc, ServiceName=f"com.amazonaws.{REGION}.s3", RouteTableIds=[table],
        PolicyDocument=json.dumps(POLICY), TagSpecifications=_tags("vpc-endpoint", Name="s3"),
    )
    interface = ec2.create_vpc_endpoint(
        VpcId=vpc, VpcEndpointType="Interface", ServiceName=f"com.amazonaws.{REGION}.sqs",
        SubnetIds=[subnet], SecurityGroupIds=[group], PrivateDnsEnabled=True,
    )["VpcEndpoint"]["VpcEndpointId"]
    return interface, lambda: ec2.delete_vpc_endpoints(VpcEndpointIds=[interface])


def seed_image(ec2: Any) -> Seeded:
    images = []
    for name in ("golden", "base"):
        instance = _instance(ec2)
        images.append(ec2.create_image(
            InstanceId=instance, Name=name, Description=f"{name} image",
            TagSpecifications=_tags("image", team="a"),
        )["ImageId"])
    ec2.modify_image_attribute(ImageId=images[0], LaunchPermission={"Add": [{"UserId": STRANGER}]})
    return images[1], lambda: ec2.deregister_image(ImageId=images[1])


def seed_snapshot(ec2: Any) -> Seeded:
    snapshots = []
    for name in ("backup", "nightly"):
        volume = ec2.create_volume(AvailabilityZone=f"{REGION}a", Size=2)["VolumeId"]
        snapshots.append(ec2.create_snapshot(
            VolumeId=volume, Description=name, TagSpecifications=_tags("snapshot", Name=name),
        )["SnapshotId"])
    ec2.modify_snapshot_attribute(
        SnapshotId=snapshots[0], Attribute="createVolumePermission", OperationType="add",
        GroupNames=["all"], UserIds=[STRANGER],
    )
    return snapshots[1], lambda: ec2.delete_snapshot(SnapshotId=snapshots[1])


def seed_instance(ec2: Any) -> Seeded:
    boto3.client("iam", region_name=REGION).create_instance_profile(InstanceProfileName="web")
    zeta = ec2.create_security_group(GroupName="zeta", Description="z")["GroupId"]
    alpha = ec2.create_security_group(GroupName="alpha", Description="a")["GroupId"]
    ec2.create_key_pair(KeyName="deploy")
    _instance(
        ec2, UserData=USER_DATA, SecurityGroupIds=[zeta, alpha], KeyName="deploy",
        IamInstanceProfile={"Name": "web"}, TagSpecifications=_tags("instance", Name="web-1", team="a"),
        MetadataOptions={"HttpTokens": "required", "HttpEndpoint": "enabled"},
    )
    plain = _instance(ec2)
    return plain, lambda: ec2.terminate_instances(InstanceIds=[plain])


def seed_network_interface(ec2: Any) -> Seeded:
    vpc = _vpc(ec2, "10.5.0.0/16")
    subnet = _subnet(ec2, vpc, "10.5.1.0/24")
    group = ec2.create_security_group(GroupName="eni", Description="e", VpcId=vpc)["GroupId"]
    _instance(ec2, SubnetId=subnet)
    interface = ec2.create_network_interface(
        SubnetId=subnet, Groups=[group], Description="spare", SecondaryPrivateIpAddressCount=2,
        TagSpecifications=_tags("network-interface", Name="spare", team="b"),
    )["NetworkInterface"]["NetworkInterfaceId"]
    return interface, lambda: ec2.delete_network_interface(NetworkInterfaceId=interface)


def seed_volume(ec2: Any) -> Seeded:
    instance = _instance(ec2)
    data = ec2.create_volume(AvailabilityZone=f"{REGION}a", Size=8, VolumeType="gp3", Encrypted=True,
                             TagSpecifications=_tags("volume", Name="data"))["VolumeId"]
    ec2.attach_volume(VolumeId=data, InstanceId=instance, Device="/dev/sdf")
    scratch = ec2.create_volume(AvailabilityZone=f"{REGION}b", Size=1)["VolumeId"]
    return scratch, lambda: ec2.delete_volume(VolumeId=scratch)


def seed_elastic_ip(ec2: Any) -> Seeded:
    instance = _instance(ec2)
    web = ec2.allocate_address(Domain="vpc", TagSpecifications=_tags("elastic-ip", Name="web"))
    web = web["AllocationId"]
    ec2.associate_address(AllocationId=web, InstanceId=instance)
    spare = ec2.allocate_address(Domain="vpc")["AllocationId"]
    return spare, lambda: ec2.release_address(AllocationId=spare)


def seed_key_pair(ec2: Any) -> Seeded:
    ec2.create_key_pair(KeyName="deploy", TagSpecifications=_tags("key-pair", team="a"))
    ec2.import_key_pair(KeyName="laptop", PublicKeyMaterial=PUBLIC_KEY.encode())
    return "laptop", lambda: ec2.delete_key_pair(KeyName="laptop")


def seed_vpc(ec2: Any) -> Seeded:
    """A VPC with two internet gateways' worth of history (one attached, one detached), flow logs
    of both traffic kinds, one on a subnet of it (not the VPC's); another VPC with its own."""
    web = _vpc(ec2, "10.6.0.0/16", Name="web")
    ec2.modify_vpc_attribute(VpcId=web, EnableDnsHostnames={"Value": True})
    gateway = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=gateway, VpcId=web)
    ec2.create_internet_gateway()
    _flow_log(ec2, web, "VPC", "ACCEPT")
    _flow_log(ec2, web, "VPC", "REJECT")
    _flow_log(ec2, _subnet(ec2, web, "10.6.1.0/24"), "Subnet", "ALL")
    other = _vpc(ec2, "10.7.0.0/16")
    _flow_log(ec2, other, "VPC", "ALL")
    other_gateway = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=other_gateway, VpcId=other)
    empty = _vpc(ec2, "10.8.0.0/16")
    return empty, lambda: ec2.delete_vpc(VpcId=empty)


def seed_subnet(ec2: Any) -> Seeded:
    """Subnets with an explicit route table and with their VPC's main one, in two VPCs."""
    vpc = _vpc(ec2, "10.9.0.0/16")
    public = _subnet(ec2, vpc, "10.9.1.0/24", Name="public")
    private = _subnet(ec2, vpc, "10.9.2.0/24")
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.associate_route_table(RouteTableId=table, SubnetId=public)
    ec2.modify_subnet_attribute(SubnetId=public, MapPublicIpOnLaunch={"Value": True})
    other = _vpc(ec2, "10.10.0.0/16")
    other_table = ec2.create_route_table(VpcId=other)["RouteTable"]["RouteTableId"]
    ec2.associate_route_table(RouteTableId=other_table, SubnetId=_subnet(ec2, other, "10.10.1.0/24"))
    _subnet(ec2, other, "10.10.2.0/24")
    return private, lambda: ec2.delete_subnet(SubnetId=private)


def seed_route_table(ec2: Any) -> Seeded:
    vpc = _vpc(ec2, "10.11.0.0/16")
    subnet = _subnet(ec2, vpc, "10.11.1.0/24")
    gateway = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=gateway, VpcId=vpc)
    table = ec2.create_route_table(VpcId=vpc, TagSpecifications=_tags("route-table", Name="public"))
    table_id = table["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=table_id, DestinationCidrBlock="0.0.0.0/0", GatewayId=gateway)
    ec2.associate_route_table(RouteTableId=table_id, SubnetId=subnet)
    spare = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    return spare, lambda: ec2.delete_route_table(RouteTableId=spare)


def seed_nat_gateway(ec2: Any) -> Seeded:
    vpc = _vpc(ec2, "10.12.0.0/16")
    subnet = _subnet(ec2, vpc, "10.12.1.0/24")
    gateways = [
        ec2.create_nat_gateway(
            SubnetId=subnet, AllocationId=ec2.allocate_address(Domain="vpc")["AllocationId"],
            TagSpecifications=_tags("natgateway", Name=name),
        )["NatGateway"]["NatGatewayId"]
        for name in ("a", "b")
    ]
    return gateways[1], lambda: ec2.delete_nat_gateway(NatGatewayId=gateways[1])


def seed_vpc_peering(ec2: Any) -> Seeded:
    first, second, third = (_vpc(ec2, f"10.{n}.0.0/16") for n in (13, 14, 15))
    accepted = ec2.create_vpc_peering_connection(VpcId=first, PeerVpcId=second)
    accepted_id = accepted["VpcPeeringConnection"]["VpcPeeringConnectionId"]
    ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=accepted_id)
    pending = ec2.create_vpc_peering_connection(
        VpcId=first, PeerVpcId=third, TagSpecifications=_tags("vpc-peering-connection", Name="pending")
    )["VpcPeeringConnection"]["VpcPeeringConnectionId"]
    return pending, lambda: ec2.delete_vpc_peering_connection(VpcPeeringConnectionId=pending)


def seed_dhcp_options(ec2: Any) -> Seeded:
    ec2.create_dhcp_options(
        DhcpConfigurations=[{"Key": "domain-name-servers", "Values": ["10.16.0.2", "AmazonProvidedDNS"]},
                            {"Key": "domain-name", "Values": ["corp.example"]}],
        TagSpecifications=_tags("dhcp-options", Name="corp"),
    )
    spare = ec2.create_dhcp_options(DhcpConfigurations=[{"Key": "ntp-servers", "Values": ["10.16.0.3"]}])
    spare_id = spare["DhcpOptions"]["DhcpOptionsId"]
    return spare_id, lambda: ec2.delete_dhcp_options(DhcpOptionsId=spare_id)


def seed_flow_log(ec2: Any) -> Seeded:
    vpc = _vpc(ec2, "10.17.0.0/16")
    _flow_log(ec2, vpc, "VPC", "REJECT")
    spare = _flow_log(ec2, _subnet(ec2, vpc, "10.17.1.0/24"), "Subnet", "ALL")
    return spare, lambda: ec2.delete_flow_logs(FlowLogIds=[spare])


def seed_vpn_connection(ec2: Any) -> Seeded:
    connections = []
    for address in ("198.51.100.7", "198.51.100.8"):
        customer = ec2.create_customer_gateway(Type="ipsec.1", PublicIp=address, BgpAsn=65000)
        gateway = ec2.create_vpn_gateway(Type="ipsec.1")["VpnGateway"]["VpnGatewayId"]
        connections.append(ec2.create_vpn_connection(
            Type="ipsec.1", CustomerGatewayId=customer["CustomerGateway"]["CustomerGatewayId"],
            VpnGatewayId=gateway, TagSpecifications=_tags("vpn-connection", Name=address),
        )["VpnConnection"]["VpnConnectionId"])
    return connections[1], lambda: ec2.delete_vpn_connection(VpnConnectionId=connections[1])


def seed_vpn_gateway(ec2: Any) -> Seeded:
    vpc = _vpc(ec2, "10.18.0.0/16")
    attached = ec2.create_vpn_gateway(Type="ipsec.1", TagSpecifications=_tags("vpn-gateway", Name="hq"))
    ec2.attach_vpn_gateway(VpnGatewayId=attached["VpnGateway"]["VpnGatewayId"], VpcId=vpc)
    spare = ec2.create_vpn_gateway(Type="ipsec.1", AmazonSideAsn=64512)["VpnGateway"]["VpnGatewayId"]
    return spare, lambda: ec2.delete_vpn_gateway(VpnGatewayId=spare)


@dataclass(frozen=True)
class Case:
    seed: Callable[[Any], Seeded]
    missing: str
    max_calls: int
    operations: tuple[str, ...]  # every call get_item makes for an item of the seed


CASES: dict[str, Case] = {
    "ec2.security_group": Case(seed_security_group, "sg-0123456789abcdef0", 1, ("DescribeSecurityGroups",)),
    "ec2.network_acl": Case(seed_network_acl, "acl-0123456789abcdef0", 1, ("DescribeNetworkAcls",)),
    "ec2.vpc_endpoint": Case(seed_vpc_endpoint, "vpce-0123456789abcdef0", 1, ("DescribeVpcEndpoints",)),
    "ec2.image": Case(seed_image, "ami-0123456789abcdef0", 2, ("DescribeImages", "DescribeImageAttribute")),
    "ec2.snapshot": Case(
        seed_snapshot, "snap-0123456789abcdef0", 2, ("DescribeSnapshots", "DescribeSnapshotAttribute")
    ),
    "ec2.instance": Case(
        seed_instance, "i-0123456789abcdef0", 2, ("DescribeInstances", "DescribeInstanceAttribute")
    ),
    "ec2.network_interface": Case(
        seed_network_interface, "eni-0123456789abcdef0", 1, ("DescribeNetworkInterfaces",)
    ),
    "ec2.volume": Case(seed_volume, "vol-0123456789abcdef0", 1, ("DescribeVolumes",)),
    "ec2.elastic_ip": Case(seed_elastic_ip, "eipalloc-0123456789abcdef0", 1, ("DescribeAddresses",)),
    "ec2.key_pair": Case(seed_key_pair, "no-such-key", 1, ("DescribeKeyPairs",)),
    "ec2.vpc": Case(
        seed_vpc, "vpc-0123456789abcdef0", 5,
        ("DescribeVpcs", "DescribeInternetGateways", "DescribeFlowLogs", "DescribeVpcAttribute"),
    ),
    "ec2.subnet": Case(
        seed_subnet, "subnet-0123456789abcdef0", 3, ("DescribeSubnets", "DescribeRouteTables")
    ),
    "ec2.route_table": Case(seed_route_table, "rtb-0123456789abcdef0", 1, ("DescribeRouteTables",)),
    "ec2.nat_gateway": Case(seed_nat_gateway, "nat-0123456789abcdef0", 1, ("DescribeNatGateways",)),
    "ec2.vpc_peering": Case(
        seed_vpc_peering, "pcx-0123456789abcdef0", 1, ("DescribeVpcPeeringConnections",)
    ),
    "ec2.dhcp_options": Case(seed_dhcp_options, "dopt-0123456789abcdef0", 1, ("DescribeDhcpOptions",)),
    "ec2.flow_log": Case(seed_flow_log, "fl-0123456789abcdef0", 1, ("DescribeFlowLogs",)),
    "ec2.vpn_connection": Case(seed_vpn_connection, "vpn-0123456789abcdef0", 1, ("DescribeVpnConnections",)),
    "ec2.vpn_gateway": Case(seed_vpn_gateway, "vgw-0123456789abcdef0", 1, ("DescribeVpnGateways",)),
}
FAILURES = [(tech, operation) for tech, case in CASES.items() for operation in case.operations]


def test_every_ec2_technology_but_the_account_settings_has_a_getter_under_test() -> None:
    from gitmonkey.watchers import ec2

    with_getter = {tech.name for tech in ec2.TECHNOLOGIES if tech.get_item is not None}
    assert with_getter == set(CASES)
    assert {tech.name for tech in ec2.TECHNOLOGIES} - with_getter == {"ec2.account_settings"}


@pytest.mark.parametrize("technology", CASES)
def test_get_item_matches_listing(aws: Any, technology: str) -> None:
    case = CASES[technology]
    case.seed(aws)
    calls = assert_get_item_matches_listing(technology, REGION, missing=case.missing)
    assert max(calls) <= case.max_calls, calls


# AWS (and moto) keep listing a deleted VPC endpoint for a while, in state "deleted", and the
# listing keeps it as an item (its State is ephemeral): the getter gives that same item.
STILL_LISTED_AFTER_DELETION = {"ec2.vpc_endpoint"}


@pytest.mark.parametrize("technology", CASES)
def test_a_deleted_item_reads_as_none(aws: Any, technology: str) -> None:
    tech = get_technology(technology)
    assert tech.get_item is not None
    item_id, delete = CASES[technology].seed(aws)
    assert tech.get_item(make_ctx(), item_id) is not None
    delete()
    after = tech.get_item(make_ctx(), item_id)
    listed = {item.id: item for item in tech.list_items(make_ctx())}
    if technology in STILL_LISTED_AFTER_DELETION:
        assert after == listed[item_id]
        assert after.configuration["State"].lower() == "deleted"
    else:
        assert after is None
        assert item_id not in listed


def _single_attempt() -> SliceContext:
    session = AccountSession(AccountConfig(name="test", id=ACCOUNT), max_attempts=1)
    return SliceContext(session, REGION)


@pytest.mark.parametrize(("status", "code"), [(403, "UnauthorizedOperation"), (400, "RequestLimitExceeded")])
@pytest.mark.parametrize(("technology", "operation"), FAILURES)
def test_a_failed_call_of_the_getter_raises(
    aws: Any, monkeypatch: pytest.MonkeyPatch, technology: str, operation: str, status: int, code: str
) -> None:
    tech = get_technology(technology)
    assert tech.get_item is not None
    item_id, _ = CASES[technology].seed(aws)
    def refuse(**_: Any) -> Any:
        return error_response(status, code)

    with (
        inject(monkeypatch, f"before-send.ec2.{operation}", refuse) as fired,
        pytest.raises(ClientError) as info,
    ):
        tech.get_item(_single_attempt(), item_id)
    assert fired
    assert info.value.response["Error"]["Code"] == code


# --- what the item carries from elsewhere, and answers moto does not give ------------------------


def test_a_vpc_read_alone_has_its_own_gateways_and_flow_logs_only(aws: Any) -> None:
    seed_vpc(aws)
    (web,) = aws.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": ["web"]}])["Vpcs"]
    ctx = make_ctx()
    item = get_technology("ec2.vpc").get_item(ctx, web["VpcId"])
    assert item is not None
    config = item.configuration
    assert len(config["InternetGatewayIds"]) == 1
    assert len(config["FlowLogIds"]) == 2
    assert config["FlowLogTrafficTypes"] == ["ACCEPT", "REJECT"]
    assert config["EnableDnsHostnames"] is True
    assert ctx.calls == {"ec2:DescribeVpcs": 1, "ec2:DescribeInternetGateways": 1, "ec2:DescribeFlowLogs": 1,
                         "ec2:DescribeVpcAttribute": 2}


def test_a_subnet_read_alone_names_its_explicit_route_table_else_the_main_one(aws: Any) -> None:
    seed_subnet(aws)
    (public,) = aws.describe_subnets(Filters=[{"Name": "tag:Name", "Values": ["public"]}])["Subnets"]
    vpc = public["VpcId"]
    (explicit,) = aws.describe_route_tables(
        Filters=[{"Name": "association.subnet-id", "Values": [public["SubnetId"]]}]
    )["RouteTables"]
    (main,) = aws.describe_route_tables(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "association.main", "Values": ["true"]}]
    )["RouteTables"]
    subnets = aws.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    (private,) = {s["SubnetId"] for s in subnets} - {public["SubnetId"]}
    get = get_technology("ec2.subnet").get_item
    assert get is not None

    ctx = make_ctx()
    item = get(ctx, public["SubnetId"])
    assert item is not None and item.configuration["RouteTableId"] == explicit["RouteTableId"]
    assert ctx.calls == {"ec2:DescribeSubnets": 1, "ec2:DescribeRouteTables": 1}

    ctx = make_ctx()
    item = get(ctx, private)
    assert item is not None and item.configuration["RouteTableId"] == main["RouteTableId"]
    assert ctx.calls == {"ec2:DescribeSubnets": 1, "ec2:DescribeRouteTables": 2}


def test_a_terminated_instance_is_not_an_item_and_costs_one_call(aws: Any) -> None:
    instance = _instance(aws)
    aws.terminate_instances(InstanceIds=[instance])
    ctx = make_ctx()
    assert get_technology("ec2.instance").get_item(ctx, instance) is None
    assert ctx.calls == {"ec2:DescribeInstances": 1}


def test_an_elastic_ip_asked_for_by_its_public_ip_is_not_that_item(aws: Any) -> None:
    """A VPC address's item is its allocation id; no item has its public IP as id."""
    allocated = aws.allocate_address(Domain="vpc")
    get = get_technology("ec2.elastic_ip").get_item
    assert get is not None
    assert get(make_ctx(), allocated["PublicIp"]) is None
    item = get(make_ctx(), allocated["AllocationId"])
    assert item is not None and item.name == allocated["PublicIp"]


def _stubbed(monkeypatch: pytest.MonkeyPatch) -> tuple[SliceContext, Stubber]:
    ctx = make_ctx()
    client = boto3.client("ec2", region_name=REGION)
    monkeypatch.setattr(ctx, "client", lambda service, region=None: client)
    return ctx, Stubber(client)


def _group(group_id: str) -> dict[str, Any]:
    return {"GroupId": group_id, "GroupName": group_id, "Description": "d", "OwnerId": ACCOUNT}


@pytest.mark.parametrize(
    "groups",
    [[_group("sg-0000000000000000b")], [_group("sg-0000000000000000a"), _group("sg-0000000000000000a")]],
)
def test_an_answer_by_id_naming_another_item_or_this_one_twice_raises(monkeypatch, groups) -> None:
    ctx, stub = _stubbed(monkeypatch)
    stub.add_response("describe_security_groups", {"SecurityGroups": groups},
                      {"GroupIds": ["sg-0000000000000000a"]})
    get = get_technology("ec2.security_group").get_item
    assert get is not None
    with stub, pytest.raises(UnreadableResponseError) as info:
        get(ctx, "sg-0000000000000000a")
    assert info.value.operation == "DescribeSecurityGroups"


def test_an_empty_answer_by_id_reads_as_gone(monkeypatch) -> None:
    ctx, stub = _stubbed(monkeypatch)
    stub.add_response("describe_network_interfaces", {"NetworkInterfaces": []})
    get = get_technology("ec2.network_interface").get_item
    assert get is not None
    with stub:
        assert get(ctx, "eni-0000000000000000a") is None


def test_an_image_of_another_account_is_not_an_item(monkeypatch) -> None:
    """AWS scopes ``ImageIds`` by ``Owners``; moto does not, and the owner is checked."""
    ctx, stub = _stubbed(monkeypatch)
    image = {"ImageId": "ami-0000000000000000a", "OwnerId": STRANGER, "Name": "public", "State": "available"}
    stub.add_response("describe_images", {"Images": [image]})
    get = get_technology("ec2.image").get_item
    assert get is not None
    with stub:
        assert get(ctx, "ami-0000000000000000a") is None


@pytest.mark.parametrize(
    ("technology", "method", "item_id", "answer"),
    [
        ("ec2.nat_gateway", "describe_nat_gateways", "nat-0000000000000000a",
         {"NatGateways": [{"NatGatewayId": "nat-0000000000000000a", "State": "deleting"}]}),
        ("ec2.vpc_peering", "describe_vpc_peering_connections", "pcx-0000000000000000a",
         {"VpcPeeringConnections": [{"VpcPeeringConnectionId": "pcx-0000000000000000a",
                                     "Status": {"Code": "rejected"}}]}),
        ("ec2.vpn_connection", "describe_vpn_connections", "vpn-0000000000000000a",
         {"VpnConnections": [{"VpnConnectionId": "vpn-0000000000000000a", "State": "deleting",
                              "CustomerGatewayId": "cgw-1", "Type": "ipsec.1"}]}),
        ("ec2.vpn_gateway", "describe_vpn_gateways", "vgw-0000000000000000a",
         {"VpnGateways": [{"VpnGatewayId": "vgw-0000000000000000a", "State": "deleting"}]}),
        ("ec2.instance", "describe_instances", "i-0000000000000000a",
         {"Reservations": [{"ReservationId": "r-1", "OwnerId": ACCOUNT, "Instances": [
             {"InstanceId": "i-0000000000000000a", "State": {"Code": 32, "Name": "shutting-down"}}]}]}),
    ],
)
def test_a_record_going_away_reads_as_gone_as_the_listing_drops_it(
    monkeypatch, technology, method, item_id, answer
):
    ctx, stub = _stubbed(monkeypatch)
    stub.add_response(method, answer)
    get = get_technology(technology).get_item
    assert get is not None
    with stub:
        assert get(ctx, item_id) is None
    stub.assert_no_pending_responses()


def test_an_instance_gone_between_its_two_calls_reads_as_gone(monkeypatch) -> None:
    ctx, stub = _stubbed(monkeypatch)
    running = {"InstanceId": "i-0000000000000000a", "State": {"Code": 16, "Name": "running"}}
    reservation = {"ReservationId": "r-1", "Instances": [running]}
    stub.add_response("describe_instances", {"Reservations": [reservation]})
    stub.add_client_error("describe_instance_attribute", service_error_code="InvalidInstanceID.NotFound")
    get = get_technology("ec2.instance").get_item
    assert get is not None
    with stub:
        assert get(ctx, "i-0000000000000000a") is None
    stub.assert_no_pending_responses()
