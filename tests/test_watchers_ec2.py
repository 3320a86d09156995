"""Security group watcher against moto: exact configuration, regions, API cost, failures."""

from __future__ import annotations

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


def make_ctx(region: str) -> SliceContext:
    return slice_context(region)


@pytest.fixture
def aws():
    with mock_aws():
        yield


def _web_group(region: str = "us-east-1") -> tuple[str, str, str]:
    client = boto3.client("ec2", region_name=region)
    vpc_id = client.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    peer = client.create_security_group(GroupName="peer", Description="peer group", VpcId=vpc_id)["GroupId"]
    group_id = client.create_security_group(
        GroupName="web",
        Description="web servers",
        VpcId=vpc_id,
        TagSpecifications=[
            {
                "ResourceType": "security-group",
                "Tags": [{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "a"}],
            }
        ],
    )["GroupId"]
    client.authorize_security_group_ingress(
        GroupId=group_id,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "https"}],
                "Ipv6Ranges": [{"CidrIpv6": "::/0"}],
            },
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "UserIdGroupPairs": [{"GroupId": peer}]},
        ],
    )
    return vpc_id, group_id, peer


def _by_id(items):
    return {item.id: item for item in items}


def test_security_group_configuration(aws):
    vpc_id, group_id, peer = _web_group()
    ctx = make_ctx("us-east-1")

    items = _by_id(ec2.list_security_groups(ctx))

    item = items[group_id]
    assert item.technology == "ec2.security_group"
    assert item.region == "us-east-1"
    assert item.name == "web"
    assert item.arn == f"arn:aws:ec2:us-east-1:{ACCOUNT}:security-group/{group_id}"
    config = item.configuration
    assert config["GroupName"] == "web"
    assert config["Description"] == "web servers"
    assert config["VpcId"] == vpc_id
    assert config["OwnerId"] == ACCOUNT
    assert config["Tags"] == {"env": "prod", "team": "a"}
    rules = {(r["IpProtocol"], r.get("FromPort")): r for r in config["IpPermissions"]}
    assert set(rules) == {("tcp", 443), ("tcp", 22)}
    assert rules[("tcp", 443)]["IpRanges"] == [{"CidrIp": "0.0.0.0/0", "Description": "https"}]
    assert rules[("tcp", 443)]["Ipv6Ranges"] == [{"CidrIpv6": "::/0"}]
    assert [pair["GroupId"] for pair in rules[("tcp", 22)]["UserIdGroupPairs"]] == [peer]
    assert [r["IpRanges"] for r in config["IpPermissionsEgress"]] == [[{"CidrIp": "0.0.0.0/0"}]]
    assert set(config) == {
        "GroupId",
        "GroupName",
        "Description",
        "VpcId",
        "OwnerId",
        "IpPermissions",
        "IpPermissionsEgress",
        "Tags",
    }
    assert peer in items
    assert any(i.name == "default" for i in items.values())
    assert ctx.calls == {"ec2:DescribeSecurityGroups": 1}


def test_each_region_reads_only_its_own_groups(aws):
    _, west_group, _ = _web_group("eu-west-1")

    east = _by_id(ec2.list_security_groups(make_ctx("us-east-1")))
    west = _by_id(ec2.list_security_groups(make_ctx("eu-west-1")))

    assert west_group in west
    assert west_group not in east
    assert west[west_group].region == "eu-west-1"
    assert west[west_group].arn.startswith("arn:aws:ec2:eu-west-1:")


def _stubbed_ctx(monkeypatch, error_code: str) -> SliceContext:
    ctx = make_ctx("us-east-1")
    client = boto3.client("ec2", region_name="us-east-1")
    stub = Stubber(client)
    stub.add_client_error("describe_security_groups", service_error_code=error_code, http_status_code=403)
    stub.activate()
    monkeypatch.setattr(ctx, "client", lambda service, region=None: client)
    return ctx


@pytest.mark.parametrize("code", ["UnauthorizedOperation", "RequestLimitExceeded"])
def test_failures_raise_instead_of_returning_a_partial_list(monkeypatch, code):
    ctx = _stubbed_ctx(monkeypatch, code)
    with pytest.raises(ClientError) as info:
        ec2.list_security_groups(ctx)
    assert info.value.response["Error"]["Code"] == code


def test_declares_unordered_rule_lists():
    tech = next(t for t in ec2.TECHNOLOGIES if t.name == "ec2.security_group")
    assert "IpPermissions" in tech.unordered_paths
    assert "IpPermissionsEgress.*.IpRanges" in tech.unordered_paths
    assert "IpPermissions.*.UserIdGroupPairs" in tech.unordered_paths
    assert tech.iam_actions == ("ec2:DescribeSecurityGroups",)
    assert not tech.is_global


# --- CIS AWS Foundations v3.0 section 5 and FSBP rules on moto output --------------------------


def _findings(item) -> set[tuple[str, str, int]]:
    rules = RuleSet.load({}, base_dir=Path.cwd())
    ctx = AuditContext.from_config({}, account_id="123456789012", account_name="test",
                                   now=datetime(2026, 1, 1, tzinfo=UTC))
    document = normalize_item(item, get_technology(item.technology), account_id="123456789012",
                              secret_key=b"k").document
    return {(f.rule_id, f.key, f.score) for f in rules.evaluate(document, None, ctx)}


def test_admin_port_and_default_group_rules_on_moto_output(aws):
    client = boto3.client("ec2", region_name="us-east-1")
    vpc_id, web, _ = _web_group()
    admin = client.create_security_group(GroupName="admin", Description="admin", VpcId=vpc_id)["GroupId"]
    client.authorize_security_group_ingress(
        GroupId=admin,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
            {"IpProtocol": "tcp", "FromPort": 3389, "ToPort": 3389, "Ipv6Ranges": [{"CidrIpv6": "::/0"}]},
        ],
    )
    items = _by_id(ec2.list_security_groups(make_ctx("us-east-1")))
    default = next(i for i in items.values() if i.configuration["GroupName"] == "default"
                   and i.configuration["VpcId"] == vpc_id)

    assert _findings(items[admin]) == {
        ("ec2.security_group.ingress-internet", "ingress:tcp:22:0.0.0.0/0", 10),
        ("ec2.security_group.ingress-internet", "ingress:tcp:3389:::/0", 10),
        ("ec2.security_group.admin-port-internet-ipv4", "ingress:tcp:22:0.0.0.0/0", 5),
        ("ec2.security_group.admin-port-internet-ipv6", "ingress:tcp:3389:::/0", 5),
        ("ec2.security_group.ingress-internet-unauthorized-port", "ingress:tcp:22:0.0.0.0/0", 8),
        ("ec2.security_group.ingress-internet-unauthorized-port", "ingress:tcp:3389:::/0", 8),
        ("ec2.security_group.ingress-internet-high-risk-port", "ingress:tcp:22:0.0.0.0/0", 10),
        ("ec2.security_group.ingress-internet-high-risk-port", "ingress:tcp:3389:::/0", 10),
    }
    # 443 from anywhere is an authorized port (EC2.18) and not a high-risk one (EC2.19)
    assert {rule for rule, _, _ in _findings(items[web])} == {"ec2.security_group.ingress-internet"}
    # the default group as AWS (and moto) creates it: CIS 5.4 / EC2.2, scored below 6
    assert _findings(default) == {("ec2.security_group.default-group-allows-traffic", "", 3)}

