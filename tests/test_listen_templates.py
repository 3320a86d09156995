"""The CloudFormation set-up of ``gitmonkey listen``: cfn-lint clean, the pattern, the policies, the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from click.testing import CliRunner
from moto import mock_aws

from gitmonkey.cli.events_cmd import events_group
from gitmonkey.listen.event_map import load_event_map
from gitmonkey.listen.templates import (
    CENTRAL_FILE,
    FORWARDER_FILE,
    central_template,
    dump,
    event_pattern,
    eventbridge_source,
    forwarder_template,
    write_templates,
)

BUS_ARN = "arn:aws:events:eu-west-1:111122223333:event-bus/gitmonkey"
ORG = "o-a1b2c3d4e5"

cfnlint_api = pytest.importorskip("cfnlint.api")


def _lint(template: dict[str, Any]) -> list[str]:
    """cfn-lint's errors and warnings (its default: informational findings are not reported)."""
    text = dump(template)
    config = cfnlint_api.ManualArgs(regions=["us-east-1", "eu-west-1"])
    return [f"{m.rule.id} {m.message} (line {m.linenumber})" for m in cfnlint_api.lint(text, config=config)]


@pytest.mark.parametrize(
    "template",
    [
        pytest.param(lambda: central_template(), id="central-this-account"),
        pytest.param(lambda: central_template(organization_id=ORG), id="central-organization"),
        pytest.param(
            lambda: central_template(account_ids=["111122223333", "444455556666"]), id="central-accounts"
        ),
        pytest.param(lambda: forwarder_template(), id="forwarder-parameter"),
        pytest.param(lambda: forwarder_template(central_bus_arn=BUS_ARN), id="forwarder-default"),
    ],
)
def test_templates_pass_cfn_lint_without_errors_or_warnings(template: Any) -> None:
    assert _lint(template()) == []


def test_the_stateful_resources_state_their_deletion_policy() -> None:
    # cfn-lint's informational I3011 asks for it: the queues hold transient copies only, Delete.
    resources = central_template()["Resources"]
    for name in ("Queue", "DeadLetterQueue"):
        assert resources[name]["DeletionPolicy"] == resources[name]["UpdateReplacePolicy"] == "Delete"


def test_the_yaml_has_no_aliases_and_round_trips(tmp_path: Path) -> None:
    # The bus ARN is used twice in the bus policy: PyYAML would write an alias CloudFormation rejects.
    for path in write_templates(tmp_path, organization_id=ORG):
        text = path.read_text()
        assert "&id" not in text and "*id" not in text
    assert yaml.safe_load((tmp_path / CENTRAL_FILE).read_text()) == central_template(organization_id=ORG)


def test_the_queues() -> None:
    template = central_template(
        queue_name="q", retention_seconds=3600, max_receive_count=7, visibility_timeout=90
    )
    queue = template["Resources"]["Queue"]["Properties"]
    dlq = template["Resources"]["DeadLetterQueue"]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True and dlq["SqsManagedSseEnabled"] is True
    assert queue["ReceiveMessageWaitTimeSeconds"] == 20
    assert (queue["QueueName"], queue["MessageRetentionPeriod"], queue["VisibilityTimeout"]) == (
        "q",
        3600,
        90,
    )
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]},
        "maxReceiveCount": 7,
    }
    assert dlq["QueueName"] == "q-dlq" and dlq["MessageRetentionPeriod"] == 1209600
    assert dlq["RedriveAllowPolicy"]["redrivePermission"] == "byQueue"
    assert set(template["Outputs"]) == {"QueueUrl", "QueueArn", "DeadLetterQueueUrl", "EventBusArn"}


def test_the_queue_policy_allows_only_the_rule() -> None:
    template = central_template()
    policy = template["Resources"]["QueuePolicy"]["Properties"]
    assert policy["Queues"] == [{"Ref": "Queue"}]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement == {
        "Sid": "EventBridgeRuleSendMessage",
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": {"Fn::GetAtt": ["Queue", "Arn"]},
        "Condition": {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["EventsToQueueRule", "Arn"]}}},
    }
    rule = template["Resources"]["EventsToQueueRule"]["Properties"]
    assert rule["EventBusName"] == {"Ref": "EventBus"}
    assert rule["Targets"] == [{"Id": "gitmonkey-queue", "Arn": {"Fn::GetAtt": ["Queue", "Arn"]}}]


def _bus_statements(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    bus = template["Resources"]["EventBus"]["Properties"]
    assert bus["Name"] == "gitmonkey"
    return {s["Sid"]: s for s in bus["Policy"]["Statement"]}


def test_the_bus_policy_of_an_organization_uses_principal_org_id() -> None:
    statements = _bus_statements(central_template(organization_id=ORG))
    assert set(statements) == {"ThisAccountPutEvents", "OrganizationPutEvents"}
    org = statements["OrganizationPutEvents"]
    assert org["Principal"] == "*" and org["Action"] == "events:PutEvents"
    assert org["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": ORG}}
    assert org["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/gitmonkey"
    }


def test_the_bus_policy_of_listed_accounts_names_them_and_this_account() -> None:
    statements = _bus_statements(
        central_template(account_ids=["444455556666", "111122223333", "111122223333"])
    )
    assert statements["ThisAccountPutEvents"]["Principal"] == {
        "AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}
    }
    assert statements["WatchedAccountsPutEvents"]["Principal"] == {
        "AWS": [
            {"Fn::Sub": "arn:${AWS::Partition}:iam::111122223333:root"},
            {"Fn::Sub": "arn:${AWS::Partition}:iam::444455556666:root"},
        ]
    }
    assert "Condition" not in statements["WatchedAccountsPutEvents"]
    assert set(_bus_statements(central_template())) == {"ThisAccountPutEvents"}


@pytest.mark.parametrize(
    "kwargs",
    [{"organization_id": "o-short"}, {"organization_id": "O-A1B2C3D4E5"}, {"account_ids": ["12345"]}],
)
def test_bad_ids_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        central_template(**kwargs)


def test_the_pattern_covers_every_mapped_event_source() -> None:
    sources = {source for source, _ in load_event_map().rules}
    pattern = event_pattern()
    assert set(pattern["detail"]["eventSource"]) == sources
    assert set(pattern["source"]) == {eventbridge_source(s) for s in sources}
    assert pattern["detail-type"] == ["AWS API Call via CloudTrail"]
    assert pattern["detail"]["errorCode"] == [{"exists": False}]
    # EventBridge's names of the CloudTrail events of services named otherwise elsewhere.
    assert eventbridge_source("monitoring.amazonaws.com") == "aws.monitoring"
    assert eventbridge_source("elasticloadbalancing.amazonaws.com") == "aws.elasticloadbalancing"
    assert eventbridge_source("access-analyzer.amazonaws.com") == "aws.access-analyzer"
    assert len(json.dumps(pattern)) < 2048  # well within EventBridge's limit on a pattern


def test_both_rules_exclude_read_only_events_and_share_the_pattern() -> None:
    central_rule = central_template()["Resources"]["EventsToQueueRule"]["Properties"]
    forward_rule = forwarder_template()["Resources"]["ForwardRule"]["Properties"]
    # ENABLED, not ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS: EventBridge drops read-only calls.
    assert central_rule["State"] == forward_rule["State"] == "ENABLED"
    assert central_rule["EventPattern"] == forward_rule["EventPattern"] == event_pattern()
    assert "EventBusName" not in forward_rule  # the default bus, where AWS delivers CloudTrail events


def _cloudtrail_event(source: str, name: str, **extra: Any) -> dict[str, Any]:
    detail = {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser",
            "arn": "arn:aws:iam::111122223333:user/alice",
            "userName": "alice",
        },
        "eventTime": "2026-01-02T03:04:05Z",
        "eventSource": source,
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.7",
        "userAgent": "aws-cli/2",
        "requestParameters": {"groupId": "sg-0123456789abcdef0"},
        "responseElements": {"_return": True},
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "eventCategory": "Management",
        **extra,
    }
    return {
        "Source": eventbridge_source(source),
        "DetailType": "AWS API Call via CloudTrail",
        "Detail": json.dumps(detail),
    }


@mock_aws
def test_the_pattern_routes_watched_successful_calls_to_the_queue() -> None:
    """Through moto's EventBridge (which implements exists/prefix/anything-but) into SQS."""
    events = boto3.client("events", region_name="us-east-1")
    sqs = boto3.client("sqs", region_name="us-east-1")
    queue_url = sqs.create_queue(QueueName="q")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.create_event_bus(Name="gitmonkey")
    rule = central_template()["Resources"]["EventsToQueueRule"]["Properties"]
    events.put_rule(
        Name="r", EventBusName="gitmonkey", EventPattern=json.dumps(rule["EventPattern"]), State="ENABLED"
    )
    events.put_targets(Rule="r", EventBusName="gitmonkey", Targets=[{"Id": "q", "Arn": queue_arn}])

    sent = {
        "ec2-ok": _cloudtrail_event("ec2.amazonaws.com", "AuthorizeSecurityGroupIngress"),
        "iam-ok": _cloudtrail_event("iam.amazonaws.com", "CreateRole"),
        "monitoring-ok": _cloudtrail_event("monitoring.amazonaws.com", "PutMetricAlarm"),
        "failed": _cloudtrail_event(
            "ec2.amazonaws.com", "AuthorizeSecurityGroupIngress", errorCode="Client.UnauthorizedOperation"
        ),
        "unwatched": _cloudtrail_event("dynamodb.amazonaws.com", "CreateTable"),
        "console-signin": {
            **_cloudtrail_event("signin.amazonaws.com", "ConsoleLogin"),
            "DetailType": "AWS Console Sign In via CloudTrail",
        },
        "wrong-detail-type": {
            **_cloudtrail_event("ec2.amazonaws.com", "RunInstances"),
            "DetailType": "EC2 Instance State-change Notification",
        },
        # A source that claims ec2 while its record names another service does not pass either.
        "mismatched": {**_cloudtrail_event("dynamodb.amazonaws.com", "CreateTable"), "Source": "aws.ec2"},
    }
    for key, entry in sent.items():
        detail = json.loads(entry["Detail"])
        detail["key"] = key
        result = events.put_events(
            Entries=[{**entry, "Detail": json.dumps(detail), "EventBusName": "gitmonkey"}]
        )
        assert result["FailedEntryCount"] == 0

    received = []
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            break
        for message in messages:
            body = json.loads(message["Body"])
            received.append(body["detail"]["key"])
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    assert sorted(received) == ["ec2-ok", "iam-ok", "monitoring-ok"]


def test_the_forwarder() -> None:
    template = forwarder_template()
    parameter = template["Parameters"]["CentralEventBusArn"]
    assert "Default" not in parameter
    assert (
        forwarder_template(central_bus_arn=BUS_ARN)["Parameters"]["CentralEventBusArn"]["Default"] == BUS_ARN
    )
    with pytest.raises(ValueError):
        forwarder_template(central_bus_arn="arn:aws:sqs:us-east-1:111122223333:q")
    assert "us-east-1" in template["Description"] and "global services" in template["Description"]
    role = template["Resources"]["ForwarderRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"} and trust["Action"] == "sts:AssumeRole"
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    (policy,) = role["Policies"]
    assert policy["PolicyDocument"]["Statement"] == [
        {"Effect": "Allow", "Action": "events:PutEvents", "Resource": {"Ref": "CentralEventBusArn"}}
    ]
    assert "ManagedPolicyArns" not in role
    rule = template["Resources"]["ForwardRule"]["Properties"]
    assert rule["Targets"] == [
        {
            "Id": "gitmonkey-central-bus",
            "Arn": {"Ref": "CentralEventBusArn"},
            "RoleArn": {"Fn::GetAtt": ["ForwarderRole", "Arn"]},
        }
    ]


def test_the_cli_writes_both_templates(tmp_path: Path) -> None:
    out = tmp_path / "cfn"
    result = CliRunner().invoke(
        events_group, ["template", str(out), "--organization-id", ORG, "--central-bus-arn", BUS_ARN]
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted([CENTRAL_FILE, FORWARDER_FILE])
    assert f"wrote {out / CENTRAL_FILE}" in result.output
    assert "aws cloudformation deploy" in result.output and "create-stack-set" in result.output
    assert "us-east-1" in result.output
    central = yaml.safe_load((out / CENTRAL_FILE).read_text())
    assert central == central_template(organization_id=ORG)
    forwarder = yaml.safe_load((out / FORWARDER_FILE).read_text())
    assert forwarder["Parameters"]["CentralEventBusArn"]["Default"] == BUS_ARN

    accounts = CliRunner().invoke(
        events_group,
        ["template", str(tmp_path / "a"), "--account", "111122223333", "--account", "444455556666"],
    )
    assert accounts.exit_code == 0, accounts.output
    assert "WatchedAccountsPutEvents" in (tmp_path / "a" / CENTRAL_FILE).read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--organization-id", "o-abc"], "--organization-id 'o-abc'"),
        (["--organization-id", "r-a1b2c3d4e5"], "--organization-id"),
        (["--account", "11112222333"], "--account '11112222333'"),
        (["--account", "11112222333a"], "--account"),
        (["--organization-id", ORG, "--account", "111122223333"], "not both"),
        (["--central-bus-arn", "arn:aws:sqs:us-east-1:111122223333:q"], "central bus ARN"),
    ],
)
def test_the_cli_rejects_bad_ids(tmp_path: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(events_group, ["template", str(tmp_path / "out"), *args])
    assert result.exit_code == 2
    assert message in result.output
    assert not (tmp_path / "out").exists()
