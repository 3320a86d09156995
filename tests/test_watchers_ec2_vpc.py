"""VPC networking watchers (ec2.vpc, ec2.subnet, ec2.route_table, ec2.nat_gateway, ec2.vpc_peering,
ec2.dhcp_options, ec2.flow_log, ec2.vpn_connection, ec2.vpn_gateway) against moto, and a botocore
Stubber where moto lacks a field or a state (VPN tunnel options and telemetry, propagated routes,
failed or deleting things, paging): the configuration recorded, ephemeral values kept out, the VPN
pre-shared keys never written, races, failures, API calls, an unchanged resync, and the rules on
real output."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from gitmonkey.audit import AuditContext, RuleSet
from gitmonkey.config import AccountConfig
from gitmonkey.normalize import REDACTED_PREFIX
from gitmonkey.read.aws import AccountSession, SliceContext
from gitmonkey.read.aws_responses import UnreadableResponseError
from gitmonkey.sync import run_sync
from gitmonkey.watchers import _ec2_vpc as vpcw
from gitmonkey.watchers import all_technologies, get_technology
from tests.helpers import error_response, git, inject, make_config, normalized, slice_context

ACCOUNT = "123456789012"
STRANGER = "999999999999"
REGION = "us-east-1"
TECHNOLOGIES = tuple(tech.name for tech in vpcw.TECHNOLOGIES)
LISTERS: dict[str, Callable[[SliceContext], list[Any]]] = {
    tech.name: tech.list_items for tech in vpcw.TECHNOLOGIES
}


_session: list[AccountSession] = []


@pytest.fixture(autouse=True)
def _one_session_per_test():
    """Slices of one test share an account session (and its clients: making them costs more than
    the calls); no client outlives its test."""
    _session.clear()
    yield
    _session.clear()


def make_ctx(max_attempts: int | None = None) -> SliceContext:
    """The test account's us-east-1 slice; ``max_attempts=1`` for injected faults: no retries, and
    clients of its own (the faults are registered on them)."""
    if max_attempts is not None:
        session = AccountSession(AccountConfig(name="test", id=ACCOUNT), max_attempts=max_attempts)
        return SliceContext(session, REGION)
    if not _session:
        _session.append(slice_context(REGION).session)
    return SliceContext(_session[0], REGION)



def by_id(items: list[Any]) -> dict[str, Any]:
    return {item.id: item for item in items}


def stubbed(monkeypatch: pytest.MonkeyPatch, ctx: SliceContext) -> Stubber:
    client = boto3.client("ec2", region_name=REGION)
    monkeypatch.setattr(ctx, "client", lambda service, region=None: client)
    return Stubber(client)


RULES = RuleSet.load({}, base_dir=Path.cwd())


def _audit_context(known_accounts: dict | None = None) -> AuditContext:
    config = {"known_accounts": known_accounts} if known_accounts else {}
    return AuditContext.from_config(
        config, account_id=ACCOUNT, account_name="test", now=datetime(2026, 1, 1, tzinfo=UTC)
    )


def audit(documents: list[dict], known_accounts: dict | None = None) -> set[tuple[str, str, str]]:
    """(rule id, item id, finding key) of every finding of the built-in rules on ``documents``."""
    ctx = _audit_context(known_accounts)
    return {(f.rule_id, doc["id"], f.key) for doc in documents for f in RULES.evaluate(doc, None, ctx)}


def scored(documents: list[dict]) -> list[tuple[str, int]]:
    ctx = _audit_context()
    return [(f.rule_id, f.score) for doc in documents for f in RULES.evaluate(doc, None, ctx)]


def documents(items: list[Any]) -> list[dict]:
    return [json.loads(normalized(item).content) for item in items]


def other_account_ec2(account: str = STRANGER) -> Any:
    creds = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/peer", RoleSessionName="peer"
    )["Credentials"]
    return boto3.client(
        "ec2",
        region_name=REGION,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )


@pytest.fixture
def aws():
    with mock_aws():
        yield boto3.client("ec2", region_name=REGION)


def _named(resource: str, name: str) -> list[dict]:
    return [{"ResourceType": resource, "Tags": [{"Key": "Name", "Value": name}]}]


# --- GARBLE_SEEDS: one item of each technology on a moto server ---------------------------------


def _seed_vpc(client: Callable[..., Any]) -> str:
    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    gateway = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=gateway, VpcId=vpc)
    ec2.create_flow_logs(
        ResourceIds=[vpc],
        ResourceType="VPC",
        TrafficType="ALL",
        LogGroupName="seed-flow-logs",
        DeliverLogsPermissionArn=f"arn:aws:iam::{ACCOUNT}:role/flow-logs",
    )
    return vpc


def _seed_subnet(client: Callable[..., Any]) -> str:
    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.41.0.0/16")["Vpc"]["VpcId"]
    return ec2.create_subnet(VpcId=vpc, CidrBlock="10.41.1.0/24")["Subnet"]["SubnetId"]


def _seed_route_table(client: Callable[..., Any]) -> str:
    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    return ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]


def _seed_nat_gateway(client: Callable[..., Any]) -> str:
    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.43.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.43.1.0/24")["Subnet"]["SubnetId"]
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    return ec2.create_nat_gateway(SubnetId=subnet, AllocationId=allocation)["NatGateway"]["NatGatewayId"]


def _seed_vpc_peering(client: Callable[..., Any]) -> str:
    ec2 = client("ec2")
    first = ec2.create_vpc(CidrBlock="10.44.0.0/16")["Vpc"]["VpcId"]
    second = ec2.create_vpc(CidrBlock="10.45.0.0/16")["Vpc"]["VpcId"]
    peering = ec2.create_vpc_peering_connection(VpcId=first, PeerVpcId=second)
    return peering["VpcPeeringConnection"]["VpcPeeringConnectionId"]


def _seed_dhcp_options(client: Callable[..., Any]) -> str:
    ec2 = client("ec2")
    options = ec2.create_dhcp_options(
        DhcpConfigurations=[{"Key": "domain-name-servers", "Values": ["10.46.0.2", "AmazonProvidedDNS"]}]
    )
    return options["DhcpOptions"]["DhcpOptionsId"]


def _seed_flow_log(client: Callable[..., Any]) -> str:
    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.47.0.0/16")["Vpc"]["VpcId"]
    created = ec2.create_flow_logs(
        ResourceIds=[vpc],
        ResourceType="VPC",
        TrafficType="REJECT",
        LogGroupName="seed-flow-logs",
        DeliverLogsPermissionArn=f"arn:aws:iam::{ACCOUNT}:role/flow-logs",
    )
    return created["FlowLogIds"][0]


def _seed_vpn_gateway(client: Callable[..., Any]) -> str:
    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.48.0.0/16")["Vpc"]["VpcId"]
    gateway = ec2.create_vpn_gateway(Type="ipsec.1")["VpnGateway"]["VpnGatewayId"]
    ec2.attach_vpn_gateway(VpnGatewayId=gateway, VpcId=vpc)
    return gateway


def _seed_vpn_connection(client: Callable[..., Any]) -> str:
    ec2 = client("ec2")
    customer = ec2.create_customer_gateway(Type="ipsec.1", PublicIp="198.51.100.7", BgpAsn=65000)
    gateway = ec2.create_vpn_gateway(Type="ipsec.1")["VpnGateway"]["VpnGatewayId"]
    connection = ec2.create_vpn_connection(
        Type="ipsec.1",
        CustomerGatewayId=customer["CustomerGateway"]["CustomerGatewayId"],
        VpnGatewayId=gateway,
    )
    return connection["VpnConnection"]["VpnConnectionId"]


GARBLE_SEEDS: dict[str, Callable[[Callable[..., Any]], None]] = {
    "ec2.vpc": _seed_vpc,
    "ec2.subnet": _seed_subnet,
    "ec2.route_table": _seed_route_table,
    "ec2.nat_gateway": _seed_nat_gateway,
    "ec2.vpc_peering": _seed_vpc_peering,
    "ec2.dhcp_options": _seed_dhcp_options,
    "ec2.flow_log": _seed_flow_log,
    "ec2.vpn_connection": _seed_vpn_connection,
    "ec2.vpn_gateway": _seed_vpn_gateway,
}

# The operations a clean read of a seeded region answers 2xx (for the garbling meta-test).
GARBLE_OPERATIONS: dict[str, tuple[str, ...]] = {
    "ec2.vpc": (
        "ec2:DescribeVpcs",
        "ec2:DescribeInternetGateways",
        "ec2:DescribeFlowLogs",
        "ec2:DescribeVpcAttribute",
    ),
    "ec2.subnet": ("ec2:DescribeSubnets", "ec2:DescribeRouteTables"),
    "ec2.route_table": ("ec2:DescribeRouteTables",),
    "ec2.nat_gateway": ("ec2:DescribeNatGateways",),
    "ec2.vpc_peering": ("ec2:DescribeVpcPeeringConnections",),
    "ec2.dhcp_options": ("ec2:DescribeDhcpOptions",),
    "ec2.flow_log": ("ec2:DescribeFlowLogs",),
    "ec2.vpn_connection": ("ec2:DescribeVpnConnections",),
    "ec2.vpn_gateway": ("ec2:DescribeVpnGateways",),
}


def _local_client(service: str, region_name: str = REGION) -> Any:
    return boto3.client(service, region_name=region_name)


@pytest.mark.parametrize("technology", TECHNOLOGIES)
def test_garble_seed_creates_an_item_read_with_the_declared_calls(aws, technology):
    before = {item.id for item in LISTERS[technology](make_ctx())}
    seeded = GARBLE_SEEDS[technology](_local_client)
    ctx = make_ctx()

    items = LISTERS[technology](ctx)

    assert seeded in {item.id for item in items} - before
    assert set(ctx.calls) == set(GARBLE_OPERATIONS[technology])
    tech = get_technology(technology)
    assert set(ctx.calls) <= set(tech.iam_actions)
    assert set(ctx.calls) == set(tech.always_returned)


def test_the_technologies_are_registered_under_ec2():
    registered = all_technologies()
    for tech in vpcw.TECHNOLOGIES:
        assert registered[tech.name] is tech
        assert tech.name.startswith("ec2.") and not tech.is_global


# --- ec2.vpc ----------------------------------------------------------------------------------


def _rich_vpc(ec2: Any) -> dict[str, str]:
    vpc = ec2.create_vpc(
        CidrBlock="10.0.0.0/16", AmazonProvidedIpv6CidrBlock=True, TagSpecifications=_named("vpc", "prod")
    )["Vpc"]["VpcId"]
    ec2.associate_vpc_cidr_block(VpcId=vpc, CidrBlock="10.1.0.0/16")
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    gateway = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=gateway, VpcId=vpc)
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    flow_log = ec2.create_flow_logs(
        ResourceIds=[vpc],
        ResourceType="VPC",
        TrafficType="ALL",
        LogGroupName="vpc-flow-logs",
        DeliverLogsPermissionArn=f"arn:aws:iam::{ACCOUNT}:role/flow-logs",
    )["FlowLogIds"][0]
    subnet_log = ec2.create_flow_logs(
        ResourceIds=[subnet],
        ResourceType="Subnet",
        TrafficType="ACCEPT",
        LogGroupName="subnet-flow-logs",
        DeliverLogsPermissionArn=f"arn:aws:iam::{ACCOUNT}:role/flow-logs",
    )["FlowLogIds"][0]
    other = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    other_gateway = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=other_gateway, VpcId=other)
    return {
        "vpc": vpc,
        "gateway": gateway,
        "subnet": subnet,
        "flow_log": flow_log,
        "subnet_log": subnet_log,
        "other": other,
        "other_gateway": other_gateway,
    }


def test_vpc_configuration(aws):
    ids = _rich_vpc(aws)
    ctx = make_ctx()

    items = by_id(vpcw.list_vpcs(ctx))

    item = items[ids["vpc"]]
    assert (item.technology, item.region, item.name) == ("ec2.vpc", REGION, "prod")
    assert item.arn == f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/{ids['vpc']}"
    config = item.configuration
    assert set(config) == {
        *vpcw.VPC_FIELDS,
        "EnableDnsSupport",
        "EnableDnsHostnames",
        "InternetGatewayIds",
        "FlowLogIds",
        "FlowLogTrafficTypes",
        "Tags",
    }
    assert config["OwnerId"] == ACCOUNT
    assert config["CidrBlock"] == "10.0.0.0/16"
    assert sorted(a["CidrBlock"] for a in config["CidrBlockAssociationSet"]) == ["10.0.0.0/16", "10.1.0.0/16"]
    assert len(config["Ipv6CidrBlockAssociationSet"]) == 1
    assert config["IsDefault"] is False
    assert config["InstanceTenancy"] == "default"
    assert (config["EnableDnsSupport"], config["EnableDnsHostnames"]) == (True, True)
    assert config["InternetGatewayIds"] == [ids["gateway"]]
    assert config["FlowLogIds"] == [ids["flow_log"]], "a subnet's flow log is not the VPC's"
    assert config["FlowLogTrafficTypes"] == ["ALL"]
    assert config["Tags"] == {"Name": "prod"}
    assert items[ids["other"]].configuration["InternetGatewayIds"] == [ids["other_gateway"]]
    assert items[ids["other"]].configuration["FlowLogIds"] == []
    assert items[ids["other"]].configuration["FlowLogTrafficTypes"] == []
    assert items[ids["other"]].configuration["EnableDnsHostnames"] is False
    (default,) = [i for i in items.values() if i.configuration["IsDefault"]]
    assert default.name == default.id
    # Region-wide calls once; two attribute calls per VPC.
    assert ctx.calls == {
        "ec2:DescribeVpcs": 1,
        "ec2:DescribeInternetGateways": 1,
        "ec2:DescribeFlowLogs": 1,
        "ec2:DescribeVpcAttribute": 2 * len(items),
    }

    document = normalized(item)
    assert "State" not in document.document["configuration"]
    assert document.ephemeral["configuration.State"] == "available"
    assert all(
        "CidrBlockState" not in a for a in document.document["configuration"]["CidrBlockAssociationSet"]
    )
    assert all(
        "Ipv6CidrBlockState" not in a
        for a in document.document["configuration"]["Ipv6CidrBlockAssociationSet"]
    )


def _stub_vpc_region(stub: Stubber, vpcs: list[dict], flow_logs: list[dict] | None = None) -> None:
    stub.add_response("describe_vpcs", {"Vpcs": vpcs})
    stub.add_response("describe_internet_gateways", {"InternetGateways": []})
    stub.add_response("describe_flow_logs", {"FlowLogs": flow_logs or []})


def _vpc(vpc_id: str = "vpc-1", owner: str = ACCOUNT, **extra: Any) -> dict:
    return {
        "VpcId": vpc_id,
        "OwnerId": owner,
        "State": "available",
        "CidrBlock": "10.0.0.0/16",
        "IsDefault": False,
        **extra,
    }


def test_vpc_cidr_blocks_being_removed_are_left_out_and_states_are_ephemeral(monkeypatch):
    def read(states: tuple[str, str]) -> Any:
        ctx = make_ctx()
        stub = stubbed(monkeypatch, ctx)
        vpc = _vpc(
            CidrBlockAssociationSet=[
                {
                    "AssociationId": "a-1",
                    "CidrBlock": "10.0.0.0/16",
                    "CidrBlockState": {"State": "associated"},
                },
                {"AssociationId": "a-2", "CidrBlock": "10.1.0.0/16", "CidrBlockState": {"State": states[0]}},
                {
                    "AssociationId": "a-3",
                    "CidrBlock": "10.2.0.0/16",
                    "CidrBlockState": {"State": "disassociated"},
                },
            ],
            Ipv6CidrBlockAssociationSet=[
                {
                    "AssociationId": "a-6",
                    "Ipv6CidrBlock": "2600:1f18::/56",
                    "Ipv6CidrBlockState": {"State": states[1]},
                },
            ],
        )
        _stub_vpc_region(
            stub,
            [vpc],
            [
                {"FlowLogId": "fl-1", "ResourceId": "vpc-1", "FlowLogStatus": "ACTIVE"},
                {"FlowLogId": "fl-2", "ResourceId": "vpc-1", "FlowLogStatus": "SOMETHING-ELSE"},
            ],
        )
        for member in ("EnableDnsSupport", "EnableDnsHostnames"):
            stub.add_response("describe_vpc_attribute", {"VpcId": "vpc-1", member: {"Value": True}})
        with stub:
            (item,) = vpcw.list_vpcs(ctx)
        stub.assert_no_pending_responses()
        return item

    pending = read(("associating", "associating"))
    settled = read(("associated", "associated"))

    assert [a["CidrBlock"] for a in settled.configuration["CidrBlockAssociationSet"]] == [
        "10.0.0.0/16",
        "10.1.0.0/16",
    ]
    assert settled.configuration["FlowLogIds"] == ["fl-1"], "only ACTIVE flow logs count"
    assert normalized(pending).content == normalized(settled).content
    leaving = read(("disassociating", "disassociating"))
    assert [a["CidrBlock"] for a in leaving.configuration["CidrBlockAssociationSet"]] == ["10.0.0.0/16"]
    assert leaving.configuration["Ipv6CidrBlockAssociationSet"] == []


def test_vpc_shared_by_another_account_is_read_without_attribute_calls(monkeypatch):
    """The owner configures (and records) a shared VPC; its attributes are not read here, and the
    flow-logs rule leaves it alone (the owner's flow logs are not visible to this account)."""
    ctx = make_ctx()
    stub = stubbed(monkeypatch, ctx)
    _stub_vpc_region(stub, [_vpc("vpc-shared", owner="111111111111")])
    with stub:
        (item,) = vpcw.list_vpcs(ctx)  # an attribute call would find no stubbed answer and fail
    stub.assert_no_pending_responses()
    assert item.arn == f"arn:aws:ec2:{REGION}:111111111111:vpc/vpc-shared"
    assert item.configuration["EnableDnsSupport"] is None
    assert item.configuration["EnableDnsHostnames"] is None
    assert item.configuration["FlowLogIds"] == []
    assert audit(documents([item])) == set()


def test_region_without_vpcs_costs_one_call(monkeypatch):
    ctx = make_ctx()
    stub = stubbed(monkeypatch, ctx)
    stub.add_response("describe_vpcs", {"Vpcs": []})
    with stub:
        assert vpcw.list_vpcs(ctx) == []
    stub.assert_no_pending_responses()


def test_vpc_deleted_between_listing_and_attributes_is_left_out(aws, monkeypatch):
    ids = _rich_vpc(aws)
    gone = ids["other"]

    def deleted(request: Any, **_: Any) -> Any:
        body = parse_qs(request.body if isinstance(request.body, str) else request.body.decode())
        if body.get("VpcId") == [gone]:
            return error_response(400, "InvalidVpcID.NotFound", f"The vpc ID '{gone}' does not exist")
        return None

    with inject(monkeypatch, "before-send.ec2.DescribeVpcAttribute", deleted) as fired:
        items = by_id(vpcw.list_vpcs(make_ctx(max_attempts=1)))

    assert fired
    assert gone not in items
    assert ids["vpc"] in items


def test_vpc_attribute_failure_raises(aws, monkeypatch):
    _rich_vpc(aws)

    def denied(**_: Any) -> Any:
        return error_response(403, "UnauthorizedOperation", "not authorized to DescribeVpcAttribute")

    with (
        inject(monkeypatch, "before-send.ec2.DescribeVpcAttribute", denied),
        pytest.raises(ClientError) as info,
    ):
        vpcw.list_vpcs(make_ctx(max_attempts=1))
    assert info.value.response["Error"]["Code"] == "UnauthorizedOperation"


def test_vpc_attribute_answer_without_the_attribute_is_unreadable(monkeypatch):
    """``{"VpcId": ...}`` alone would otherwise read as "DNS support off": a false change."""
    ctx = make_ctx()
    stub = stubbed(monkeypatch, ctx)
    _stub_vpc_region(stub, [_vpc()])
    stub.add_response("describe_vpc_attribute", {"VpcId": "vpc-1"})
    with stub, pytest.raises(UnreadableResponseError, match="DescribeVpcAttribute"):
        vpcw.list_vpcs(ctx)


@pytest.mark.parametrize("operation", ["DescribeInternetGateways", "DescribeFlowLogs"])
def test_vpc_join_failure_raises(aws, monkeypatch, operation):
    def throttled(**_: Any) -> Any:
        return error_response(400, "RequestLimitExceeded", "Request limit exceeded.")

    with inject(monkeypatch, f"before-send.ec2.{operation}", throttled), pytest.raises(ClientError) as info:
        vpcw.list_vpcs(make_ctx(max_attempts=1))
    assert info.value.response["Error"]["Code"] == "RequestLimitExceeded"


# --- ec2.subnet -------------------------------------------------------------------------------


def test_subnet_configuration_and_route_table(aws):
    vpc = aws.create_vpc(CidrBlock="10.3.0.0/16")["Vpc"]["VpcId"]
    public = aws.create_subnet(
        VpcId=vpc,
        CidrBlock="10.3.1.0/24",
        AvailabilityZone=f"{REGION}a",
        TagSpecifications=_named("subnet", "web"),
    )["Subnet"]["SubnetId"]
    private = aws.create_subnet(VpcId=vpc, CidrBlock="10.3.2.0/24")["Subnet"]["SubnetId"]
    aws.modify_subnet_attribute(SubnetId=public, MapPublicIpOnLaunch={"Value": True})
    table = aws.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    aws.associate_route_table(RouteTableId=table, SubnetId=public)
    main = next(
        t["RouteTableId"]
        for t in aws.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["RouteTables"]
        if any(a.get("Main") for a in t["Associations"])
    )
    ctx = make_ctx()

    items = by_id(vpcw.list_subnets(ctx))

    item = items[public]
    assert (item.technology, item.name) == ("ec2.subnet", "web")
    assert item.arn == f"arn:aws:ec2:{REGION}:{ACCOUNT}:subnet/{public}"
    config = item.configuration
    assert set(config) == {*vpcw.SUBNET_FIELDS, "RouteTableId", "Tags"}
    assert (config["VpcId"], config["CidrBlock"], config["AvailabilityZone"]) == (
        vpc,
        "10.3.1.0/24",
        f"{REGION}a",
    )
    assert config["MapPublicIpOnLaunch"] is True
    assert config["DefaultForAz"] is False
    assert config["RouteTableId"] == table
    assert items[private].configuration["RouteTableId"] == main
    assert items[private].configuration["MapPublicIpOnLaunch"] is False
    defaults = [i for i in items.values() if i.configuration["DefaultForAz"]]
    assert len(defaults) == 6 and all(i.configuration["RouteTableId"] for i in defaults)
    assert ctx.calls == {"ec2:DescribeSubnets": 1, "ec2:DescribeRouteTables": 1}

    document = normalized(item)
    assert {"State", "AvailableIpAddressCount"}.isdisjoint(document.document["configuration"])
    assert document.ephemeral["configuration.AvailableIpAddressCount"] > 0

    findings = audit(documents(list(items.values())))
    assert ("ec2.subnet.auto-assign-public-ip", public, "") in findings
    assert not any(item_id == private for _, item_id, _ in findings)


def test_subnet_whose_association_is_being_removed_uses_the_main_table(monkeypatch):
    ctx = make_ctx()
    stub = stubbed(monkeypatch, ctx)
    stub.add_response(
        "describe_subnets",
        {
            "Subnets": [
                {
                    "SubnetId": "subnet-1",
                    "VpcId": "vpc-1",
                    "OwnerId": ACCOUNT,
                    "State": "available",
                    "CidrBlock": "10.0.1.0/24",
                    "MapPublicIpOnLaunch": False,
                },
            ]
        },
    )
    stub.add_response(
        "describe_route_tables",
        {
            "RouteTables": [
                {
                    "RouteTableId": "rtb-main",
                    "VpcId": "vpc-1",
                    "Associations": [
                        {
                            "Main": True,
                            "RouteTableId": "rtb-main",
                            "RouteTableAssociationId": "a-1",
                            "AssociationState": {"State": "associated"},
                        }
                    ],
                },
                {
                    "RouteTableId": "rtb-old",
                    "VpcId": "vpc-1",
                    "Associations": [
                        {
                            "Main": False,
                            "RouteTableId": "rtb-old",
                            "SubnetId": "subnet-1",
                            "RouteTableAssociationId": "a-2",
                            "AssociationState": {"State": "disassociating"},
                        }
                    ],
                },
            ]
        },
    )
    with stub:
        (item,) = vpcw.list_subnets(ctx)
    assert item.configuration["RouteTableId"] == "rtb-main"
    assert item.arn == f"arn:aws:ec2:{REGION}:{ACCOUNT}:subnet/subnet-1"


def test_subnet_route_table_read_failure_raises(aws, monkeypatch):
    def denied(**_: Any) -> Any:
        return error_response(403, "UnauthorizedOperation", "not authorized")

    with inject(monkeypatch, "before-send.ec2.DescribeRouteTables", denied), pytest.raises(ClientError):
        vpcw.list_subnets(make_ctx(max_attempts=1))


# --- ec2.route_table --------------------------------------------------------------------------


def test_route_table_configuration_and_peering_rule(aws):
    vpc = aws.create_vpc(CidrBlock="10.4.0.0/16")["Vpc"]["VpcId"]
    peer = aws.create_vpc(CidrBlock="10.5.0.0/16")["Vpc"]["VpcId"]
    subnet = aws.create_subnet(VpcId=vpc, CidrBlock="10.4.1.0/24")["Subnet"]["SubnetId"]
    peering = aws.create_vpc_peering_connection(VpcId=vpc, PeerVpcId=peer)["VpcPeeringConnection"][
        "VpcPeeringConnectionId"
    ]
    aws.accept_vpc_peering_connection(VpcPeeringConnectionId=peering)
    gateway = aws.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    aws.attach_internet_gateway(InternetGatewayId=gateway, VpcId=vpc)
    table = aws.create_route_table(VpcId=vpc, TagSpecifications=_named("route-table", "dmz"))["RouteTable"][
        "RouteTableId"
    ]
    aws.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", VpcPeeringConnectionId=peering)
    aws.create_route(RouteTableId=table, DestinationCidrBlock="192.0.2.0/24", GatewayId=gateway)
    association = aws.associate_route_table(RouteTableId=table, SubnetId=subnet)["AssociationId"]
    ctx = make_ctx()

    items = by_id(vpcw.list_route_tables(ctx))

    item = items[table]
    assert (item.technology, item.name) == ("ec2.route_table", "dmz")
    assert item.arn == f"arn:aws:ec2:{REGION}:{ACCOUNT}:route-table/{table}"
    config = item.configuration
    assert set(config) == {
        "RouteTableId",
        "VpcId",
        "OwnerId",
        "Routes",
        "PropagatedRoutes",
        "Associations",
        "PropagatingVgws",
        "Tags",
    }
    routes = {r["DestinationCidrBlock"]: r for r in config["Routes"]}
    assert routes["10.4.0.0/16"]["GatewayId"] == "local"
    assert routes["0.0.0.0/0"]["VpcPeeringConnectionId"] == peering
    assert routes["192.0.2.0/24"]["GatewayId"] == gateway
    assert [(a["SubnetId"], a["RouteTableAssociationId"]) for a in config["Associations"]] == [
        (subnet, association)
    ]
    assert ctx.calls == {"ec2:DescribeRouteTables": 1}
    assert "AssociationState" not in normalized(item).document["configuration"]["Associations"][0]

    findings = audit(documents(list(items.values())))
    assert {f for f in findings if f[0].startswith("ec2.route_table.")} == {
        ("ec2.route_table.default-route-via-peering", table, f"0.0.0.0/0:{peering}")
    }


def _route_table_answer(routes: list[dict], association_state: str = "associated") -> dict:
    return {
        "RouteTables": [
            {
                "RouteTableId": "rtb-1",
                "VpcId": "vpc-1",
                "OwnerId": ACCOUNT,
                "Routes": routes,
                "Associations": [
                    {
                        "Main": False,
                        "RouteTableId": "rtb-1",
                        "SubnetId": "subnet-1",
                        "RouteTableAssociationId": "a-1",
                        "AssociationState": {"State": association_state},
                    },
                    {
                        "Main": False,
                        "RouteTableId": "rtb-1",
                        "SubnetId": "subnet-2",
                        "RouteTableAssociationId": "a-2",
                        "AssociationState": {"State": "disassociated"},
                    },
                ],
                "PropagatingVgws": [{"GatewayId": "vgw-1"}],
                "Tags": [],
            }
        ]
    }


LOCAL_ROUTE = {
    "DestinationCidrBlock": "10.0.0.0/16",
    "GatewayId": "local",
    "Origin": "CreateRouteTable",
    "State": "active",
}
BLACKHOLE = {
    "DestinationCidrBlock": "0.0.0.0/0",
    "NatGatewayId": "nat-gone",
    "Origin": "CreateRoute",
    "State": "blackhole",
}


def _propagated(cidr: str) -> dict:
    return {
        "DestinationCidrBlock": cidr,
        "GatewayId": "vgw-1",
        "Origin": "EnableVgwRoutePropagation",
        "State": "active",
    }


def test_propagated_routes_are_ephemeral_and_a_blackhole_route_is_recorded(monkeypatch):
    def read(answer: dict) -> Any:
        ctx = make_ctx()
        stub = stubbed(monkeypatch, ctx)
        stub.add_response("describe_route_tables", answer)
        with stub:
            (item,) = vpcw.list_route_tables(ctx)
        return item

    item = read(_route_table_answer([LOCAL_ROUTE, _propagated("192.168.0.0/16"), BLACKHOLE]))
    # BGP withdrew one prefix and advertised another, routes came back in another order, the
    # association finished settling: nothing about the configuration changed.
    later = read(_route_table_answer([_propagated("172.16.0.0/12"), BLACKHOLE, LOCAL_ROUTE], "associating"))

    config = item.configuration
    assert config["Routes"] == [LOCAL_ROUTE, BLACKHOLE]
    assert config["PropagatedRoutes"] == [_propagated("192.168.0.0/16")]
    assert config["PropagatingVgws"] == [{"GatewayId": "vgw-1"}]
    assert [a["SubnetId"] for a in config["Associations"]] == ["subnet-1"]
    assert normalized(item).content == normalized(later).content
    assert normalized(item).ephemeral["configuration.PropagatedRoutes"] == [_propagated("192.168.0.0/16")]
    assert ("ec2.route_table.blackhole-route", "rtb-1", "0.0.0.0/0") in audit(documents([item]))

    repaired = read(_route_table_answer([LOCAL_ROUTE, {**BLACKHOLE, "State": "active"}]))
    assert normalized(repaired).content != normalized(item).content, "a blackhole route is a change"


# --- ec2.nat_gateway --------------------------------------------------------------------------


def test_nat_gateway_configuration_and_deleted_ones_left_out(aws):
    vpc = aws.create_vpc(CidrBlock="10.6.0.0/16")["Vpc"]["VpcId"]
    subnet = aws.create_subnet(VpcId=vpc, CidrBlock="10.6.1.0/24")["Subnet"]["SubnetId"]
    allocations = [aws.allocate_address(Domain="vpc")["AllocationId"] for _ in range(2)]
    kept = aws.create_nat_gateway(
        SubnetId=subnet, AllocationId=allocations[0], TagSpecifications=_named("natgateway", "egress")
    )["NatGateway"]["NatGatewayId"]
    deleted = aws.create_nat_gateway(SubnetId=subnet, AllocationId=allocations[1])["NatGateway"][
        "NatGatewayId"
    ]
    aws.delete_nat_gateway(NatGatewayId=deleted)
    ctx = make_ctx()

    items = by_id(vpcw.list_nat_gateways(ctx))

    assert set(items) == {kept}
    item = items[kept]
    assert (item.name, item.arn) == ("egress", f"arn:aws:ec2:{REGION}:{ACCOUNT}:natgateway/{kept}")
    config = item.configuration
    assert set(config) == {*vpcw.NAT_GATEWAY_FIELDS, "Tags"}
    assert (config["VpcId"], config["SubnetId"]) == (vpc, subnet)
    (address,) = config["NatGatewayAddresses"]
    assert address["AllocationId"] == allocations[0] and address["PublicIp"] and address["PrivateIp"]
    assert ctx.calls == {"ec2:DescribeNatGateways": 1}
    assert "State" not in normalized(item).document["configuration"]


def test_nat_gateway_states(monkeypatch):
    def gateway(gateway_id: str, state: str, address_status: str = "succeeded") -> dict:
        return {
            "NatGatewayId": gateway_id,
            "VpcId": "vpc-1",
            "SubnetId": "subnet-1",
            "State": state,
            "ConnectivityType": "public",
            "NatGatewayAddresses": [
                {
                    "AllocationId": "eipalloc-1",
                    "PublicIp": "198.51.100.1",
                    "PrivateIp": "10.0.1.5",
                    "NetworkInterfaceId": "eni-1",
                    "IsPrimary": True,
                    "Status": address_status,
                },
                {
                    "AllocationId": "eipalloc-2",
                    "PublicIp": "198.51.100.2",
                    "PrivateIp": "10.0.1.6",
                    "NetworkInterfaceId": "eni-1",
                    "IsPrimary": False,
                    "Status": "failed",
                    "FailureMessage": "address in use",
                },
            ],
        }

    def read(gateways: list[dict]) -> list[Any]:
        ctx = make_ctx()
        stub = stubbed(monkeypatch, ctx)
        stub.add_response("describe_nat_gateways", {"NatGateways": gateways})
        with stub:
            return vpcw.list_nat_gateways(ctx)

    pending = read(
        [
            gateway("nat-1", "pending", "associating"),
            gateway("nat-2", "failed"),
            gateway("nat-3", "deleting"),
            gateway("nat-4", "deleted"),
        ]
    )
    available = read([gateway("nat-1", "available")])

    assert [i.id for i in pending] == ["nat-1"]
    assert [a["AllocationId"] for a in pending[0].configuration["NatGatewayAddresses"]] == ["eipalloc-1"]
    assert normalized(pending[0]).content == normalized(available[0]).content


# --- ec2.vpc_peering --------------------------------------------------------------------------


def test_peering_with_another_account_and_the_account_rules(aws):
    vpc = aws.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
    stranger = other_account_ec2()
    remote = stranger.create_vpc(CidrBlock="10.70.0.0/16")["Vpc"]["VpcId"]
    peering = aws.create_vpc_peering_connection(
        VpcId=vpc,
        PeerVpcId=remote,
        PeerOwnerId=STRANGER,
        TagSpecifications=_named("vpc-peering-connection", "vendor"),
    )["VpcPeeringConnection"]["VpcPeeringConnectionId"]
    ctx = make_ctx()

    (requested,) = vpcw.list_vpc_peering_connections(ctx)
    stranger.accept_vpc_peering_connection(VpcPeeringConnectionId=peering)
    (active,) = vpcw.list_vpc_peering_connections(make_ctx())

    assert (active.id, active.name) == (peering, "vendor")
    assert active.arn == f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc-peering-connection/{peering}"
    config = active.configuration
    assert set(config) == {*vpcw.PEERING_FIELDS, "Tags"}
    assert (config["RequesterVpcInfo"]["OwnerId"], config["RequesterVpcInfo"]["VpcId"]) == (ACCOUNT, vpc)
    assert (config["AccepterVpcInfo"]["OwnerId"], config["AccepterVpcInfo"]["VpcId"]) == (STRANGER, remote)
    assert config["AccepterVpcInfo"]["CidrBlock"] == "10.70.0.0/16"
    assert config["Status"]["Code"] == "active"
    assert ctx.calls == {"ec2:DescribeVpcPeeringConnections": 1}
    assert "Message" not in normalized(active).document["configuration"]["Status"]
    assert normalized(requested).content != normalized(active).content, "acceptance is a change"

    assert not any(f[0].startswith("ec2.vpc_peering.") for f in audit(documents([requested])))
    assert {f for f in audit(documents([active])) if f[0].startswith("ec2.vpc_peering.")} == {
        ("ec2.vpc_peering.unknown-account", peering, STRANGER)
    }
    known = {STRANGER: {"name": "partner", "type": "friendly"}}
    assert {f for f in audit(documents([active]), known) if f[0].startswith("ec2.vpc_peering.")} == {
        ("ec2.vpc_peering.friendly-account", peering, STRANGER)
    }

    aws.delete_vpc_peering_connection(VpcPeeringConnectionId=peering)
    assert vpcw.list_vpc_peering_connections(make_ctx()) == []


def test_peerings_that_ended_are_not_items(monkeypatch):
    def peering(peering_id: str, code: str) -> dict:
        side = {"OwnerId": ACCOUNT, "VpcId": "vpc-1", "CidrBlock": "10.0.0.0/16", "Region": "eu-west-1"}
        return {
            "VpcPeeringConnectionId": peering_id,
            "RequesterVpcInfo": side,
            "AccepterVpcInfo": {**side, "VpcId": "vpc-2"},
            "Status": {"Code": code, "Message": code},
        }

    ctx = make_ctx()
    stub = stubbed(monkeypatch, ctx)
    codes = [
        "active",
        "pending-acceptance",
        "provisioning",
        "initiating-request",
        "deleted",
        "deleting",
        "rejected",
        "failed",
        "expired",
    ]
    stub.add_response(
        "describe_vpc_peering_connections",
        {"VpcPeeringConnections": [peering(f"pcx-{code}", code) for code in codes]},
    )
    with stub:
        items = vpcw.list_vpc_peering_connections(ctx)
    assert [i.id for i in items] == [
        "pcx-active",
        "pcx-pending-acceptance",
        "pcx-provisioning",
        "pcx-initiating-request",
    ]
    # The requester's region and account name the connection, in both accounts' repositories.
    assert items[0].arn == f"arn:aws:ec2:eu-west-1:{ACCOUNT}:vpc-peering-connection/pcx-active"


# --- ec2.dhcp_options -------------------------------------------------------------------------


def test_dhcp_options(aws):
    options = aws.create_dhcp_options(
        DhcpConfigurations=[
            {"Key": "domain-name-servers", "Values": ["10.0.0.2", "8.8.8.8"]},
            {"Key": "domain-name", "Values": ["corp.example"]},
        ],
    )["DhcpOptions"]["DhcpOptionsId"]
    aws.create_tags(Resources=[options], Tags=[{"Key": "Name", "Value": "corp"}])
    ctx = make_ctx()

    (item,) = vpcw.list_dhcp_options(ctx)

    assert (item.id, item.name) == (options, "corp")
    assert item.arn == f"arn:aws:ec2:{REGION}:{ACCOUNT}:dhcp-options/{options}"
    config = normalized(item).document["configuration"]
    assert config["DhcpConfigurations"] == [
        {"Key": "domain-name", "Values": [{"Value": "corp.example"}]},
        {"Key": "domain-name-servers", "Values": [{"Value": "10.0.0.2"}, {"Value": "8.8.8.8"}]},
    ], "sets sorted by key, server order kept"
    assert config["OwnerId"] == ACCOUNT
    assert ctx.calls == {"ec2:DescribeDhcpOptions": 1}


# --- ec2.flow_log -----------------------------------------------------------------------------


def test_flow_logs_and_accept_only_rule(aws):
    ids = _rich_vpc(aws)
    ctx = make_ctx()

    items = by_id(vpcw.list_flow_logs(ctx))

    assert set(items) == {ids["flow_log"], ids["subnet_log"]}
    item = items[ids["flow_log"]]
    assert item.arn == f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc-flow-log/{ids['flow_log']}"
    config = item.configuration
    assert set(config) == {*vpcw.FLOW_LOG_FIELDS, "Tags"}
    assert (config["ResourceId"], config["TrafficType"], config["LogGroupName"]) == (
        ids["vpc"],
        "ALL",
        "vpc-flow-logs",
    )
    assert config["DeliverLogsPermissionArn"] == f"arn:aws:iam::{ACCOUNT}:role/flow-logs"
    assert config["FlowLogStatus"] == "ACTIVE"
    assert ctx.calls == {"ec2:DescribeFlowLogs": 1}
    document = normalized(item)
    assert "DeliverLogsStatus" not in document.document["configuration"]
    assert "configuration.DeliverLogsStatus" in document.ephemeral

    findings = audit(documents(list(items.values())))
    assert findings == {("ec2.flow_log.accept-only", ids["subnet_log"], "")}


def test_vpc_flow_log_rule_wants_rejected_traffic_logged(aws):
    """CIS 3.7 / FSBP EC2.6: a VPC whose only flow log records ACCEPT fails like one without any;
    the traffic types come from the DescribeFlowLogs answer the watcher already reads."""
    accept_only = aws.create_vpc(CidrBlock="10.61.0.0/16")["Vpc"]["VpcId"]
    rejected = aws.create_vpc(CidrBlock="10.62.0.0/16")["Vpc"]["VpcId"]
    for vpc, traffic in ((accept_only, "ACCEPT"), (rejected, "REJECT")):
        aws.create_flow_logs(ResourceIds=[vpc], ResourceType="VPC", TrafficType=traffic,
                             LogGroupName=f"logs-{traffic}",
                             DeliverLogsPermissionArn=f"arn:aws:iam::{ACCOUNT}:role/flow-logs")
    ctx = make_ctx()

    items = by_id(vpcw.list_vpcs(ctx))

    assert items[accept_only].configuration["FlowLogTrafficTypes"] == ["ACCEPT"]
    assert items[rejected].configuration["FlowLogTrafficTypes"] == ["REJECT"]
    assert ctx.calls["ec2:DescribeFlowLogs"] == 1
    findings = audit(documents([items[accept_only], items[rejected]]))
    assert ("ec2.vpc.flow-logs-disabled", accept_only, "") in findings
    assert not any(rule == "ec2.vpc.flow-logs-disabled" and ident == rejected for rule, ident, _ in findings)
    # an unchanged resync yields identical documents
    first, second = ({i.id: normalized(i).content for i in vpcw.list_vpcs(make_ctx())} for _ in range(2))
    assert first == second


# --- ec2.vpn_connection -----------------------------------------------------------------------


def test_vpn_connection_on_moto_never_keeps_the_device_configuration(aws):
    seeded = _seed_vpn_connection(_local_client)
    gone = _seed_vpn_connection(_local_client)
    aws.delete_vpn_connection(VpnConnectionId=gone)
    answer = aws.describe_vpn_connections(VpnConnectionIds=[seeded])["VpnConnections"][0]
    assert "pre_shared_key" in answer["CustomerGatewayConfiguration"]  # what moto sends
    ctx = make_ctx()

    (item,) = vpcw.list_vpn_connections(ctx)

    assert item.id == seeded
    assert item.arn == f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpn-connection/{seeded}"
    assert set(item.configuration) == {*vpcw.VPN_CONNECTION_FIELDS, "Tags"}
    assert item.configuration["Type"] == "ipsec.1"
    assert item.configuration["CustomerGatewayId"] == answer["CustomerGatewayId"]
    content = normalized(item).content
    assert b"pre_shared_key" not in content
    assert b"CustomerGatewayConfiguration" not in content
    assert ctx.calls == {"ec2:DescribeVpnConnections": 1}


KEYS = ("Fo7hT.x9_aQ2mZ1vL8kR", "Zq4sU0w_Jd3Nn6pB2cYe")


def _vpn_answer(
    keys: tuple[str, str] = KEYS, status: tuple[str, str] = ("UP", "DOWN"), state: str = "available"
) -> dict:
    def tunnel(ip: str, key: str, logging: bool) -> dict:
        return {
            "OutsideIpAddress": ip,
            "TunnelInsideCidr": "169.254.10.0/30",
            "PreSharedKey": key,
            "Phase1EncryptionAlgorithms": [{"Value": "AES256"}, {"Value": "AES128"}],
            "Phase2EncryptionAlgorithms": [{"Value": "AES256"}],
            "Phase1IntegrityAlgorithms": [{"Value": "SHA2-256"}],
            "Phase2IntegrityAlgorithms": [{"Value": "SHA2-256"}],
            "Phase1DHGroupNumbers": [{"Value": 20}, {"Value": 14}],
            "Phase2DHGroupNumbers": [{"Value": 20}],
            "IkeVersions": [{"Value": "ikev1"}, {"Value": "ikev2"}],
            "StartupAction": "add",
            "LogOptions": {"CloudWatchLogOptions": {"LogEnabled": logging}},
        }

    config = (
        "<vpn_connection><ipsec_tunnel><ike>"
        + "".join(f"<pre_shared_key>{key}</pre_shared_key>" for key in keys)
        + "</ike></ipsec_tunnel></vpn_connection>"
    )
    connection = {
        "VpnConnectionId": "vpn-1",
        "CustomerGatewayId": "cgw-1",
        "VpnGatewayId": "vgw-1",
        "Type": "ipsec.1",
        "Category": "VPN",
        "State": state,
        "GatewayAssociationState": "associated",
        "CustomerGatewayConfiguration": config,
        "Options": {
            "StaticRoutesOnly": True,
            "TunnelInsideIpVersion": "ipv4",
            "TunnelOptions": [tunnel("203.0.113.10", keys[0], True), tunnel("203.0.113.20", keys[1], False)],
        },
        "Routes": [
            {"DestinationCidrBlock": "192.168.0.0/16", "Source": "Static", "State": "available"},
            {"DestinationCidrBlock": "172.16.0.0/12", "Source": "Static", "State": "deleted"},
        ],
        "VgwTelemetry": [
            {
                "OutsideIpAddress": ip,
                "Status": s,
                "StatusMessage": f"{s.lower()} since",
                "AcceptedRouteCount": 3,
                "LastStatusChange": datetime(2026, 1, 1, 12, n, tzinfo=UTC),
            }
            for n, (ip, s) in enumerate(zip(("203.0.113.10", "203.0.113.20"), status, strict=True))
        ],
        "Tags": [{"Key": "Name", "Value": "datacenter"}],
    }
    return {"VpnConnections": [connection, {**connection, "VpnConnectionId": "vpn-old", "State": "deleted"}]}


def _read_vpn(monkeypatch: pytest.MonkeyPatch, answer: dict) -> list[Any]:
    ctx = make_ctx()
    stub = stubbed(monkeypatch, ctx)
    stub.add_response("describe_vpn_connections", answer)
    with stub:
        return vpcw.list_vpn_connections(ctx)


def test_vpn_pre_shared_keys_are_never_written(monkeypatch):
    (item,) = _read_vpn(monkeypatch, _vpn_answer())
    document = normalized(item)

    for key in KEYS:
        assert key.encode() not in document.content
    assert b"pre_shared_key" not in document.content
    tunnels = document.document["configuration"]["Options"]["TunnelOptions"]
    assert all(t["PreSharedKey"].startswith(REDACTED_PREFIX) for t in tunnels)
    assert not any(key in json.dumps(document.ephemeral, default=str) for key in KEYS)
    rotated = normalized(_read_vpn(monkeypatch, _vpn_answer(keys=(KEYS[0], "new-key-after-rotation")))[0])
    assert rotated.content != document.content, "a key rotation is a change (of its keyed hash)"


def test_vpn_tunnel_status_is_ephemeral_and_outside_ips_are_kept(monkeypatch):
    (item,) = _read_vpn(monkeypatch, _vpn_answer())
    (flapped,) = _read_vpn(monkeypatch, _vpn_answer(status=("DOWN", "UP"), state="pending"))

    assert (item.id, item.name) == ("vpn-1", "datacenter")
    assert [r["DestinationCidrBlock"] for r in item.configuration["Routes"]] == ["192.168.0.0/16"]
    document = normalized(item)
    assert normalized(flapped).content == document.content
    assert document.document["configuration"]["VgwTelemetry"] == [
        {"OutsideIpAddress": "203.0.113.10"},
        {"OutsideIpAddress": "203.0.113.20"},
    ]
    assert document.ephemeral["configuration.VgwTelemetry.0.Status"] == "UP"

    findings = audit([json.loads(document.content)])
    assert findings == {
        ("ec2.vpn_connection.tunnel-logging-disabled", "vpn-1", "203.0.113.20"),
        ("ec2.vpn_connection.tunnel-ikev1-allowed", "vpn-1", "203.0.113.10"),
        ("ec2.vpn_connection.tunnel-ikev1-allowed", "vpn-1", "203.0.113.20"),
    }


# --- ec2.vpn_gateway --------------------------------------------------------------------------


def test_vpn_gateway_attachments_and_deleted_gateways(aws):
    vpc = aws.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    attached = aws.create_vpn_gateway(Type="ipsec.1", TagSpecifications=_named("vpn-gateway", "dc"))[
        "VpnGateway"
    ]["VpnGatewayId"]
    aws.attach_vpn_gateway(VpnGatewayId=attached, VpcId=vpc)
    detached = aws.create_vpn_gateway(Type="ipsec.1")["VpnGateway"]["VpnGatewayId"]
    aws.attach_vpn_gateway(VpnGatewayId=detached, VpcId=vpc)
    aws.detach_vpn_gateway(VpnGatewayId=detached, VpcId=vpc)
    deleted = aws.create_vpn_gateway(Type="ipsec.1")["VpnGateway"]["VpnGatewayId"]
    aws.delete_vpn_gateway(VpnGatewayId=deleted)
    ctx = make_ctx()

    items = by_id(vpcw.list_vpn_gateways(ctx))

    assert set(items) == {attached, detached}
    item = items[attached]
    assert (item.name, item.arn) == ("dc", f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpn-gateway/{attached}")
    assert set(item.configuration) == {*vpcw.VPN_GATEWAY_FIELDS, "Tags"}
    assert item.configuration["VpcAttachments"] == [{"VpcId": vpc, "State": "attached"}]
    assert items[detached].configuration["VpcAttachments"] == []
    assert ctx.calls == {"ec2:DescribeVpnGateways": 1}
    assert normalized(item).document["configuration"]["VpcAttachments"] == [{"VpcId": vpc}]


# --- every technology: resync, fresh account, failures, paging ----------------------------------


def _seed_everything(ec2: Any) -> None:
    _rich_vpc(ec2)
    for seed in GARBLE_SEEDS.values():
        seed(_local_client)


def test_unchanged_resync_gives_identical_documents(aws):
    _seed_everything(aws)
    for technology, list_items in LISTERS.items():
        first = {i.id: normalized(i).content for i in list_items(make_ctx())}
        second = {i.id: normalized(i).content for i in list_items(make_ctx())}
        assert first, technology
        assert first == second, technology


def test_unchanged_resync_makes_no_commit(tmp_path, aws):
    _seed_everything(aws)
    config = make_config(tmp_path)
    report = run_sync(config, technologies=TECHNOLOGIES, regions=[REGION])
    assert report.exit_code == 0, report.to_dict()
    repo = config.repo_path(config.accounts[0])
    head = git(repo, "rev-parse", "HEAD")
    files = git(repo, "ls-files", "items/us-east-1/ec2").splitlines()
    for technology in TECHNOLOGIES:
        assert any(f.startswith(f"items/us-east-1/ec2/{technology.split('.')[1]}/") for f in files), (
            technology
        )

    report = run_sync(config, technologies=TECHNOLOGIES, regions=[REGION])

    assert report.exit_code == 0
    assert report.accounts[0].commits == []
    assert git(repo, "rev-parse", "HEAD") == head


def test_a_fresh_account_raises_no_issue_scored_6_or_more(aws):
    items = [item for list_items in LISTERS.values() for item in list_items(make_ctx())]
    findings = scored(documents(items))
    assert findings and max(score for _, score in findings) < 6
    assert {rule for rule, _ in findings} == {
        "ec2.vpc.default-vpc",
        "ec2.vpc.flow-logs-disabled",
        "ec2.subnet.auto-assign-public-ip",
    }


FIRST_CALL = {
    "ec2.vpc": "describe_vpcs",
    "ec2.subnet": "describe_subnets",
    "ec2.route_table": "describe_route_tables",
    "ec2.nat_gateway": "describe_nat_gateways",
    "ec2.vpc_peering": "describe_vpc_peering_connections",
    "ec2.dhcp_options": "describe_dhcp_options",
    "ec2.flow_log": "describe_flow_logs",
    "ec2.vpn_connection": "describe_vpn_connections",
    "ec2.vpn_gateway": "describe_vpn_gateways",
}


@pytest.mark.parametrize("technology", TECHNOLOGIES)
@pytest.mark.parametrize("code", ["UnauthorizedOperation", "RequestLimitExceeded"])
def test_listing_failure_raises(monkeypatch, technology, code):
    ctx = make_ctx()
    stub = stubbed(monkeypatch, ctx)
    stub.add_client_error(FIRST_CALL[technology], service_error_code=code, http_status_code=400)
    with stub, pytest.raises(ClientError) as info:
        LISTERS[technology](ctx)
    assert info.value.response["Error"]["Code"] == code


# One entry per page, in each paginated technology's answer shape; joins answer empty.
PAGED: dict[str, tuple[str, str, Callable[[int], dict], list[tuple[str, dict]]]] = {
    "ec2.vpc": (
        "describe_vpcs",
        "Vpcs",
        lambda n: _vpc(f"vpc-{n}", owner="111111111111"),
        [("describe_internet_gateways", {"InternetGateways": []}), ("describe_flow_logs", {"FlowLogs": []})],
    ),
    "ec2.subnet": (
        "describe_subnets",
        "Subnets",
        lambda n: {"SubnetId": f"subnet-{n}", "VpcId": "vpc-1", "CidrBlock": f"10.0.{n}.0/24"},
        [("describe_route_tables", {"RouteTables": []})],
    ),
    "ec2.route_table": (
        "describe_route_tables",
        "RouteTables",
        lambda n: {"RouteTableId": f"rtb-{n}", "VpcId": "vpc-1", "Routes": [LOCAL_ROUTE]},
        [],
    ),
    "ec2.nat_gateway": (
        "describe_nat_gateways",
        "NatGateways",
        lambda n: {"NatGatewayId": f"nat-{n}", "State": "available"},
        [],
    ),
    "ec2.vpc_peering": (
        "describe_vpc_peering_connections",
        "VpcPeeringConnections",
        lambda n: {"VpcPeeringConnectionId": f"pcx-{n}", "Status": {"Code": "active"}},
        [],
    ),
    "ec2.dhcp_options": (
        "describe_dhcp_options",
        "DhcpOptions",
        lambda n: {"DhcpOptionsId": f"dopt-{n}", "DhcpConfigurations": []},
        [],
    ),
    "ec2.flow_log": (
        "describe_flow_logs",
        "FlowLogs",
        lambda n: {"FlowLogId": f"fl-{n}", "ResourceId": "vpc-1", "TrafficType": "ALL"},
        [],
    ),
}


@pytest.mark.parametrize("technology", sorted(PAGED))
def test_every_page_is_read(monkeypatch, technology):
    operation, key, entry, joins = PAGED[technology]
    ctx = make_ctx()
    stub = stubbed(monkeypatch, ctx)
    stub.add_response(operation, {key: [entry(1)], "NextToken": "page-2"})
    stub.add_response(operation, {key: [entry(2)]}, expected_params={"NextToken": "page-2"})
    for join, answer in joins:
        stub.add_response(join, answer)
    with stub:
        items = LISTERS[technology](ctx)
    stub.assert_no_pending_responses()
    assert [item.id.rsplit("-", 1)[1] for item in items] == ["1", "2"]


def test_api_calls_are_declared(aws):
    _seed_everything(aws)
    for technology, list_items in LISTERS.items():
        ctx = make_ctx()
        list_items(ctx)
        tech = get_technology(technology)
        assert set(ctx.calls) == set(GARBLE_OPERATIONS[technology]), technology
        assert set(ctx.calls) <= set(tech.iam_actions), technology
