"""rds.db_subnet_group watcher against moto (and a botocore Stubber for paging, failures and the
fields moto does not return): the fields recorded, subnets sorted, statuses ephemeral, one call
per region, and the other RDS technologies untouched.

There is no per-group call, so no group can vanish between a listing and a describe."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from gitmonkey.audit import AuditContext, RuleSet
from gitmonkey.read.aws import SliceContext
from gitmonkey.watchers import get_technology, rds
from tests.helpers import normalized, slice_context

ACCOUNT = "123456789012"
REGION = "us-east-1"
TECH = get_technology("rds.db_subnet_group")


def make_ctx(region: str = REGION) -> SliceContext:
    return slice_context(region)



@pytest.fixture
def aws():
    with mock_aws():
        yield boto3.client("rds", region_name=REGION)


def _subnets(region: str = REGION, cidr: str = "10.0") -> tuple[str, list[str]]:
    ec2 = boto3.client("ec2", region_name=region)
    vpc = ec2.create_vpc(CidrBlock=f"{cidr}.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"{cidr}.{n}.0/24", AvailabilityZone=f"{region}{zone}")[
            "Subnet"
        ]["SubnetId"]
        for n, zone in ((1, "a"), (2, "b"), (3, "c"))
    ]
    return vpc, subnets


def _group(client, name: str = "db-private", subnets: list[str] | None = None, vpc_cidr: str = "10.0") -> str:
    vpc, made = _subnets(client.meta.region_name, vpc_cidr) if subnets is None else (None, subnets)
    client.create_db_subnet_group(
        DBSubnetGroupName=name, DBSubnetGroupDescription=f"{name} subnets", SubnetIds=made
    )
    return vpc or ""


# --- moto ---------------------------------------------------------------------------------------


def test_subnet_group_fields(aws):
    vpc, subnets = _subnets()
    _group(aws, subnets=subnets)
    ctx = make_ctx()

    (item,) = rds.list_db_subnet_groups(ctx)

    assert (item.technology, item.region, item.id, item.name) == (
        "rds.db_subnet_group", REGION, "db-private", "db-private",
    )
    assert item.arn == f"arn:aws:rds:{REGION}:{ACCOUNT}:subgrp:db-private"
    config = item.configuration
    assert "DBSubnetGroupArn" not in config
    assert config["DBSubnetGroupName"] == "db-private"
    assert config["DBSubnetGroupDescription"] == "db-private subnets"
    assert config["VpcId"] == vpc
    assert config["SubnetGroupStatus"] == "Complete"
    assert sorted(s["SubnetIdentifier"] for s in config["Subnets"]) == sorted(subnets)
    assert {s["SubnetIdentifier"]: s["SubnetAvailabilityZone"]["Name"] for s in config["Subnets"]} == {
        subnets[0]: f"{REGION}a", subnets[1]: f"{REGION}b", subnets[2]: f"{REGION}c",
    }
    assert dict(ctx.calls) == {"rds:DescribeDBSubnetGroups": 1}


def test_document_drops_statuses_and_sorts_subnets(aws):
    _group(aws)
    first = normalized(rds.list_db_subnet_groups(make_ctx())[0])
    again = normalized(rds.list_db_subnet_groups(make_ctx())[0])

    config = first.document["configuration"]
    assert "SubnetGroupStatus" not in config
    assert all("SubnetStatus" not in subnet for subnet in config["Subnets"])
    assert first.ephemeral["configuration.SubnetGroupStatus"] == "Complete"
    assert {first.ephemeral[f"configuration.Subnets.{n}.SubnetStatus"] for n in range(3)} == {"Active"}
    zones = [subnet["SubnetAvailabilityZone"]["Name"] for subnet in config["Subnets"]]
    assert zones == [f"{REGION}a", f"{REGION}b", f"{REGION}c"]  # canonical order: zone first
    assert again.content == first.content
    item = rds.list_db_subnet_groups(make_ctx())[0]
    reversed_subnets = dict(item.configuration, Subnets=list(reversed(item.configuration["Subnets"])))
    assert normalized(dataclasses.replace(item, configuration=reversed_subnets)).content == first.content


def test_a_subnet_added_is_a_change(aws):
    _vpc, subnets = _subnets()
    _group(aws, subnets=subnets[:2])
    before = normalized(rds.list_db_subnet_groups(make_ctx())[0])
    # moto 5.2's ModifyDBSubnetGroup loses the group (it pops it and never puts it back), so
    # the group is made again with the third subnet, as ModifyDBSubnetGroup would leave it.
    aws.delete_db_subnet_group(DBSubnetGroupName="db-private")
    _group(aws, subnets=subnets)

    after = normalized(rds.list_db_subnet_groups(make_ctx())[0])

    assert after.content != before.content
    assert len(after.document["configuration"]["Subnets"]) == 3


def test_every_group_once_and_other_regions_apart(aws):
    for n in range(3):
        _group(aws, name=f"group-{n}", vpc_cidr=f"10.{n}")
    ctx = make_ctx()

    assert sorted(item.id for item in rds.list_db_subnet_groups(ctx)) == ["group-0", "group-1", "group-2"]
    assert dict(ctx.calls) == {"rds:DescribeDBSubnetGroups": 1}
    assert rds.list_db_subnet_groups(make_ctx("eu-west-1")) == []


def test_no_group_is_an_empty_list(aws):
    assert rds.list_db_subnet_groups(make_ctx()) == []


def test_no_rule_fires_on_a_subnet_group(aws):
    """No check for DB subnet groups: Security Monkey had none, and whether a subnet is public
    depends on its route table, which is not part of the group."""
    _group(aws)
    rules = RuleSet.load({}, base_dir=Path.cwd())
    audit = AuditContext.from_config(
        {}, account_id=ACCOUNT, account_name="t", now=datetime(2030, 1, 1, tzinfo=UTC)
    )
    (item,) = rds.list_db_subnet_groups(make_ctx())
    assert list(rules.evaluate(normalized(item).document, None, audit)) == []


def test_the_other_rds_technologies_are_unchanged():
    names = [t.name for t in rds.TECHNOLOGIES]
    assert names == [
        "rds.db_instance",
        "rds.db_cluster",
        "rds.db_snapshot",
        "rds.db_cluster_snapshot",
        "rds.db_subnet_group",
    ]
    assert TECH.iam_actions == ("rds:DescribeDBSubnetGroups",)
    assert TECH.ephemeral_paths == ("SubnetGroupStatus", "Subnets.*.SubnetStatus")
    assert not TECH.secret_paths
    assert dict(TECH.always_returned) == {"rds:DescribeDBSubnetGroups": ("DBSubnetGroups",)}


# --- Stubber -------------------------------------------------------------------------------------


def _stubbed(monkeypatch) -> tuple[SliceContext, Stubber]:
    ctx = make_ctx()
    client = ctx.client("rds")
    monkeypatch.setattr(ctx, "client", lambda service, region=None: client)
    return ctx, Stubber(client)


def _record(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "DBSubnetGroupName": name,
        "DBSubnetGroupDescription": name,
        "VpcId": "vpc-0a1b2c3d",
        "SubnetGroupStatus": "Complete",
        "Subnets": [
            {"SubnetIdentifier": "subnet-b", "SubnetAvailabilityZone": {"Name": "us-east-1b"},
             "SubnetOutpost": {}, "SubnetStatus": "Active"},
            {"SubnetIdentifier": "subnet-a", "SubnetAvailabilityZone": {"Name": "us-east-1a"},
             "SubnetOutpost": {}, "SubnetStatus": "Active"},
        ],
        "DBSubnetGroupArn": f"arn:aws:rds:{REGION}:{ACCOUNT}:subgrp:{name}",
        "SupportedNetworkTypes": ["IPV4", "DUAL"],
        **extra,
    }


def test_pages_are_followed_and_aws_only_fields_kept(monkeypatch):
    ctx, stub = _stubbed(monkeypatch)
    stub.add_response("describe_db_subnet_groups", {"DBSubnetGroups": [_record("a")], "Marker": "m1"})
    stub.add_response("describe_db_subnet_groups", {"DBSubnetGroups": [_record("b")]}, {"Marker": "m1"})
    with stub:
        items = rds.list_db_subnet_groups(ctx)
        stub.assert_no_pending_responses()

    assert [item.id for item in items] == ["a", "b"]
    assert dict(ctx.calls) == {"rds:DescribeDBSubnetGroups": 2}
    document = normalized(items[0]).document["configuration"]
    assert [s["SubnetIdentifier"] for s in document["Subnets"]] == ["subnet-a", "subnet-b"]
    assert document["SupportedNetworkTypes"] == ["DUAL", "IPV4"]


def test_status_changes_make_no_new_content(monkeypatch):
    ctx, stub = _stubbed(monkeypatch)
    moving = _record("a", SubnetGroupStatus="Incomplete")
    moving["Subnets"][0]["SubnetStatus"] = "Inactive"
    stub.add_response("describe_db_subnet_groups", {"DBSubnetGroups": [_record("a")]})
    stub.add_response("describe_db_subnet_groups", {"DBSubnetGroups": [moving]})
    with stub:
        (before,) = rds.list_db_subnet_groups(ctx)
        (after,) = rds.list_db_subnet_groups(ctx)
    assert normalized(after).content == normalized(before).content


def test_arn_is_built_when_absent(monkeypatch):
    ctx, stub = _stubbed(monkeypatch)
    record = {k: v for k, v in _record("a").items() if k != "DBSubnetGroupArn"}
    stub.add_response("describe_db_subnet_groups", {"DBSubnetGroups": [record]})
    with stub:
        (item,) = rds.list_db_subnet_groups(ctx)
    assert item.arn == f"arn:aws:rds:{REGION}:{ACCOUNT}:subgrp:a"


@pytest.mark.parametrize("code", ["AccessDenied", "Throttling"])
def test_a_failed_page_raises(monkeypatch, code):
    ctx, stub = _stubbed(monkeypatch)
    stub.add_response("describe_db_subnet_groups", {"DBSubnetGroups": [_record("a")], "Marker": "m1"})
    stub.add_client_error("describe_db_subnet_groups", service_error_code=code, http_status_code=400)
    with stub, pytest.raises(ClientError, match=code):
        rds.list_db_subnet_groups(ctx)


# --- the garbled-answer test's seeding -----------------------------------------------------------


def _seed_db_subnet_group(client: Callable[..., Any]) -> None:
    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.11.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.11.{n}.0/24", AvailabilityZone=f"{REGION}{zone}")[
            "Subnet"
        ]["SubnetId"]
        for n, zone in ((1, "a"), (2, "b"))
    ]
    client("rds").create_db_subnet_group(
        DBSubnetGroupName="seed-subnet-group", DBSubnetGroupDescription="seed", SubnetIds=subnets
    )


GARBLE_SEEDS: dict[str, Callable[[Callable[..., Any]], None]] = {
    "rds.db_subnet_group": _seed_db_subnet_group,
}


def test_garble_seed_makes_an_item(aws):
    _seed_db_subnet_group(lambda service, region_name=REGION: boto3.client(service, region_name=region_name))
    assert [item.id for item in rds.list_db_subnet_groups(make_ctx())] == ["seed-subnet-group"]
