"""Posture items added to existing watcher modules: config.status, cloudtrail.status and
ec2.account_settings, against moto and a botocore Stubber. Each always exists (one per region,
or one ``account`` item), so an absent setting is an ordinary issue."""

from __future__ import annotations

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
from gitmonkey.config import AccountConfig
from gitmonkey.read.aws import AccountSession, SliceContext
from gitmonkey.watchers import _ec2_account, get_technology
from gitmonkey.watchers import cloudtrail as cloudtrail_watcher
from gitmonkey.watchers import config as config_watcher
from tests.helpers import ACCOUNT_ID, normalized, slice_context

REGION = "us-east-1"
RULES = RuleSet.load({}, base_dir=Path.cwd())
AUDIT = AuditContext.from_config(
    {}, account_id=ACCOUNT_ID, account_name="prod", now=datetime(2030, 1, 1, tzinfo=UTC)
)
ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/config"


def findings(item) -> list[tuple[str, str]]:
    """The item's findings, but those of the CIS 4.x monitoring rules (tests/test_monitoring.py)."""
    return [(f.rule_id, f.details) for f in RULES.evaluate(normalized(item).document, None, AUDIT)
            if not f.rule_id.startswith("cloudtrail.status.no-alarm-")]


def _one(list_items, region: str) -> tuple[Any, SliceContext]:
    ctx = slice_context(region)
    (item,) = list_items(ctx)
    return item, ctx


def _stubbed(monkeypatch, service: str) -> tuple[SliceContext, Stubber, list[str | None]]:
    ctx = slice_context("global" if service == "cloudtrail" else REGION)
    client = boto3.client(service, region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    regions: list[str | None] = []

    def fake(name: str, region: str | None = None) -> Any:
        regions.append(region)
        return client

    monkeypatch.setattr(ctx, "client", fake)
    return ctx, Stubber(client), regions


@pytest.fixture
def aws():
    with mock_aws():
        yield


# --- config.status -------------------------------------------------------------------------------


def _recorder(region: str = REGION, *, start: bool = True, all_supported: bool = True) -> Any:
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=f"config-{region}")
    config = boto3.client("config", region_name=region)
    group: dict[str, Any] = {"allSupported": True, "includeGlobalResourceTypes": True}
    if not all_supported:
        group = {
            "allSupported": False,
            "includeGlobalResourceTypes": False,
            "resourceTypes": ["AWS::S3::Bucket"],
        }
    config.put_configuration_recorder(
        ConfigurationRecorder={"name": "default", "roleARN": ROLE, "recordingGroup": group}
    )
    config.put_delivery_channel(DeliveryChannel={"name": "main", "s3BucketName": f"config-{region}"})
    if start:
        config.start_configuration_recorder(ConfigurationRecorderName="default")
    return config


def test_config_region_without_recorder_is_an_item_that_fires(aws):
    item, ctx = _one(config_watcher.list_status, REGION)
    assert (item.technology, item.region, item.id, item.name, item.arn) == (
        "config.status",
        REGION,
        REGION,
        REGION,
        "",
    )
    assert item.configuration == {"Recorders": [], "DeliveryChannels": []}
    assert dict(ctx.calls) == {
        "config:DescribeConfigurationRecorders": 1,
        "config:DescribeDeliveryChannels": 1,
    }
    assert findings(item) == [
        (
            "config.status.not-recording",
            f"no configuration recorder records all supported resource types in {REGION}",
        )
    ]


def test_config_recording_recorder_passes_and_resync_is_identical(aws):
    _recorder()
    item, ctx = _one(config_watcher.list_status, REGION)
    assert item.configuration == {
        "Recorders": [
            {"name": "default", "recording": True, "allSupported": True, "includeGlobalResourceTypes": True}
        ],
        "DeliveryChannels": ["main"],
    }
    assert sum(ctx.calls.values()) == 3
    assert findings(item) == []
    again, _ = _one(config_watcher.list_status, REGION)
    assert normalized(again).content == normalized(item).content


def test_config_stopped_recorder_is_a_change_and_fires(aws):
    config = _recorder()
    before, _ = _one(config_watcher.list_status, REGION)
    config.stop_configuration_recorder(ConfigurationRecorderName="default")
    after, _ = _one(config_watcher.list_status, REGION)
    assert after.configuration["Recorders"][0]["recording"] is False
    assert normalized(after).content != normalized(before).content
    assert [rule for rule, _ in findings(after)] == ["config.status.not-recording"]


def test_config_recorder_of_listed_types_only_fires(aws):
    _recorder(all_supported=False)
    item, _ = _one(config_watcher.list_status, REGION)
    assert item.configuration["Recorders"][0]["allSupported"] is False
    assert [rule for rule, _ in findings(item)] == ["config.status.not-recording"]


def test_config_calls_are_shared_with_config_recorder_in_one_sync(aws):
    """Within one sync (one AccountSession), config.recorder and config.status of a region make
    each of the three calls once between them."""
    _recorder()
    session = AccountSession(AccountConfig(name="test", id=ACCOUNT_ID))
    recorder_ctx, status_ctx = SliceContext(session, REGION), SliceContext(session, REGION)
    (recorder,) = config_watcher.list_recorders(recorder_ctx)
    (status,) = config_watcher.list_status(status_ctx)
    assert (
        recorder.configuration["recording"] is True
        and status.configuration["Recorders"][0]["recording"] is True
    )
    assert recorder_ctx.calls + status_ctx.calls == {
        "config:DescribeConfigurationRecorders": 1,
        "config:DescribeConfigurationRecorderStatus": 1,
        "config:DescribeDeliveryChannels": 1,
    }
    other = SliceContext(session, "eu-west-1")
    assert config_watcher.list_status(other)[0].configuration == {"Recorders": [], "DeliveryChannels": []}


def test_config_recorder_gone_between_the_calls_is_left_out(monkeypatch):
    ctx, stub, _ = _stubbed(monkeypatch, "config")
    stub.add_response("describe_configuration_recorders", {"ConfigurationRecorders": [{"name": "doomed"}]})
    stub.add_response("describe_configuration_recorder_status", {"ConfigurationRecordersStatus": []})
    stub.add_response("describe_delivery_channels", {"DeliveryChannels": []})
    with stub:
        (item,) = config_watcher.list_status(ctx)
    assert item.configuration == {"Recorders": [], "DeliveryChannels": []}


@pytest.mark.parametrize(
    "operation",
    [
        "describe_configuration_recorders",
        "describe_configuration_recorder_status",
        "describe_delivery_channels",
    ],
)
def test_config_failures_raise(monkeypatch, operation):
    ctx, stub, _ = _stubbed(monkeypatch, "config")
    answers = {
        "describe_configuration_recorders": {"ConfigurationRecorders": [{"name": "default"}]},
        "describe_configuration_recorder_status": {"ConfigurationRecordersStatus": [{"name": "default"}]},
    }
    for name in ("describe_configuration_recorders", "describe_configuration_recorder_status"):
        if name == operation:
            break
        stub.add_response(name, answers[name])
    stub.add_client_error(operation, "AccessDeniedException", "denied", 400)
    with stub, pytest.raises(ClientError):
        config_watcher.list_status(ctx)


# --- cloudtrail.status ---------------------------------------------------------------------------


def _trail(name: str, region: str, *, multi: bool = True, start: bool = True, selectors: Any = "All") -> str:
    bucket = f"{name}-logs"
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=bucket)
    cloudtrail = boto3.client("cloudtrail", region_name=region)
    arn = cloudtrail.create_trail(Name=name, S3BucketName=bucket, IsMultiRegionTrail=multi)["TrailARN"]
    if selectors:
        cloudtrail.put_event_selectors(
            TrailName=name, EventSelectors=[{"ReadWriteType": selectors, "IncludeManagementEvents": True}]
        )
    if start:
        cloudtrail.start_logging(Name=name)
    return arn


def test_cloudtrail_account_without_trail_is_an_item_that_fires(aws):
    item, ctx = _one(cloudtrail_watcher.list_status, "global")
    assert (item.technology, item.region, item.id, item.name, item.arn) == (
        "cloudtrail.status",
        "global",
        "account",
        "account",
        "",
    )
    assert item.configuration == {"MultiRegionTrails": []}
    assert dict(ctx.calls) == {"cloudtrail:DescribeTrails": 1}
    assert findings(item) == [
        (
            "cloudtrail.status.no-multi-region-logging-trail",
            "no multi-region trail is logging read and write management events",
        )
    ]


def test_cloudtrail_multi_region_trail_homed_elsewhere_is_read_in_its_home_region(aws):
    arn = _trail("everywhere", "eu-west-1")
    _trail("local-only", "us-east-1", multi=False)
    item, ctx = _one(cloudtrail_watcher.list_status, "global")
    assert item.configuration == {
        "MultiRegionTrails": [
            {"TrailARN": arn, "IsLogging": True, "IncludeManagementEvents": True, "ReadWriteType": "All",
             "CloudWatchLogsLogGroupArn": None}
        ]
    }
    assert dict(ctx.calls) == {
        "cloudtrail:DescribeTrails": 1,
        "cloudtrail:GetTrailStatus": 1,
        "cloudtrail:GetEventSelectors": 1,
    }
    assert findings(item) == []
    again, _ = _one(cloudtrail_watcher.list_status, "global")
    assert normalized(again).content == normalized(item).content


def test_cloudtrail_stopped_trail_is_a_change_and_fires(aws):
    _trail("everywhere", "us-east-1")
    before, _ = _one(cloudtrail_watcher.list_status, "global")
    boto3.client("cloudtrail", region_name="us-east-1").stop_logging(Name="everywhere")
    after, _ = _one(cloudtrail_watcher.list_status, "global")
    assert after.configuration["MultiRegionTrails"][0]["IsLogging"] is False
    assert normalized(after).content != normalized(before).content
    assert [rule for rule, _ in findings(after)] == ["cloudtrail.status.no-multi-region-logging-trail"]


def test_cloudtrail_write_only_trail_fires(aws):
    _trail("writes", "us-east-1", selectors="WriteOnly")
    item, _ = _one(cloudtrail_watcher.list_status, "global")
    assert item.configuration["MultiRegionTrails"][0]["ReadWriteType"] == "WriteOnly"
    assert [rule for rule, _ in findings(item)] == ["cloudtrail.status.no-multi-region-logging-trail"]


def _field(name: str, **condition: list[str]) -> dict[str, Any]:
    return {"Field": name, **condition}


@pytest.mark.parametrize(
    ("selectors", "expected"),
    [
        ({}, (False, None)),
        ({"EventSelectors": [{"ReadWriteType": "All", "IncludeManagementEvents": False}]}, (False, None)),
        ({"EventSelectors": [{"ReadWriteType": "ReadOnly"}]}, (True, "ReadOnly")),
        (
            {
                "EventSelectors": [
                    {"ReadWriteType": "ReadOnly", "IncludeManagementEvents": True},
                    {"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True},
                ]
            },
            (True, "All"),
        ),
        (
            {
                "AdvancedEventSelectors": [
                    {"FieldSelectors": [_field("eventCategory", Equals=["Management"])]}
                ]
            },
            (True, "All"),
        ),
        (
            {
                "AdvancedEventSelectors": [
                    {
                        "FieldSelectors": [
                            _field("eventCategory", Equals=["Management"]),
                            _field("readOnly", Equals=["false"]),
                        ]
                    }
                ]
            },
            (True, "WriteOnly"),
        ),
        (
            {
                "AdvancedEventSelectors": [
                    {
                        "FieldSelectors": [
                            _field("eventCategory", Equals=["Data"]),
                            _field("resources.type", Equals=["AWS::S3::Object"]),
                        ]
                    }
                ]
            },
            (False, None),
        ),
    ],
)
def test_cloudtrail_management_events(selectors, expected):
    assert cloudtrail_watcher._management_events(selectors) == expected


def test_cloudtrail_trail_gone_between_the_calls_is_left_out(monkeypatch):
    ctx, stub, regions = _stubbed(monkeypatch, "cloudtrail")
    arn = f"arn:aws:cloudtrail:eu-west-1:{ACCOUNT_ID}:trail/doomed"
    stub.add_response(
        "describe_trails",
        {
            "trailList": [
                {"Name": "doomed", "TrailARN": arn, "HomeRegion": "eu-west-1", "IsMultiRegionTrail": True}
            ]
        },
    )
    stub.add_client_error("get_trail_status", "TrailNotFoundException", "Unknown trail", 400)
    with stub:
        (item,) = cloudtrail_watcher.list_status(ctx)
    assert item.configuration == {"MultiRegionTrails": []}
    assert regions == [None, "eu-west-1"]


@pytest.mark.parametrize("operation", ["describe_trails", "get_trail_status", "get_event_selectors"])
def test_cloudtrail_failures_raise(monkeypatch, operation):
    ctx, stub, _ = _stubbed(monkeypatch, "cloudtrail")
    arn = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT_ID}:trail/main"
    answers = {
        "describe_trails": {
            "trailList": [
                {"Name": "main", "TrailARN": arn, "HomeRegion": "us-east-1", "IsMultiRegionTrail": True}
            ]
        },
        "get_trail_status": {"IsLogging": True},
    }
    for name in ("describe_trails", "get_trail_status"):
        if name == operation:
            break
        stub.add_response(name, answers[name])
    stub.add_client_error(operation, "AccessDeniedException", "denied", 400)
    with stub, pytest.raises(ClientError):
        cloudtrail_watcher.list_status(ctx)


# --- ec2.account_settings ------------------------------------------------------------------------


def test_ec2_account_settings_default_off_fires_and_enabling_is_a_change(aws):
    item, ctx = _one(_ec2_account.list_account_settings, REGION)
    assert (item.technology, item.region, item.id, item.name, item.arn) == (
        "ec2.account_settings",
        REGION,
        REGION,
        REGION,
        "",
    )
    # The other settings (which moto lacks) are tested in tests/test_watchers_ec2_account.py.
    assert item.configuration["EbsEncryptionByDefault"] is False
    assert ctx.calls["ec2:GetEbsEncryptionByDefault"] == 1
    assert findings(item) == [
        (
            "ec2.account_settings.ebs-encryption-by-default-off",
            f"EBS encryption by default is off in {REGION}",
        )
    ]
    boto3.client("ec2", region_name=REGION).enable_ebs_encryption_by_default()
    after, _ = _one(_ec2_account.list_account_settings, REGION)
    assert after.configuration["EbsEncryptionByDefault"] is True
    assert normalized(after).content != normalized(item).content
    assert findings(after) == []
    again, _ = _one(_ec2_account.list_account_settings, REGION)
    assert normalized(again).content == normalized(after).content
    other, _ = _one(_ec2_account.list_account_settings, "eu-west-1")
    assert other.configuration["EbsEncryptionByDefault"] is False


def test_ec2_account_settings_failure_raises(monkeypatch):
    ctx, stub, _ = _stubbed(monkeypatch, "ec2")
    stub.add_client_error("get_ebs_encryption_by_default", "UnauthorizedOperation", "denied", 403)
    with stub, pytest.raises(ClientError):
        _ec2_account.list_account_settings(ctx)


def test_technology_declarations():
    assert get_technology("config.status").iam_actions == (
        "config:DescribeConfigurationRecorders",
        "config:DescribeConfigurationRecorderStatus",
        "config:DescribeDeliveryChannels",
    )
    assert get_technology("cloudtrail.status").is_global is True
    assert get_technology("cloudtrail.status").iam_actions == (
        "cloudtrail:DescribeTrails",
        "cloudtrail:GetTrailStatus",
        "cloudtrail:GetEventSelectors",
    )
    assert "ec2:GetEbsEncryptionByDefault" in get_technology("ec2.account_settings").iam_actions


# --- the garbled-answer test's seeding -----------------------------------------------------------


def _seed_config_status(client: Callable[..., Any]) -> None:
    client("s3").create_bucket(Bucket="seed-config-status")
    config = client("config")
    config.put_configuration_recorder(ConfigurationRecorder={"name": "default", "roleARN": ROLE})
    config.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": "seed-config-status"})


def _seed_cloudtrail_status(client: Callable[..., Any]) -> None:
    client("s3").create_bucket(Bucket="seed-trail-status")
    client("cloudtrail").create_trail(
        Name="seed-status", S3BucketName="seed-trail-status", IsMultiRegionTrail=True
    )


def _seed_ec2_account_settings(client: Callable[..., Any]) -> None:
    client("ec2").enable_ebs_encryption_by_default()


GARBLE_SEEDS: dict[str, Callable[[Callable[..., Any]], None]] = {
    "config.status": _seed_config_status,
    "cloudtrail.status": _seed_cloudtrail_status,
    "ec2.account_settings": _seed_ec2_account_settings,
}


def test_garble_seeds_make_items(aws):
    def client(service: str, region_name: str = REGION) -> Any:
        return boto3.client(service, region_name=region_name)

    for seed in GARBLE_SEEDS.values():
        seed(client)
    assert _one(config_watcher.list_status, REGION)[0].configuration["Recorders"][0]["name"] == "default"
    assert len(_one(cloudtrail_watcher.list_status, "global")[0].configuration["MultiRegionTrails"]) == 1
    assert _one(_ec2_account.list_account_settings, REGION)[0].configuration["EbsEncryptionByDefault"] is True
