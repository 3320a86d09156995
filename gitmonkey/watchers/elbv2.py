"""ELBv2 watchers: application, network and gateway load balancers.

Per region: paginated DescribeLoadBalancers and DescribeTargetGroups, DescribeTags in batches of
20 ARNs; per load balancer DescribeListeners (paginated) and DescribeLoadBalancerAttributes.

- Listeners: port, protocol, TLS policy, default certificate, default actions, ALPN and mutual
  TLS settings. Listener rules and SNI certificates (DescribeRules, DescribeListenerCertificates,
  one call per listener each) are not read.
- Attributes are an object ``{key: value}`` with ``"true"`` / ``"false"`` as booleans; other
  values stay the strings AWS sends (``idle_timeout.timeout_seconds``: ``"60"``).
- Target groups: the groups that route to the load balancer, with their protocol, port, target
  type and health check settings. Target health is not read: targets come and go with auto
  scaling, and their health is state, not configuration.
- ``State`` (provisioning, active, failed) is ephemeral.

One load balancer is read again (``get_item``) with five calls: DescribeLoadBalancers given its
name, DescribeTags, DescribeTargetGroups given its ARN (the same groups, as the listing keeps only
those whose ``LoadBalancerArns`` name it), DescribeListeners and DescribeLoadBalancerAttributes.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from gitmonkey.model import Item, Technology
from gitmonkey.read.aws import SliceContext
from gitmonkey.watchers._common import collect, describe_each, is_error
from gitmonkey.watchers.elb import GONE_CODES, LB_WORKERS, only_named, tags_in_batches

_LISTENER_DROPPED = ("LoadBalancerArn",)
_TARGET_GROUP_DROPPED = ("LoadBalancerArns",)


def _typed(value: Any) -> Any:
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


def _recorded_group(group: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in group.items() if k not in _TARGET_GROUP_DROPPED}


def _target_groups_of(elbv2: Any, arn: str) -> list[dict[str, Any]]:
    """The target groups that route to the load balancer ``arn``. TargetGroupNotFound, asked by
    load balancer, can only mean that none does (moto answers so for a load balancer without any)."""
    try:
        groups = collect(elbv2, "describe_target_groups", "TargetGroups", LoadBalancerArn=arn)
    except ClientError as exc:
        if is_error(exc, "TargetGroupNotFound"):
            return []
        raise
    return [_recorded_group(group) for group in groups]


def _target_groups_by_lb(elbv2: Any) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for group in collect(elbv2, "describe_target_groups", "TargetGroups"):
        for arn in group.get("LoadBalancerArns") or []:
            groups.setdefault(arn, []).append(_recorded_group(group))
    return groups


def _describe(
    ctx: SliceContext, lb: dict[str, Any], tags: dict[str, str], target_groups: list[dict[str, Any]]
) -> Item:
    elbv2 = ctx.client("elbv2")
    arn = lb["LoadBalancerArn"]
    listeners = collect(elbv2, "describe_listeners", "Listeners", LoadBalancerArn=arn)
    attributes = elbv2.describe_load_balancer_attributes(LoadBalancerArn=arn).get("Attributes") or []
    configuration = dict(lb)
    configuration["Listeners"] = [
        {k: v for k, v in listener.items() if k not in _LISTENER_DROPPED} for listener in listeners
    ]
    configuration["Attributes"] = {a["Key"]: _typed(a.get("Value")) for a in attributes}
    configuration["TargetGroups"] = target_groups
    configuration["Tags"] = tags
    return Item(
        technology="elbv2.load_balancer",
        region=ctx.region,
        id=lb["LoadBalancerName"],
        name=lb["LoadBalancerName"],
        arn=arn,
        configuration=configuration,
    )


def list_load_balancers(ctx: SliceContext) -> list[Item]:
    """Every ELBv2 load balancer of the region; any failed read fails the whole listing."""
    elbv2 = ctx.client("elbv2")
    lbs = collect(elbv2, "describe_load_balancers", "LoadBalancers")
    if not lbs:
        return []
    tags = tags_in_batches(elbv2, "ResourceArns", "ResourceArn", (lb["LoadBalancerArn"] for lb in lbs))
    target_groups = _target_groups_by_lb(elbv2)
    present = [lb for lb in lbs if lb["LoadBalancerArn"] in tags]

    def describe(lb: dict[str, Any]) -> Item:
        arn = lb["LoadBalancerArn"]
        return _describe(ctx, lb, tags[arn], target_groups.get(arn, []))

    return describe_each(describe, present, workers=LB_WORKERS, name="elbv2", gone=GONE_CODES)


def get_load_balancer(ctx: SliceContext, name: str) -> Item | None:
    """The load balancer ``name``; None when ELB says it does not exist (also when it is deleted
    between two of the calls)."""
    elbv2 = ctx.client("elbv2")
    try:
        lbs = elbv2.describe_load_balancers(Names=[name])["LoadBalancers"]
        lb = only_named(lbs, "LoadBalancerName", name)
        if lb is None:
            return None
        arn = lb["LoadBalancerArn"]
        tags = tags_in_batches(elbv2, "ResourceArns", "ResourceArn", [arn])
        if arn not in tags:
            return None
        return _describe(ctx, lb, tags[arn], _target_groups_of(elbv2, arn))
    except ClientError as exc:
        if is_error(exc, *GONE_CODES):
            return None
        raise


TECHNOLOGIES = (
    Technology(
        name="elbv2.load_balancer",
        is_global=False,
        list_items=list_load_balancers,
        get_item=get_load_balancer,
        description=(
            "Application, network and gateway load balancers: type, scheme, VPC, subnets, security "
            "groups, listeners (TLS policy, default certificate, default actions), attributes (access "
            "logs, deletion protection, ...), target groups with their health checks, tags."
        ),
        ephemeral_paths=("State",),
        secret_paths=("Listeners.*.DefaultActions.*.AuthenticateOidcConfig.ClientSecret",),
        unordered_paths=(
            "AvailabilityZones",
            "AvailabilityZones.*.LoadBalancerAddresses",
            "SecurityGroups",
            "Listeners",
            "Listeners.*.Certificates",
            "TargetGroups",
        ),
        always_returned={
            "elbv2:DescribeLoadBalancerAttributes": ("Attributes",),
            "elbv2:DescribeLoadBalancers": ("LoadBalancers",),
        },
        iam_actions=(
            "elasticloadbalancing:DescribeLoadBalancers",
            "elasticloadbalancing:DescribeListeners",
            "elasticloadbalancing:DescribeLoadBalancerAttributes",
            "elasticloadbalancing:DescribeTags",
            "elasticloadbalancing:DescribeTargetGroups",
        ),
    ),
)
