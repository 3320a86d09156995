"""Secrets Manager watchers: secrets' metadata (one paginated ListSecrets per region; per secret
GetResourcePolicy, on a small thread pool). The secret value is never read: GetSecretValue is
neither called nor in the IAM actions.

ListSecrets already carries the metadata (description, KMS key, rotation settings, tags...); the
configuration is its entry as AWS spells it, with ``ResourcePolicy`` decoded (``null`` when the
secret has none; the resource-policy rules read it), ``Tags`` as an object and ``RotationEnabled``
always present (AWS leaves it out of the entry of a secret that never rotated).

Ephemeral: the access and rotation dates, and ``SecretVersionsToStages``, whose version ids change
on each rotation or new value, so a rotation makes no commit; a change of the rotation settings does.
Secrets scheduled for deletion are not listed (ListSecrets' default): they cannot be read while
pending deletion, and a restored secret appears again.

One secret is read again by ListSecrets filtered on its name (not DescribeSecret, whose answer is
spelled otherwise, e.g. ``VersionIdsToStages``, and also describes secrets pending deletion): the
entry is then the listing's own, as current as the listing (ListSecrets is eventually consistent).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from gitmonkey.model import Item, Technology
from gitmonkey.read.aws import SliceContext
from gitmonkey.watchers._common import collect, decode_policy, describe_each, is_error, tags_dict

SECRET_WORKERS = 8
_GONE = ("ResourceNotFoundException",)
# Present in every document, null when the secret does not have them.
_ALWAYS = ("Description", "KmsKeyId", "RotationLambdaARN", "RotationRules", "OwningService", "PrimaryRegion")


def _describe(ctx: SliceContext, entry: dict[str, Any]) -> Item:
    arn = entry["ARN"]
    response = ctx.client("secretsmanager").get_resource_policy(SecretId=arn)
    policy = response.get("ResourcePolicy")
    configuration: dict[str, Any] = dict.fromkeys(_ALWAYS)
    configuration.update(entry)
    configuration.update(
        RotationEnabled=bool(entry.get("RotationEnabled", False)),
        ResourcePolicy=decode_policy(policy) if policy else None,
        Tags=tags_dict(entry.get("Tags")),
    )
    return Item(
        technology="secretsmanager.secret",
        region=ctx.region,
        id=entry["Name"],
        name=entry["Name"],
        arn=arn,
        configuration=configuration,
    )


def list_secrets(ctx: SliceContext) -> list[Item]:
    """Every secret of the region; a failed read of any secret fails the whole listing."""
    entries = collect(ctx.client("secretsmanager"), "list_secrets", "SecretList")
    return describe_each(
        lambda entry: _describe(ctx, entry),
        entries,
        workers=SECRET_WORKERS,
        name="secretsmanager-secret",
        gone=_GONE,
    )


def get_secret(ctx: SliceContext, name: str) -> Item | None:
    """One secret: ListSecrets with a ``name`` filter (it matches name prefixes; the exact name is
    taken among them), then GetResourcePolicy: two calls."""
    filters = [{"Key": "name", "Values": [name]}]
    listed = collect(ctx.client("secretsmanager"), "list_secrets", "SecretList", Filters=filters)
    entry = next((entry for entry in listed if entry.get("Name") == name), None)
    if entry is None:
        return None
    try:
        return _describe(ctx, entry)
    except ClientError as exc:
        if is_error(exc, *_GONE):
            return None
        raise


TECHNOLOGIES = (
    Technology(
        name="secretsmanager.secret",
        is_global=False,
        list_items=list_secrets,
        get_item=get_secret,
        description=(
            "Secrets Manager secrets (metadata only, never the value): resource policy, KMS key, "
            "rotation enabled, rotation function and schedule, description, owning service, primary "
            "region, tags."
        ),
        ephemeral_paths=(
            "LastAccessedDate",
            "LastChangedDate",
            "LastRotatedDate",
            "NextRotationDate",
            "SecretVersionsToStages",
        ),
        always_returned={
            "secretsmanager:ListSecrets": ("SecretList",),
        },
        iam_actions=("secretsmanager:ListSecrets", "secretsmanager:GetResourcePolicy"),
    ),
)
