"""CloudFormation templates that set up event-driven collection for ``gitmonkey listen`` (issue #8).

Two stacks:

* **central** (``central_template``), once, in the account and region that run ``gitmonkey listen``:
  an SQS queue (SSE with SQS-managed keys, long polling) with a dead-letter queue for poison
  messages, a custom EventBridge bus ``gitmonkey`` whose resource policy lets the watched accounts
  put events on it (the organization with ``aws:PrincipalOrgID``, or listed accounts; the central
  account always), a rule on that bus matching the watched services' CloudTrail management events,
  targeting the queue, and a queue policy letting EventBridge send only from that rule.
* **forwarder** (``forwarder_template``), in every watched account and region, the central account
  included (its own events arrive on its *default* bus, not on the ``gitmonkey`` one) — typically a
  StackSet: a rule on the default bus with the same pattern, forwarding to the central bus through
  an IAM role that may only ``events:PutEvents`` on that bus.

IAM's and the other global services' events (iam, sts, organizations, route53, route53domains,
account, cloudfront...) are delivered to EventBridge **only in us-east-1**: the forwarder must be
deployed to us-east-1 in every account, whether or not us-east-1 is a watched region, plus every
watched region. CloudTrail must record management events in the watched accounts (a multi-region
trail; an organization trail covers them all).

The pattern matches ``detail-type`` "AWS API Call via CloudTrail" from the watched services: both
the EventBridge ``source`` (``aws.<service>``, the eventSource without ``.amazonaws.com``: e.g.
``monitoring.amazonaws.com`` is ``aws.monitoring``, not ``aws.cloudwatch``) and the CloudTrail
``detail.eventSource``, which is what the event map is keyed by. Failed calls are dropped with
``detail.errorCode`` ``exists: false``. Read-only calls are dropped by the rules' state ``ENABLED``
(as opposed to ``ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS``), which is how EventBridge excludes
read-only management events; a ``detail.readOnly: [false]`` filter is not used because the field is
optional in CloudTrail records and an event without it would be lost. The listener skips read-only
and unmapped events itself as well, so the pattern is an optimisation, never the only filter.

The functions are pure: they return the templates as dicts, ``write_templates`` dumps them as YAML.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml

BUS_NAME = "gitmonkey"
DETAIL_TYPE = "AWS API Call via CloudTrail"
CENTRAL_FILE = "gitmonkey-events-central.yaml"
FORWARDER_FILE = "gitmonkey-events-forwarder.yaml"
DLQ_RETENTION_SECONDS = 1209600  # 14 days, SQS's maximum
LONG_POLL_SECONDS = 20

ORGANIZATION_ID = re.compile(r"^o-[a-z0-9]{10,32}$")
ACCOUNT_ID = re.compile(r"^[0-9]{12}$")
_EVENT_SOURCE = re.compile(r"^([a-z0-9-]+)\.amazonaws\.com$")

_RULE_DESCRIPTION = "Successful CloudTrail API calls of the services gitmonkey watches, to "
GLOBAL_EVENTS_NOTE = (
    "IAM's and other global services' events (iam, sts, organizations, route53, route53domains, "
    "account, cloudfront...) are delivered to EventBridge only in us-east-1: deploy this stack to "
    "us-east-1 in every watched account, plus every watched region (the central account included)."
)


def event_sources(sources: Iterable[str] | None = None) -> list[str]:
    """The watched CloudTrail eventSource values (default: those of the built-in event map)."""
    if sources is None:
        from gitmonkey.listen.event_map import load_event_map

        sources = {source for source, _ in load_event_map().rules}
    result = sorted(set(sources))
    for source in result:
        if not _EVENT_SOURCE.match(source):
            raise ValueError(f"not an AWS eventSource: {source!r}")
    return result


def eventbridge_source(event_source: str) -> str:
    """The EventBridge ``source`` of a service's CloudTrail events: ``ec2.amazonaws.com`` -> ``aws.ec2``.

    EventBridge's reference gives ``aws.<prefix>`` for every service's "events delivered via
    CloudTrail", including those whose name differs (``monitoring.amazonaws.com`` -> ``aws.monitoring``,
    ``elasticloadbalancing.amazonaws.com`` -> ``aws.elasticloadbalancing``).
    """
    match = _EVENT_SOURCE.match(event_source)
    if not match:
        raise ValueError(f"not an AWS eventSource: {event_source!r}")
    return f"aws.{match.group(1)}"


def event_pattern(sources: Iterable[str] | None = None) -> dict[str, Any]:
    """The EventBridge pattern of the watched services' successful CloudTrail API calls."""
    watched = event_sources(sources)
    return {
        "source": sorted({eventbridge_source(s) for s in watched}),
        "detail-type": [DETAIL_TYPE],
        "detail": {
            "eventSource": watched,
            "errorCode": [{"exists": False}],
        },
    }


def _sub(text: str) -> dict[str, str]:
    return {"Fn::Sub": text}


def _validate_ids(organization_id: str | None, account_ids: Sequence[str]) -> None:
    if organization_id is not None and not ORGANIZATION_ID.match(organization_id):
        raise ValueError(
            f"organization id {organization_id!r}: expected o- and 10 to 32 lowercase letters or digits"
        )
    for account in account_ids:
        if not ACCOUNT_ID.match(account):
            raise ValueError(f"account id {account!r}: expected 12 digits")


def _bus_policy(organization_id: str | None, account_ids: Sequence[str]) -> dict[str, Any]:
    bus_arn = _sub(
        f"arn:${{AWS::Partition}}:events:${{AWS::Region}}:${{AWS::AccountId}}:event-bus/{BUS_NAME}"
    )
    statements: list[dict[str, Any]] = [
        {
            "Sid": "ThisAccountPutEvents",
            "Effect": "Allow",
            "Principal": {"AWS": _sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")},
            "Action": "events:PutEvents",
            "Resource": bus_arn,
        }
    ]
    if organization_id:
        statements.append(
            {
                "Sid": "OrganizationPutEvents",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "events:PutEvents",
                "Resource": bus_arn,
                "Condition": {"StringEquals": {"aws:PrincipalOrgID": organization_id}},
            }
        )
    elif account_ids:
        statements.append(
            {
                "Sid": "WatchedAccountsPutEvents",
                "Effect": "Allow",
                "Principal": {
                    "AWS": [_sub(f"arn:${{AWS::Partition}}:iam::{a}:root") for a in sorted(set(account_ids))]
                },
                "Action": "events:PutEvents",
                "Resource": bus_arn,
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def central_template(
    *,
    queue_name: str = "gitmonkey-events",
    organization_id: str | None = None,
    account_ids: Sequence[str] = (),
    retention_seconds: int = 1209600,
    max_receive_count: int = 5,
    visibility_timeout: int = 300,
    sources: Iterable[str] | None = None,
) -> dict[str, Any]:
    """The stack of the account and region running ``gitmonkey listen``: queue, DLQ, bus, rule."""
    _validate_ids(organization_id, account_ids)
    who = (
        f"the organization {organization_id}"
        if organization_id
        else (f"accounts {', '.join(sorted(set(account_ids)))}" if account_ids else "this account only")
    )
    queue_arn = _sub(f"arn:${{AWS::Partition}}:sqs:${{AWS::Region}}:${{AWS::AccountId}}:{queue_name}")
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": (
            "gitmonkey listen: central SQS queue (with dead-letter queue) fed by the EventBridge bus "
            f"'{BUS_NAME}', which accepts CloudTrail API-call events from {who}. Deploy once, in the "
            "region gitmonkey listen reads from; then deploy gitmonkey-events-forwarder.yaml to every "
            "watched account and region, and to us-east-1 in every account (global services' events)."
        ),
        "Resources": {
            "DeadLetterQueue": {
                "Type": "AWS::SQS::Queue",
                # Explicit: the queues hold only transient copies of CloudTrail events.
                "DeletionPolicy": "Delete",
                "UpdateReplacePolicy": "Delete",
                "Properties": {
                    "QueueName": f"{queue_name}-dlq",
                    "MessageRetentionPeriod": DLQ_RETENTION_SECONDS,
                    "SqsManagedSseEnabled": True,
                    # Only the gitmonkey queue may move messages here (an ARN built by name: the
                    # queue's own attribute would make a dependency cycle).
                    "RedriveAllowPolicy": {"redrivePermission": "byQueue", "sourceQueueArns": [queue_arn]},
                },
            },
            "Queue": {
                "Type": "AWS::SQS::Queue",
                "DeletionPolicy": "Delete",
                "UpdateReplacePolicy": "Delete",
                "Properties": {
                    "QueueName": queue_name,
                    "MessageRetentionPeriod": retention_seconds,
                    "VisibilityTimeout": visibility_timeout,
                    "ReceiveMessageWaitTimeSeconds": LONG_POLL_SECONDS,
                    "SqsManagedSseEnabled": True,
                    "RedrivePolicy": {
                        "deadLetterTargetArn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]},
                        "maxReceiveCount": max_receive_count,
                    },
                },
            },
            "EventBus": {
                "Type": "AWS::Events::EventBus",
                "Properties": {"Name": BUS_NAME, "Policy": _bus_policy(organization_id, account_ids)},
            },
            "EventsToQueueRule": {
                "Type": "AWS::Events::Rule",
                "Properties": {
                    "Description": _RULE_DESCRIPTION + "its queue",
                    "EventBusName": {"Ref": "EventBus"},
                    # ENABLED, not ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS: no read-only calls.
                    "State": "ENABLED",
                    "EventPattern": event_pattern(sources),
                    "Targets": [{"Id": "gitmonkey-queue", "Arn": {"Fn::GetAtt": ["Queue", "Arn"]}}],
                },
            },
            "QueuePolicy": {
                "Type": "AWS::SQS::QueuePolicy",
                "Properties": {
                    "Queues": [{"Ref": "Queue"}],
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "EventBridgeRuleSendMessage",
                                "Effect": "Allow",
                                "Principal": {"Service": "events.amazonaws.com"},
                                "Action": "sqs:SendMessage",
                                "Resource": {"Fn::GetAtt": ["Queue", "Arn"]},
                                "Condition": {
                                    "ArnEquals": {
                                        "aws:SourceArn": {"Fn::GetAtt": ["EventsToQueueRule", "Arn"]}
                                    }
                                },
                            }
                        ],
                    },
                },
            },
        },
        "Outputs": {
            "QueueUrl": {"Description": "events.queue_url in gitmonkey.yaml", "Value": {"Ref": "Queue"}},
            "QueueArn": {"Value": {"Fn::GetAtt": ["Queue", "Arn"]}},
            "DeadLetterQueueUrl": {"Value": {"Ref": "DeadLetterQueue"}},
            "EventBusArn": {
                "Description": "CentralEventBusArn of the forwarder stacks",
                "Value": {"Fn::GetAtt": ["EventBus", "Arn"]},
            },
        },
    }


def forwarder_template(
    *, central_bus_arn: str | None = None, sources: Iterable[str] | None = None
) -> dict[str, Any]:
    """The stack of every watched account and region (and us-east-1): default bus -> central bus.

    The central bus ARN is the parameter ``CentralEventBusArn``; ``central_bus_arn`` becomes its
    default, without it the parameter must be given at deployment.
    """
    parameter: dict[str, Any] = {
        "Type": "String",
        "Description": "The EventBusArn output of the gitmonkey-events-central stack",
        "AllowedPattern": r"^arn:aws[a-z-]*:events:[a-z0-9-]+:[0-9]{12}:event-bus/[A-Za-z0-9._-]+$",
        "ConstraintDescription": "the ARN of an EventBridge event bus",
    }
    if central_bus_arn is not None:
        if not re.match(parameter["AllowedPattern"], central_bus_arn):
            raise ValueError(
                f"central bus ARN {central_bus_arn!r}: expected arn:aws:events:REGION:ACCOUNT:event-bus/NAME"
            )
        parameter["Default"] = central_bus_arn
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": (
            "gitmonkey listen: forwards the CloudTrail API-call events of the watched services from this "
            "account's default event bus to the central gitmonkey bus. NOTE: " + GLOBAL_EVENTS_NOTE
        ),
        "Parameters": {"CentralEventBusArn": parameter},
        "Resources": {
            "ForwarderRole": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "Description": "Lets EventBridge put the watched events on the central gitmonkey bus",
                    "AssumeRolePolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "events.amazonaws.com"},
                                "Action": "sts:AssumeRole",
                                "Condition": {
                                    "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
                                },
                            }
                        ],
                    },
                    "Policies": [
                        {
                            "PolicyName": "put-events-on-central-bus",
                            "PolicyDocument": {
                                "Version": "2012-10-17",
                                "Statement": [
                                    {
                                        "Effect": "Allow",
                                        "Action": "events:PutEvents",
                                        "Resource": {"Ref": "CentralEventBusArn"},
                                    }
                                ],
                            },
                        }
                    ],
                },
            },
            "ForwardRule": {
                "Type": "AWS::Events::Rule",
                "Properties": {
                    "Description": _RULE_DESCRIPTION + "the central gitmonkey bus",
                    # The default bus (no EventBusName); ENABLED excludes read-only management events.
                    "State": "ENABLED",
                    "EventPattern": event_pattern(sources),
                    "Targets": [
                        {
                            "Id": "gitmonkey-central-bus",
                            "Arn": {"Ref": "CentralEventBusArn"},
                            "RoleArn": {"Fn::GetAtt": ["ForwarderRole", "Arn"]},
                        }
                    ],
                },
            },
        },
    }


class _NoAliasDumper(yaml.SafeDumper):
    """CloudFormation rejects YAML aliases, which PyYAML writes for a value used twice."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump(template: dict[str, Any]) -> str:
    """The template as YAML (key order kept, no aliases)."""
    return yaml.dump(template, Dumper=_NoAliasDumper, sort_keys=False, default_flow_style=False, width=100)


def write_templates(
    out_dir: str | Path,
    *,
    organization_id: str | None = None,
    account_ids: Sequence[str] = (),
    central_bus_arn: str | None = None,
) -> list[Path]:
    """Write the central and forwarder templates into ``out_dir`` (created if missing)."""
    central = central_template(organization_id=organization_id, account_ids=account_ids)
    forwarder = forwarder_template(central_bus_arn=central_bus_arn)
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, template in ((CENTRAL_FILE, central), (FORWARDER_FILE, forwarder)):
        path = folder / name
        path.write_text(dump(template), encoding="utf-8")
        written.append(path)
    return written
