"""CloudWatch Logs watchers: metric filters (one paginated DescribeMetricFilters per region).

A metric filter turns matching log events into a metric; with an alarm on that metric it is how an
account is alerted about what CloudTrail records (CIS AWS Foundations 4.x: root use, IAM policy
changes, security group changes... are alarms on metric filters of the trail's log group).

Item id: ``<log group name>:<filter name>`` (a filter name is unique within its log group and
cannot contain ``:``); name: the filter name. ``creationTime`` changes when a filter is put again
with the same definition, so it is ephemeral.

One filter is read again (``get_item``) with one DescribeMetricFilters given its log group and its
name as prefix (more pages only for the filters of that group sharing the prefix): the exact name
is picked; an empty answer, or ResourceNotFoundException (no such log group), is "not found".
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from gitmonkey.model import Item, Technology
from gitmonkey.read.aws import SliceContext
from gitmonkey.watchers._common import collect, is_error, partition


def log_group_arn(region: str, account: str, name: str) -> str:
    return f"arn:{partition(region)}:logs:{region}:{account}:log-group:{name}"


def _filter_item(ctx: SliceContext, entry: dict[str, Any]) -> Item:
    group, name = entry["logGroupName"], entry["filterName"]
    configuration: dict[str, Any] = {
        "filterName": name,
        "logGroupName": group,
        "filterPattern": entry.get("filterPattern", ""),
        "metricTransformations": entry.get("metricTransformations") or [],
        "creationTime": entry.get("creationTime"),
    }
    if "applyOnTransformedLogs" in entry:
        configuration["applyOnTransformedLogs"] = entry["applyOnTransformedLogs"]
    arn = f"{log_group_arn(ctx.region, ctx.account_id, group)}:metric-filter:{name}"
    return Item("logs.metric_filter", ctx.region, f"{group}:{name}", name, arn, configuration)


def list_metric_filters(ctx: SliceContext) -> list[Item]:
    return [
        _filter_item(ctx, entry)
        for entry in collect(ctx.client("logs"), "describe_metric_filters", "metricFilters")
    ]


def get_metric_filter(ctx: SliceContext, ident: str) -> Item | None:
    """The filter ``<log group>:<filter name>`` (neither part can contain ``:``)."""
    group, separator, name = ident.partition(":")
    if not separator or not group or not name or ":" in name:
        raise ValueError(f"not a metric filter id (<log group name>:<filter name>): {ident!r}")
    try:
        entries = collect(ctx.client("logs"), "describe_metric_filters", "metricFilters",
                          logGroupName=group, filterNamePrefix=name)
    except ClientError as exc:
        if is_error(exc, "ResourceNotFoundException"):
            return None
        raise
    matches = [e for e in entries if (e.get("logGroupName"), e.get("filterName")) == (group, name)]
    if len(matches) > 1:
        raise ValueError(f"DescribeMetricFilters answered {len(matches)} filters {ident!r}")
    return _filter_item(ctx, matches[0]) if matches else None


TECHNOLOGIES: tuple[Technology, ...] = (
    Technology(
        name="logs.metric_filter",
        is_global=False,
        list_items=list_metric_filters,
        get_item=get_metric_filter,
        description=(
            "CloudWatch Logs metric filters: log group, filter pattern and the metrics it emits "
            "(name, namespace, value). With cloudwatch.alarm, what the CIS 4.x monitoring rules of "
            "cloudtrail.status look for."
        ),
        ephemeral_paths=("creationTime",),
        always_returned={"logs:DescribeMetricFilters": ("metricFilters",)},
        iam_actions=("logs:DescribeMetricFilters",),
    ),
)
