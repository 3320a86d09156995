"""CloudWatch Logs watchers: metric filters (one paginated DescribeMetricFilters per region).

A metric filter turns matching log events into a metric; with an alarm on that metric it is how an
account is alerted about what CloudTrail records (CIS AWS Foundations 4.x: root use, IAM policy
changes, security group changes... are alarms on metric filters of the trail's log group).

Item id: ``<log group name>:<filter name>`` (a filter name is unique within its log group and
cannot contain ``:``); name: the filter name. ``creationTime`` changes when a filter is put again
with the same definition, so it is ephemeral.
"""

from __future__ import annotations

from typing import Any

from gitmonkey.read.aws import SliceContext
from gitmonkey.model import Item, Technology
from gitmonkey.watchers._common import collect, partition


def log_group_arn(region: str, account: str, name: str) -> str:
    return f"arn:{partition(region)}:logs:{region}:{account}:log-group:{name}"


def list_metric_filters(ctx: SliceContext) -> list[Item]:
    items = []
    for entry in collect(ctx.client("logs"), "describe_metric_filters", "metricFilters"):
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
        items.append(Item("logs.metric_filter", ctx.region, f"{group}:{name}", name, arn, configuration))
    return items


TECHNOLOGIES: tuple[Technology, ...] = (
    Technology(
        name="logs.metric_filter",
        is_global=False,
        list_items=list_metric_filters,
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
