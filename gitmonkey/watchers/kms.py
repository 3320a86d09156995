"""KMS watchers: customer-managed keys (region-wide ListKeys and ListAliases; five calls per key).

Only customer-managed keys are recorded. AWS-managed keys (``alias/aws/*``, KeyManager ``AWS``)
are skipped: their policy, rotation (always on, yearly) and grants belong to AWS, so nothing
about them is actionable and recording them would only add items and calls. A key that an
``alias/aws/`` alias points to is AWS-managed (the prefix is reserved) and costs no call at all;
the others are described, and skipped when KeyManager says ``AWS``.

Configuration: the DescribeKey metadata (every field, ``None`` when AWS omits it), the
``default`` key policy decoded under ``KeyPolicy`` (the key read by the resource-policy rules),
the rotation status, the aliases (sorted), the grants and the tags.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from gitmonkey.model import Item, Technology
from gitmonkey.read.aws import SliceContext
from gitmonkey.watchers._common import (
    call_or_absent,
    collect,
    decode_policy,
    describe_each,
    is_error,
    partition,
)

KEY_WORKERS = 8
_AWS_MANAGED_ALIAS_PREFIX = "alias/aws/"
# Arn and AWSAccountId are the document's own arn and account; CustomerMasterKeySpec is the
# deprecated spelling of KeySpec.
_METADATA_FIELDS = (
    "KeyId",
    "Description",
    "CreationDate",
    "Enabled",
    "KeyState",
    "DeletionDate",
    "PendingDeletionWindowInDays",
    "KeyManager",
    "KeyUsage",
    "KeySpec",
    "Origin",
    "ValidTo",
    "ExpirationModel",
    "CustomKeyStoreId",
    "CloudHsmClusterId",
    "XksKeyConfiguration",
    "EncryptionAlgorithms",
    "SigningAlgorithms",
    "MacAlgorithms",
    "KeyAgreementAlgorithms",
    "EncapsulationAlgorithms",
    "MultiRegion",
    "MultiRegionConfiguration",
    "CurrentKeyMaterialId",
)
_ALGORITHM_LISTS = (
    "EncryptionAlgorithms",
    "SigningAlgorithms",
    "MacAlgorithms",
    "KeyAgreementAlgorithms",
    "EncapsulationAlgorithms",
)
# Automatic rotation does not apply to asymmetric, HMAC, imported or custom-key-store keys,
# nor to keys in some states (pending import): the status is then absent, not a failure.
_ROTATION_NOT_APPLICABLE = ("UnsupportedOperationException", "KMSInvalidStateException")
_GONE = ("NotFoundException",)


def _aliases_by_key(kms: Any, **params: Any) -> dict[str, list[str]]:
    aliases: dict[str, list[str]] = {}
    for alias in collect(kms, "list_aliases", "Aliases", **params):
        if alias.get("TargetKeyId"):
            aliases.setdefault(alias["TargetKeyId"], []).append(alias["AliasName"])
    return {key_id: sorted(names) for key_id, names in aliases.items()}


def _grant(grant: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in grant.items() if name != "KeyId"}


def _is_service_grant(grant: dict[str, Any]) -> bool:
    """A grant an AWS service makes and retires by itself, e.g. EC2's per-volume grant while an
    encrypted EBS volume is attached: recording each would commit on every scaling event
    (Security Monkey's #1068). Only their number is kept, as an ephemeral value."""
    grantee = str(grant.get("GranteePrincipal") or "")
    context = (grant.get("Constraints") or {}).get("EncryptionContextSubset") or {}
    return ":assumed-role/aws:" in grantee or any(str(k).startswith("aws:") for k in context)


def _aws_managed(aliases: list[str]) -> bool:
    return any(name.startswith(_AWS_MANAGED_ALIAS_PREFIX) for name in aliases)


def _describe(ctx: SliceContext, key: dict[str, Any], aliases: list[str]) -> Item | None:
    metadata = ctx.client("kms").describe_key(KeyId=key["KeyId"])["KeyMetadata"]
    return _key_item(ctx, key["KeyId"], metadata, aliases, key["KeyArn"])


def _key_item(
    ctx: SliceContext, key_id: str, metadata: dict[str, Any], aliases: list[str], arn: str
) -> Item | None:
    """The key's item from its DescribeKey metadata and aliases; ``None`` for an AWS-managed key."""
    kms = ctx.client("kms")
    if metadata.get("KeyManager") == "AWS":
        return None
    policy = kms.get_key_policy(KeyId=key_id, PolicyName="default").get("Policy")
    rotation = call_or_absent(kms.get_key_rotation_status, _ROTATION_NOT_APPLICABLE, KeyId=key_id) or {}
    grants = collect(kms, "list_grants", "Grants", KeyId=key_id)
    tags = collect(kms, "list_resource_tags", "Tags", KeyId=key_id)

    configuration: dict[str, Any] = {field: metadata.get(field) for field in _METADATA_FIELDS}
    configuration.update(
        KeyPolicy=decode_policy(policy),
        KeyRotationEnabled=rotation.get("KeyRotationEnabled"),
        RotationPeriodInDays=rotation.get("RotationPeriodInDays"),
        NextRotationDate=rotation.get("NextRotationDate"),
        OnDemandRotationStartDate=rotation.get("OnDemandRotationStartDate"),
        Aliases=aliases,
        Grants=[_grant(grant) for grant in grants if not _is_service_grant(grant)],
        ServiceGrantCount=sum(1 for grant in grants if _is_service_grant(grant)),
        Tags={tag["TagKey"]: tag.get("TagValue", "") for tag in tags},
    )
    return Item(
        technology="kms.key",
        region=ctx.region,
        id=key_id,
        name=aliases[0] if aliases else key_id,
        arn=metadata.get("Arn") or arn,
        configuration=configuration,
    )


def list_keys(ctx: SliceContext) -> list[Item]:
    """Every customer-managed key of the region; per-key reads run on a small pool of threads."""
    kms = ctx.client("kms")
    keys = collect(kms, "list_keys", "Keys")
    aliases = _aliases_by_key(kms)

    candidates = [key for key in keys if not _aws_managed(aliases.get(key["KeyId"], []))]
    return describe_each(
        lambda key: _describe(ctx, key, aliases.get(key["KeyId"], [])),
        candidates,
        workers=KEY_WORKERS,
        name="kms-key",
        gone=_GONE,
    )


def get_key(ctx: SliceContext, key_id: str) -> Item | None:
    """One key: DescribeKey, its aliases by ListAliases(KeyId=...) (the same aliases as the
    region's ListAliases gives it), then the listing's per-key reads: six calls. ``None`` when KMS
    says NotFoundException, when DescribeKey resolves the id to another key (an alias or ARN is no
    key id), and for an AWS-managed key, which the listing leaves out."""
    kms = ctx.client("kms")
    try:
        metadata = kms.describe_key(KeyId=key_id)["KeyMetadata"]
        if metadata["KeyId"] != key_id:
            return None
        aliases = _aliases_by_key(kms, KeyId=key_id).get(key_id, [])
        if _aws_managed(aliases):
            return None
        arn = f"arn:{partition(ctx.region)}:kms:{ctx.region}:{ctx.account_id}:key/{key_id}"
        return _key_item(ctx, key_id, metadata, aliases, arn)
    except ClientError as exc:
        if is_error(exc, *_GONE):
            return None
        raise


TECHNOLOGIES = (
    Technology(
        name="kms.key",
        is_global=False,
        list_items=list_keys,
        get_item=get_key,
        description=(
            "Customer-managed KMS keys (AWS-managed keys are skipped): key metadata (state, usage, spec, "
            "origin, multi-Region, deletion date...), key policy, rotation status, aliases, grants, tags."
        ),
        ephemeral_paths=(
            "CurrentKeyMaterialId",
            "NextRotationDate",
            "OnDemandRotationStartDate",
            "ServiceGrantCount",
        ),
        unordered_paths=(
            "Aliases",
            "Grants",
            "Grants.*.Operations",
            *_ALGORITHM_LISTS,
            "MultiRegionConfiguration.ReplicaKeys",
        ),
        always_returned={
            "kms:DescribeKey": ("KeyMetadata",),
            "kms:GetKeyPolicy": ("Policy",),
            "kms:GetKeyRotationStatus": ("KeyRotationEnabled",),
            "kms:ListKeys": ("Keys",),
        },
        iam_actions=(
            "kms:ListKeys",
            "kms:ListAliases",
            "kms:DescribeKey",
            "kms:GetKeyPolicy",
            "kms:GetKeyRotationStatus",
            "kms:ListGrants",
            "kms:ListResourceTags",
        ),
    ),
)
