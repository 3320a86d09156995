"""ec2.snapshot and ec2.image watchers against moto: exact configuration, owner scoping, races,
failures, API call counts, normalisation and the built-in rules on their real output."""

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
PARTNER = "111111111111"
STRANGER = "999999999999"


def make_ctx(region: str = "us-east-1") -> SliceContext:
    return slice_context(region)


@pytest.fixture
def aws():
    with mock_aws():
        yield


def _snapshot(client, *, name: str | None = None, description: str = "") -> str:
    volume = client.create_volume(AvailabilityZone=f"{client.meta.region_name}a", Size=2)["VolumeId"]
    params = {"VolumeId": volume, "Description": description}
    if name:
        params["TagSpecifications"] = [
            {
                "ResourceType": "snapshot",
                "Tags": [{"Key": "Name", "Value": name}, {"Key": "env", "Value": "prod"}],
            }
        ]
    return client.create_snapshot(**params)["SnapshotId"]


def _image(client, name: str) -> str:
    instance = client.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1)["Instances"][0]
    return client.create_image(
        InstanceId=instance["InstanceId"],
        Name=name,
        Description="golden image",
        TagSpecifications=[{"ResourceType": "image", "Tags": [{"Key": "team", "Value": "a"}]}],
    )["ImageId"]


def _by_id(items):
    return {item.id: item for item in items}


def _normalized(item):
    tech = get_technology(item.technology)
    return normalize_item(item, tech, account_id=ACCOUNT, secret_key=b"k")


# --- snapshots -------------------------------------------------------------------------------


def test_snapshot_configuration(aws):
    client = boto3.client("ec2", region_name="us-east-1")
    shared = _snapshot(client, name="backup", description="nightly")
    client.modify_snapshot_attribute(
        SnapshotId=shared,
        Attribute="createVolumePermission",
        OperationType="add",
        GroupNames=["all"],
        UserIds=[STRANGER, PARTNER],
    )
    private = _snapshot(client)
    ctx = make_ctx()

    items = _by_id(ec2.list_snapshots(ctx))

    assert set(items) == {shared, private}
    item = items[shared]
    assert item.technology == "ec2.snapshot"
    assert item.region == "us-east-1"
    assert item.name == "backup"
    assert item.arn == f"arn:aws:ec2:us-east-1::snapshot/{shared}"
    config = item.configuration
    assert set(config) == {*ec2._ec2_storage.SNAPSHOT_FIELDS, "Tags", "CreateVolumePermissions"}
    assert config["SnapshotId"] == shared
    assert config["Description"] == "nightly"
    assert config["VolumeSize"] == 2
    assert config["OwnerId"] == ACCOUNT
    assert config["Encrypted"] is False
    assert config["Tags"] == {"Name": "backup", "env": "prod"}
    assert sorted(config["CreateVolumePermissions"], key=json.dumps) == sorted(
        [{"Group": "all"}, {"UserId": STRANGER}, {"UserId": PARTNER}], key=json.dumps
    )
    assert items[private].name == private
    assert items[private].configuration["CreateVolumePermissions"] == []
    assert items[private].configuration["Tags"] == {}
    assert ctx.calls == {"ec2:DescribeSnapshots": 1, "ec2:DescribeSnapshotAttribute": 2}


def test_snapshot_progress_and_state_stay_out_of_history_and_permissions_are_sorted(aws):
    client = boto3.client("ec2", region_name="us-east-1")
    snapshot = _snapshot(client)
    client.modify_snapshot_attribute(
        SnapshotId=snapshot, Attribute="createVolumePermission", OperationType="add", UserIds=[STRANGER]
    )
    client.modify_snapshot_attribute(
        SnapshotId=snapshot, Attribute="createVolumePermission", OperationType="add", GroupNames=["all"]
    )
    (item,) = ec2.list_snapshots(make_ctx())

    normalized = _normalized(item)

    configuration = normalized.document["configuration"]
    assert "Progress" not in configuration and "State" not in configuration
    assert normalized.ephemeral["configuration.Progress"] == "100%"
    assert normalized.ephemeral["configuration.State"] == "completed"
    assert configuration["CreateVolumePermissions"] == [{"Group": "all"}, {"UserId": STRANGER}]


def test_only_the_accounts_own_snapshots_are_listed(aws, monkeypatch):
    """moto's ``OwnerIds`` bug: it returns Amazon's public AMI snapshots whatever the owner asked.
    With moto's default AMIs loaded, those snapshots exist and must not become items."""
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "true")
    client = boto3.client("ec2", region_name="eu-west-3")
    ours = _snapshot(client, name="ours")
    foreign = {
        s["OwnerId"]
        for s in client.describe_snapshots(OwnerIds=[ACCOUNT])["Snapshots"]
        if s["SnapshotId"] != ours
    }
    assert foreign and ACCOUNT not in foreign

    ctx = make_ctx("eu-west-3")
    items = ec2.list_snapshots(ctx)

    assert [item.id for item in items] == [ours]
    assert ctx.calls["ec2:DescribeSnapshotAttribute"] == 1


def test_each_region_reads_only_its_own_snapshots(aws):
    west = _snapshot(boto3.client("ec2", region_name="eu-west-1"))

    assert _by_id(ec2.list_snapshots(make_ctx("us-east-1"))) == {}
    (item,) = ec2.list_snapshots(make_ctx("eu-west-1"))
    assert item.id == west
    assert item.arn.startswith("arn:aws:ec2:eu-west-1::snapshot/")


def _delete_after_listing(ctx: SliceContext, operation: str, delete) -> None:
    """Delete an item right after the listing call returned, before the per-item call runs."""
    ctx.client("ec2").meta.events.register(f"after-call.ec2.{operation}", lambda **_: delete())


def test_snapshot_deleted_between_list_and_describe_is_skipped(aws):
    client = boto3.client("ec2", region_name="us-east-1")
    kept, gone = _snapshot(client), _snapshot(client)
    ctx = make_ctx()
    _delete_after_listing(ctx, "DescribeSnapshots", lambda: client.delete_snapshot(SnapshotId=gone))

    assert [item.id for item in ec2.list_snapshots(ctx)] == [kept]


def _stubbed(monkeypatch, ctx: SliceContext):
    client = boto3.client("ec2", region_name="us-east-1")
    stub = Stubber(client)
    monkeypatch.setattr(ctx, "client", lambda service, region=None: client)
    return stub


@pytest.mark.parametrize("code", ["UnauthorizedOperation", "RequestLimitExceeded"])
def test_snapshot_attribute_failure_raises(monkeypatch, code):
    ctx = make_ctx()
    stub = _stubbed(monkeypatch, ctx)
    stub.add_response(
        "describe_snapshots",
        {"Snapshots": [{"SnapshotId": "snap-1", "OwnerId": ACCOUNT}]},
        {"Filters": [{"Name": "owner-id", "Values": [ACCOUNT]}]},
    )
    stub.add_client_error("describe_snapshot_attribute", service_error_code=code, http_status_code=403)
    with stub, pytest.raises(ClientError) as info:
        ec2.list_snapshots(ctx)
    assert info.value.response["Error"]["Code"] == code


def test_snapshot_listing_failure_raises(monkeypatch):
    ctx = make_ctx()
    stub = _stubbed(monkeypatch, ctx)
    stub.add_client_error(
        "describe_snapshots", service_error_code="UnauthorizedOperation", http_status_code=403
    )
    with stub, pytest.raises(ClientError):
        ec2.list_snapshots(ctx)


# --- images ----------------------------------------------------------------------------------


def test_image_configuration(aws):
    client = boto3.client("ec2", region_name="us-east-1")
    public = _image(client, "golden")
    client.modify_image_attribute(
        ImageId=public, LaunchPermission={"Add": [{"Group": "all"}, {"UserId": STRANGER}]}
    )
    private = _image(client, "private")
    ctx = make_ctx()

    items = _by_id(ec2.list_images(ctx))

    assert set(items) == {public, private}
    item = items[public]
    assert item.technology == "ec2.image"
    assert item.name == "golden"
    assert item.arn == f"arn:aws:ec2:us-east-1::image/{public}"
    config = item.configuration
    assert set(config) == {*ec2._ec2_storage.IMAGE_FIELDS, "Tags", "LaunchPermissions"}
    assert config["ImageId"] == public
    assert config["Name"] == "golden"
    assert config["Description"] == "golden image"
    assert config["OwnerId"] == ACCOUNT
    assert config["Public"] is True
    assert config["Tags"] == {"team": "a"}
    assert sorted(config["LaunchPermissions"], key=json.dumps) == [{"Group": "all"}, {"UserId": STRANGER}]
    assert config["BlockDeviceMappings"][0]["DeviceName"] == "/dev/sda1"
    assert items[private].configuration["Public"] is False
    assert items[private].configuration["LaunchPermissions"] == []
    assert ctx.calls == {"ec2:DescribeImages": 1, "ec2:DescribeImageAttribute": 2}


def test_image_deleted_between_list_and_describe_is_skipped(aws):
    """moto answers DescribeImageAttribute on a deregistered AMI with a KeyError from inside moto;
    AWS answers InvalidAMIID.NotFound, which a hook gives here for the image deregistered."""
    client = boto3.client("ec2", region_name="us-east-1")
    kept, gone = _image(client, "kept"), _image(client, "gone")
    ctx = make_ctx()
    _delete_after_listing(ctx, "DescribeImages", lambda: client.deregister_image(ImageId=gone))

    def not_found(params, **_):
        if params.get("ImageId") == gone:
            error = {
                "Error": {
                    "Code": "InvalidAMIID.NotFound",
                    "Message": f"The image id '[{gone}]' does not exist",
                }
            }
            raise ClientError(error, "DescribeImageAttribute")

    ctx.client("ec2").meta.events.register("before-parameter-build.ec2.DescribeImageAttribute", not_found)

    assert [item.id for item in ec2.list_images(ctx)] == [kept]


def test_image_attribute_failure_raises(monkeypatch):
    ctx = make_ctx()
    stub = _stubbed(monkeypatch, ctx)
    stub.add_response(
        "describe_images",
        {"Images": [{"ImageId": "ami-1", "OwnerId": ACCOUNT}]},
        {"Owners": ["self"], "IncludeDeprecated": True, "IncludeDisabled": True},
    )
    stub.add_client_error("describe_image_attribute", service_error_code="UnauthorizedOperation")
    with stub, pytest.raises(ClientError):
        ec2.list_images(ctx)


# --- the rules on real output ----------------------------------------------------------------


def test_storage_rules_on_watcher_output(aws):
    client = boto3.client("ec2", region_name="us-east-1")
    snapshot = _snapshot(client, name="public")
    client.modify_snapshot_attribute(
        SnapshotId=snapshot,
        Attribute="createVolumePermission",
        OperationType="add",
        GroupNames=["all"],
        UserIds=[STRANGER, PARTNER],
    )
    image = _image(client, "public")
    client.modify_image_attribute(ImageId=image, LaunchPermission={"Add": [{"Group": "all"}]})
    rules = RuleSet.load({}, base_dir=Path.cwd())
    ctx = AuditContext.from_config(
        {"known_accounts": {PARTNER: {"name": "partner", "type": "friendly"}}},
        account_id=ACCOUNT,
        account_name="test",
        now=datetime(2026, 1, 1, tzinfo=UTC),
    )

    def findings(items, item_id):
        (item,) = [i for i in items if i.id == item_id]
        document = json.loads(_normalized(item).content)
        return {(f.rule_id, f.key) for f in rules.evaluate(document, None, ctx)}

    snapshot_findings = findings(ec2.list_snapshots(make_ctx()), snapshot)
    assert snapshot_findings == {
        ("ec2.snapshot.public", "all"),
        ("ec2.snapshot.shared-unknown-account", STRANGER),
        ("ec2.snapshot.shared-friendly-account", PARTNER),
    }
    assert findings(ec2.list_images(make_ctx()), image) == {("ec2.image.public", "all")}
