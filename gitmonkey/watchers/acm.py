"""ACM watchers: certificates (one paginated ListCertificates per region; two calls per certificate).

ListCertificates by default omits certificates whose key is not RSA_1024/RSA_2048 and filters
nothing else out; the call therefore names every status and every key algorithm botocore knows,
so ECDSA and RSA_4096 certificates are recorded too.

Configuration: the DescribeCertificate fields (``None`` when AWS omits one) and the tags. The
id is the certificate's UUID (the last ARN segment), the name its ``DomainName``.

``InUseBy`` (the load balancers, CloudFront distributions... using the certificate) is recorded,
sorted, and is not ephemeral: it changes only when a resource starts or stops serving the
certificate, which is what one wants to know when a certificate is about to expire.
``RenewalSummary.UpdatedAt`` moves while ACM retries a renewal and is ephemeral.

One certificate is read again (``get_item``) with the same two calls, on the ARN built from its id
(``arn:<partition>:acm:<region>:<account>:certificate/<id>``); ResourceNotFoundException is "not
found".
"""

from __future__ import annotations

import functools
from typing import Any

import botocore.session
from botocore.exceptions import ClientError

from gitmonkey.model import Item, Technology
from gitmonkey.read.aws import SliceContext
from gitmonkey.watchers._common import collect, describe_each, is_error, partition, tags_dict

CERTIFICATE_WORKERS = 8
GONE_CODES = ("ResourceNotFoundException",)
_FIELDS = (
    "DomainName",
    "SubjectAlternativeNames",
    "ManagedBy",
    "DomainValidationOptions",
    "Serial",
    "Subject",
    "Issuer",
    "CreatedAt",
    "IssuedAt",
    "ImportedAt",
    "Status",
    "RevokedAt",
    "RevocationReason",
    "NotBefore",
    "NotAfter",
    "KeyAlgorithm",
    "SignatureAlgorithm",
    "InUseBy",
    "FailureReason",
    "Type",
    "RenewalSummary",
    "KeyUsages",
    "ExtendedKeyUsages",
    "CertificateAuthorityArn",
    "RenewalEligibility",
    "Options",
)


@functools.cache
def _list_filters() -> dict[str, Any]:
    model = botocore.session.get_session().get_service_model("acm")
    return {
        "CertificateStatuses": list(model.shape_for("CertificateStatus").enum),
        "Includes": {"keyTypes": list(model.shape_for("KeyAlgorithm").enum)},
    }


def _describe(ctx: SliceContext, arn: str, listed_domain: str | None = None) -> Item:
    """The certificate ``arn``; ``listed_domain`` (ListCertificates' ``DomainName``) names it only
    if DescribeCertificate does not."""
    acm = ctx.client("acm")
    detail = acm.describe_certificate(CertificateArn=arn)["Certificate"]
    tags = acm.list_tags_for_certificate(CertificateArn=arn).get("Tags")
    configuration: dict[str, Any] = {field: detail.get(field) for field in _FIELDS}
    configuration["Tags"] = tags_dict(tags)
    domain = detail.get("DomainName") or listed_domain or ""
    return Item("acm.certificate", ctx.region, arn.rsplit("/", 1)[-1], domain, arn, configuration)


def list_certificates(ctx: SliceContext) -> list[Item]:
    """Every certificate of the region, whatever its status or key; per-certificate reads run on a
    small pool of threads."""
    summaries = collect(ctx.client("acm"), "list_certificates", "CertificateSummaryList", **_list_filters())
    return describe_each(
        lambda summary: _describe(ctx, summary["CertificateArn"], summary.get("DomainName")),
        summaries,
        workers=CERTIFICATE_WORKERS,
        name="acm-cert",
        gone=GONE_CODES,
    )


def get_certificate(ctx: SliceContext, ident: str) -> Item | None:
    """The certificate whose UUID is ``ident``: DescribeCertificate and ListTagsForCertificate."""
    if not ident or "/" in ident or ":" in ident:
        raise ValueError(f"not an ACM certificate id (the UUID of its ARN): {ident!r}")
    arn = f"arn:{partition(ctx.client_region)}:acm:{ctx.region}:{ctx.account_id}:certificate/{ident}"
    try:
        return _describe(ctx, arn)
    except ClientError as exc:
        if is_error(exc, *GONE_CODES):
            return None
        raise


TECHNOLOGIES = (
    Technology(
        name="acm.certificate",
        is_global=False,
        list_items=list_certificates,
        get_item=get_certificate,
        description=(
            "ACM certificates of every status and key type: domain and alternative names, status, "
            "type, issuer, key and signature algorithms, validity (NotBefore/NotAfter), resources "
            "using it, renewal eligibility and status, validation options, options, tags."
        ),
        ephemeral_paths=("RenewalSummary.UpdatedAt",),
        unordered_paths=(
            "SubjectAlternativeNames",
            "InUseBy",
            "DomainValidationOptions",
            "DomainValidationOptions.*.ValidationEmails",
            "RenewalSummary.DomainValidationOptions",
            "RenewalSummary.DomainValidationOptions.*.ValidationEmails",
            "KeyUsages",
            "ExtendedKeyUsages",
        ),
        always_returned={
            "acm:DescribeCertificate": ("Certificate",),
            "acm:ListCertificates": ("CertificateSummaryList",),
        },
        iam_actions=("acm:ListCertificates", "acm:DescribeCertificate", "acm:ListTagsForCertificate"),
    ),
)
