"""ec2.network_acl and ec2.vpc_endpoint watchers against moto: exact configuration, entry order,
absent parts, failures, API call counts, normalisation and the policy rules on real output."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from gitmonkey.audit import AuditContext, RuleSet
from gitmonkey.normalize import normalize_item
from gitmonkey.read.aws import SliceContext
from gitmonkey.watchers import ec2, get_technology
from tests.helpers import slice_context

ACCOUNT = "123456789012"
STRANGER = "999999999999"


def make_ctx(region: str = "us-east-1") -> SliceContext:
    return slice_context(region)


@pytest.fixture
def aws():
    with mock_aws():
        yield


def _by_id(items):
    return {item.id: item for item in items}


def _normalized(item):
    return normalize_item(item, get_technology(item.technology), account_id=ACCOUNT, secret_key=b"k")


def _stubbed(monkeypatch, ctx: SliceContext) -> Stubber:
    client = boto3.client("ec2", region_name="us-east-1")
    monkeypatch.setattr(ctx, "client", lambda service, region=None: client)
    return Stubber(client)


# --- network ACLs ----------------------------------------------------------------------------


def _acl(client) -> tuple[str, str, str]:
    vpc = client.create_vpc(CidrBlock="10.2.0.0/16")["Vpc"]["VpcId"]
    subnet = client.create_subnet(VpcId=vpc, CidrBlock="10.2.1.0/24")["Subnet"]["SubnetId"]
    acl = client.create_network_acl(
        VpcId=vpc,
        TagSpecifications=[{"ResourceType": "network-acl", "Tags": [{"Key": "Name", "Value": "dmz"}]}],
    )["NetworkAcl"]["NetworkAclId"]
    entries = [
        (200, False, "6", "allow", {"CidrBlock": "0.0.0.0/0", "PortRange": {"From": 443, "To": 443}}),
        (100, True, "-1", "allow", {"Ipv6CidrBlock": "::/0"}),
        (50, False, "-1", "deny", {"CidrBlock": "198.51.100.0/24"}),
        (300, False, "6", "allow", {"CidrBlock": "10.0.0.0/8", "PortRange": {"From": 22, "To": 22}}),
    ]
    for number, egress, protocol, action, extra in entries:
        client.create_network_acl_entry(
            NetworkAclId=acl, RuleNumber=number, Egress=egress, Protocol=protocol, RuleAction=action, **extra
        )
    default_association = next(
        assoc["NetworkAclAssociationId"]
        for nacl in client.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["NetworkAcls"]
        for assoc in nacl["Associations"]
        if assoc["SubnetId"] == subnet
    )
    client.replace_network_acl_association(AssociationId=default_association, NetworkAclId=acl)
    return vpc, subnet, acl


def test_network_acl_configuration_keeps_evaluation_order(aws):
    client = boto3.client("ec2", region_name="us-east-1")
    vpc, subnet, acl = _acl(client)
    ctx = make_ctx()

    items = _by_id(ec2.list_network_acls(ctx))

    item = items[acl]
    assert item.technology == "ec2.network_acl"
    assert item.name == "dmz"
    assert item.arn == f"arn:aws:ec2:us-east-1:{ACCOUNT}:network-acl/{acl}"
    config = item.configuration
    assert set(config) == {"NetworkAclId", "VpcId", "OwnerId", "IsDefault", "Entries", "Associations", "Tags"}
    assert config["VpcId"] == vpc
    assert config["OwnerId"] == ACCOUNT
    assert config["IsDefault"] is False
    assert config["Tags"] == {"Name": "dmz"}
    assert [(e["Egress"], e["RuleNumber"], e["RuleAction"]) for e in config["Entries"]] == [
        (False, 50, "deny"),
        (False, 200, "allow"),
        (False, 300, "allow"),
        (True, 100, "allow"),
    ]
    assert config["Entries"][1]["PortRange"] == {"From": 443, "To": 443}
    assert config["Entries"][3]["Ipv6CidrBlock"] == "::/0"
    assert [a["SubnetId"] for a in config["Associations"]] == [subnet]
    defaults = [i for i in items.values() if i.configuration["IsDefault"]]
    assert defaults and all(i.name == i.id for i in defaults)
    assert ctx.calls == {"ec2:DescribeNetworkAcls": 1}

    normalized = _normalized(item).document["configuration"]
    assert [e["RuleNumber"] for e in normalized["Entries"]] == [50, 200, 300, 100]


def test_network_acl_listing_failure_raises(monkeypatch):
    ctx = make_ctx()
    stub = _stubbed(monkeypatch, ctx)
    stub.add_client_error("describe_network_acls", service_error_code="RequestLimitExceeded")
    with stub, pytest.raises(ClientError) as info:
        ec2.list_network_acls(ctx)
    assert info.value.response["Error"]["Code"] == "RequestLimitExceeded"


# --- VPC endpoints ---------------------------------------------------------------------------

GATEWAY_POLICY = {
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


def _endpoints(client) -> tuple[str, str, str, str, str, str]:
    vpc = client.create_vpc(CidrBlock="10.3.0.0/16")["Vpc"]["VpcId"]
    subnet = client.create_subnet(VpcId=vpc, CidrBlock="10.3.1.0/24")["Subnet"]["SubnetId"]
    table = client.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    group = client.create_security_group(GroupName="endpoints", Description="e", VpcId=vpc)["GroupId"]
    gateway = client.create_vpc_endpoint(
        VpcId=vpc,
        ServiceName="com.amazonaws.us-east-1.s3",
        RouteTableIds=[table],
        PolicyDocument=json.dumps(GATEWAY_POLICY),
        TagSpecifications=[{"ResourceType": "vpc-endpoint", "Tags": [{"Key": "Name", "Value": "s3"}]}],
    )["VpcEndpoint"]["VpcEndpointId"]
    interface = client.create_vpc_endpoint(
        VpcId=vpc,
        VpcEndpointType="Interface",
        ServiceName="com.amazonaws.us-east-1.sqs",
        SubnetIds=[subnet],
        SecurityGroupIds=[group],
        PrivateDnsEnabled=True,
    )["VpcEndpoint"]["VpcEndpointId"]
    return vpc, subnet, table, group, gateway, interface


def test_vpc_endpoint_configuration(aws):
    client = boto3.client("ec2", region_name="us-east-1")
    vpc, subnet, table, group, gateway, interface = _endpoints(client)
    ctx = make_ctx()

    items = _by_id(ec2.list_vpc_endpoints(ctx))

    assert set(items) == {gateway, interface}
    item = items[gateway]
    assert item.technology == "ec2.vpc_endpoint"
    assert item.name == "s3"
    assert item.arn == f"arn:aws:ec2:us-east-1:{ACCOUNT}:vpc-endpoint/{gateway}"
    config = item.configuration
    assert set(config) == {*ec2._ec2_network.VPC_ENDPOINT_FIELDS, "Tags"}
    assert config["PolicyDocument"] == GATEWAY_POLICY
    assert config["ServiceName"] == "com.amazonaws.us-east-1.s3"
    assert config["VpcId"] == vpc
    assert config["OwnerId"] == ACCOUNT
    assert config["RouteTableIds"] == [table]
    assert config["SubnetIds"] == [] and config["Groups"] == []
    assert config["Tags"] == {"Name": "s3"}

    other = items[interface].configuration
    assert items[interface].name == interface
    assert other["VpcEndpointType"] == "Interface"
    assert other["SubnetIds"] == [subnet]
    assert [g["GroupId"] for g in other["Groups"]] == [group]
    assert other["PrivateDnsEnabled"] is True
    assert isinstance(other["PolicyDocument"], dict)
    assert ctx.calls == {"ec2:DescribeVpcEndpoints": 1}

    normalized = _normalized(item)
    assert "State" not in normalized.document["configuration"]
    assert normalized.ephemeral["configuration.State"] == "available"


def test_vpc_endpoint_without_policy_or_lists(monkeypatch):
    """Endpoint types without a policy (resource and service-network endpoints) omit the key."""
    ctx = make_ctx()
    stub = _stubbed(monkeypatch, ctx)
    stub.add_response(
        "describe_vpc_endpoints",
        {
            "VpcEndpoints": [
                {
                    "VpcEndpointId": "vpce-1",
                    "VpcEndpointType": "Resource",
                    "VpcId": "vpc-1",
                    "State": "available",
                    "OwnerId": ACCOUNT,
                }
            ]
        },
    )
    with stub:
        (item,) = ec2.list_vpc_endpoints(ctx)
    config = item.configuration
    assert config["PolicyDocument"] is None
    assert config["ServiceName"] is None
    assert config["RouteTableIds"] == config["SubnetIds"] == config["Groups"] == []
    assert config["NetworkInterfaceIds"] == config["DnsEntries"] == []
    assert config["Tags"] == {}


def test_vpc_endpoint_listing_failure_raises(monkeypatch):
    ctx = make_ctx()
    stub = _stubbed(monkeypatch, ctx)
    stub.add_client_error("describe_vpc_endpoints", service_error_code="UnauthorizedOperation")
    with stub, pytest.raises(ClientError):
        ec2.list_vpc_endpoints(ctx)


def test_endpoint_policy_rules_on_watcher_output(aws):
    client = boto3.client("ec2", region_name="us-east-1")
    *_, gateway, _ = _endpoints(client)
    (item,) = [i for i in ec2.list_vpc_endpoints(make_ctx()) if i.id == gateway]
    document = json.loads(_normalized(item).content)
    rules = RuleSet.load({}, base_dir=Path.cwd())
    ctx = AuditContext.from_config(
        {}, account_id=ACCOUNT, account_name="test", now=datetime(2026, 1, 1, tzinfo=UTC)
    )

    findings = {(f.rule_id, f.key) for f in rules.evaluate(document, None, ctx)}

    root = f"arn:aws:iam::{STRANGER}:root"
    assert findings == {
        ("ec2.vpc_endpoint.policy-unknown-account", root),
        ("ec2.vpc_endpoint.policy-cross-account-root", root),
    }


# --- CIS AWS Foundations v3.0 5.1 / FSBP EC2.21 and EC2.16 on moto output -----------------------


def test_network_acl_compliance_rules_on_moto_output(aws):
    client = boto3.client("ec2", region_name="us-east-1")
    vpc = client.create_vpc(CidrBlock="10.3.0.0/16")["Vpc"]["VpcId"]
    client.create_subnet(VpcId=vpc, CidrBlock="10.3.1.0/24")
    spare = client.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
    client.create_network_acl_entry(
        NetworkAclId=spare, RuleNumber=100, Protocol="6", RuleAction="allow", Egress=False,
        CidrBlock="0.0.0.0/0", PortRange={"From": 443, "To": 443},
    )
    rules = RuleSet.load({}, base_dir=Path.cwd())
    audit = AuditContext(ACCOUNT, "test", {}, (), datetime(2024, 6, 1, tzinfo=UTC))
    found = {}
    for item in ec2.list_network_acls(make_ctx()):
        if item.configuration["VpcId"] == vpc:
            document = _normalized(item).document
            found[item.id] = {(f.rule_id, f.key, f.score) for f in rules.evaluate(document, None, audit)}

    default = next(ident for ident in found if ident != spare)
    # AWS's default ACL allows everything from 0.0.0.0/0 (entry 100): scored 5, below AWS-default level 6
    assert found[default] == {("ec2.network_acl.ingress-internet-admin-port", "100:0.0.0.0/0", 5)}
    # the new ACL allows only 443 and is associated with no subnet
    assert found[spare] == {("ec2.network_acl.unused", "", 2)}

