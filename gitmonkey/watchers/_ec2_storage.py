"""EBS snapshots and AMIs owned by the account: one item per snapshot or image, built from the
region-wide listing plus the one per-item attribute call that says who else may use it.

The list functions live in ``gitmonkey.watchers.ec2`` (technology names come from that module);
this module builds the items and runs the per-item calls on a small thread pool.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import ClientError

from gitmonkey.aws import SliceContext
from gitmonkey.model import Item
from gitmonkey.watchers._common import is_error, partition, tags_dict

ITEM_WORKERS = 8
SNAPSHOT_GONE = ("InvalidSnapshot.NotFound",)
IMAGE_GONE = ("InvalidAMIID.NotFound", "InvalidAMIID.Unavailable")

# Fields recorded, absent ones as null. A whitelist: AWS keeps adding fields to these shapes, some
# of them (CompletionTime, TransferType...) set once a snapshot finishes, which would be noise.
SNAPSHOT_FIELDS = (
    "SnapshotId",
    "Description",
    "VolumeId",
    "VolumeSize",
    "OwnerId",
    "OwnerAlias",
    "Encrypted",
    "KmsKeyId",
    "StartTime",
    "StorageTier",
    "RestoreExpiryTime",
    "SseType",
    "OutpostArn",
    "State",
    "StateMessage",
    "Progress",
)
IMAGE_FIELDS = (
    "ImageId",
    "Name",
    "Description",
    "OwnerId",
    "ImageOwnerAlias",
    "Public",
    "State",
    "StateReason",
    "CreationDate",
    "DeprecationTime",
    "DeregistrationProtection",
    "LastLaunchedTime",
    "ImageLocation",
    "ImageType",
    "Architecture",
    "Platform",
    "PlatformDetails",
    "UsageOperation",
    "Hypervisor",
    "VirtualizationType",
    "BootMode",
    "TpmSupport",
    "ImdsSupport",
    "EnaSupport",
    "SriovNetSupport",
    "KernelId",
    "RamdiskId",
    "RootDeviceName",
    "RootDeviceType",
    "BlockDeviceMappings",
    "ProductCodes",
    "SourceInstanceId",
    "SourceImageId",
    "SourceImageRegion",
)


def describe_each(
    ctx: SliceContext,
    listed: Iterable[dict[str, Any]],
    describe: Callable[[SliceContext, dict[str, Any]], Item],
    gone_codes: tuple[str, ...],
    label: str,
) -> list[Item]:
    """``describe`` every listed entry on a small pool; an entry deleted since the listing is skipped.

    Any other failure is re-raised (``pool.map`` raises the first one), so no partial list escapes.
    """

    def one(entry: dict[str, Any]) -> Item | None:
        try:
            return describe(ctx, entry)
        except ClientError as exc:
            if is_error(exc, *gone_codes):
                return None
            raise

    with ThreadPoolExecutor(max_workers=ITEM_WORKERS, thread_name_prefix=f"ec2-{label}") as pool:
        described = list(pool.map(one, listed))
    return [item for item in described if item is not None]


def snapshot_item(ctx: SliceContext, snapshot: dict[str, Any]) -> Item:
    snapshot_id = snapshot["SnapshotId"]
    attribute = ctx.client("ec2").describe_snapshot_attribute(
        SnapshotId=snapshot_id, Attribute="createVolumePermission"
    )
    tags = tags_dict(snapshot.get("Tags"))
    configuration = {key: snapshot.get(key) for key in SNAPSHOT_FIELDS}
    configuration["Tags"] = tags
    configuration["CreateVolumePermissions"] = attribute.get("CreateVolumePermissions") or []
    return Item(
        technology="ec2.snapshot",
        region=ctx.region,
        id=snapshot_id,
        name=tags.get("Name") or snapshot_id,
        arn=f"arn:{partition(ctx.client_region)}:ec2:{ctx.region}::snapshot/{snapshot_id}",
        configuration=configuration,
    )


def image_item(ctx: SliceContext, image: dict[str, Any]) -> Item:
    image_id = image["ImageId"]
    attribute = ctx.client("ec2").describe_image_attribute(ImageId=image_id, Attribute="launchPermission")
    configuration = {key: image.get(key) for key in IMAGE_FIELDS}
    configuration["Tags"] = tags_dict(image.get("Tags"))
    configuration["LaunchPermissions"] = attribute.get("LaunchPermissions") or []
    return Item(
        technology="ec2.image",
        region=ctx.region,
        id=image_id,
        name=image.get("Name") or image_id,
        arn=f"arn:{partition(ctx.client_region)}:ec2:{ctx.region}::image/{image_id}",
        configuration=configuration,
    )
