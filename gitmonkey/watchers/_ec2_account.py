"""EC2 account settings per region (listed in ``ec2.TECHNOLOGIES``): ``ec2.account_settings``,
one posture item per region (id and name the region's name) that always exists.

Six calls per region, none paginated, each answered by one small document:

- GetEbsEncryptionByDefault: ``EbsEncryptionByDefault`` (bool);
- GetEbsDefaultKmsKeyId: ``EbsDefaultKmsKeyId``, the key new encrypted volumes get
  (``alias/aws/ebs`` unless changed);
- GetInstanceMetadataDefaults: ``InstanceMetadataDefaults``, the account's instance metadata
  defaults for new instances (AWS's ``AccountLevel``: ``HttpTokens``, ``HttpPutResponseHopLimit``,
  ``HttpEndpoint``, ``InstanceMetadataTags``, ``ManagedBy``...; ``{}`` when none is set, and then
  the AMI's settings decide, which for most AMIs allow IMDSv1);
- GetSnapshotBlockPublicAccessState: ``SnapshotBlockPublicAccess`` (``State``:
  ``block-all-sharing`` / ``block-new-sharing`` / ``unblocked``, ``ManagedBy``);
- GetImageBlockPublicAccessState: ``ImageBlockPublicAccess`` (``ImageBlockPublicAccessState``:
  ``block-new-sharing`` / ``unblocked``, ``ManagedBy``);
- GetSerialConsoleAccessStatus: ``SerialConsoleAccess`` (``SerialConsoleAccessEnabled``,
  ``ManagedBy``).

``ManagedBy`` says whether the account or an Organizations declarative policy set the value.
Nothing here changes without a configuration change, so nothing is ephemeral, and nothing is
secret.

An endpoint that does not implement one of the five newer calls (moto 5.2 implements none of
them; an AWS region or partition may lack a newer API) is not a failure and not a value: the
setting is ``null`` and the call's name is listed in ``Unsupported`` (sorted; ``[]`` when every
setting was read), so that the item says what could not be known, a rule on the setting does not
fire, and a default sync against moto works. What counts as "not implemented" is decided in one
place, ``_common.read_if_supported``: an AWS "unsupported operation" error code, HTTP 501, or
moto's own answers (in process ``NotImplementedError``; its server's HTTP 500 page, honoured from
a non-AWS ``endpoint_url`` only). Every other error (AccessDenied, throttling, an AWS 5xx) fails
the slice, which keeps its files. GetEbsEncryptionByDefault is not guarded: every endpoint has
had it since 2019, and moto implements it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gitmonkey.model import Item, Technology
from gitmonkey.read.aws import SliceContext
from gitmonkey.watchers._common import posture_item, read_if_supported


def _settings(answer: dict[str, Any], *fields: str) -> dict[str, Any]:
    return {field: answer.get(field) for field in fields}


# (configuration key, operation, client method, the answer as recorded)
_GUARDED: tuple[tuple[str, str, str, Callable[[dict[str, Any]], Any]], ...] = (
    ("EbsDefaultKmsKeyId", "GetEbsDefaultKmsKeyId", "get_ebs_default_kms_key_id",
     lambda answer: answer["KmsKeyId"]),
    ("InstanceMetadataDefaults", "GetInstanceMetadataDefaults", "get_instance_metadata_defaults",
     lambda answer: dict(answer.get("AccountLevel") or {})),
    ("SnapshotBlockPublicAccess", "GetSnapshotBlockPublicAccessState",
     "get_snapshot_block_public_access_state", lambda answer: _settings(answer, "State", "ManagedBy")),
    ("ImageBlockPublicAccess", "GetImageBlockPublicAccessState", "get_image_block_public_access_state",
     lambda answer: _settings(answer, "ImageBlockPublicAccessState", "ManagedBy")),
    ("SerialConsoleAccess", "GetSerialConsoleAccessStatus", "get_serial_console_access_status",
     lambda answer: _settings(answer, "SerialConsoleAccessEnabled", "ManagedBy")),
)


def list_account_settings(ctx: SliceContext) -> list[Item]:
    """The region's EC2 account settings: one item."""
    ec2 = ctx.client("ec2")
    answer = ec2.get_ebs_encryption_by_default()
    configuration: dict[str, Any] = {"EbsEncryptionByDefault": answer["EbsEncryptionByDefault"]}
    unsupported = []
    for key, operation, method, record in _GUARDED:
        answer = read_if_supported(ec2, getattr(ec2, method))
        if answer is None:
            configuration[key] = None
            unsupported.append(operation)
        else:
            configuration[key] = record(answer)
    configuration["Unsupported"] = sorted(unsupported)
    return [posture_item(ctx, "ec2.account_settings", configuration)]


TECHNOLOGIES: tuple[Technology, ...] = (
    Technology(
        name="ec2.account_settings",
        is_global=False,
        list_items=list_account_settings,
        description=(
            "EC2 account settings per region (one item per region): EBS encryption by default and "
            "its default KMS key, the instance metadata defaults for new instances (IMDSv2 "
            "required or not), block public access for EBS snapshots and for AMIs, and EC2 serial "
            "console access. A setting the endpoint does not implement is null and named in "
            "Unsupported."
        ),
        unordered_paths=("Unsupported",),
        always_returned={
            "ec2:GetEbsEncryptionByDefault": ("EbsEncryptionByDefault",),
            "ec2:GetEbsDefaultKmsKeyId": ("KmsKeyId",),
            "ec2:GetSnapshotBlockPublicAccessState": ("State",),
            "ec2:GetImageBlockPublicAccessState": ("ImageBlockPublicAccessState",),
            "ec2:GetSerialConsoleAccessStatus": ("SerialConsoleAccessEnabled",),
        },
        iam_actions=(
            "ec2:GetEbsEncryptionByDefault",
            "ec2:GetEbsDefaultKmsKeyId",
            "ec2:GetInstanceMetadataDefaults",
            "ec2:GetSnapshotBlockPublicAccessState",
            "ec2:GetImageBlockPublicAccessState",
            "ec2:GetSerialConsoleAccessStatus",
        ),
    ),
)
