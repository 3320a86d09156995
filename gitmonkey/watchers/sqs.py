"""SQS watchers: queues (one paginated ListQueues per region; per queue GetQueueAttributes(All)
and ListQueueTags, on a small thread pool).

SQS reports every attribute as a string. Numbers, booleans and timestamps are recorded typed,
so that rules can compare them and so that ``"5"`` and ``5`` in a redrive policy are one value.
``DeadLetterSourceQueues`` (Security Monkey called ListDeadLetterSourceQueues per queue) is
derived from the region's redrive policies instead: a dead-letter queue must be in the same
account and region as its sources, so the listing already holds the answer. A single queue read
again (``get_queue``) has no listing: there ListDeadLetterSourceQueues gives the same answer, the
queues of the account and region whose redrive policy names it.
"""

from __future__ import annotations

import datetime
from typing import Any

from botocore.exceptions import ClientError

from gitmonkey.model import Item, Technology
from gitmonkey.read.aws import SliceContext
from gitmonkey.watchers._common import collect, decode_policy, describe_each, is_error, partition

QUEUE_WORKERS = 8
# Without MaxResults, ListQueues returns at most 1,000 URLs and no NextToken: a silent truncation.
LIST_PAGE_SIZE = 1000
GONE_CODES = ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")

_INTEGERS = frozenset({
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesDelayed",
    "ApproximateNumberOfMessagesNotVisible",
    "DelaySeconds",
    "KmsDataKeyReusePeriodSeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
})
_BOOLEANS = frozenset({"ContentBasedDeduplication", "FifoQueue", "SqsManagedSseEnabled"})
_TIMESTAMPS = frozenset({"CreatedTimestamp", "LastModifiedTimestamp"})
_DOCUMENTS = frozenset({"Policy", "RedrivePolicy", "RedriveAllowPolicy"})
# Present in every document, null when the queue does not have them.
_ALWAYS = ("Policy", "RedrivePolicy", "RedriveAllowPolicy", "KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds")


def _typed(key: str, value: Any) -> Any:
    """An attribute's string as its type; a value AWS spells unexpectedly stays the string it was."""
    if not isinstance(value, str):
        return value
    try:
        if key in _INTEGERS:
            return int(value)
        if key in _TIMESTAMPS:
            return datetime.datetime.fromtimestamp(float(value), tz=datetime.UTC)
    except (ValueError, OverflowError):
        return value
    if key in _BOOLEANS and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if key in _DOCUMENTS:
        return decode_policy(value)
    return value


def _redrive_policy(document: Any) -> Any:
    if isinstance(document, dict) and isinstance(document.get("maxReceiveCount"), str):
        try:
            return {**document, "maxReceiveCount": int(document["maxReceiveCount"])}
        except ValueError:
            return document
    return document


def queue_name(url: str) -> str:
    """The queue name, the last segment of its URL (``https://sqs.<region>.../<account>/<name>``)."""
    return url.rstrip("/").rsplit("/", 1)[-1]


def _describe(ctx: SliceContext, url: str) -> Item:
    sqs = ctx.client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"]).get("Attributes") or {}
    tags = sqs.list_queue_tags(QueueUrl=url).get("Tags") or {}
    name = queue_name(url)
    configuration: dict[str, Any] = dict.fromkeys(_ALWAYS)
    configuration.update({key: _typed(key, value) for key, value in attributes.items()})
    configuration["RedrivePolicy"] = _redrive_policy(configuration["RedrivePolicy"])
    configuration.update({"QueueName": name, "QueueUrl": url, "Tags": dict(tags)})
    configuration.setdefault("FifoQueue", False)
    arn = attributes.get("QueueArn") or (
        f"arn:{partition(ctx.region)}:sqs:{ctx.region}:{ctx.account_id}:{name}"
    )
    return Item(technology="sqs.queue", region=ctx.region, id=name, name=name, arn=arn,
                configuration=configuration)


def _url_arn(ctx: SliceContext, url: str) -> str:
    """The ARN of the queue at ``url`` (``.../<account>/<name>``), as its ``QueueArn`` spells it."""
    account, name = url.rstrip("/").rsplit("/", 2)[-2:]
    return f"arn:{partition(ctx.region)}:sqs:{ctx.region}:{account}:{name}"


def _link_dead_letter_sources(items: list[Item]) -> None:
    sources: dict[str, list[str]] = {item.arn: [] for item in items}
    for item in items:
        redrive = item.configuration.get("RedrivePolicy")
        target = redrive.get("deadLetterTargetArn") if isinstance(redrive, dict) else None
        if isinstance(target, str) and target in sources:
            sources[target].append(item.arn)
    for item in items:
        item.configuration["DeadLetterSourceQueues"] = sorted(sources[item.arn])


def list_queues(ctx: SliceContext) -> list[Item]:
    """Every queue of the region; a failed read of any queue fails the whole listing."""
    urls = _queue_urls(ctx)
    items = describe_each(
        lambda url: _describe(ctx, url), urls, workers=QUEUE_WORKERS, name="sqs-queue", gone=GONE_CODES
    )
    _link_dead_letter_sources(items)
    return items


def _queue_urls(ctx: SliceContext, **params: Any) -> list[str]:
    pagination = {"PageSize": LIST_PAGE_SIZE}
    return list(dict.fromkeys(
        collect(ctx.client("sqs"), "list_queues", "QueueUrls", PaginationConfig=pagination, **params)
    ))


def get_queue(ctx: SliceContext, name: str) -> Item | None:
    """One queue: ListQueues(QueueNamePrefix=name) for its URL (the listing's call, so the URL is
    spelled alike; the exact name is taken among the prefix's queues), the listing's two calls, and
    ListDeadLetterSourceQueues for ``DeadLetterSourceQueues``: four calls."""
    url = next((url for url in _queue_urls(ctx, QueueNamePrefix=name) if queue_name(url) == name), None)
    if url is None:
        return None
    try:
        item = _describe(ctx, url)
        sources = collect(ctx.client("sqs"), "list_dead_letter_source_queues", "queueUrls", QueueUrl=url,
                          PaginationConfig={"PageSize": LIST_PAGE_SIZE})
    except ClientError as exc:
        if is_error(exc, *GONE_CODES):
            return None
        raise
    item.configuration["DeadLetterSourceQueues"] = sorted({_url_arn(ctx, source) for source in sources})
    return item


TECHNOLOGIES = (
    Technology(
        name="sqs.queue",
        is_global=False,
        list_items=list_queues,
        get_item=get_queue,
        description=(
            "SQS queues: access policy, redrive (dead-letter) and redrive-allow policies, dead-letter "
            "source queues, encryption (KMS or SQS-managed), visibility timeout, retention, delay, "
            "message size, FIFO settings, tags."
        ),
        ephemeral_paths=(
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesDelayed",
            "ApproximateNumberOfMessagesNotVisible",
            "LastModifiedTimestamp",
        ),
        unordered_paths=("RedriveAllowPolicy.sourceQueueArns",),
        always_returned={
            "sqs:GetQueueAttributes": ("Attributes",),
            "sqs:ListDeadLetterSourceQueues": ("queueUrls",),
        },
        iam_actions=(
            "sqs:ListQueues", "sqs:GetQueueAttributes", "sqs:ListQueueTags", "sqs:ListDeadLetterSourceQueues",
        ),
    ),
)
