"""GuardDuty watcher: the region's detectors, as one posture item per region (``guardduty.status``).

The item always exists, with id and name the region's name: a region without a detector is
recorded as ``{"Detectors": []}``, so that "GuardDuty is off" is an ordinary issue of an
ordinary item, and ``git log`` shows when it was turned on or off. A region has at most one
detector per account; the list is kept anyway, as AWS returns a list.

Calls: ListDetectors (paginated) for the region, GetDetector per detector. A detector deleted
between the two calls is left out: GetDetector then answers ``BadRequestException`` "...
detectorId is not owned by the current account" (the code alone also means a malformed request,
so only that message counts as gone; any other error fails the read).

Per detector: ``DetectorId``, ``Status`` (``ENABLED`` / ``DISABLED``: a configuration the owner
sets, so a change to record), ``FindingPublishingFrequency``, ``ServiceRole``, ``DataSources``
and ``Features`` as AWS returns them, ``Tags``. ``CreatedAt``/``UpdatedAt`` (also of features
and their additional configuration) are ephemeral. Filters, IP sets, threat-intel sets,
members, the administrator account and publishing destinations are not read (moto 5.2
implements none of them; see the report of this technology).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from gitmonkey.model import Item, Technology
from gitmonkey.read.aws import SliceContext
from gitmonkey.watchers._common import collect, is_error, posture_item

_FIELDS = ("Status", "FindingPublishingFrequency", "ServiceRole", "DataSources", "Features", "Tags")
_EPHEMERAL = (
    "Detectors.*.CreatedAt",
    "Detectors.*.UpdatedAt",
    "Detectors.*.Features.*.UpdatedAt",
    "Detectors.*.Features.*.AdditionalConfiguration.*.UpdatedAt",
)


def _gone(exc: ClientError) -> bool:
    message = exc.response.get("Error", {}).get("Message") or ""
    return is_error(exc, "BadRequestException") and "not owned by the current account" in message


def _detector(ctx: SliceContext, detector_id: str) -> dict[str, Any] | None:
    try:
        answer = ctx.client("guardduty").get_detector(DetectorId=detector_id)
    except ClientError as exc:
        if _gone(exc):
            return None
        raise
    detector: dict[str, Any] = {"DetectorId": detector_id}
    detector.update({field: answer.get(field) for field in _FIELDS})
    detector["Tags"] = detector["Tags"] or {}
    detector["CreatedAt"] = answer.get("CreatedAt")
    detector["UpdatedAt"] = answer.get("UpdatedAt")
    return detector


def list_status(ctx: SliceContext) -> list[Item]:
    """The region's GuardDuty status: one item, ``{"Detectors": [...]}`` (empty when off)."""
    ids = collect(ctx.client("guardduty"), "list_detectors", "DetectorIds")
    detectors = [detector for detector in (_detector(ctx, i) for i in ids) if detector is not None]
    return [posture_item(ctx, "guardduty.status", {"Detectors": detectors})]


TECHNOLOGIES = (
    Technology(
        name="guardduty.status",
        is_global=False,
        list_items=list_status,
        description=(
            "GuardDuty per region (one item per region, present even when GuardDuty is off): the "
            "detectors with their status (enabled/suspended), finding publishing frequency, service "
            "role, data sources and protection plans (features), tags."
        ),
        ephemeral_paths=_EPHEMERAL,
        unordered_paths=(
            "Detectors",
            "Detectors.*.Features",
            "Detectors.*.Features.*.AdditionalConfiguration",
        ),
        always_returned={"guardduty:ListDetectors": ("DetectorIds",)},
        iam_actions=("guardduty:ListDetectors", "guardduty:GetDetector"),
    ),
)
