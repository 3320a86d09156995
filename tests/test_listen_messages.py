"""Queue messages to what to read again (gitmonkey/listen/messages.py): EventBridge events of
CloudTrail records shaped like AWS's documented samples, the principal who made each change,
skipped and poison messages, and the merge of a batch."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gitmonkey.listen.event_map import load_event_map
from gitmonkey.listen.messages import principal_of, read_batch
from gitmonkey.listen.record import reads_of
from gitmonkey.watchers import all_technologies
from tests.helpers import ACCOUNT_ID, make_config

GLOBAL_TECHNOLOGIES = [name for name, t in all_technologies().items() if t.is_global]
EVENT_MAP = load_event_map()
ASSUMED = {
    "type": "AssumedRole",
    "principalId": "AROAEXAMPLE:alice@example.com",
    "arn": f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/deploy/alice@example.com",
    "accountId": ACCOUNT_ID,
    "sessionContext": {"sessionIssuer": {"type": "Role", "userName": "deploy"}},
}


def message(detail: dict[str, Any], message_id: str = "m-1", **envelope: Any) -> dict[str, Any]:
    body = {
        "version": "0",
        "id": "e-1",
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.ec2",
        "account": ACCOUNT_ID,
        "time": "2026-12-03T10:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
        **envelope,
    }
    return {"MessageId": message_id, "ReceiptHandle": f"rh-{message_id}", "Body": json.dumps(body)}


def record(
    event_name: str,
    request: dict[str, Any] | None = None,
    *,
    source: str = "ec2.amazonaws.com",
    region: str = "us-east-1",
    identity: dict[str, Any] | None = None,
    time: str = "2026-12-03T10:00:00Z",
    event_id: str = "ev-1",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "eventVersion": "1.09",
        "userIdentity": identity or ASSUMED,
        "eventTime": time,
        "eventSource": source,
        "eventName": event_name,
        "awsRegion": region,
        "sourceIPAddress": "203.0.113.7",
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": request or {},
        "responseElements": None,
        "eventID": event_id,
        "readOnly": False,
        "eventType": "AwsApiCall",
        "recipientAccountId": ACCOUNT_ID,
        **extra,
    }


@pytest.fixture
def config(tmp_path: Path) -> Any:
    return make_config(tmp_path, accounts=[{"name": "prod", "id": ACCOUNT_ID, "regions": ["us-east-1"]}])


def batch(config: Any, *messages: dict[str, Any]) -> Any:
    return read_batch(messages, EVENT_MAP, config, GLOBAL_TECHNOLOGIES)


def test_an_opened_port_is_a_change_of_the_group_by_the_person_who_opened_it(config: Any) -> None:
    result = batch(config, message(record("AuthorizeSecurityGroupIngress", {"groupId": "sg-0abc"})))
    [change] = result.changes
    assert (change.account, change.region, change.technology, change.item_id) == (
        "prod",
        "us-east-1",
        "ec2.security_group",
        "sg-0abc",
    )
    assert change.principal.name == "deploy/alice@example.com"
    assert change.principal.arn == ASSUMED["arn"]
    assert change.principal.email == "deploy-alice-example.com@assumedrole.aws"
    assert change.event_time == datetime(2026, 12, 3, 10, tzinfo=UTC)
    assert (change.event_name, change.source_ip, change.user_agent) == (
        "AuthorizeSecurityGroupIngress",
        "203.0.113.7",
        "aws-cli/2.15.0",
    )
    assert result.skipped == [] and result.poison == []


def test_global_services_are_filed_under_global(config: Any) -> None:
    iam = record(
        "AttachRolePolicy",
        {"roleName": "deploy", "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
        source="iam.amazonaws.com",
    )
    [*changes] = batch(config, message(iam)).changes
    assert {(c.region, c.technology, c.item_id) for c in changes} >= {("global", "iam.role", "deploy")}


def test_what_changes_nothing_is_skipped_and_what_cannot_be_read_is_poison(config: Any) -> None:
    failed = record("AuthorizeSecurityGroupIngress", {"groupId": "sg-1"}, errorCode="UnauthorizedOperation")
    read_only = record("DescribeSecurityGroups", readOnly=True)
    other_account = record(
        "AuthorizeSecurityGroupIngress", {"groupId": "sg-1"}, recipientAccountId="999999999999"
    )
    other_region = record("AuthorizeSecurityGroupIngress", {"groupId": "sg-1"}, region="eu-west-1")
    unmapped = record("CreateTable", source="dynamodb.amazonaws.com")
    result = batch(
        config,
        message(failed, "m-failed"),
        message(read_only, "m-read"),
        message(other_account, "m-account"),
        message(other_region, "m-region"),
        message(unmapped, "m-unmapped"),
        {"MessageId": "m-junk", "Body": "<html>not json</html>"},
        {"MessageId": "m-shape", "Body": json.dumps({"detail": {"hello": 1}})},
    )
    assert result.changes == []
    assert dict(result.skipped) == {
        "m-failed": "the call failed",
        "m-read": "a read-only call",
        "m-account": "account 999999999999 is not configured",
        "m-region": "region eu-west-1 is not configured",
        "m-unmapped": "the event map names no watched item",
    }
    assert dict(result.poison) == {
        "m-junk": "the body is not JSON",
        "m-shape": "not an EventBridge event of a CloudTrail record",
    }


def test_a_batch_reads_each_item_once_and_credits_the_latest_event(config: Any) -> None:
    early = record(
        "AuthorizeSecurityGroupIngress", {"groupId": "sg-1"}, time="2026-12-03T10:00:00Z", event_id="a"
    )
    late = record(
        "RevokeSecurityGroupIngress",
        {"groupId": "sg-1"},
        time="2026-12-03T10:05:00Z",
        event_id="b",
        identity={"type": "IAMUser", "userName": "bob", "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/bob"},
    )
    duplicate = record(
        "RevokeSecurityGroupIngress", {"groupId": "sg-1"}, time="2026-12-03T10:05:00Z", event_id="b"
    )
    other = record("AuthorizeSecurityGroupIngress", {"groupId": "sg-2"})
    # delivered out of order, with a duplicate
    reads = reads_of(
        batch(
            config,
            message(late, "m-late"),
            message(early, "m-early"),
            message(duplicate, "m-dup"),
            message(other, "m-other"),
        ).changes
    )
    [(account, slices)] = reads.items()
    [(key, wanted)] = slices.items()
    assert (account, key) == ("prod", ("us-east-1", "ec2.security_group"))
    assert set(wanted.changes) == {"sg-1", "sg-2"}
    assert (wanted.changes["sg-1"].event_id, wanted.changes["sg-1"].principal.name) == ("b", "bob")
    # every message is accounted for, so the superseded ones are deleted with the others
    assert wanted.messages == {"m-late", "m-early", "m-dup", "m-other"}


def test_principals_of_every_identity_type_are_safe_single_lines() -> None:
    assert principal_of({"type": "Root", "arn": f"arn:aws:iam::{ACCOUNT_ID}:root"}).name == "root"
    assert principal_of({"type": "AWSService", "invokedBy": "autoscaling.amazonaws.com"}).name == (
        "autoscaling.amazonaws.com"
    )
    assert principal_of({"type": "IAMUser", "userName": "carol"}).name == "carol"
    # KMS's own DeleteKey at the end of the waiting period: no type, only the account and invokedBy
    assert principal_of({"accountId": ACCOUNT_ID, "invokedBy": "AWS Internal"}).name == "AWS Internal"
    hostile = principal_of(
        {
            "type": "IAMUser",
            "userName": "eve <x@evil>\nInjected: trailer\u202e",
            "arn": "arn:aws:iam::1:user/eve",
        }
    )
    assert "\n" not in hostile.name and "<" not in hostile.name and "\u202e" not in hostile.name
    assert "\n" not in hostile.email and "@" in hostile.email and " " not in hostile.email
    assert principal_of(None).name == "unknown"
