"""The event map (gitmonkey/listen/event_map.py): its validation, how events become targets, and that
every watched technology can be reached from some CloudTrail event."""

from __future__ import annotations

import pytest

from gitmonkey.listen.event_map import EventMapError, Target, load_event_map
from gitmonkey.watchers import all_technologies

KNOWN = {"ec2.security_group", "ec2.instance", "sqs.queue", "iam.password_policy", "iam.role"}


def load(text: str) -> object:
    return load_event_map([("test.yaml", text)], KNOWN)


def test_ids_from_requests_responses_batches_and_prefixes() -> None:
    event_map = load("""
source: ec2.amazonaws.com
events:
  - names: [AuthorizeSecurityGroupIngress]
    technology: ec2.security_group
    ids: requestParameters.groupId
  - names: [RunInstances]
    technology: ec2.instance
    ids: responseElements.instancesSet.items[].instanceId
  - names: [CreateTags]
    ids: requestParameters.resourcesSet.items[].resourceId
    by_prefix: {"sg-": ec2.security_group, "i-": ec2.instance}
""")
    assert event_map.targets(
        {
            "eventSource": "ec2.amazonaws.com",
            "eventName": "AuthorizeSecurityGroupIngress",
            "requestParameters": {"groupId": "sg-1"},
        }
    ) == [Target("ec2.security_group", "sg-1")]
    run = {
        "eventSource": "ec2.amazonaws.com",
        "eventName": "RunInstances",
        "responseElements": {"instancesSet": {"items": [{"instanceId": "i-1"}, {"instanceId": "i-2"}]}},
    }
    assert event_map.targets(run) == [Target("ec2.instance", "i-1"), Target("ec2.instance", "i-2")]
    tags = {
        "eventSource": "ec2.amazonaws.com",
        "eventName": "CreateTags",
        "requestParameters": {
            "resourcesSet": {
                "items": [
                    {"resourceId": "i-9"},
                    {"resourceId": "sg-9"},
                    {"resourceId": "vol-9"},
                    {"resourceId": "i-9"},
                ]
            }
        },
    }
    assert event_map.targets(tags) == [Target("ec2.instance", "i-9"), Target("ec2.security_group", "sg-9")]
    assert event_map.targets({"eventSource": "ec2.amazonaws.com", "eventName": "DescribeInstances"}) == []
    # A failed or unexpected shape names nothing rather than failing.
    assert (
        event_map.targets(
            {"eventSource": "ec2.amazonaws.com", "eventName": "RunInstances", "responseElements": None}
        )
        == []
    )


def test_slices_and_transforms() -> None:
    event_map = load("""
source: iam.amazonaws.com
events:
  - names: [UpdateAccountPasswordPolicy]
    technology: iam.password_policy
    slice: true
  - names: [TagRole]
    technology: iam.role
    ids: requestParameters.roleArn
    transform: last-segment
""")
    assert event_map.targets(
        {"eventSource": "iam.amazonaws.com", "eventName": "UpdateAccountPasswordPolicy"}
    ) == [Target("iam.password_policy", None)]
    assert event_map.targets(
        {
            "eventSource": "iam.amazonaws.com",
            "eventName": "TagRole",
            "requestParameters": {"roleArn": "arn:aws:iam::123456789012:role/ops/deploy"},
        }
    ) == [Target("iam.role", "deploy")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("source: ec2.amazonaws.com\n", "exactly 'source' and 'events'"),
        ("source: ec2\nevents: [{names: [X], technology: ec2.instance, ids: a}]", "eventSource like"),
        ("source: ec2.amazonaws.com\nevents: []", "non-empty list"),
        (
            "source: ec2.amazonaws.com\nevents: [{names: [X], technology: ec2.nope, ids: a}]",
            "'ec2.nope' is not a known",
        ),
        (
            "source: ec2.amazonaws.com\nevents: [{names: [X], ids: a}]",
            "exactly one of 'technology' and 'by_prefix'",
        ),
        (
            "source: ec2.amazonaws.com\nevents: [{names: [X], technology: ec2.instance}]",
            "ids: expected a JMESPath",
        ),
        (
            "source: ec2.amazonaws.com\nevents: [{names: [X], technology: ec2.instance, ids: 'a[['}]",
            "invalid JMESPath",
        ),
        (
            "source: ec2.amazonaws.com\nevents: [{names: [X], technology: ec2.instance, slice: true,"
            " ids: a}]",
            "slice: true goes with",
        ),
        (
            "source: ec2.amazonaws.com\nevents: [{names: ['Bad Name'], technology: ec2.instance, ids: a}]",
            "names:",
        ),
        (
            "source: ec2.amazonaws.com\nevents: [{names: [X], technology: ec2.instance, ids: a,"
            " transform: up}]",
            "transform: expected one of",
        ),
        (
            "source: ec2.amazonaws.com\nevents: [{names: [X], technology: ec2.instance, ids: a,"
            " lowercase: yes-ish}]",
            "lowercase: expected true or false",
        ),
        (
            "source: ec2.amazonaws.com\nevents: [{names: [X], technology: ec2.instance, slice: true,"
            " lowercase: true}]",
            "lowercase: expected true or false, with ids",
        ),
        (
            "source: ec2.amazonaws.com\nevents: [{names: [X], technology: ec2.instance, ids: a, extra: 1}]",
            "unknown key 'extra'",
        ),
        (
            "source: ec2.amazonaws.com\nevents:\n  - {names: [X], technology: ec2.instance, ids: a}\n"
            "  - {names: [X], technology: ec2.instance, ids: b}",
            "already mapped at events/test.yaml: events[0]",
        ),
    ],
)
def test_a_bad_file_names_the_file_the_entry_and_the_problem(text: str, message: str) -> None:
    with pytest.raises(EventMapError, match=r"events/test\.yaml") as raised:
        load(text)
    assert message in str(raised.value)


def test_the_built_in_map_is_valid() -> None:
    assert load_event_map().rules


def test_every_watched_technology_is_reached_by_some_event() -> None:
    mapped = load_event_map().technologies()
    assert sorted(set(all_technologies()) - mapped) == []


def test_a_lambda_function_named_by_its_arn_or_its_name() -> None:
    event_map = load_event_map()
    for value in ("arn:aws:lambda:us-east-1:123456789012:function:orders-api:live", "orders-api"):
        event = {
            "eventSource": "lambda.amazonaws.com",
            "eventName": "AddPermission20150331v2",
            "requestParameters": {"functionName": value},
        }
        assert event_map.targets(event) == [Target("lambda.function", "orders-api")]
