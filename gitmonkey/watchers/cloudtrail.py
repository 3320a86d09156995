"""CloudTrail watchers: trails (one DescribeTrails per region; per trail, status and event selectors).

A multi-region trail is visible in every region (as a "shadow trail") but is recorded once, in
its home region: DescribeTrails is called without shadow trails and only trails whose
``HomeRegion`` is the slice's region are kept. Tags are read with ListTags in batches of 20 ARNs
(its limit), for the trails the account owns (an organization trail of the management account
shows up in member accounts but cannot be tagged from them).

Configuration: the DescribeTrails fields, ``TrailStatus`` (``IsLogging`` and the start/stop
times of logging, which only change when someone starts or stops it; the ``Latest*`` delivery
facts are ephemeral), ``EventSelectors`` / ``AdvancedEventSelectors``, ``InsightSelectors``
(read only when the trail has some) and ``Tags``.

One trail is read again (``get_item``) with the listing's calls for that trail: DescribeTrails
(one call, unpaginated, whatever the number of trails), GetTrailStatus, GetEventSelectors, maybe
GetInsightSelectors, and ListTags for a trail of the account. DescribeTrails is not given the name:
by name it answers only the account's own trails, and an organization trail of the management
account, which the listing records, would read as deleted.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from gitmonkey.model import Item, Technology
from gitmonkey.read.aws import SliceContext
from gitmonkey.watchers._common import collect, is_error, posture_item, tags_dict

_TRAIL_FIELDS = (
    "Name",
    "S3BucketName",
    "S3KeyPrefix",
    "SnsTopicName",
    "SnsTopicARN",
    "IncludeGlobalServiceEvents",
    "IsMultiRegionTrail",
    "HomeRegion",
    "LogFileValidationEnabled",
    "CloudWatchLogsLogGroupArn",
    "CloudWatchLogsRoleArn",
    "KmsKeyId",
    "HasCustomEventSelectors",
    "HasInsightSelectors",
    "IsOrganizationTrail",
)
# TimeLoggingStarted/Stopped and Latest*Attempt* are undocumented string duplicates of these.
_STATUS_FIELDS = ("IsLogging", "StartLoggingTime", "StopLoggingTime")
_EPHEMERAL_STATUS_FIELDS = (
    "LatestDeliveryTime",
    "LatestDeliveryError",
    "LatestNotificationTime",
    "LatestNotificationError",
    "LatestDigestDeliveryTime",
    "LatestDigestDeliveryError",
    "LatestCloudWatchLogsDeliveryTime",
    "LatestCloudWatchLogsDeliveryError",
)
_TAG_BATCH = 20
# ListTags says ResourceNotFoundException for a deleted trail. (CloudTrailARNInvalidException is
# an input error, never taken for "gone": dropping a trail on it would record a deletion.)
_GONE = ("TrailNotFoundException", "ResourceNotFoundException")


def _arn_account(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 else ""


def _tags(ctx: SliceContext, arns: list[str]) -> tuple[dict[str, dict[str, str]], set[str]]:
    """Tags by trail ARN, and the ARNs of trails deleted since they were described.

    ListTags fails as a whole when one ARN of the batch no longer exists; that batch is then read
    one ARN at a time.
    """
    cloudtrail = ctx.client("cloudtrail")
    tags: dict[str, dict[str, str]] = {}
    gone: set[str] = set()

    def read(batch: list[str]) -> None:
        for entry in collect(cloudtrail, "list_tags", "ResourceTagList", ResourceIdList=batch):
            tags[entry["ResourceId"]] = tags_dict(entry.get("TagsList"))

    for start in range(0, len(arns), _TAG_BATCH):
        batch = arns[start : start + _TAG_BATCH]
        try:
            read(batch)
        except ClientError as exc:
            if not is_error(exc, *_GONE):
                raise
            for arn in batch:
                try:
                    read([arn])
                except ClientError as single:
                    if not is_error(single, *_GONE):
                        raise
                    gone.add(arn)
    return tags, gone


def _status_and_selectors(
    ctx: SliceContext, trail: dict[str, Any], *, shared: bool = True
) -> tuple[dict, dict] | None:
    """GetTrailStatus and GetEventSelectors of a trail, in its home region; ``None`` if it was
    deleted since the listing. Read once per sync and shared by cloudtrail.trail and
    cloudtrail.status (a multi-region trail is in both); read afresh when not ``shared``."""
    arn = trail["TrailARN"]

    def read() -> tuple[dict, dict] | None:
        cloudtrail = ctx.client("cloudtrail", trail.get("HomeRegion") or ctx.client_region)
        try:
            return cloudtrail.get_trail_status(Name=arn), cloudtrail.get_event_selectors(TrailName=arn)
        except ClientError as exc:
            if is_error(exc, *_GONE):
                return None
            raise

    return ctx.shared(("cloudtrail", arn), read) if shared else read()


def _configuration(ctx: SliceContext, trail: dict[str, Any], *, shared: bool = True) -> dict[str, Any] | None:
    """The trail's configuration without tags; ``None`` if it was deleted since the listing."""
    arn = trail["TrailARN"]
    read = _status_and_selectors(ctx, trail, shared=shared)
    if read is None:
        return None
    status, selectors = read
    insights = None
    if trail.get("HasInsightSelectors"):
        try:
            answer = ctx.client("cloudtrail").get_insight_selectors(TrailName=arn)
            insights = answer.get("InsightSelectors") or []
        except ClientError as exc:
            if is_error(exc, *_GONE):
                return None
            raise
    configuration: dict[str, Any] = {field: trail.get(field) for field in _TRAIL_FIELDS}
    configuration.update(
        TrailStatus={field: status.get(field) for field in (*_STATUS_FIELDS, *_EPHEMERAL_STATUS_FIELDS)},
        EventSelectors=selectors.get("EventSelectors") or [],
        AdvancedEventSelectors=selectors.get("AdvancedEventSelectors") or [],
        InsightSelectors=insights,
    )
    return configuration


def _home_trails(ctx: SliceContext) -> list[dict[str, Any]]:
    return [
        trail
        for trail in ctx.client("cloudtrail").describe_trails(includeShadowTrails=True).get("trailList") or []
        if trail.get("HomeRegion") == ctx.region
    ]


def _trail_items(ctx: SliceContext, trails: list[dict[str, Any]], *, shared: bool = True) -> list[Item]:
    """The items of ``trails``; those deleted since DescribeTrails are left out."""
    described = [(trail, _configuration(ctx, trail, shared=shared)) for trail in trails]
    present = [(trail, config) for trail, config in described if config is not None]
    owned = [trail["TrailARN"] for trail, _ in present if _arn_account(trail["TrailARN"]) == ctx.account_id]
    tags, gone = _tags(ctx, owned) if owned else ({}, set())
    items = []
    for trail, configuration in present:
        arn = trail["TrailARN"]
        if arn in gone:
            continue
        configuration["Tags"] = tags.get(arn, {}) if arn in owned else None
        items.append(Item("cloudtrail.trail", ctx.region, trail["Name"], trail["Name"], arn, configuration))
    return items


def list_trails(ctx: SliceContext) -> list[Item]:
    """The trails whose home region is the slice's region; a trail deleted meanwhile is skipped."""
    return _trail_items(ctx, _home_trails(ctx))


def get_trail(ctx: SliceContext, name: str) -> Item | None:
    """The trail ``name`` homed in the slice's region; None when DescribeTrails does not list it,
    or a later call says it is gone.

    The status and selectors are read afresh, not through the per-sync ``ctx.shared`` read: a
    listener's session outlives many events, and a shared read would answer every later event on
    the trail (StopLogging...) with the status of the first.
    """
    trails = [trail for trail in _home_trails(ctx) if trail.get("Name") == name]
    if len(trails) > 1:
        raise ValueError(f"{len(trails)} trails named {name!r} have their home in {ctx.region}")
    items = _trail_items(ctx, trails, shared=False)
    return items[0] if items else None


def _management_events(selectors: dict[str, Any]) -> tuple[bool, str | None]:
    """Whether a trail's selectors log management events, and which (``All``, ``ReadOnly``,
    ``WriteOnly``; ``None`` when none are logged).

    Basic selectors: each with ``IncludeManagementEvents`` contributes its ``ReadWriteType``.
    Advanced selectors: each whose ``eventCategory`` equals ``Management`` contributes by its
    ``readOnly`` field (absent: all; ``true``: read-only; ``false``: write-only). Exclusions of
    event sources (``ExcludeManagementEventSources``, an ``eventSource`` NotEquals) do not make
    a selector count less: they are visible in cloudtrail.trail. Read-only plus write-only
    selectors make ``All``.
    """
    kinds: set[str] = set()
    for selector in selectors.get("EventSelectors") or []:
        if selector.get("IncludeManagementEvents", True):
            kinds.add(selector.get("ReadWriteType") or "All")
    for selector in selectors.get("AdvancedEventSelectors") or []:
        fields = {field.get("Field"): field for field in selector.get("FieldSelectors") or []}
        if (fields.get("eventCategory") or {}).get("Equals") != ["Management"]:
            continue
        read_only = fields.get("readOnly")
        if read_only is None:
            kinds.add("All")
        elif read_only.get("Equals") == ["true"] or read_only.get("NotEquals") == ["false"]:
            kinds.add("ReadOnly")
        elif read_only.get("Equals") == ["false"] or read_only.get("NotEquals") == ["true"]:
            kinds.add("WriteOnly")
    if "All" in kinds or {"ReadOnly", "WriteOnly"} <= kinds:
        return True, "All"
    if kinds:
        return True, kinds.pop()
    return False, None


def _multi_region_trail(ctx: SliceContext, trail: dict[str, Any]) -> dict[str, Any] | None:
    """One multi-region trail's logging facts, read in its home region; ``None`` if it was
    deleted since the listing."""
    read = _status_and_selectors(ctx, trail)
    if read is None:
        return None
    status, selectors = read
    included, read_write = _management_events(selectors)
    return {
        "TrailARN": trail["TrailARN"],
        "IsLogging": status.get("IsLogging"),
        "IncludeManagementEvents": included,
        "ReadWriteType": read_write,
        # Where the trail also delivers to CloudWatch Logs: the metric filters and alarms of
        # CIS 4.x are judged on this log group (it may be in another region, or another account).
        "CloudWatchLogsLogGroupArn": trail.get("CloudWatchLogsLogGroupArn"),
    }


def list_status(ctx: SliceContext) -> list[Item]:
    """The account's CloudTrail posture: one global item ``account`` that always exists.

    DescribeTrails with shadow trails, in the home region (us-east-1), lists every trail that
    applies there, multi-region trails homed in other regions (and organization trails) included;
    for each multi-region one, GetTrailStatus and GetEventSelectors in its home region. A
    multi-region trail logs in every region, so one read answers "is every region covered".
    """
    cloudtrail = ctx.client("cloudtrail")
    trails = [
        trail
        for trail in cloudtrail.describe_trails(includeShadowTrails=True).get("trailList") or []
        if trail.get("IsMultiRegionTrail")
    ]
    facts = [fact for fact in (_multi_region_trail(ctx, trail) for trail in trails) if fact is not None]
    configuration = {"MultiRegionTrails": facts}
    return [posture_item(ctx, "cloudtrail.status", configuration)]


TECHNOLOGIES = (
    Technology(
        name="cloudtrail.trail",
        is_global=False,
        list_items=list_trails,
        get_item=get_trail,
        description=(
            "CloudTrail trails, recorded in their home region: S3 bucket and prefix, SNS topic, "
            "multi-region and global-events flags, log file validation, CloudWatch Logs, KMS key, "
            "logging on/off, event, advanced event and insight selectors, tags."
        ),
        ephemeral_paths=tuple(f"TrailStatus.{field}" for field in _EPHEMERAL_STATUS_FIELDS),
        unordered_paths=(
            "EventSelectors.*.DataResources",
            "EventSelectors.*.DataResources.*.Values",
            "EventSelectors.*.ExcludeManagementEventSources",
            "InsightSelectors",
        ),
        always_returned={
            "cloudtrail:GetTrailStatus": ("IsLogging",),
            "cloudtrail:DescribeTrails": ("trailList",),
        },
        iam_actions=(
            "cloudtrail:DescribeTrails",
            "cloudtrail:GetTrailStatus",
            "cloudtrail:GetEventSelectors",
            "cloudtrail:GetInsightSelectors",
            "cloudtrail:ListTags",
        ),
    ),
    Technology(
        name="cloudtrail.status",
        is_global=True,
        list_items=list_status,
        description=(
            "CloudTrail account posture (one item, present even without a trail): the multi-region "
            "trails that apply to the account (organization trails included), each with logging "
            "on/off, the management events it logs (read, write or all) and the CloudWatch Logs "
            "log group it delivers to."
        ),
        unordered_paths=("MultiRegionTrails",),
        always_returned={
            "cloudtrail:GetTrailStatus": ("IsLogging",),
            "cloudtrail:DescribeTrails": ("trailList",),
            # An answer without it would read as "no selectors": management events not logged.
            "cloudtrail:GetEventSelectors": ("TrailARN",),
        },
        iam_actions=(
            "cloudtrail:DescribeTrails",
            "cloudtrail:GetTrailStatus",
            "cloudtrail:GetEventSelectors",
        ),
    ),
)
