"""CIS AWS Foundations v3.0 section 4: a metric filter and an alarm for each kind of sensitive event.

Each control asks the same question of the account's CloudTrail posture (``cloudtrail.status``): is
there a multi-region trail logging all management events to a CloudWatch Logs log group, with a
metric filter on that group whose pattern catches the events, and an alarm on the filter's metric
whose actions are enabled and notify someone (an SNS topic with a subscription, when the topic is
recorded)? The answer comes from the items of the repository (``cloudtrail.status``,
``logs.metric_filter``, ``cloudwatch.alarm``, ``sns.topic``), and a change to any of them re-audits
the posture item (``related.DEPENDENCIES``).

A filter pattern "catches" the events of a control when it names every term the benchmark's
pattern names (event names, event sources, error codes), each as a whole word; a pattern that names
them only to exclude them is not told apart. A trail delivering to a log group of another account
(an organization trail) is judged in that account's repository, not here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from gitmonkey.audit.context import AuditContext
from gitmonkey.audit.rule_model import Hit, Rule


@dataclass(frozen=True)
class Monitored:
    control: str
    slug: str
    what: str
    terms: tuple[str, ...]


_IAM_POLICY_EVENTS = (
    "DeleteGroupPolicy", "DeleteRolePolicy", "DeleteUserPolicy", "PutGroupPolicy", "PutRolePolicy",
    "PutUserPolicy", "CreatePolicy", "DeletePolicy", "CreatePolicyVersion", "DeletePolicyVersion",
    "AttachRolePolicy", "DetachRolePolicy", "AttachUserPolicy", "DetachUserPolicy", "AttachGroupPolicy",
    "DetachGroupPolicy",
)
_S3_POLICY_EVENTS = (
    "s3.amazonaws.com", "PutBucketAcl", "PutBucketPolicy", "PutBucketCors", "PutBucketLifecycle",
    "PutBucketReplication", "DeleteBucketPolicy", "DeleteBucketCors", "DeleteBucketLifecycle",
    "DeleteBucketReplication",
)
_ORGANIZATIONS_EVENTS = (
    "organizations.amazonaws.com", "AcceptHandshake", "AttachPolicy", "CreateAccount",
    "CreateOrganizationalUnit", "CreatePolicy", "DeclineHandshake", "DeleteOrganization",
    "DeleteOrganizationalUnit", "DeletePolicy", "DetachPolicy", "DisablePolicyType", "EnablePolicyType",
    "InviteAccountToOrganization", "LeaveOrganization", "MoveAccount", "RemoveAccountFromOrganization",
    "UpdatePolicy", "UpdateOrganizationalUnit",
)

CONTROLS: tuple[Monitored, ...] = (
    Monitored("4.1", "unauthorized-api-calls", "unauthorized API calls",
              ("UnauthorizedOperation", "AccessDenied")),
    Monitored("4.2", "console-sign-in-without-mfa", "console sign-in without MFA",
              ("ConsoleLogin", "MFAUsed")),
    Monitored("4.3", "root-usage", "usage of the root user", ("Root", "invokedBy", "AwsServiceEvent")),
    Monitored("4.4", "iam-policy-changes", "IAM policy changes", _IAM_POLICY_EVENTS),
    Monitored("4.5", "cloudtrail-changes", "CloudTrail configuration changes",
              ("CreateTrail", "UpdateTrail", "DeleteTrail", "StartLogging", "StopLogging")),
    Monitored("4.6", "console-authentication-failures", "console authentication failures",
              ("ConsoleLogin", "Failed authentication")),
    Monitored("4.7", "cmk-disabled-or-deleted", "disabling or scheduled deletion of customer managed keys",
              ("kms.amazonaws.com", "DisableKey", "ScheduleKeyDeletion")),
    Monitored("4.8", "s3-bucket-policy-changes", "S3 bucket policy changes", _S3_POLICY_EVENTS),
    Monitored("4.9", "config-changes", "AWS Config configuration changes",
              ("config.amazonaws.com", "StopConfigurationRecorder", "DeleteDeliveryChannel",
               "PutDeliveryChannel", "PutConfigurationRecorder")),
    Monitored("4.10", "security-group-changes", "security group changes",
              ("AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupEgress", "RevokeSecurityGroupIngress",
               "RevokeSecurityGroupEgress", "CreateSecurityGroup", "DeleteSecurityGroup")),
    Monitored("4.11", "nacl-changes", "network ACL changes",
              ("CreateNetworkAcl", "CreateNetworkAclEntry", "DeleteNetworkAcl", "DeleteNetworkAclEntry",
               "ReplaceNetworkAclEntry", "ReplaceNetworkAclAssociation")),
    Monitored("4.12", "network-gateway-changes", "network gateway changes",
              ("CreateCustomerGateway", "DeleteCustomerGateway", "AttachInternetGateway",
               "CreateInternetGateway", "DeleteInternetGateway", "DetachInternetGateway")),
    Monitored("4.13", "route-table-changes", "route table changes",
              ("CreateRoute", "CreateRouteTable", "ReplaceRoute", "ReplaceRouteTableAssociation",
               "DeleteRouteTable", "DeleteRoute", "DisassociateRouteTable")),
    Monitored("4.14", "vpc-changes", "VPC changes",
              ("CreateVpc", "DeleteVpc", "ModifyVpcAttribute", "AcceptVpcPeeringConnection",
               "CreateVpcPeeringConnection", "DeleteVpcPeeringConnection", "RejectVpcPeeringConnection",
               "AttachClassicLinkVpc", "DetachClassicLinkVpc", "DisableVpcClassicLink",
               "EnableVpcClassicLink")),
    Monitored("4.15", "organizations-changes", "AWS Organizations changes", _ORGANIZATIONS_EVENTS),
)

_LOG_GROUP_ARN = re.compile(
    r"^arn:[\w-]+:logs:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):log-group:(?P<name>[^:]+)"
)


def catches(pattern: str, terms: tuple[str, ...]) -> bool:
    """Whether a filter pattern names every term, each as a whole word."""
    return all(re.search(rf"(?<![\w]){re.escape(term)}(?![\w])", pattern) for term in terms)


def _alarms_on(metric: dict[str, Any], alarms: list[dict[str, Any]]) -> list[dict[str, Any]]:
    name, namespace = metric.get("metricName"), metric.get("metricNamespace")
    found = []
    for alarm in alarms:
        configuration = alarm.get("configuration") or {}
        watched = {(configuration.get("MetricName"), configuration.get("Namespace"))}
        for query in configuration.get("Metrics") or []:
            stat_metric = ((query or {}).get("MetricStat") or {}).get("Metric") or {}
            watched.add((stat_metric.get("MetricName"), stat_metric.get("Namespace")))
        if (name, namespace) in watched:
            found.append(alarm)
    return found


def _notifies(alarm: dict[str, Any], ctx: AuditContext, region: str) -> str | None:
    """Why the alarm tells nobody, or None if it notifies someone."""
    configuration = alarm.get("configuration") or {}
    if configuration.get("ActionsEnabled") is False:
        return f"alarm {alarm.get('name')} has its actions disabled"
    actions = configuration.get("AlarmActions") or []
    if not actions:
        return f"alarm {alarm.get('name')} has no action for the ALARM state"
    for action in actions:
        parts = str(action).split(":")
        if len(parts) != 6 or parts[2] != "sns":
            return None  # an action other than SNS (Lambda, Systems Manager...) acts on it
        topic = ctx.related.get("sns.topic", parts[5], parts[3]) if parts[4] == ctx.account_id else None
        if topic is None or (topic.get("configuration") or {}).get("Subscriptions"):
            return None  # a topic not recorded here cannot be judged
    return f"alarm {alarm.get('name')} notifies SNS topics without a subscription"


def _trail_verdict(trail: dict[str, Any], control: Monitored, ctx: AuditContext) -> str | None:
    """None if the trail's log group has a filter and a notifying alarm for the control, else why not."""
    arn = trail.get("CloudWatchLogsLogGroupArn")
    match = _LOG_GROUP_ARN.match(str(arn or ""))
    trail_name = str(trail.get("TrailARN", "")).rsplit("/", 1)[-1]
    if not match:
        return f"trail {trail_name} does not deliver to CloudWatch Logs"
    if match["account"] != ctx.account_id:
        return None
    region, group = match["region"], match["name"]
    filters = [f for f in ctx.related.all("logs.metric_filter", region)
               if (f.get("configuration") or {}).get("logGroupName") == group]
    matching = [f for f in filters
                if catches(str((f.get("configuration") or {}).get("filterPattern", "")), control.terms)]
    if not matching:
        return (f"no metric filter on log group {group} ({region}) of trail {trail_name} "
                f"catches {control.what}")
    alarms = ctx.related.all("cloudwatch.alarm", region)
    reasons = []
    for metric_filter in matching:
        for metric in (metric_filter.get("configuration") or {}).get("metricTransformations") or []:
            on_metric = _alarms_on(metric, alarms)
            if not on_metric:
                metric_name = f"{metric.get('metricNamespace')}/{metric.get('metricName')}"
                reasons.append(f"no alarm on metric {metric_name} of filter {metric_filter.get('name')}")
            for alarm in on_metric:
                why = _notifies(alarm, ctx, region)
                if why is None:
                    return None
                reasons.append(why)
    return "; ".join(reasons) or f"filter {matching[0].get('name')} emits no metric"


def _check(control: Monitored) -> Callable[[dict, dict | None, AuditContext], Iterator[Hit]]:
    def check(document: dict, previous: dict | None, ctx: AuditContext) -> Iterator[Hit]:
        trails = [
            t for t in (document.get("configuration") or {}).get("MultiRegionTrails") or []
            if isinstance(t, dict) and t.get("IsLogging") and t.get("IncludeManagementEvents")
            and t.get("ReadWriteType") == "All"
        ]
        if not trails:
            yield Hit(f"{control.what} are not monitored: no multi-region trail logs all management "
                      "events", "configuration.MultiRegionTrails", control.slug)
            return
        reasons = []
        for trail in trails:
            why = _trail_verdict(trail, control, ctx)
            if why is None:
                return
            reasons.append(why)
        yield Hit(f"{control.what} are not monitored: {'; '.join(reasons)}",
                  "configuration.MultiRegionTrails", control.slug)

    return check


RULES: list[Rule] = [
    Rule(
        id=f"cloudtrail.status.no-alarm-{control.slug}",
        technology="cloudtrail.status",
        score=2,
        title=f"No alarm for {control.what}",
        description=(
            f"No metric filter and alarm alert on {control.what}: there is no multi-region trail logging "
            "all management events to a CloudWatch Logs log group, with a metric filter on that group whose "
            f"pattern names {', '.join(control.terms[:6])}{' ...' if len(control.terms) > 6 else ''}, and an "
            "alarm on its metric with actions enabled that notify someone (an SNS topic with a "
            "subscription, when the topic is recorded). The events are then only found after the fact, in "
            "the logs. Scored 2 (Security Hub rates its CloudWatch.x equivalents Low), and AWS ships no "
            "trail, filter or alarm."
        ),
        remediation=(
            "Send the multi-region trail to CloudWatch Logs, put a metric filter with the benchmark's "
            "pattern on its log group, and an alarm on the metric (threshold >= 1) that notifies an SNS "
            "topic with a subscriber."
        ),
        source=f"python:{__name__}",
        check=_check(control),
        compliance={"cis-aws-3.0": (control.control,)},
    )
    for control in CONTROLS
]
