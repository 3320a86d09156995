"""CloudTrail trail watcher against moto (and a botocore Stubber where moto cannot say it): fields,
home-region recording, ephemeral status, races, failures, call counts and the audit rules."""

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
from gitmonkey.watchers import cloudtrail
from tests.helpers import slice_context

ACCOUNT = "123456789012"
REGION = "us-east-1"
BUCKET = "org-trail-logs"
ARN = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail"


def make_ctx(region: str = REGION) -> SliceContext:
    return slice_context(region)


@pytest.fixture
def aws():
    with mock_aws():
        boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
        yield boto3.client("cloudtrail", region_name=REGION)


def _main_trail(client) -> None:
    client.create_trail(
        Name="main",
        S3BucketName=BUCKET,
        S3KeyPrefix="ct",
        IsMultiRegionTrail=True,
        EnableLogFileValidation=True,
        IncludeGlobalServiceEvents=True,
        TagsList=[{"Key": "owner", "Value": "security"}],
    )
    client.start_logging(Name="main")
    client.put_event_selectors(
        TrailName="main",
        EventSelectors=[
            {
                "ReadWriteType": "WriteOnly",
                "IncludeManagementEvents": True,
                "DataResources": [{"Type": "AWS::S3::Object", "Values": [f"arn:aws:s3:::{BUCKET}/"]}],
            }
        ],
    )


def test_configured_trail_has_every_part(aws):
    _main_trail(aws)

    (item,) = cloudtrail.list_trails(make_ctx())

    assert (item.technology, item.region, item.id, item.name, item.arn) == (
        "cloudtrail.trail",
        REGION,
        "main",
        "main",
        f"{ARN}/main",
    )
    config = item.configuration
    assert set(config) == {
        *cloudtrail._TRAIL_FIELDS,
        "TrailStatus",
        "EventSelectors",
        "AdvancedEventSelectors",
        "InsightSelectors",
        "Tags",
    }
    assert {k: config[k] for k in ("S3BucketName", "S3KeyPrefix", "HomeRegion")} == {
        "S3BucketName": BUCKET,
        "S3KeyPrefix": "ct",
        "HomeRegion": REGION,
    }
    assert config["IsMultiRegionTrail"] is config["LogFileValidationEnabled"] is True
    assert config["TrailStatus"]["IsLogging"] is True
    assert isinstance(config["TrailStatus"]["StartLoggingTime"], datetime.datetime)
    assert config["EventSelectors"] == [
        {
            "ReadWriteType": "WriteOnly",
            "IncludeManagementEvents": True,
            "DataResources": [{"Type": "AWS::S3::Object", "Values": [f"arn:aws:s3:::{BUCKET}/"]}],
        }
    ]
    assert config["AdvancedEventSelectors"] == []
    assert config["InsightSelectors"] is None  # HasInsightSelectors is false: not read
    assert config["Tags"] == {"owner": "security"}


def test_bare_trail_absent_parts_and_not_logging(aws):
    aws.create_trail(Name="quiet", S3BucketName=BUCKET)

    (item,) = cloudtrail.list_trails(make_ctx())

    config = item.configuration
    assert config["TrailStatus"]["IsLogging"] is False
    assert config["IsMultiRegionTrail"] is config["LogFileValidationEnabled"] is False
    assert config["KmsKeyId"] is config["SnsTopicName"] is config["CloudWatchLogsLogGroupArn"] is None
    assert config["Tags"] == {}


def test_multi_region_trail_is_recorded_once_in_its_home_region(aws):
    _main_trail(aws)
    aws.create_trail(Name="local", S3BucketName=BUCKET)
    boto3.client("s3", region_name="eu-west-1").create_bucket(
        Bucket="eu-trail-logs", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    eu = boto3.client("cloudtrail", region_name="eu-west-1")
    eu.create_trail(Name="eu-only", S3BucketName="eu-trail-logs")

    assert sorted(i.id for i in cloudtrail.list_trails(make_ctx())) == ["local", "main"]
    assert [i.id for i in cloudtrail.list_trails(make_ctx("eu-west-1"))] == ["eu-only"]
    assert cloudtrail.list_trails(make_ctx("ap-south-1")) == []


def test_api_calls_per_trail(aws):
    _main_trail(aws)
    aws.create_trail(Name="local", S3BucketName=BUCKET)
    ctx = make_ctx()

    cloudtrail.list_trails(ctx)

    assert dict(ctx.calls) == {
        "cloudtrail:DescribeTrails": 1,
        "cloudtrail:GetTrailStatus": 2,
        "cloudtrail:GetEventSelectors": 2,
        "cloudtrail:ListTags": 1,
    }


def test_delivery_times_are_ephemeral_and_logging_is_not(aws):
    _main_trail(aws)
    tech = cloudtrail.TECHNOLOGIES[0]
    (item,) = cloudtrail.list_trails(make_ctx())

    normalized = normalize_item(item, tech, account_id=ACCOUNT, secret_key=b"k")

    status = normalized.document["configuration"]["TrailStatus"]
    assert set(status) == {"IsLogging", "StartLoggingTime", "StopLoggingTime"}
    assert "configuration.TrailStatus.LatestDeliveryTime" in normalized.ephemeral
    delivered = datetime.datetime(2031, 1, 1, tzinfo=datetime.UTC)
    status = dict(item.configuration["TrailStatus"], LatestDeliveryTime=delivered)
    later = dict(item.configuration, TrailStatus=status)
    moved = normalize_item(
        dataclasses.replace(item, configuration=later),
        tech,
        account_id=ACCOUNT,
        secret_key=b"k",
    )
    assert moved.content == normalized.content


def test_trail_deleted_between_describe_and_status_is_skipped(aws, monkeypatch):
    aws.create_trail(Name="keeper", S3BucketName=BUCKET)
    aws.create_trail(Name="doomed", S3BucketName=BUCKET)
    ctx = make_ctx()
    make_client = ctx.client

    def client_that_races_a_deletion(service, region=None):
        client = make_client(service, region)
        client.meta.events.register(
            "after-call.cloudtrail.DescribeTrails", lambda **_: aws.delete_trail(Name="doomed")
        )
        return client

    monkeypatch.setattr(ctx, "client", client_that_races_a_deletion)

    assert [item.id for item in cloudtrail.list_trails(ctx)] == ["keeper"]


TRAIL = {"Name": "stubbed", "TrailARN": f"{ARN}/stubbed", "HomeRegion": REGION, "S3BucketName": BUCKET}


def _stubbed_ctx(monkeypatch) -> tuple[SliceContext, Stubber]:
    ctx = make_ctx()
    client = boto3.client("cloudtrail", region_name=REGION)
    stub = Stubber(client)
    monkeypatch.setattr(ctx, "client", lambda service, region=None: client)
    return ctx, stub


def _stub_described(stub: Stubber, *trails: dict) -> None:
    stub.add_response("describe_trails", {"trailList": list(trails)}, {"includeShadowTrails": True})
    for trail in trails:
        stub.add_response("get_trail_status", {"IsLogging": True}, {"Name": trail["TrailARN"]})
        stub.add_response("get_event_selectors", {}, {"TrailName": trail["TrailARN"]})


def test_trail_deleted_before_its_tags_are_read_is_skipped(monkeypatch):
    """ListTags fails for a whole batch when one trail of it is gone; the batch is re-read per trail."""
    ctx, stub = _stubbed_ctx(monkeypatch)
    other = dict(TRAIL, Name="other", TrailARN=f"{ARN}/other")
    _stub_described(stub, TRAIL, other)
    stub.add_client_error("list_tags", service_error_code="ResourceNotFoundException", http_status_code=404)
    stub.add_response(
        "list_tags",
        {"ResourceTagList": [{"ResourceId": TRAIL["TrailARN"], "TagsList": [{"Key": "k", "Value": "v"}]}]},
        {"ResourceIdList": [TRAIL["TrailARN"]]},
    )
    stub.add_client_error("list_tags", service_error_code="ResourceNotFoundException", http_status_code=404)
    with stub:
        items = cloudtrail.list_trails(ctx)
    stub.assert_no_pending_responses()
    assert [(i.id, i.configuration["Tags"]) for i in items] == [("stubbed", {"k": "v"})]


def test_insight_selectors_are_read_when_the_trail_has_some(monkeypatch):
    ctx, stub = _stubbed_ctx(monkeypatch)
    trail = dict(TRAIL, HasInsightSelectors=True)
    stub.add_response("describe_trails", {"trailList": [trail]})
    stub.add_response("get_trail_status", {"IsLogging": True})
    advanced = [{"Name": "mgmt", "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]}]
    stub.add_response("get_event_selectors", {"AdvancedEventSelectors": advanced})
    stub.add_response("get_insight_selectors", {"InsightSelectors": [{"InsightType": "ApiCallRateInsight"}]})
    stub.add_response("list_tags", {"ResourceTagList": []})
    with stub:
        (item,) = cloudtrail.list_trails(ctx)
    assert item.configuration["InsightSelectors"] == [{"InsightType": "ApiCallRateInsight"}]
    assert item.configuration["AdvancedEventSelectors"] == advanced


def test_organization_trail_of_another_account_is_recorded_without_tags(monkeypatch):
    ctx, stub = _stubbed_ctx(monkeypatch)
    org_arn = "arn:aws:cloudtrail:us-east-1:999999999999:trail/org"
    org = dict(TRAIL, TrailARN=org_arn, IsOrganizationTrail=True)
    _stub_described(stub, org)
    with stub:
        (item,) = cloudtrail.list_trails(ctx)
    stub.assert_no_pending_responses()
    assert item.configuration["Tags"] is None


@pytest.mark.parametrize(
    "failing", ["describe_trails", "get_trail_status", "get_event_selectors", "list_tags"]
)
def test_any_failed_call_fails_the_whole_listing(monkeypatch, failing):
    ctx, stub = _stubbed_ctx(monkeypatch)
    calls = [
        ("describe_trails", {"trailList": [TRAIL]}),
        ("get_trail_status", {"IsLogging": True}),
        ("get_event_selectors", {}),
        ("list_tags", {"ResourceTagList": []}),
    ]
    for method, response in calls:
        if method == failing:
            stub.add_client_error(method, service_error_code="AccessDeniedException", http_status_code=403)
            break
        stub.add_response(method, response)
    with stub, pytest.raises(ClientError, match="AccessDeniedException"):
        cloudtrail.list_trails(ctx)


RULES = RuleSet.load({}, base_dir=Path.cwd())
AUDIT = AuditContext.from_config(
    {}, account_id=ACCOUNT, account_name="prod", now=datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)
)


def _rule_ids(item) -> set[str]:
    document = normalize_item(item, cloudtrail.TECHNOLOGIES[0], account_id=ACCOUNT, secret_key=b"k").document
    return {f.rule_id for f in RULES.evaluate(document, None, AUDIT)}


def test_rules_read_the_watchers_output(aws):
    _main_trail(aws)
    aws.create_trail(Name="quiet", S3BucketName=BUCKET)

    found = {item.id: _rule_ids(item) for item in cloudtrail.list_trails(make_ctx())}

    # Neither trail encrypts with KMS nor delivers to CloudWatch Logs (CIS 3.5, CloudTrail.5).
    unmonitored = {"cloudtrail.trail.not-encrypted-with-kms", "cloudtrail.trail.no-cloudwatch-logs"}
    assert found == {
        "main": unmonitored,
        "quiet": {
            "cloudtrail.trail.not-logging",
            "cloudtrail.trail.not-multi-region",
            "cloudtrail.trail.log-file-validation-disabled",
            *unmonitored,
        },
    }
