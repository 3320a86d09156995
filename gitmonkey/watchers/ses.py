"""SES watchers: email identities (addresses and domains) per region, read through the SES v2 API:
ListEmailIdentities (one per 1,000 identities), then GetEmailIdentity per identity, on a small
thread pool.

Why v2: GetEmailIdentity answers in one call what the v1 API spreads over ListIdentityPolicies +
GetIdentityPolicies per identity and GetIdentityVerificationAttributes / GetIdentityDkimAttributes /
GetIdentityMailFromDomainAttributes per 100 identities: verification, DKIM, custom MAIL FROM,
sending-authorization policies, tags and default configuration set. Both APIs see the same
identities, whichever API created them (Security Monkey's v1 ListVerifiedEmailAddresses included).

Configuration: the GetEmailIdentity answer as AWS spells it, with ``Policies`` decoded
(``{policy name: document}``, ``{}`` without any; the sending-authorization policies say which
accounts may send as the identity), ``Tags`` as an object, and ``SendingEnabled`` from the
identity's ListEmailIdentities entry (false when SES paused sending for it). The id and name are the
identity (the address or the domain).

Ephemeral: ``VerificationInfo`` (when SES last checked the DNS records, the SOA serial it saw, the
last error type) and ``DkimAttributes.LastKeyGenerationTimestamp`` (AWS rotates Easy DKIM keys).
``VerificationStatus``, DKIM ``Status`` and ``MailFromDomainStatus`` are kept: they change when a DNS
record is published or removed, which is a change of the identity's configuration, and the audit
reads them.

An identity deleted between the listing and its GetEmailIdentity (``NotFoundException``) is
skipped. ListEmailIdentities has no botocore paginator; its NextToken is followed here.

One identity is read again (``get_item``) with ListEmailIdentities (one call per 1,000 identities
of the region: it alone says ``SendingEnabled``, and it has no filter) and its GetEmailIdentity. An
identity it does not list, or that GetEmailIdentity says NotFoundException for, does not exist.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from gitmonkey.model import Item, Technology
from gitmonkey.read.aws import SliceContext
from gitmonkey.watchers._common import (
    decode_policy,
    describe_each,
    follow_tokens,
    is_error,
    partition,
    tags_dict,
)

IDENTITY_WORKERS = 2  # SES throttles its management API at a few requests per second
PAGE_SIZE = 1000
IDENTITY_GONE = ("NotFoundException",)


def list_identity_entries(ctx: SliceContext) -> list[dict[str, Any]]:
    """Every ListEmailIdentities entry of the region (botocore has no paginator for it)."""
    call = ctx.client("sesv2").list_email_identities
    return follow_tokens(call, "EmailIdentities", PageSize=PAGE_SIZE)


def _describe(ctx: SliceContext, entry: dict[str, Any]) -> Item:
    identity = entry["IdentityName"]
    detail = ctx.client("sesv2").get_email_identity(EmailIdentity=identity)
    detail.pop("ResponseMetadata", None)
    configuration = dict(detail)
    configuration["SendingEnabled"] = entry.get("SendingEnabled")
    configuration["Policies"] = {
        name: decode_policy(document) for name, document in (detail.get("Policies") or {}).items()
    }
    configuration["Tags"] = tags_dict(detail.get("Tags"))
    arn = f"arn:{partition(ctx.client_region)}:ses:{ctx.region}:{ctx.account_id}:identity/{identity}"
    return Item("ses.identity", ctx.region, identity, identity, arn, configuration)


def list_identities(ctx: SliceContext) -> list[Item]:
    """Every email identity of the region; a failed read of any identity fails the listing."""
    return describe_each(
        lambda entry: _describe(ctx, entry),
        list_identity_entries(ctx),
        workers=IDENTITY_WORKERS,
        name="ses-identity",
        gone=IDENTITY_GONE,
    )


def get_identity(ctx: SliceContext, identity: str) -> Item | None:
    entries = [entry for entry in list_identity_entries(ctx) if entry.get("IdentityName") == identity]
    if not entries:
        return None
    if len(entries) > 1:
        raise ValueError(f"ListEmailIdentities listed {identity!r} {len(entries)} times")
    try:
        return _describe(ctx, entries[0])
    except ClientError as exc:
        if is_error(exc, *IDENTITY_GONE):
            return None
        raise


TECHNOLOGIES = (
    Technology(
        name="ses.identity",
        is_global=False,
        list_items=list_identities,
        get_item=get_identity,
        description=(
            "SES email identities (addresses and domains): verification status, sending enabled, "
            "sending-authorization policies (decoded), DKIM signing and status, custom MAIL FROM "
            "domain, feedback forwarding, default configuration set, tags."
        ),
        ephemeral_paths=("VerificationInfo", "DkimAttributes.LastKeyGenerationTimestamp"),
        unordered_paths=("DkimAttributes.Tokens",),
        always_returned={
            "sesv2:ListEmailIdentities": ("EmailIdentities",),
            "sesv2:GetEmailIdentity": ("IdentityType",),
        },
        iam_actions=("ses:ListEmailIdentities", "ses:GetEmailIdentity"),
    ),
)
