"""AWS Config recorder watcher against moto (and a botocore Stubber where moto cannot say it):
fields, recording status, delivery channels, ephemeral status, races, failures, call counts, rules."""

from __future__ import annotations

import dataclasses
import datetime
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from gitmonkey.audit import AuditContext, RuleSet
from gitmonkey.normalize import normalize_item
from gitmonkey.read.aws import SliceContext
from gitmonkey.watchers import config as config_watcher
from tests.helpers import slice_context

ACCOUNT = "123456789012"
REGION = "us-east-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/config-recorder"
BUCKET = "config-history-bucket"
TECH = config_watcher.TECHNOLOGIES[0]


def make_ctx(region: str = REGION) -> SliceContext:
    return slice_context(region)


@pytest.fixture
def aws():
    with mock_aws():
        boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
        yield boto3.client("config", region_name=REGION)


def _recorder(client, *, start: bool = True) -> None:
    client.put_configuration_recorder(
        ConfigurationRecorder={
            "name": "default",
            "roleARN": ROLE,
            "recordingGroup": {"allSupported": True, "includeGlobalResourceTypes": True},
        }
    )
    client.put_delivery_channel(
        DeliveryChannel={
            "name": "default",
            "s3BucketName": BUCKET,
            "s3KeyPrefix": "config",
            "configSnapshotDeliveryProperties": {"deliveryFrequency": "TwentyFour_Hours"},
        }
    )
    if start:
        client.start_configuration_recorder(ConfigurationRecorderName="default")


def test_recording_recorder_has_every_part(aws):
    _recorder(aws)

    (item,) = config_watcher.list_recorders(make_ctx())

    assert (item.technology, item.region, item.id, item.name) == (TECH.name, REGION, "default", "default")
    assert item.arn == f"arn:aws:config:{REGION}:{ACCOUNT}:configuration-recorder/default"
    config = item.configuration
    added = {"name", "recording", "status", "deliveryChannels"}
    assert set(config) == {*config_watcher._RECORDER_FIELDS, *added}
    assert config["roleARN"] == ROLE
    assert config["recordingGroup"]["allSupported"] is True
    assert config["recordingGroup"]["includeGlobalResourceTypes"] is True
    assert config["recording"] is True
    assert config["deliveryChannels"] == [
        {
            "name": "default",
            "s3BucketName": BUCKET,
            "s3KeyPrefix": "config",
            "configSnapshotDeliveryProperties": {"deliveryFrequency": "TwentyFour_Hours"},
        }
    ]


def test_stopped_recorder_without_channel(aws):
    aws.put_configuration_recorder(ConfigurationRecorder={"name": "default", "roleARN": ROLE})

    (item,) = config_watcher.list_recorders(make_ctx())

    assert item.configuration["recording"] is False
    assert item.configuration["deliveryChannels"] == []
    assert item.configuration["recordingMode"] is None


def test_region_without_recorder_costs_one_call(aws):
    ctx = make_ctx()
    assert config_watcher.list_recorders(ctx) == []
    assert dict(ctx.calls) == {"config:DescribeConfigurationRecorders": 1}


def test_api_calls(aws):
    _recorder(aws)
    ctx = make_ctx()

    config_watcher.list_recorders(ctx)

    assert dict(ctx.calls) == {
        "config:DescribeConfigurationRecorders": 1,
        "config:DescribeConfigurationRecorderStatus": 1,
        "config:DescribeDeliveryChannels": 1,
    }


def test_recorders_of_another_region_are_not_listed(aws):
    _recorder(aws)
    assert config_watcher.list_recorders(make_ctx("eu-west-1")) == []


def test_status_times_are_ephemeral_and_recording_is_not(aws):
    _recorder(aws)
    (item,) = config_watcher.list_recorders(make_ctx())
    normalized = normalize_item(item, TECH, account_id=ACCOUNT, secret_key=b"k")

    assert normalized.document["configuration"]["status"] == {}
    assert normalized.document["configuration"]["recording"] is True
    assert "configuration.status.lastStartTime" in normalized.ephemeral
    changed = datetime.datetime(2031, 1, 1, tzinfo=datetime.UTC)
    status = dict(item.configuration["status"], lastStatusChangeTime=changed)
    moved = dataclasses.replace(item, configuration=dict(item.configuration, status=status))
    assert normalize_item(moved, TECH, account_id=ACCOUNT, secret_key=b"k").content == normalized.content


def _stubbed_ctx(monkeypatch) -> tuple[SliceContext, Stubber]:
    ctx = make_ctx()
    client = boto3.client("config", region_name=REGION)
    stub = Stubber(client)
    monkeypatch.setattr(ctx, "client", lambda service, region=None: client)
    return ctx, stub


def test_recorder_deleted_between_the_calls_is_skipped_and_the_arn_aws_gives_is_used(monkeypatch):
    ctx, stub = _stubbed_ctx(monkeypatch)
    arn = f"arn:aws:config:{REGION}:{ACCOUNT}:configuration-recorder/default/abcd1234"
    stub.add_response(
        "describe_configuration_recorders",
        {"ConfigurationRecorders": [{"name": "default", "arn": arn}, {"name": "doomed"}]},
    )
    stub.add_response(
        "describe_configuration_recorder_status",
        {"ConfigurationRecordersStatus": [{"name": "default", "recording": True}]},
    )
    stub.add_response("describe_delivery_channels", {"DeliveryChannels": []})
    with stub:
        (item,) = config_watcher.list_recorders(ctx)
    assert (item.id, item.arn) == ("default", arn)


CALLS = (
    "describe_configuration_recorders",
    "describe_configuration_recorder_status",
    "describe_delivery_channels",
)


@pytest.mark.parametrize("failing", CALLS)
def test_any_failed_call_fails_the_whole_listing(monkeypatch, failing):
    ctx, stub = _stubbed_ctx(monkeypatch)
    calls = [
        ("describe_configuration_recorders", {"ConfigurationRecorders": [{"name": "default"}]}),
        ("describe_configuration_recorder_status", {"ConfigurationRecordersStatus": [{"name": "default"}]}),
        ("describe_delivery_channels", {"DeliveryChannels": []}),
    ]
    for method, response in calls:
        if method == failing:
            stub.add_client_error(method, service_error_code="AccessDeniedException", http_status_code=403)
            break
        stub.add_response(method, response)
    with stub, pytest.raises(ClientError, match="AccessDeniedException"):
        config_watcher.list_recorders(ctx)


def test_not_recording_rule_reads_the_watchers_output(aws):
    _recorder(aws, start=False)
    rules = RuleSet.load({}, base_dir=Path.cwd())
    audit = AuditContext.from_config(
        {}, account_id=ACCOUNT, account_name="prod", now=datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)
    )
    def findings() -> list[str]:
        # A context per read, as each sync has: within one, the region's calls are shared.
        (item,) = config_watcher.list_recorders(make_ctx())
        document = normalize_item(item, TECH, account_id=ACCOUNT, secret_key=b"k").document
        return [f.rule_id for f in rules.evaluate(document, None, audit)]

    assert findings() == ["config.recorder.not-recording"]
    aws.start_configuration_recorder(ConfigurationRecorderName="default")
    assert findings() == []
