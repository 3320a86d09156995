"""CloudWatch watchers: metric alarms (one paginated DescribeAlarms per region).

An alarm's configuration is what it watches (metric, namespace, dimensions, statistic or metric
math), when it fires (threshold, comparison, periods) and whom it tells (actions, and whether
actions are enabled). Its state (OK / ALARM / INSUFFICIENT_DATA) and the state's reason and
timestamps change without anyone changing the alarm: ephemeral, so a firing alarm makes no commit.
Tags are not read (one ListTagsForResource per alarm, for nothing a rule judges).

One alarm is read again (``get_item``) with one DescribeAlarms given its name, which answers
nothing for a name that does not exist (or names a composite alarm).
"""

from __future__ import annotations

from typing import Any

from gitmonkey.model import Item, Technology
from gitmonkey.read.aws import SliceContext
from gitmonkey.watchers._common import collect

_STATE = (
    "StateValue",
    "StateReason",
    "StateReasonData",
    "StateUpdatedTimestamp",
    "StateTransitionedTimestamp",
    "AlarmConfigurationUpdatedTimestamp",
)


def _alarm_item(ctx: SliceContext, alarm: dict[str, Any]) -> Item:
    configuration: dict[str, Any] = {k: v for k, v in alarm.items() if k not in ("AlarmArn",)}
    for key in ("AlarmActions", "OKActions", "InsufficientDataActions"):
        configuration[key] = sorted(configuration.get(key) or [])
    name = alarm["AlarmName"]
    return Item("cloudwatch.alarm", ctx.region, name, name, alarm["AlarmArn"], configuration)


def _alarms(ctx: SliceContext, **params: Any) -> list[dict[str, Any]]:
    return collect(ctx.client("cloudwatch"), "describe_alarms", "MetricAlarms", AlarmTypes=["MetricAlarm"],
                   **params)


def list_alarms(ctx: SliceContext) -> list[Item]:
    return [_alarm_item(ctx, alarm) for alarm in _alarms(ctx)]


def get_alarm(ctx: SliceContext, name: str) -> Item | None:
    alarms = [alarm for alarm in _alarms(ctx, AlarmNames=[name]) if alarm.get("AlarmName") == name]
    if len(alarms) > 1:
        raise ValueError(f"DescribeAlarms answered {len(alarms)} alarms named {name!r}")
    return _alarm_item(ctx, alarms[0]) if alarms else None


TECHNOLOGIES: tuple[Technology, ...] = (
    Technology(
        name="cloudwatch.alarm",
        is_global=False,
        list_items=list_alarms,
        get_item=get_alarm,
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
