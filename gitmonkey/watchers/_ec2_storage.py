"""EBS snapshots and AMIs owned by the account: one item per snapshot or image, built from the
region-wide listing plus the one per-item attribute call that says who else may use it.

The list and get functions live in ``gitmonkey.watchers.ec2`` (technology names come from that
module) and run this module's item builders: one per listed entry on a small thread pool, or one
for the entry of a Describe call by id.
"""

from __future__ import annotations

from typing import Any

from gitmonkey.model import Item
from gitmonkey.read.aws import SliceContext
from gitmonkey.watchers._common import ec2_arn, tagged_item, tags_dict

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


def snapshot_item(ctx: SliceContext, snapshot: dict[str, Any]) -> Item:
    snapshot_id = snapshot["SnapshotId"]
    attribute = ctx.client("ec2").describe_snapshot_attribute(
        SnapshotId=snapshot_id, Attribute="createVolumePermission"
    )
    configuration = {key: snapshot.get(key) for key in SNAPSHOT_FIELDS}
    configuration["CreateVolumePermissions"] = attribute.get("CreateVolumePermissions") or []
    arn = ec2_arn(ctx, "", f"snapshot/{snapshot_id}")
    return tagged_item(ctx, "ec2.snapshot", snapshot_id, arn, configuration, snapshot.get("Tags"))


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
        arn=ec2_arn(ctx, "", f"image/{image_id}"),
        configuration=configuration,
    )
