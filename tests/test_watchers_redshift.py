"""Redshift watcher against moto (and botocore Stubber for paging, failures and the fields moto does
not return): the recorded cluster, status noise kept out, no password, cost, and the rules."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from gitmonkey.audit import AuditContext, RuleSet
from gitmonkey.read.aws import SliceContext
from gitmonkey.sync import run_sync
from gitmonkey.watchers import redshift
from tests.helpers import git, make_config, normalized, slice_context

ACCOUNT = "123456789012"
REGION = "us-east-1"
PASSWORD = "Not-a-real-passw0rd"
ROLES = [f"arn:aws:iam::{ACCOUNT}:role/{name}" for name in ("loader", "unloader")]
KMS_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
(TECH,) = redshift.TECHNOLOGIES


def make_ctx(region: str = REGION) -> SliceContext:
    return slice_context(region)



@pytest.fixture
def aws():
    with mock_aws():
        yield boto3.client("redshift", region_name=REGION)


@pytest.fixture
def network(aws):
    """A VPC, a cluster subnet group in it and two security groups (ids sorted)."""
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone=f"{REGION}a")
    aws.create_cluster_subnet_group(
        ClusterSubnetGroupName="warehouse", Description="private", SubnetIds=[subnet["Subnet"]["SubnetId"]]
    )
    groups = sorted(
        ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc)["GroupId"]
        for name in ("warehouse", "bi")
    )
    return {"vpc": vpc, "groups": groups}


def _hardened(client, network: dict, ident: str = "warehouse") -> None:
    """A cluster that no rule should flag."""
    client.create_cluster(
        ClusterIdentifier=ident,
        NodeType="ra3.xlplus",
        ClusterType="multi-node",
        NumberOfNodes=2,
        MasterUsername="dwadmin",
        MasterUserPassword=PASSWORD,
        DBName="analytics",
        ClusterSubnetGroupName="warehouse",
        VpcSecurityGroupIds=list(reversed(network["groups"])),
        IamRoles=list(reversed(ROLES)),
        Encrypted=True,
        KmsKeyId=KMS_KEY,
        EnhancedVpcRouting=True,
        AutomatedSnapshotRetentionPeriod=7,
        AllowVersionUpgrade=True,
        PubliclyAccessible=False,
        Tags=[{"Key": "team", "Value": "data"}, {"Key": "env", "Value": "prod"}],
    )


def _exposed(client, ident: str = "legacy") -> None:
    """A cluster with every flaw moto can express (and no subnet group, so not in a VPC)."""
    client.create_cluster(
        ClusterIdentifier=ident,
        NodeType="dc2.large",
        ClusterType="single-node",
        MasterUsername="awsuser",
        MasterUserPassword=PASSWORD,
        PubliclyAccessible=True,
        Encrypted=False,
        EnhancedVpcRouting=False,
        AllowVersionUpgrade=False,
    )
    # moto's CreateCluster turns a retention period of 0 into 1; ModifyCluster keeps it.
    client.modify_cluster(ClusterIdentifier=ident, AutomatedSnapshotRetentionPeriod=0)


def test_cluster_has_the_security_relevant_fields(aws, network):
    _hardened(aws, network)

    (item,) = redshift.list_clusters(make_ctx())

    assert (item.technology, item.region, item.id, item.name) == ("redshift.cluster", REGION, "warehouse",
                                                                  "warehouse")
    assert item.arn == f"arn:aws:redshift:{REGION}:{ACCOUNT}:cluster:warehouse"
    config = item.configuration
    assert {k: config[k] for k in (
        "ClusterIdentifier", "NodeType", "NumberOfNodes", "MasterUsername", "DBName", "PubliclyAccessible",
        "Encrypted", "KmsKeyId", "EnhancedVpcRouting", "AutomatedSnapshotRetentionPeriod",
        "AllowVersionUpgrade", "ClusterSubnetGroupName",
    )} == {
        "ClusterIdentifier": "warehouse",
        "NodeType": "ra3.xlplus",
        "NumberOfNodes": 2,
        "MasterUsername": "dwadmin",
        "DBName": "analytics",
        "PubliclyAccessible": False,
        "Encrypted": True,
        "KmsKeyId": KMS_KEY,
        "EnhancedVpcRouting": True,
        "AutomatedSnapshotRetentionPeriod": 7,
        "AllowVersionUpgrade": True,
        "ClusterSubnetGroupName": "warehouse",
    }
    assert config["Endpoint"]["Port"] == 5439
    assert config["Endpoint"]["Address"].startswith("warehouse.")
    assert sorted(g["VpcSecurityGroupId"] for g in config["VpcSecurityGroups"]) == network["groups"]
    assert sorted(r["IamRoleArn"] for r in config["IamRoles"]) == ROLES
    assert isinstance(config["ClusterCreateTime"], datetime.datetime)
    assert config["Tags"] == {"team": "data", "env": "prod"}


def test_document_drops_status_sorts_lists_and_holds_no_password(aws, network):
    _hardened(aws, network)

    first = normalized(redshift.list_clusters(make_ctx())[0])
    again = normalized(redshift.list_clusters(make_ctx())[0])

    config = first.document["configuration"]
    for gone in ("ClusterStatus", "AvailabilityZone", "PendingModifiedValues"):
        assert gone not in config
    assert first.ephemeral["configuration.ClusterStatus"] == "available"
    assert config["VpcSecurityGroups"] == [{"VpcSecurityGroupId": g} for g in network["groups"]]
    assert config["IamRoles"] == [{"IamRoleArn": role} for role in ROLES]
    assert config["ClusterParameterGroups"] == [{"ParameterGroupName": "default.redshift-1.0"}]
    assert first.ephemeral["configuration.IamRoles.0.ApplyStatus"] == "in-sync"
    assert PASSWORD.encode() not in first.content
    assert again.content == first.content


def test_pause_and_password_change_make_no_new_content(aws, network):
    _hardened(aws, network)
    before = normalized(redshift.list_clusters(make_ctx())[0])
    aws.pause_cluster(ClusterIdentifier="warehouse")
    aws.modify_cluster(ClusterIdentifier="warehouse", MasterUserPassword="An0ther-passw0rd")

    after = normalized(redshift.list_clusters(make_ctx())[0])

    assert after.ephemeral["configuration.ClusterStatus"] == "paused"
    assert after.content == before.content
    assert b"An0ther-passw0rd" not in after.content


def test_sync_of_a_paused_cluster_makes_no_commit(aws, network, tmp_path):
    _hardened(aws, network)
    config = make_config(tmp_path, accounts=[{"name": "prod", "id": ACCOUNT, "regions": [REGION]}])
    assert run_sync(config, technologies=["redshift.cluster"]).exit_code == 0
    repo = config.repo_path(config.accounts[0])
    head = git(repo, "rev-parse", "HEAD")
    aws.pause_cluster(ClusterIdentifier="warehouse")

    report = run_sync(config, technologies=["redshift.cluster"])

    assert report.exit_code == 0, report.to_dict()
    assert git(repo, "rev-parse", "HEAD") == head
    assert "items/us-east-1/redshift/cluster/warehouse.json" in git(repo, "ls-files")


def test_one_call_per_region_and_other_regions_are_not_read(aws, network):
    for n in range(3):
        _hardened(aws, network, ident=f"warehouse-{n}")
    ctx = make_ctx()

    assert {item.id for item in redshift.list_clusters(ctx)} == {"warehouse-0", "warehouse-1", "warehouse-2"}
    assert dict(ctx.calls) == {"redshift:DescribeClusters": 1}
    assert redshift.list_clusters(make_ctx("eu-west-1")) == []


def test_a_setting_change_is_a_change(aws, network):
    _hardened(aws, network)
    before = normalized(redshift.list_clusters(make_ctx())[0])
    aws.modify_cluster(ClusterIdentifier="warehouse", PubliclyAccessible=True)

    after = normalized(redshift.list_clusters(make_ctx())[0])

    assert after.document["configuration"]["PubliclyAccessible"] is True
    assert after.content != before.content


# --- Stubber: paging, failures, the fields moto does not return ---


def _stubbed(monkeypatch) -> tuple[SliceContext, Stubber]:
    ctx = make_ctx()
    client = boto3.client("redshift", region_name=REGION)
    stub = Stubber(client)
    monkeypatch.setattr(ctx, "client", lambda service, region=None: client)
    return ctx, stub


def _record(ident: str, **extra: Any) -> dict[str, Any]:
    return {"ClusterIdentifier": ident, "NodeType": "ra3.xlplus", "VpcId": "vpc-0123456789abcdef0", **extra}


def test_listing_follows_markers(monkeypatch):
    ctx, stub = _stubbed(monkeypatch)
    stub.add_response("describe_clusters", {"Clusters": [_record("a")], "Marker": "m1"})
    stub.add_response("describe_clusters", {"Clusters": [_record("b")]}, {"Marker": "m1"})
    stub.activate()

    items = redshift.list_clusters(ctx)

    stub.assert_no_pending_responses()
    assert [item.id for item in items] == ["a", "b"]
    assert items[0].configuration == {**_record("a"), "Tags": {}}


@pytest.mark.parametrize("code", ["AccessDenied", "Throttling"])
def test_a_failed_listing_raises(monkeypatch, code):
    ctx, stub = _stubbed(monkeypatch)
    stub.add_client_error("describe_clusters", service_error_code=code, http_status_code=400)
    stub.activate()

    with pytest.raises(ClientError) as info:
        redshift.list_clusters(ctx)
    assert info.value.response["Error"]["Code"] == code


def test_operations_in_progress_and_maintenance_clocks_are_ephemeral(monkeypatch):
    """A cluster as AWS describes it mid-restore and mid-resize: none of it reaches the document."""
    ctx, stub = _stubbed(monkeypatch)
    when = datetime.datetime(2024, 5, 1, tzinfo=datetime.UTC)
    busy = _record(
        "busy",
        ClusterStatus="resizing",
        ClusterAvailabilityStatus="Modifying",
        ModifyStatus="in progress",
        RestoreStatus={"Status": "restoring", "ProgressInMegaBytes": 512, "SnapshotSizeInMegaBytes": 1024},
        DataTransferProgress={"Status": "transferring", "DataTransferredInMegaBytes": 10},
        ResizeInfo={"ResizeType": "ClassicResize", "AllowCancelResize": True},
        PendingModifiedValues={"MasterUserPassword": "****", "NumberOfNodes": 4},
        PendingActions=["resize"],
        ClusterRevisionNumber="77123",
        NextMaintenanceWindowStartTime=when,
        DeferredMaintenanceWindows=[{"DeferMaintenanceIdentifier": "d1", "DeferMaintenanceStartTime": when}],
        ExpectedNextSnapshotScheduleTime=when,
        ExpectedNextSnapshotScheduleTimeStatus="OnTrack",
        ElasticResizeNumberOfNodeOptions="[2,4,8]",
        ClusterNodes=[{"NodeRole": "LEADER", "PrivateIPAddress": "10.0.1.5", "PublicIPAddress": "3.3.3.3"}],
        AvailabilityZone=f"{REGION}b",
        HsmStatus={"HsmConfigurationIdentifier": "hsm", "Status": "applying"},
        ElasticIpStatus={"ElasticIp": "3.3.3.3", "Status": "applying"},
        AquaConfiguration={"AquaStatus": "applying", "AquaConfigurationStatus": "auto"},
        ClusterParameterGroups=[{
            "ParameterGroupName": "strict",
            "ParameterApplyStatus": "pending-reboot",
            "ClusterParameterStatusList": [
                {"ParameterName": "require_ssl", "ParameterApplyStatus": "pending"}
            ],
        }],
    )
    stub.add_response("describe_clusters", {"Clusters": [busy]})
    stub.activate()

    (item,) = redshift.list_clusters(ctx)
    document = normalized(item)

    assert document.document["configuration"] == {
        "ClusterIdentifier": "busy",
        "NodeType": "ra3.xlplus",
        "VpcId": "vpc-0123456789abcdef0",
        "HsmStatus": {"HsmConfigurationIdentifier": "hsm"},
        "ElasticIpStatus": {"ElasticIp": "3.3.3.3"},
        "AquaConfiguration": {"AquaConfigurationStatus": "auto"},
        "ClusterParameterGroups": [{"ParameterGroupName": "strict"}],
        "Tags": {},
    }
    assert document.ephemeral["configuration.ClusterRevisionNumber"] == "77123"
    assert document.ephemeral["configuration.PendingModifiedValues"]["NumberOfNodes"] == 4


def test_technology_metadata():
    assert not TECH.is_global
    assert TECH.iam_actions == ("redshift:DescribeClusters",)
    assert not TECH.secret_paths
    assert {"RestoreStatus", "ClusterStatus", "ClusterRevisionNumber",
            "ClusterParameterGroups.*.ParameterApplyStatus"} <= set(TECH.ephemeral_paths)


# --- the rules on watcher output ---


def _findings(ctx: SliceContext) -> dict[str, set[tuple[str, str]]]:
    rules = RuleSet.load({}, base_dir=Path.cwd())
    audit = AuditContext(ACCOUNT, "test", {}, (), datetime.datetime(2024, 6, 1, tzinfo=datetime.UTC))
    found = {}
    for item in redshift.list_clusters(ctx):
        document = normalized(item).document
        found[item.id] = {(f.rule_id, f.key) for f in rules.evaluate(document, None, audit)}
    return found


def test_rules_on_moto_made_clusters(aws, network):
    _hardened(aws, network)
    _exposed(aws)
    aws.create_cluster(
        ClusterIdentifier="default", NodeType="dc2.large", ClusterType="single-node",
        MasterUsername="admin", MasterUserPassword=PASSWORD, ClusterSubnetGroupName="warehouse",
    )

    found = _findings(make_ctx())

    assert found["warehouse"] == set()
    assert found["legacy"] == {
        ("redshift.cluster.not-in-vpc", "not-in-vpc"),
        ("redshift.cluster.publicly-accessible", "publicly-accessible"),
        ("redshift.cluster.storage-unencrypted", "storage-unencrypted"),
        ("redshift.cluster.automated-snapshots-disabled", "automated-snapshots-disabled"),
        ("redshift.cluster.enhanced-vpc-routing-disabled", "enhanced-vpc-routing-disabled"),
        ("redshift.cluster.version-upgrade-disabled", "version-upgrade-disabled"),
        ("redshift.cluster.default-admin-username", "default-admin-username"),
        ("redshift.cluster.default-database-name", "default-database-name"),
    }
    # moto's defaults (not public, unencrypted, no enhanced VPC routing, database "dev", automated
    # snapshots kept 1 day as on AWS), placed in a subnet group: nothing scored 6 or more. moto
    # reports no MultiAZ, so Redshift.18 is not judged.
    assert found["default"] == {
        ("redshift.cluster.automated-snapshots-disabled", "automated-snapshots-disabled"),
        ("redshift.cluster.storage-unencrypted", "storage-unencrypted"),
        ("redshift.cluster.enhanced-vpc-routing-disabled", "enhanced-vpc-routing-disabled"),
        ("redshift.cluster.default-database-name", "default-database-name"),
    }


# --- for the lead's garbled-answer test: one cluster in us-east-1 ---


def _seed_cluster(client: Callable[..., Any]) -> None:
    client("redshift").create_cluster(
        ClusterIdentifier="seed-warehouse", NodeType="dc2.large", ClusterType="single-node",
        MasterUsername="seed", MasterUserPassword=PASSWORD,
    )


GARBLE_SEEDS: dict[str, Callable[[Callable[..., Any]], None]] = {
    "redshift.cluster": _seed_cluster,
}


def test_garble_seed_creates_a_cluster(aws):
    def client(service: str, region_name: str = REGION) -> Any:
        return boto3.client(service, region_name=region_name)

    GARBLE_SEEDS["redshift.cluster"](client)
    assert [item.id for item in redshift.list_clusters(make_ctx())] == ["seed-warehouse"]
