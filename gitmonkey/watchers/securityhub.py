"""Security Hub watcher: whether the region is subscribed, as one posture item per region
(``securityhub.status``).

The item always exists, with id and name the region's name. One DescribeHub per region: a
region that is not subscribed answers ``InvalidAccessException`` with a message saying the
account "is not subscribed to AWS Security Hub" (AWS and moto alike); that, and only that, is
recorded as ``{"Enabled": false}``. Every other error (an ``InvalidAccessException`` for
another reason included) fails the read.

When subscribed: ``HubArn``, ``SubscribedAt`` (when it was enabled: it changes only when the hub
is disabled and enabled again, which is a change worth a commit), ``AutoEnableControls`` and
``ControlFindingGenerator``. The enabled standards (GetEnabledStandards) are not read: moto 5.2
does not implement the call, and a default sync must work on moto.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from gitmonkey.model import Item, Technology
from gitmonkey.read.aws import SliceContext
from gitmonkey.watchers._common import is_error, posture_item

_FIELDS = ("HubArn", "SubscribedAt", "AutoEnableControls", "ControlFindingGenerator")


def _not_subscribed(exc: ClientError) -> bool:
    message = (exc.response.get("Error", {}).get("Message") or "").lower()
    return is_error(exc, "InvalidAccessException") and "not subscribed" in message


def list_status(ctx: SliceContext) -> list[Item]:
    """The region's Security Hub status: one item, ``{"Enabled": false}`` when not subscribed."""
    try:
        hub = ctx.client("securityhub").describe_hub()
    except ClientError as exc:
        if not _not_subscribed(exc):
            raise
        return [posture_item(ctx, "securityhub.status", {"Enabled": False})]
    configuration: dict[str, Any] = {"Enabled": True}
    configuration.update({field: hub.get(field) for field in _FIELDS})
    return [posture_item(ctx, "securityhub.status", configuration, hub.get("HubArn") or "")]


TECHNOLOGIES = (
    Technology(
        name="securityhub.status",
        is_global=False,
        list_items=list_status,
        description=(
            "Security Hub per region (one item per region, present even when not subscribed): "
            "enabled or not, hub ARN, when it was enabled, auto-enabled controls, control finding "
            "generator. Enabled standards are not read."
        ),
        always_returned={"securityhub:DescribeHub": ("HubArn",)},
        iam_actions=("securityhub:DescribeHub",),
    ),
)
