"""CloudWatch Logs metric filters, CloudWatch alarms, and the CIS 4.x monitoring rules over them.

Watchers on moto in process; the rules end to end with ``run_sync`` against moto: a multi-region
trail delivering to a log group, a metric filter, an alarm and an SNS topic with a subscriber.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from moto import mock_aws

from gitmonkey.audit import issues as iss
from gitmonkey.audit.monitoring_rules import CONTROLS, catches
from gitmonkey.normalize.paths import item_path
from gitmonkey.sync import run_sync
from gitmonkey.watchers import all_technologies
from tests.helpers import ACCOUNT_ID, git, make_config, normalized, slice_context

REGION = "us-east-1"
GROUP = "cloudtrail-logs"
SG_PATTERN = ('{ ($.eventName = AuthorizeSecurityGroupIngress) || '
              '($.eventName = AuthorizeSecurityGroupEgress) || ($.eventName = RevokeSecurityGroupIngress) || '
              '($.eventName = RevokeSecurityGroupEgress) || ($.eventName = CreateSecurityGroup) || '
              '($.eventName = DeleteSecurityGroup) }')


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def put_filter(logs: Any, name: str = "sg-changes", pattern: str = SG_PATTERN) -> None:
    logs.put_metric_filter(logGroupName=GROUP, filterName=name, filterPattern=pattern,
                           metricTransformations=[{"metricName": "SecurityGroupChanges",
                                                   "metricNamespace": "CISBenchmark", "metricValue": "1"}])


def put_alarm(cloudwatch: Any, topic_arn: str, name: str = "sg-changes") -> None:
    cloudwatch.put_metric_alarm(AlarmName=name, MetricName="SecurityGroupChanges", Namespace="CISBenchmark",
                                Statistic="Sum", Period=300, EvaluationPeriods=1, Threshold=1,
                                ComparisonOperator="GreaterThanOrEqualToThreshold", AlarmActions=[topic_arn])


def test_metric_filters_are_recorded_by_log_group_and_name(aws: None) -> None:
    logs = boto3.client("logs", region_name=REGION)
    logs.create_log_group(logGroupName=GROUP)
    put_filter(logs)
    technology = all_technologies()["logs.metric_filter"]
    [item] = technology.list_items(slice_context(REGION))
    assert item.id == f"{GROUP}:sg-changes" and item.name == "sg-changes"
    assert item.arn == f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:{GROUP}:metric-filter:sg-changes"
    assert item.configuration["filterPattern"] == SG_PATTERN
    assert item.configuration["metricTransformations"][0]["metricName"] == "SecurityGroupChanges"
    first = normalized(item)
    [again] = technology.list_items(slice_context(REGION))
    assert normalized(again) == first


def test_alarm_state_is_ephemeral(aws: None) -> None:
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    put_alarm(cloudwatch, f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:security")
    technology = all_technologies()["cloudwatch.alarm"]
    [item] = technology.list_items(slice_context(REGION))
    assert item.configuration["AlarmActions"] == [f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:security"]
    assert item.configuration["MetricName"] == "SecurityGroupChanges"
    before = normalized(item)
    cloudwatch.set_alarm_state(AlarmName="sg-changes", StateValue="ALARM", StateReason="test")
    [fired] = technology.list_items(slice_context(REGION))
    assert fired.configuration["StateValue"] == "ALARM"
    assert normalized(fired).content == before.content


@pytest.mark.parametrize(("pattern", "expected"), [
    (SG_PATTERN, True),
    (SG_PATTERN.replace("DeleteSecurityGroup", "DeleteSecurityGroupX"), False),
    ('{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") }', False),
])
def test_a_pattern_catches_a_control_only_with_every_term(pattern: str, expected: bool) -> None:
    [control] = [c for c in CONTROLS if c.control == "4.10"]
    assert catches(pattern, control.terms) is expected


def test_the_cis_patterns_catch_their_controls() -> None:
    unauthorized = '{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") }'
    root = ('{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS '
            '&& $.eventType != "AwsServiceEvent" }')
    no_mfa = '{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") }'
    by_id = {c.control: c for c in CONTROLS}
    assert catches(unauthorized, by_id["4.1"].terms)
    assert catches(root, by_id["4.3"].terms)
    assert catches(no_mfa, by_id["4.2"].terms)
    assert not catches(no_mfa, by_id["4.6"].terms)


class Account:
    def __init__(self, tmp_path: Path) -> None:
        self.config = make_config(tmp_path, audit={"overrides": [
            {"rule": "*", "disabled": True}, {"rule": "cloudtrail.status.no-alarm-*", "disabled": False}]},
            accounts=[{"name": "prod", "id": ACCOUNT_ID, "regions": [REGION]}])
        self.path = self.config.repo_path(self.config.accounts[0])

    def sync(self) -> None:
        report = run_sync(self.config, technologies=["cloudtrail.trail", "cloudtrail.status",
                                                     "logs.metric_filter", "cloudwatch.alarm", "sns.topic"])
        assert report.exit_code == 0, report.to_dict()

    def keys(self) -> set[str]:
        path = self.path / iss.issue_path_for(item_path("global", "cloudtrail.status", "account"))
        return {i["key"] for i in yaml.safe_load(path.read_text())["issues"]} if path.exists() else set()


def monitored_account(tmp_path: Path) -> tuple[Account, Callable[[], None]]:
    """A trail to CloudWatch Logs with a security-group filter, alarm and subscribed topic; returns
    the account and a function that deletes the alarm."""
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="trail-bucket")
    logs = boto3.client("logs", region_name=REGION)
    logs.create_log_group(logGroupName=GROUP)
    group_arn = logs.describe_log_groups()["logGroups"][0]["arn"]
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName="trail-to-logs", AssumeRolePolicyDocument=json.dumps({"Statement": []}))
    cloudtrail = boto3.client("cloudtrail", region_name=REGION)
    cloudtrail.create_trail(Name="main", S3BucketName="trail-bucket", IsMultiRegionTrail=True,
                            CloudWatchLogsLogGroupArn=group_arn, CloudWatchLogsRoleArn=role["Role"]["Arn"])
    cloudtrail.start_logging(Name="main")
    # AWS gives a new trail a selector for all management events; moto gives it none.
    cloudtrail.put_event_selectors(TrailName="main", EventSelectors=[
        {"ReadWriteType": "All", "IncludeManagementEvents": True}])
    sns = boto3.client("sns", region_name=REGION)
    topic = sns.create_topic(Name="security")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="security@example.com")
    put_filter(logs)
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    put_alarm(cloudwatch, topic)
    return Account(tmp_path), lambda: cloudwatch.delete_alarms(AlarmNames=["sg-changes"])


def test_only_the_monitored_control_passes_and_a_deleted_alarm_reopens_it(tmp_path: Path, aws: None) -> None:
    account, delete_alarm = monitored_account(tmp_path)
    account.sync()
    everything = {c.slug for c in CONTROLS}
    assert account.keys() == everything - {"security-group-changes"}

    delete_alarm()
    account.sync()
    assert account.keys() == everything
    assert git(account.path, "log", "-1", "--format=%s").strip() == "audit: 1 new, 0 fixed"


def test_without_a_trail_every_control_fires(tmp_path: Path, aws: None) -> None:
    account = Account(tmp_path)
    account.sync()
    assert account.keys() == {c.slug for c in CONTROLS}
