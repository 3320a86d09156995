"""RDS watchers against moto (and botocore Stubber for failures and paging): instances, clusters,
manual snapshots with their restore accounts, races, cost, the normalised document and the rules."""

from __future__ import annotations

import datetime
from pathlib import Path

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
PASSWORD = "not-a-real-password"


def make_ctx(region: str = REGION) -> SliceContext:
    return slice_context(region)



@pytest.fixture
def aws():
    with mock_aws():
        yield boto3.client("rds", region_name=REGION)


@pytest.fixture
def network(aws):
    """A VPC with two subnets in a DB subnet group and two security groups (ids sorted)."""
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{n}.0/24", AvailabilityZone=f"{REGION}{zone}")
        for n, zone in ((1, "a"), (2, "b"))
    ]
    groups = sorted(
        ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc)["GroupId"]
        for name in ("db", "admin")
    )
    aws.create_db_subnet_group(
        DBSubnetGroupName="db-private",
        DBSubnetGroupDescription="private",
        SubnetIds=[subnet["Subnet"]["SubnetId"] for subnet in subnets],
    )
    return {"vpc": vpc, "groups": groups}


def _public_postgres(client, network: dict | None = None, ident: str = "app-db") -> None:
    placement = {
        "DBSubnetGroupName": "db-private",
        "VpcSecurityGroupIds": list(reversed(network["groups"])),
    } if network else {}
    client.create_db_instance(
        DBInstanceIdentifier=ident,
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        MasterUsername="app",
        MasterUserPassword=PASSWORD,
        AllocatedStorage=20,
        PubliclyAccessible=True,
        StorageEncrypted=False,
        EnableIAMDatabaseAuthentication=True,
        DeletionProtection=True,
        BackupRetentionPeriod=7,
        Tags=[{"Key": "team", "Value": "app"}, {"Key": "env", "Value": "prod"}],
        **placement,
    )


def _aurora(client, ident: str = "orders", **extra) -> None:
    client.create_db_cluster(
        DBClusterIdentifier=ident,
        Engine="aurora-postgresql",
        MasterUsername="orders",
        MasterUserPassword=PASSWORD,
        **extra,
    )


def _share(client, ident: str, *accounts: str, cluster: bool = False) -> None:
    if cluster:
        client.modify_db_cluster_snapshot_attribute(
            DBClusterSnapshotIdentifier=ident, AttributeName="restore", ValuesToAdd=list(accounts)
        )
    else:
        client.modify_db_snapshot_attribute(
            DBSnapshotIdentifier=ident, AttributeName="restore", ValuesToAdd=list(accounts)
        )


# --- DB instances ---


def test_instance_has_the_security_relevant_fields(aws, network):
    _public_postgres(aws, network)
    kms_key = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
    aws.create_db_instance(
        DBInstanceIdentifier="billing-db",
        DBInstanceClass="db.t3.small",
        Engine="mysql",
        MasterUsername="billing",
        MasterUserPassword=PASSWORD,
        AllocatedStorage=50,
        StorageEncrypted=True,
        KmsKeyId=kms_key,
        MultiAZ=True,
    )

    items = {item.id: item for item in rds.list_db_instances(make_ctx())}

    app = items["app-db"]
    assert (app.technology, app.region, app.name) == ("rds.db_instance", REGION, "app-db")
    assert app.arn == f"arn:aws:rds:{REGION}:{ACCOUNT}:db:app-db"
    config = app.configuration
    assert {k: config[k] for k in (
        "DBInstanceIdentifier", "Engine", "DBInstanceClass", "PubliclyAccessible", "StorageEncrypted",
        "IAMDatabaseAuthenticationEnabled", "DeletionProtection", "BackupRetentionPeriod", "MultiAZ",
        "AutoMinorVersionUpgrade", "CACertificateIdentifier",
    )} == {
        "DBInstanceIdentifier": "app-db",
        "Engine": "postgres",
        "DBInstanceClass": "db.t3.micro",
        "PubliclyAccessible": True,
        "StorageEncrypted": False,
        "IAMDatabaseAuthenticationEnabled": True,
        "DeletionProtection": True,
        "BackupRetentionPeriod": 7,
        "MultiAZ": False,
        "AutoMinorVersionUpgrade": True,
        "CACertificateIdentifier": "rds-ca-default",
    }
    assert config["EngineVersion"]
    assert config["Endpoint"] == {"Address": config["Endpoint"]["Address"], "Port": 5432}
    assert config["Endpoint"]["Address"].startswith("app-db.")
    assert sorted(g["VpcSecurityGroupId"] for g in config["VpcSecurityGroups"]) == network["groups"]
    assert config["DBSubnetGroup"]["DBSubnetGroupName"] == "db-private"
    assert config["DBSubnetGroup"]["VpcId"] == network["vpc"]
    assert [g["DBParameterGroupName"] for g in config["DBParameterGroups"]] == ["default.postgres9.3"]
    assert [g["OptionGroupName"] for g in config["OptionGroupMemberships"]] == ["default:postgres-9-3"]
    assert isinstance(config["InstanceCreateTime"], datetime.datetime)
    assert config["Tags"] == {"team": "app", "env": "prod"}
    assert "TagList" not in config and "DBInstanceArn" not in config

    billing = items["billing-db"].configuration
    assert (billing["StorageEncrypted"], billing["KmsKeyId"], billing["MultiAZ"]) == (True, kms_key, True)
    assert billing["Tags"] == {}


def test_instance_document_drops_status_and_sorts_groups(aws, network):
    _public_postgres(aws, network)

    first = normalized(rds.list_db_instances(make_ctx())[0])
    again = normalized(rds.list_db_instances(make_ctx())[0])

    config = first.document["configuration"]
    for gone in ("DBInstanceStatus", "LatestRestorableTime", "AvailabilityZone"):
        assert gone not in config
    assert first.ephemeral["configuration.DBInstanceStatus"] == "available"
    assert "configuration.LatestRestorableTime" in first.ephemeral
    assert config["VpcSecurityGroups"] == [{"VpcSecurityGroupId": g} for g in network["groups"]]
    assert {f"configuration.VpcSecurityGroups.{n}.Status" for n in (0, 1)} <= set(first.ephemeral)
    assert "ParameterApplyStatus" not in config["DBParameterGroups"][0]
    assert "SubnetStatus" not in config["DBSubnetGroup"]["Subnets"][0]
    assert PASSWORD.encode() not in first.content
    assert again.content == first.content


def test_instance_state_change_alone_makes_no_new_content(aws):
    _public_postgres(aws)
    before = normalized(rds.list_db_instances(make_ctx())[0])
    aws.stop_db_instance(DBInstanceIdentifier="app-db")

    after = normalized(rds.list_db_instances(make_ctx())[0])

    assert after.ephemeral["configuration.DBInstanceStatus"] == "stopped"
    assert after.content == before.content


def test_instances_cost_one_call_and_other_regions_are_not_listed(aws):
    for n in range(3):
        _public_postgres(aws, ident=f"db-{n}")
    ctx = make_ctx()

    assert {item.id for item in rds.list_db_instances(ctx)} == {"db-0", "db-1", "db-2"}
    assert dict(ctx.calls) == {"rds:DescribeDBInstances": 1}
    assert rds.list_db_instances(make_ctx("eu-west-1")) == []


# --- DB clusters ---


def test_cluster_fields_and_members(aws, network):
    _aurora(
        aws,
        StorageEncrypted=True,
        DeletionProtection=True,
        EnableIAMDatabaseAuthentication=True,
        VpcSecurityGroupIds=network["groups"],
        DBSubnetGroupName="db-private",
        Tags=[{"Key": "team", "Value": "orders"}],
    )
    aws.create_db_instance(
        DBInstanceIdentifier="orders-1", DBInstanceClass="db.r6g.large", Engine="aurora-postgresql",
        DBClusterIdentifier="orders",
    )
    ctx = make_ctx()

    (item,) = rds.list_db_clusters(ctx)

    assert dict(ctx.calls) == {"rds:DescribeDBClusters": 1}
    assert (item.technology, item.id, item.name) == ("rds.db_cluster", "orders", "orders")
    assert item.arn == f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster:orders"
    config = item.configuration
    assert {k: config[k] for k in (
        "Engine", "StorageEncrypted", "DeletionProtection", "IAMDatabaseAuthenticationEnabled",
        "PubliclyAccessible", "DBSubnetGroup", "Port",
    )} == {
        "Engine": "aurora-postgresql",
        "StorageEncrypted": True,
        "DeletionProtection": True,
        "IAMDatabaseAuthenticationEnabled": True,
        "PubliclyAccessible": False,
        "DBSubnetGroup": "db-private",
        "Port": 5432,
    }
    assert config["KmsKeyId"] and config["DBClusterParameterGroup"]
    assert config["Endpoint"].startswith("orders.cluster-")
    assert [m["DBInstanceIdentifier"] for m in config["DBClusterMembers"]] == ["orders-1"]
    assert config["Tags"] == {"team": "orders"}
    assert "TagList" not in config and "DBClusterArn" not in config

    document = normalized(item)
    doc_config = document.document["configuration"]
    for gone in ("Status", "EarliestRestorableTime", "LatestRestorableTime"):
        assert gone not in doc_config
    assert doc_config["DBClusterMembers"] == [{"DBInstanceIdentifier": "orders-1", "PromotionTier": 1}]
    assert document.ephemeral["configuration.DBClusterMembers.0.IsClusterWriter"] is True
    assert doc_config["VpcSecurityGroups"] == [{"VpcSecurityGroupId": g} for g in network["groups"]]
    assert doc_config["AvailabilityZones"] == sorted(doc_config["AvailabilityZones"])


def test_no_cluster_is_an_empty_list(aws):
    assert rds.list_db_clusters(make_ctx()) == []


# --- snapshots ---


def test_manual_db_snapshots_with_restore_accounts(aws):
    _public_postgres(aws)  # BackupRetentionPeriod 7: moto also makes an automated snapshot
    for ident in ("public-copy", "partner-copy", "private-copy"):
        aws.create_db_snapshot(DBSnapshotIdentifier=ident, DBInstanceIdentifier="app-db",
                               Tags=[{"Key": "purpose", "Value": ident}])
    _share(aws, "public-copy", "all")
    _share(aws, "partner-copy", "222222222222", "111111111111")
    assert any(s["SnapshotType"] == "automated" for s in aws.describe_db_snapshots()["DBSnapshots"])
    ctx = make_ctx()

    items = {item.id: item for item in rds.list_db_snapshots(ctx)}

    assert set(items) == {"public-copy", "partner-copy", "private-copy"}
    assert ctx.calls["rds:DescribeDBSnapshots"] == 1
    assert ctx.calls["rds:DescribeDBSnapshotAttributes"] == 3
    assert ctx.api_calls == 4
    public = items["public-copy"]
    assert (public.technology, public.name) == ("rds.db_snapshot", "public-copy")
    assert public.arn == f"arn:aws:rds:{REGION}:{ACCOUNT}:snapshot:public-copy"
    assert public.configuration["RestoreAccounts"] == ["all"]
    assert items["partner-copy"].configuration["RestoreAccounts"] == ["111111111111", "222222222222"]
    assert items["private-copy"].configuration["RestoreAccounts"] == []
    config = public.configuration
    assert (config["DBInstanceIdentifier"], config["SnapshotType"]) == ("app-db", "manual")
    assert config["Encrypted"] is False
    assert config["Tags"] == {"purpose": "public-copy"}
    assert "TagList" not in config and "DBSnapshotArn" not in config
    document = normalized(public)
    assert "Status" not in document.document["configuration"]
    assert document.ephemeral["configuration.Status"] == "available"


def test_manual_cluster_snapshots_with_restore_accounts(aws):
    _aurora(aws)
    aws.create_db_cluster_snapshot(DBClusterSnapshotIdentifier="orders-shared", DBClusterIdentifier="orders")
    aws.create_db_cluster_snapshot(DBClusterSnapshotIdentifier="orders-kept", DBClusterIdentifier="orders")
    _share(aws, "orders-shared", "999999999999", "all", cluster=True)
    ctx = make_ctx()

    items = {item.id: item for item in rds.list_db_cluster_snapshots(ctx)}

    assert set(items) == {"orders-shared", "orders-kept"}  # not moto's automated "rds:orders-..." one
    assert dict(ctx.calls) == {
        "rds:DescribeDBClusterSnapshots": 1,
        "rds:DescribeDBClusterSnapshotAttributes": 2,
    }
    shared = items["orders-shared"]
    assert shared.technology == "rds.db_cluster_snapshot"
    assert shared.arn == f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster-snapshot:orders-shared"
    assert shared.configuration["RestoreAccounts"] == ["999999999999", "all"]
    assert shared.configuration["DBClusterIdentifier"] == "orders"
    assert items["orders-kept"].configuration["RestoreAccounts"] == []
    document = normalized(shared)
    assert {"Status", "PercentProgress"}.isdisjoint(document.document["configuration"])


def _delete_after_listing(ctx: SliceContext, event: str, delete) -> None:
    """Deletes a snapshot right after the listing call returns, as another actor could."""
    ctx.client("rds").meta.events.register(f"after-call.rds.{event}", lambda **_: delete())


def test_db_snapshot_deleted_between_list_and_describe_is_skipped(aws):
    _public_postgres(aws)
    aws.create_db_snapshot(DBSnapshotIdentifier="keeper", DBInstanceIdentifier="app-db")
    aws.create_db_snapshot(DBSnapshotIdentifier="doomed", DBInstanceIdentifier="app-db")
    ctx = make_ctx()
    other = boto3.client("rds", region_name=REGION)
    _delete_after_listing(
        ctx, "DescribeDBSnapshots", lambda: other.delete_db_snapshot(DBSnapshotIdentifier="doomed")
    )

    assert [item.id for item in rds.list_db_snapshots(ctx)] == ["keeper"]


def test_cluster_snapshot_deleted_between_list_and_describe_is_skipped(aws):
    _aurora(aws)
    aws.create_db_cluster_snapshot(DBClusterSnapshotIdentifier="keeper", DBClusterIdentifier="orders")
    aws.create_db_cluster_snapshot(DBClusterSnapshotIdentifier="doomed", DBClusterIdentifier="orders")
    ctx = make_ctx()
    other = boto3.client("rds", region_name=REGION)
    _delete_after_listing(
        ctx,
        "DescribeDBClusterSnapshots",
        lambda: other.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier="doomed"),
    )

    assert [item.id for item in rds.list_db_cluster_snapshots(ctx)] == ["keeper"]


# --- Stubber: failures, paging, fields moto does not return ---


def _stubbed(monkeypatch):
    ctx = make_ctx()
    client = boto3.client("rds", region_name=REGION)
    stub = Stubber(client)
    monkeypatch.setattr(ctx, "client", lambda service, region=None: client)
    monkeypatch.setattr(rds, "SNAPSHOT_WORKERS", 1)
    return ctx, stub


@pytest.mark.parametrize(
    ("lister", "operation"),
    [
        (rds.list_db_instances, "describe_db_instances"),
        (rds.list_db_clusters, "describe_db_clusters"),
        (rds.list_db_snapshots, "describe_db_snapshots"),
        (rds.list_db_cluster_snapshots, "describe_db_cluster_snapshots"),
    ],
)
def test_a_failed_listing_raises(monkeypatch, lister, operation):
    ctx, stub = _stubbed(monkeypatch)
    stub.add_client_error(operation, service_error_code="AccessDenied", http_status_code=403)
    stub.activate()

    with pytest.raises(ClientError, match="AccessDenied"):
        lister(ctx)


def _snapshot(ident: str) -> dict:
    return {
        "DBSnapshotIdentifier": ident,
        "DBInstanceIdentifier": "app-db",
        "SnapshotType": "manual",
        "Status": "available",
        "DBSnapshotArn": f"arn:aws:rds:{REGION}:{ACCOUNT}:snapshot:{ident}",
    }


def test_a_failed_attribute_read_fails_the_whole_listing(monkeypatch):
    ctx, stub = _stubbed(monkeypatch)
    stub.add_response("describe_db_snapshots", {"DBSnapshots": [_snapshot("a"), _snapshot("b")]},
                      {"SnapshotType": "manual"})
    stub.add_response(
        "describe_db_snapshot_attributes",
        {"DBSnapshotAttributesResult": {"DBSnapshotIdentifier": "a", "DBSnapshotAttributes": []}},
        {"DBSnapshotIdentifier": "a"},
    )
    stub.add_client_error(
        "describe_db_snapshot_attributes", service_error_code="Throttling", http_status_code=400
    )
    stub.activate()

    with pytest.raises(ClientError, match="Throttling"):
        rds.list_db_snapshots(ctx)


def test_listings_follow_markers(monkeypatch):
    ctx, stub = _stubbed(monkeypatch)
    first = {"DBInstanceIdentifier": "a", "DBInstanceArn": f"arn:aws:rds:{REGION}:{ACCOUNT}:db:a"}
    second = {"DBInstanceIdentifier": "b", "DBInstanceArn": f"arn:aws:rds:{REGION}:{ACCOUNT}:db:b"}
    stub.add_response("describe_db_instances", {"DBInstances": [first], "Marker": "m1"})
    stub.add_response("describe_db_instances", {"DBInstances": [second]}, {"Marker": "m1"})
    stub.activate()

    items = rds.list_db_instances(ctx)

    stub.assert_no_pending_responses()
    assert [item.id for item in items] == ["a", "b"]
    assert items[0].configuration == {"DBInstanceIdentifier": "a", "Tags": {}}


def test_only_the_restore_attribute_is_read_and_absent_arn_is_built(monkeypatch):
    ctx, stub = _stubbed(monkeypatch)
    record = {key: value for key, value in _snapshot("a").items() if key != "DBSnapshotArn"}
    stub.add_response("describe_db_snapshots", {"DBSnapshots": [record]})
    stub.add_response(
        "describe_db_snapshot_attributes",
        {"DBSnapshotAttributesResult": {"DBSnapshotIdentifier": "a", "DBSnapshotAttributes": [
            {"AttributeName": "restore", "AttributeValues": ["333333333333", "111111111111"]},
            {"AttributeName": "future-attribute", "AttributeValues": ["x"]},
        ]}},
    )
    stub.activate()

    (item,) = rds.list_db_snapshots(ctx)

    assert item.configuration["RestoreAccounts"] == ["111111111111", "333333333333"]
    assert item.arn == f"arn:aws:rds:{REGION}:{ACCOUNT}:snapshot:a"


def test_pending_modifications_are_ephemeral():
    tech = get_technology("rds.db_instance")
    assert "PendingModifiedValues" in tech.ephemeral_paths
    assert "InstanceCreateTime" not in tech.ephemeral_paths
    assert not any(t.secret_paths for t in rds.TECHNOLOGIES)
    assert [t.name for t in rds.TECHNOLOGIES] == [
        "rds.db_instance", "rds.db_cluster", "rds.db_snapshot", "rds.db_cluster_snapshot",
        "rds.db_subnet_group",
    ]


# --- the rules on watcher output ---


def test_rules_on_moto_made_resources(aws):
    _public_postgres(aws)
    _aurora(aws, StorageEncrypted=False)
    aws.create_db_instance(
        DBInstanceIdentifier="orders-1", DBInstanceClass="db.r6g.large", Engine="aurora-postgresql",
        DBClusterIdentifier="orders",
    )
    aws.create_db_snapshot(DBSnapshotIdentifier="shared", DBInstanceIdentifier="app-db")
    _share(aws, "shared", "all", "111111111111", "999999999999")
    aws.create_db_cluster_snapshot(DBClusterSnapshotIdentifier="orders-shared", DBClusterIdentifier="orders")
    _share(aws, "orders-shared", "222222222222", cluster=True)
    rules = RuleSet.load({}, base_dir=Path.cwd())
    known = {
        "111111111111": {"name": "data", "type": "friendly"},
        "222222222222": {"name": "vendor", "type": "third_party"},
    }
    audit = AuditContext(ACCOUNT, "test", known, (), datetime.datetime(2024, 6, 1, tzinfo=datetime.UTC))
    ctx = make_ctx()

    found = {}
    for tech in rds.TECHNOLOGIES:
        for item in tech.list_items(ctx):
            document = normalized(item).document
            found[item.id] = {(f.rule_id, f.key) for f in rules.evaluate(document, None, audit)}

    # app-db: FSBP / CIS checks on moto's defaults (single-AZ, no enhanced monitoring, no log
    # exports, default port, tags not copied). moto reports no DBSubnetGroup for an instance created
    # without one (AWS would place it in the default VPC), so RDS.18's not-in-vpc fires here.
    assert found["app-db"] == {
        ("rds.db_instance.publicly-accessible", "publicly-accessible"),
        ("rds.db_instance.storage-unencrypted", "storage-unencrypted"),
        ("rds.db_instance.single-az", "single-az"),
        ("rds.db_instance.enhanced-monitoring-disabled", "enhanced-monitoring"),
        ("rds.db_instance.logs-not-exported", "logs-not-exported"),
        ("rds.db_instance.default-port", "default-port"),
        ("rds.db_instance.copy-tags-to-snapshot-disabled", "copy-tags"),
        ("rds.db_instance.not-in-vpc", "not-in-vpc"),
    }
    # A member of an unencrypted cluster: RDS.3 / CIS 2.3.1 check every DB instance; the checks that
    # the cluster decides (Multi-AZ, deletion protection, port, logs, tags) are not repeated.
    assert found["orders-1"] == {
        ("rds.db_instance.storage-unencrypted", "storage-unencrypted"),
        ("rds.db_instance.enhanced-monitoring-disabled", "enhanced-monitoring"),
        ("rds.db_instance.iam-auth-disabled", "iam-auth"),
    }
    assert found["orders"] == {
        ("rds.db_cluster.storage-unencrypted", "storage-unencrypted"),
        ("rds.db_cluster.single-az", "single-az"),
        ("rds.db_cluster.deletion-protection-disabled", "deletion-protection"),
        ("rds.db_cluster.iam-auth-disabled", "iam-auth"),
        ("rds.db_cluster.default-port", "default-port"),
        ("rds.db_cluster.copy-tags-to-snapshot-disabled", "copy-tags"),
        ("rds.db_cluster.postgresql-log-not-exported", "postgresql-log"),
    }
    assert found["shared"] == {
        ("rds.db_snapshot.public", "restore:all"),
        ("rds.db_snapshot.shared-friendly-account", "restore:111111111111"),
        ("rds.db_snapshot.shared-unknown-account", "restore:999999999999"),
        ("rds.db_snapshot.unencrypted", "unencrypted"),
    }
    assert found["orders-shared"] == {
        ("rds.db_cluster_snapshot.shared-thirdparty-account", "restore:222222222222"),
        ("rds.db_cluster_snapshot.unencrypted", "unencrypted"),
    }
