"""S3 watchers: buckets (one account-wide listing; per bucket, one call per configuration part).

S3 is a global technology: every bucket is recorded under ``global`` and its actual region
is the ``Region`` field. Per-bucket calls go to a client of the bucket's own region, which
avoids a redirect round trip per call.
"""

from __future__ import annotations

import urllib.parse
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
    posture_item,
    tags_dict,
)

_GONE = ("NoSuchBucket",)

# (configuration key, client method, response key or None for the whole response, "not configured" codes)
_PARTS: tuple[tuple[str, str, str | None, tuple[str, ...]], ...] = (
    ("Policy", "get_bucket_policy", "Policy", ("NoSuchBucketPolicy",)),
    ("PublicAccessBlockConfiguration", "get_public_access_block", "PublicAccessBlockConfiguration",
     ("NoSuchPublicAccessBlockConfiguration",)),
    ("ServerSideEncryptionConfiguration", "get_bucket_encryption", "ServerSideEncryptionConfiguration",
     ("ServerSideEncryptionConfigurationNotFoundError",)),
    ("Versioning", "get_bucket_versioning", None, ()),
    ("Logging", "get_bucket_logging", "LoggingEnabled", ()),
    ("LifecycleRules", "get_bucket_lifecycle_configuration", "Rules", ("NoSuchLifecycleConfiguration",)),
    ("CORSRules", "get_bucket_cors", "CORSRules", ("NoSuchCORSConfiguration",)),
    ("Website", "get_bucket_website", None, ("NoSuchWebsiteConfiguration",)),
    ("Tags", "get_bucket_tagging", "TagSet", ("NoSuchTagSet",)),
    ("OwnershipControls", "get_bucket_ownership_controls", "OwnershipControls",
     ("OwnershipControlsNotFoundError",)),
    # Object Lock (write-once-read-many retention): FSBP S3.15 reads it. Only a bucket created with
    # it or later switched on has one; the others answer ObjectLockConfigurationNotFoundError.
    ("ObjectLockConfiguration", "get_object_lock_configuration", "ObjectLockConfiguration",
     ("ObjectLockConfigurationNotFoundError",)),
)

_LEGACY_LOCATIONS = {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}


def _bucket_region(s3: Any, bucket: dict[str, Any]) -> str:
    if bucket.get("BucketRegion"):
        return bucket["BucketRegion"]
    location = s3.get_bucket_location(Bucket=bucket["Name"]).get("LocationConstraint")
    return _LEGACY_LOCATIONS.get(location, location)


def _describe(ctx: SliceContext, bucket: dict[str, Any]) -> Item:
    name = bucket["Name"]
    region = _bucket_region(ctx.client("s3"), bucket)
    client = ctx.client("s3", region)
    acl = client.get_bucket_acl(Bucket=name)
    configuration: dict[str, Any] = {
        "Name": name,
        "CreationDate": bucket.get("CreationDate"),
        "Region": region,
        "Acl": {"Owner": acl.get("Owner"), "Grants": acl.get("Grants") or []},
    }
    for key, method, response_key, absent in _PARTS:
        response = call_or_absent(getattr(client, method), absent, Bucket=name)
        if response is not None and response_key is not None:
            response = response.get(response_key)
        configuration[key] = response
    configuration["Policy"] = decode_policy(configuration["Policy"])
    configuration["Tags"] = tags_dict(configuration["Tags"])
    return Item(
        technology="s3.bucket",
        region=ctx.region,
        id=name,
        name=name,
        arn=f"arn:{partition(region)}:s3:::{name}",
        configuration=configuration,
    )


def list_buckets(ctx: SliceContext) -> list[Item]:
    """Every bucket; the per-bucket reads (a dozen calls each) run on a small pool of threads,
    so that the S3 slice, the costliest of an account, does not set the length of the sync."""
    buckets = collect(ctx.client("s3"), "list_buckets", "Buckets")
    return describe_each(lambda bucket: _describe(ctx, bucket), buckets, name="s3-bucket", gone=_GONE)


def get_bucket(ctx: SliceContext, name: str) -> Item | None:
    """One bucket: its entry of ListBuckets(Prefix=name) (the listing's call, which alone gives
    ``CreationDate`` and, on AWS, ``BucketRegion``), then the listing's per-bucket reads. About
    fourteen calls, whatever the number of buckets; ``None`` when no bucket has the name exactly."""
    listed = collect(ctx.client("s3"), "list_buckets", "Buckets", Prefix=name)
    bucket = next((bucket for bucket in listed if bucket.get("Name") == name), None)
    if bucket is None:
        return None
    try:
        return _describe(ctx, bucket)
    except ClientError as exc:
        if is_error(exc, *_GONE):  # deleted since ListBuckets, as the listing leaves it out
            return None
        raise


TECHNOLOGIES = (
    Technology(
        name="s3.bucket",
        is_global=True,
        list_items=list_buckets,
        get_item=get_bucket,
        description=(
            "S3 buckets: region, policy, ACL, public access block, encryption, versioning (with MFA "
            "delete), logging, lifecycle, CORS, website, tags, ownership controls, Object Lock."
        ),
        unordered_paths=("Acl.Grants",),
        always_returned={
            "s3:ListBuckets": ("Buckets",),
            "s3:GetBucketAcl": ("Owner",),
            "s3:GetBucketTagging": ("TagSet",),
        },
        iam_actions=(
            "s3:ListAllMyBuckets",
            "s3:GetBucketLocation",
            "s3:GetBucketAcl",
            "s3:GetBucketPolicy",
            "s3:GetBucketPublicAccessBlock",
            "s3:GetEncryptionConfiguration",
            "s3:GetBucketVersioning",
            "s3:GetBucketLogging",
            "s3:GetLifecycleConfiguration",
            "s3:GetBucketCORS",
            "s3:GetBucketWebsite",
            "s3:GetBucketTagging",
            "s3:GetBucketOwnershipControls",
            "s3:GetBucketObjectLockConfiguration",
        ),
    ),
)


# --- account posture: the account-level public access block ---------------------------------------

_ENDPOINT_FIX_ID = "gitmonkey-s3control-custom-endpoint"


def use_custom_endpoint_as_is(client: Any, account_id: str, endpoint_url: str | None) -> None:
    """Make an S3 Control ``client`` send its calls to ``endpoint_url`` itself.

    S3 Control's endpoint is account-specific: botocore's endpoint rules put the ``AccountId``
    parameter in front of the host (``123456789012.s3-control.us-east-1.amazonaws.com``), also
    of a custom endpoint, so ``http://127.0.0.1:5000`` (a moto server, LocalStack, a proxy)
    would become the unresolvable ``http://123456789012.127.0.0.1:5000``. The handler runs
    before the request is signed and removes that prefix only from a custom endpoint's host;
    AWS's own endpoints are left as botocore builds them. Registered once per client.
    """
    if not endpoint_url:
        return
    netloc = urllib.parse.urlsplit(endpoint_url).netloc
    prefixed = f"{account_id}.{netloc}"

    def strip_prefix(params: dict[str, Any], **_: Any) -> None:
        parts = urllib.parse.urlsplit(params.get("url") or "")
        if parts.netloc == prefixed:
            params["url"] = urllib.parse.urlunsplit(parts._replace(netloc=netloc))

    client.meta.events.register("before-call.s3-control.*", strip_prefix, unique_id=_ENDPOINT_FIX_ID)


def list_account_public_access_block(ctx: SliceContext) -> list[Item]:
    """The account-level public access block (one S3 Control GetPublicAccessBlock); ``None``
    when it was never set (NoSuchPublicAccessBlockConfiguration, the default of a new account)."""
    client = ctx.client("s3control")
    use_custom_endpoint_as_is(client, ctx.account_id, ctx.session.account.endpoint_url)
    answer = call_or_absent(
        client.get_public_access_block, ("NoSuchPublicAccessBlockConfiguration",), AccountId=ctx.account_id
    )
    block = None if answer is None else dict(answer["PublicAccessBlockConfiguration"])
    configuration = {"PublicAccessBlockConfiguration": block}
    return [posture_item(ctx, "s3.account_public_access_block", configuration)]


TECHNOLOGIES = (
    *TECHNOLOGIES,
    Technology(
        name="s3.account_public_access_block",
        is_global=True,
        list_items=list_account_public_access_block,
        description=(
            "The account-level S3 public access block (one item, id `account`): BlockPublicAcls, "
            "IgnorePublicAcls, BlockPublicPolicy, RestrictPublicBuckets; "
            "`PublicAccessBlockConfiguration: null` when it was never set."
        ),
        always_returned={"s3control:GetPublicAccessBlock": ("PublicAccessBlockConfiguration",)},
        iam_actions=("s3:GetAccountPublicAccessBlock",),
    ),
)
