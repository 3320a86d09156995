"""Classic ELB watchers: load balancers (paginated DescribeLoadBalancers and DescribeTags in
batches of 20 names per region; per load balancer DescribeLoadBalancerAttributes, and
DescribeLoadBalancerPolicies when a listener has policies).

A listener's policies are recorded inside the listener (``Listeners.*.Policies``), so that a rule
can ask "an HTTPS listener whose TLS policy is ...". An SSL negotiation policy is recorded as its
reference security policy, the enabled protocols, the server-defined cipher order flag and the
enabled ciphers (AWS reports a flag for every cipher it knows; the disabled ones are noise).

Instances are recorded as ``InstanceCount`` only, and that count is ephemeral: auto scaling
registers and deregisters instances all day (Security Monkey's #1068), which is not a
configuration change.

One load balancer is read again (``get_item``) with the listing's calls given its name:
DescribeLoadBalancers, DescribeTags, DescribeLoadBalancerAttributes (and DescribeLoadBalancerPolicies).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from botocore.exceptions import ClientError

from gitmonkey.model import Item, Technology
from gitmonkey.read.aws import SliceContext
from gitmonkey.watchers._common import collect, describe_each, is_error, partition, tags_dict

LB_WORKERS = 8
TAG_BATCH = 20  # DescribeTags accepts at most 20 load balancers per call (classic and v2)
GONE_CODES = ("LoadBalancerNotFound",)
SSL_POLICY_TYPE = "SSLNegotiationPolicyType"
_SSL_SETTINGS = ("Reference-Security-Policy", "Server-Defined-Cipher-Order")
_PROTOCOL_PREFIX = "Protocol-"


class LoadBalancerChangedError(RuntimeError):
    """A load balancer changed between two reads of one sync (a policy named by a listener is gone)."""


class NameMismatchError(RuntimeError):
    """DescribeLoadBalancers given one name answered for another load balancer."""


def only_named(records: list[dict[str, Any]], key: str, name: str) -> dict[str, Any] | None:
    """The record named ``name`` in the answer of a Describe call given that one name; None for an
    empty answer. An answer about any other load balancer raises: it is neither this one nor its
    absence."""
    if not records:
        return None
    found = [record.get(key) for record in records]
    if found != [name]:
        raise NameMismatchError(f"DescribeLoadBalancers for {name!r} answered {found}")
    return records[0]


def tags_in_batches(
    client: Any, param: str, id_key: str, ids: Iterable[str], *, batch: int = TAG_BATCH
) -> dict[str, dict[str, str]]:
    """Tags of every id that still exists, ``batch`` ids per DescribeTags call (classic: names,
    v2: ARNs).

    A batch that fails because one of its load balancers was deleted since the listing is read
    again one id at a time; the ids that fail alone are left out of the result. An id that AWS
    leaves out of its answer has no tags.
    """
    ids = list(ids)
    tags: dict[str, dict[str, str]] = {}
    gone: set[str] = set()

    def read(chunk: list[str]) -> None:
        response = client.describe_tags(**{param: chunk})
        for description in response.get("TagDescriptions") or []:
            tags[description[id_key]] = tags_dict(description.get("Tags"))

    for start in range(0, len(ids), batch):
        chunk = ids[start:start + batch]
        try:
            read(chunk)
            continue
        except ClientError as exc:
            if not is_error(exc, *GONE_CODES):
                raise
            if len(chunk) == 1:
                gone.update(chunk)
                continue
        for one in chunk:
            try:
                read([one])
            except ClientError as exc:
                if not is_error(exc, *GONE_CODES):
                    raise
                gone.add(one)
    return {key: tags.get(key, {}) for key in ids if key not in gone}


def _policy(description: dict[str, Any]) -> dict[str, Any]:
    attributes = {
        attribute["AttributeName"]: attribute.get("AttributeValue")
        for attribute in description.get("PolicyAttributeDescriptions") or []
    }
    policy: dict[str, Any] = {
        "PolicyName": description["PolicyName"],
        "PolicyTypeName": description.get("PolicyTypeName"),
    }
    if policy["PolicyTypeName"] != SSL_POLICY_TYPE:
        policy["Attributes"] = attributes
        return policy

    def enabled(name: str) -> bool:
        return str(attributes.get(name, "")).lower() == "true"

    policy["ReferenceSecurityPolicy"] = attributes.get("Reference-Security-Policy")
    policy["Protocols"] = sorted(
        name.removeprefix(_PROTOCOL_PREFIX)
        for name in attributes
        if name.startswith(_PROTOCOL_PREFIX) and enabled(name)
    )
    policy["ServerDefinedCipherOrder"] = enabled("Server-Defined-Cipher-Order")
    policy["Ciphers"] = sorted(
        name for name in attributes
        if name not in _SSL_SETTINGS and not name.startswith(_PROTOCOL_PREFIX) and enabled(name)
    )
    return policy


def _listener_policies(elb: Any, name: str, listeners: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    wanted = sorted({policy for listener in listeners for policy in listener.get("PolicyNames") or []})
    if not wanted:
        return {}
    try:
        response = elb.describe_load_balancer_policies(LoadBalancerName=name, PolicyNames=wanted)
    except ClientError as exc:
        if is_error(exc, "PolicyNotFound"):
            raise LoadBalancerChangedError(
                f"load balancer {name!r}: a listener policy was deleted while it was being read; "
                "the next sync will read it again"
            ) from exc
        raise
    return {p["PolicyName"]: _policy(p) for p in response.get("PolicyDescriptions") or []}


def _configuration(
    description: dict[str, Any],
    attributes: dict[str, Any],
    policies: dict[str, dict[str, Any]],
    tags: dict[str, str],
) -> dict[str, Any]:
    configuration = {
        key: value for key, value in description.items() if key not in ("ListenerDescriptions", "Instances")
    }
    listeners = []
    for listener_description in description.get("ListenerDescriptions") or []:
        names = listener_description.get("PolicyNames") or []
        missing = [n for n in names if n not in policies]
        if missing:
            raise LoadBalancerChangedError(
                f"load balancer {description['LoadBalancerName']!r}: listener policies {missing} were not "
                "returned by DescribeLoadBalancerPolicies; the next sync will read them again"
            )
        listener = listener_description.get("Listener") or {}
        listeners.append({**listener, "Policies": [policies[n] for n in names]})
    configuration["Listeners"] = listeners
    configuration["InstanceCount"] = len(description.get("Instances") or [])
    configuration.setdefault("HealthCheck", None)
    configuration["Attributes"] = attributes
    configuration["Tags"] = tags
    return configuration


def _describe(ctx: SliceContext, description: dict[str, Any], tags: dict[str, str]) -> Item:
    elb = ctx.client("elb")
    name = description["LoadBalancerName"]
    response = elb.describe_load_balancer_attributes(LoadBalancerName=name)
    attributes = response.get("LoadBalancerAttributes") or {}
    policies = _listener_policies(elb, name, description.get("ListenerDescriptions") or [])
    return Item(
        technology="elb.load_balancer",
        region=ctx.region,
        id=name,
        name=name,
        arn=f"arn:{partition(ctx.region)}:elasticloadbalancing:{ctx.region}:{ctx.account_id}:loadbalancer/{name}",
        configuration=_configuration(description, attributes, policies, tags),
    )


def list_load_balancers(ctx: SliceContext) -> list[Item]:
    """Every classic load balancer of the region; any failed read fails the whole listing."""
    elb = ctx.client("elb")
    descriptions = collect(elb, "describe_load_balancers", "LoadBalancerDescriptions")
    tags = tags_in_batches(
        elb, "LoadBalancerNames", "LoadBalancerName", (d["LoadBalancerName"] for d in descriptions)
    )
    present = [d for d in descriptions if d["LoadBalancerName"] in tags]
    return describe_each(
        lambda d: _describe(ctx, d, tags[d["LoadBalancerName"]]),
        present,
        workers=LB_WORKERS,
        name="elb",
        gone=GONE_CODES,
    )


def get_load_balancer(ctx: SliceContext, name: str) -> Item | None:
    """The classic load balancer ``name``; None when ELB says it does not exist (also when it is
    deleted between two of the calls)."""
    elb = ctx.client("elb")
    try:
        descriptions = elb.describe_load_balancers(LoadBalancerNames=[name])["LoadBalancerDescriptions"]
        description = only_named(descriptions, "LoadBalancerName", name)
        if description is None:
            return None
        tags = tags_in_batches(elb, "LoadBalancerNames", "LoadBalancerName", [name])
        if name not in tags:
            return None
        return _describe(ctx, description, tags[name])
    except ClientError as exc:
        if is_error(exc, *GONE_CODES):
            return None
        raise


TECHNOLOGIES = (
    Technology(
        name="elb.load_balancer",
        is_global=False,
        list_items=list_load_balancers,
        get_item=get_load_balancer,
        description=(
            "Classic load balancers: scheme, VPC, subnets, security groups, listeners with their "
            "policies (TLS reference policy, protocols, ciphers), backend policies, health check, "
            "attributes (access logs, connection draining, cross-zone), tags; instance count (ephemeral)."
        ),
        ephemeral_paths=("InstanceCount",),
        unordered_paths=(
            "AvailabilityZones",
            "Subnets",
            "SecurityGroups",
            "Listeners",
            "Listeners.*.Policies",
            "BackendServerDescriptions",
            "BackendServerDescriptions.*.PolicyNames",
            "Policies.AppCookieStickinessPolicies",
            "Policies.LBCookieStickinessPolicies",
            "Policies.OtherPolicies",
            "Attributes.AdditionalAttributes",
        ),
        always_returned={
            "elb:DescribeLoadBalancerAttributes": ("LoadBalancerAttributes",),
            "elb:DescribeLoadBalancers": ("LoadBalancerDescriptions",),
        },
        iam_actions=(
            "elasticloadbalancing:DescribeLoadBalancers",
            "elasticloadbalancing:DescribeLoadBalancerAttributes",
            "elasticloadbalancing:DescribeLoadBalancerPolicies",
            "elasticloadbalancing:DescribeTags",
        ),
    ),
)
