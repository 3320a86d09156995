"""AWS Config watchers: configuration recorders (three region-wide calls, none per recorder).

A region has at most one customer-managed recorder; service-linked recorders (made by other
AWS services) are not returned by these calls and are not recorded. Each recorder is recorded
with its recording status (``recording``; the last start/stop/status times and the last error
are ephemeral) and the region's delivery channels
(a region has at most one; they are not attached to a recorder by name, so every recorder of
the region carries them).

Unrelated to ``gitmonkey.config`` (the configuration file): this module is
``gitmonkey.watchers.config``.
"""

from __future__ import annotations

from typing import Any

from gitmonkey.aws import SliceContext
from gitmonkey.model import Item, Technology
from gitmonkey.watchers._common import partition

_RECORDER_FIELDS = (
    "roleARN",
    "recordingGroup",
    "recordingMode",
    "recordingScope",
    "servicePrincipal",
)
_EPHEMERAL_STATUS_FIELDS = (
    "lastStartTime",
    "lastStopTime",
    "lastStatus",
    "lastErrorCode",
    "lastErrorMessage",
    "lastStatusChangeTime",
)


def _arn(ctx: SliceContext, recorder: dict[str, Any]) -> str:
    """AWS returns the recorder's ARN in recent API versions; older ones (and moto) do not, and
    the real ARN carries a suffix that cannot be derived, so the name-only form stands in."""
    if recorder.get("arn"):
        return recorder["arn"]
    prefix = f"arn:{partition(ctx.client_region)}:config:{ctx.region}:{ctx.account_id}"
    return f"{prefix}:configuration-recorder/{recorder['name']}"


def list_recorders(ctx: SliceContext) -> list[Item]:
    config = ctx.client("config")
    recorders = config.describe_configuration_recorders().get("ConfigurationRecorders") or []
    if not recorders:
        return []
    status_list = config.describe_configuration_recorder_status().get("ConfigurationRecordersStatus")
    statuses = {status["name"]: status for status in status_list or []}
    channels = sorted(
        config.describe_delivery_channels().get("DeliveryChannels") or [], key=lambda c: c.get("name", "")
    )
    items = []
    for recorder in recorders:
        name = recorder["name"]
        status = statuses.get(name)
        if status is None:  # deleted between the two calls
            continue
        configuration: dict[str, Any] = {"name": name}
        configuration.update({field: recorder.get(field) for field in _RECORDER_FIELDS})
        configuration["recording"] = status.get("recording")
        configuration["status"] = {field: status.get(field) for field in _EPHEMERAL_STATUS_FIELDS}
        configuration["deliveryChannels"] = channels
        items.append(Item("config.recorder", ctx.region, name, name, _arn(ctx, recorder), configuration))
    return items


TECHNOLOGIES = (
    Technology(
        name="config.recorder",
        is_global=False,
        list_items=list_recorders,
        description=(
            "AWS Config configuration recorders: IAM role, recording group (all supported or listed "
            "resource types, exclusions, global resources), recording mode, recording on/off, the "
            "region's delivery channels (S3 bucket and prefix, KMS key, SNS topic, snapshot frequency)."
        ),
        ephemeral_paths=tuple(f"status.{field}" for field in _EPHEMERAL_STATUS_FIELDS),
        unordered_paths=(
            "recordingGroup.resourceTypes",
            "recordingGroup.exclusionByResourceTypes.resourceTypes",
            "recordingMode.recordingModeOverrides",
            "recordingMode.recordingModeOverrides.*.resourceTypes",
        ),
        always_returned={
            "config:DescribeConfigurationRecorders": ("ConfigurationRecorders",),
            "config:DescribeConfigurationRecorderStatus": ("ConfigurationRecordersStatus",),
            "config:DescribeDeliveryChannels": ("DeliveryChannels",),
        },
        iam_actions=(
            "config:DescribeConfigurationRecorders",
            "config:DescribeConfigurationRecorderStatus",
            "config:DescribeDeliveryChannels",
        ),
    ),
)
