"""CloudWatch watchers: metric alarms (one paginated DescribeAlarms per region).

An alarm's configuration is what it watches (metric, namespace, dimensions, statistic or metric
math), when it fires (threshold, comparison, periods) and whom it tells (actions, and whether
actions are enabled). Its state (OK / ALARM / INSUFFICIENT_DATA) and the state's reason and
timestamps change without anyone changing the alarm: ephemeral, so a firing alarm makes no commit.
Tags are not read (one ListTagsForResource per alarm, for nothing a rule judges).
"""

from __future__ import annotations

from typing import Any

from gitmonkey.read.aws import SliceContext
from gitmonkey.model import Item, Technology
from gitmonkey.watchers._common import collect

_STATE = (
    "StateValue",
    "StateReason",
    "StateReasonData",
    "StateUpdatedTimestamp",
    "StateTransitionedTimestamp",
    "AlarmConfigurationUpdatedTimestamp",
)


def list_alarms(ctx: SliceContext) -> list[Item]:
    items = []
    for alarm in collect(ctx.client("cloudwatch"), "describe_alarms", "MetricAlarms",
                         AlarmTypes=["MetricAlarm"]):
        configuration: dict[str, Any] = {k: v for k, v in alarm.items() if k not in ("AlarmArn",)}
        for key in ("AlarmActions", "OKActions", "InsufficientDataActions"):
            configuration[key] = sorted(configuration.get(key) or [])
        name = alarm["AlarmName"]
        items.append(Item("cloudwatch.alarm", ctx.region, name, name, alarm["AlarmArn"], configuration))
    return items


TECHNOLOGIES: tuple[Technology, ...] = (
    Technology(
        name="cloudwatch.alarm",
        is_global=False,
        list_items=list_alarms,
        description=(
            "CloudWatch metric alarms: metric (or metric math), threshold, periods, and the actions "
            "for each state with whether actions are enabled; the alarm's state is ephemeral."
        ),
        ephemeral_paths=_STATE,
        unordered_paths=("Dimensions",),
        always_returned={"cloudwatch:DescribeAlarms": ("MetricAlarms",)},
        iam_actions=("cloudwatch:DescribeAlarms",),
    ),
)
