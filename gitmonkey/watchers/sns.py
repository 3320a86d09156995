"""SNS watchers: topics (one paginated ListTopics per region; per topic its attributes,
subscriptions and tags).

A subscription's https endpoint is often a secret in itself: webhook services put their
integration key in the URL's path or query string, some users put a password in it. So for
``http``/``https`` subscriptions ``Endpoint`` keeps only the origin (scheme, host, port) and the
whole URL goes to ``EndpointUrl``, a secret path: git sees that it changed, never what it is.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from botocore.exceptions import ClientError

from gitmonkey.model import Item, Technology
from gitmonkey.read.aws import SliceContext
from gitmonkey.watchers._common import collect, decode_policy, describe_each, is_error, partition, tags_dict

# Error codes of a topic deleted after ListTopics: GetTopicAttributes / ListSubscriptionsByTopic
# say NotFound, ListTagsForResource says ResourceNotFound.
_GONE = ("NotFound", "ResourceNotFound")
_POLICY_ATTRIBUTES = ("Policy", "DeliveryPolicy", "EffectiveDeliveryPolicy", "ArchivePolicy")
_BOOLEAN_ATTRIBUTES = ("FifoTopic", "ContentBasedDeduplication")
_COUNT_ATTRIBUTES = ("SubscriptionsConfirmed", "SubscriptionsPending", "SubscriptionsDeleted")
_URL_PROTOCOLS = ("http", "https")
_MAIN_ATTRIBUTES = (
    "Owner",
    "DisplayName",
    "Policy",
    "DeliveryPolicy",
    "EffectiveDeliveryPolicy",
    "KmsMasterKeyId",
)


def _attributes(raw: dict[str, str]) -> dict[str, Any]:
    """Topic attributes as values: policies decoded, flags as booleans, counts as integers.

    Every attribute AWS returns is kept (delivery-status logging roles, SignatureVersion,
    TracingConfig...), except ``TopicArn``, which is the item's ARN. An empty string is
    "not set", spelled ``None`` like an absent main attribute.
    """
    attributes: dict[str, Any] = {key: value or None for key, value in raw.items() if key != "TopicArn"}
    for key in _MAIN_ATTRIBUTES:
        attributes.setdefault(key, None)
    for key in _POLICY_ATTRIBUTES:
        if key in attributes:
            attributes[key] = decode_policy(attributes[key])
    for key in _BOOLEAN_ATTRIBUTES:
        attributes[key] = str(attributes.get(key)).lower() == "true"
    for key in _COUNT_ATTRIBUTES:
        value = attributes.get(key)
        attributes[key] = None if value is None else int(value)
    return attributes


def _url_origin(url: str) -> str | None:
    """``scheme://host[:port]`` of a URL, without user info, path, query or fragment."""
    try:
        parts = urllib.parse.urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if not parts.scheme or not host:
        return None
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme.lower()}://{host}" + (f":{port}" if port is not None else "")


def _subscription(raw: dict[str, Any]) -> dict[str, Any]:
    protocol = raw.get("Protocol")
    endpoint = raw.get("Endpoint")
    subscription: dict[str, Any] = {"Protocol": protocol, "Endpoint": endpoint, "Owner": raw.get("Owner")}
    if (protocol or "").lower() in _URL_PROTOCOLS and endpoint is not None:
        subscription["Endpoint"] = _url_origin(endpoint)
        subscription["EndpointUrl"] = endpoint
    return subscription


def _describe(ctx: SliceContext, topic_arn: str) -> Item:
    sns = ctx.client("sns")
    raw = sns.get_topic_attributes(TopicArn=topic_arn).get("Attributes") or {}
    subscriptions = collect(sns, "list_subscriptions_by_topic", "Subscriptions", TopicArn=topic_arn)
    tags = sns.list_tags_for_resource(ResourceArn=topic_arn).get("Tags")
    name = topic_arn.rsplit(":", 1)[-1]
    configuration = {
        "Name": name,
        **_attributes(raw),
        "Subscriptions": [_subscription(s) for s in subscriptions],
        "Tags": tags_dict(tags),
    }
    return Item(
        technology="sns.topic",
        region=ctx.region,
        id=name,
        name=name,
        arn=topic_arn,
        configuration=configuration,
    )


def list_topics(ctx: SliceContext) -> list[Item]:
    """Every topic of the region; the per-topic reads (three calls each) run on a small pool."""
    arns = [topic["TopicArn"] for topic in collect(ctx.client("sns"), "list_topics", "Topics")]
    return describe_each(lambda topic_arn: _describe(ctx, topic_arn), arns, name="sns-topic", gone=_GONE)


def get_topic(ctx: SliceContext, name: str) -> Item | None:
    """One topic by name: its ARN is the region's and account's, ``arn:<partition>:sns:<region>:
    <account>:<name>``; then the listing's three calls. ``None`` when SNS says NotFound (or
    ResourceNotFound, for a topic deleted between the calls). A topic ARN names one topic exactly,
    so the answer cannot be another topic's; a name with ``:`` would make another ARN: ``None``."""
    if not name or ":" in name:
        return None
    arn = f"arn:{partition(ctx.region)}:sns:{ctx.region}:{ctx.account_id}:{name}"
    try:
        return _describe(ctx, arn)
    except ClientError as exc:
        if is_error(exc, *_GONE):
            return None
        raise


TECHNOLOGIES = (
    Technology(
        name="sns.topic",
        is_global=False,
        list_items=list_topics,
        get_item=get_topic,
        description=(
            "SNS topics: access policy, delivery policies, KMS key, display name, FIFO settings, "
            "subscriptions (protocol, endpoint, owner; http(s) URLs kept as origin + hashed URL), tags."
        ),
        ephemeral_paths=_COUNT_ATTRIBUTES,
        secret_paths=("Subscriptions.*.EndpointUrl",),
        unordered_paths=("Subscriptions",),
        always_returned={
            "sns:GetTopicAttributes": ("Attributes",),
            "sns:ListTopics": ("Topics",),
        },
        iam_actions=(
            "sns:ListTopics",
            "sns:GetTopicAttributes",
            "sns:ListSubscriptionsByTopic",
            "sns:ListTagsForResource",
        ),
    ),
)
