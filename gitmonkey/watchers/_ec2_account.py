"""EC2 account settings per region (listed in ``ec2.TECHNOLOGIES``): ``ec2.account_settings``,
one posture item per region (id and name the region's name) that always exists.

One GetEbsEncryptionByDefault per region: ``{"EbsEncryptionByDefault": bool}``. Not read,
because moto 5.2 does not implement them and a default sync must work on moto: the default EBS
KMS key (GetEbsDefaultKmsKeyId), instance metadata defaults (GetInstanceMetadataDefaults, the
IMDSv2 account default), snapshot and image block public access
(GetSnapshotBlockPublicAccessState, GetImageBlockPublicAccessState), serial console access.
"""

from __future__ import annotations

from gitmonkey.aws import SliceContext
from gitmonkey.model import Item, Technology
from gitmonkey.watchers._common import posture_item


def list_account_settings(ctx: SliceContext) -> list[Item]:
    """The region's EC2 account settings: one item."""
    answer = ctx.client("ec2").get_ebs_encryption_by_default()
    configuration = {"EbsEncryptionByDefault": answer["EbsEncryptionByDefault"]}
    return [posture_item(ctx, "ec2.account_settings", configuration)]


TECHNOLOGIES: tuple[Technology, ...] = (
    Technology(
        name="ec2.account_settings",
        is_global=False,
        list_items=list_account_settings,
        description=(
            "EC2 account settings per region (one item per region): whether new EBS volumes are "
            "encrypted by default."
        ),
        always_returned={"ec2:GetEbsEncryptionByDefault": ("EbsEncryptionByDefault",)},
        iam_actions=("ec2:GetEbsEncryptionByDefault",),
    ),
)
