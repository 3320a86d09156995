"""OpenSearch watchers: domains, OpenSearch and legacy Elasticsearch alike (the OpenSearch API lists
both; ``EngineVersion`` tells them apart).

One ListDomainNames per region, DescribeDomains for up to five names per call, and ListTags per
domain (on a small thread pool). The configuration is DescribeDomains' ``DomainStatus`` as AWS
spells it (encryption at rest, node-to-node encryption, ``DomainEndpointOptions`` with
``EnforceHTTPS`` and ``TLSSecurityPolicy``, VPC options, advanced security options, engine version,
cluster and EBS settings...), with ``AccessPolicies`` decoded (``null`` when the domain has none; the
resource-policy rules read it) and ``Tags``.

A domain deleted between the listing and the describe is simply missing from DescribeDomains' answer
and is skipped. Master user passwords are never returned by AWS; should one ever appear, it is
declared secret and hashed before it reaches git.

One domain is read again (``get_item``) with DescribeDomains given its name (the listing's call:
DescribeDomain would be another IAM action for the same ``DomainStatus``) and ListTags. DescribeDomains
has no "not found" error: it leaves an unknown name out of its answer.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from gitmonkey.model import Item, Technology
from gitmonkey.read.aws import SliceContext
from gitmonkey.watchers._common import decode_policy, describe_each, is_error, tags_dict

DESCRIBE_BATCH = 5  # DescribeDomains accepts at most five names
_GONE = ("ResourceNotFoundException",)
TAG_WORKERS = 4
_SOFTWARE_UPDATE_FIELDS = (
    "NewVersion",
    "UpdateAvailable",
    "Cancellable",
    "UpdateStatus",
    "Description",
    "AutomatedUpdateDate",
    "OptionalDeployment",
)


def domain_configuration(status: dict[str, Any], tags: list[dict[str, Any]] | None) -> dict[str, Any]:
    """A domain's configuration from its ``DomainStatus`` and ``TagList`` (AWS sends an empty
    string for a domain without access policy)."""
    access = status.get("AccessPolicies")
    return {**status, "AccessPolicies": decode_policy(access) if access else None, "Tags": tags_dict(tags)}


def _statuses(ctx: SliceContext, names: list[str]) -> list[dict[str, Any]]:
    client = ctx.client("opensearch")
    statuses: list[dict[str, Any]] = []
    for start in range(0, len(names), DESCRIBE_BATCH):
        batch = names[start : start + DESCRIBE_BATCH]
        statuses.extend(client.describe_domains(DomainNames=batch)["DomainStatusList"])
    return statuses


def _describe(ctx: SliceContext, status: dict[str, Any]) -> Item:
    tags = ctx.client("opensearch").list_tags(ARN=status["ARN"]).get("TagList")
    name = status["DomainName"]
    return Item(
        technology="opensearch.domain",
        region=ctx.region,
        id=name,
        name=name,
        arn=status["ARN"],
        configuration=domain_configuration(status, tags),
    )


def list_domains(ctx: SliceContext) -> list[Item]:
    """Every domain of the region; a failed read of any domain fails the whole listing."""
    listed = ctx.client("opensearch").list_domain_names()["DomainNames"]
    names = sorted({entry["DomainName"] for entry in listed})
    statuses = _statuses(ctx, names)
    return describe_each(
        lambda status: _describe(ctx, status),
        statuses,
        workers=TAG_WORKERS,
        name="opensearch-domain",
        gone=_GONE,  # deleted since DescribeDomains
    )


def get_domain(ctx: SliceContext, name: str) -> Item | None:
    """The domain ``name``; None when DescribeDomains leaves it out, or ListTags says it is gone."""
    statuses = [status for status in _statuses(ctx, [name]) if status.get("DomainName") == name]
    if not statuses:
        return None
    if len(statuses) > 1:
        raise ValueError(f"DescribeDomains answered {len(statuses)} domains named {name!r}")
    try:
        return _describe(ctx, statuses[0])
    except ClientError as exc:
        if is_error(exc, *_GONE):
            return None
        raise


TECHNOLOGIES = (
    Technology(
        name="opensearch.domain",
        is_global=False,
        list_items=list_domains,
        get_item=get_domain,
        description=(
            "OpenSearch and Elasticsearch domains: access policy, engine version, encryption at rest, "
            "node-to-node encryption, endpoint options (HTTPS enforcement, TLS policy), VPC options, "
            "advanced security (fine-grained access control), Cognito, cluster and storage settings, "
            "log publishing, tags."
        ),
        ephemeral_paths=(
            "Processing",
            "UpgradeProcessing",
            "Created",
            "Deleted",
            "DomainProcessingStatus",
            "ModifyingProperties",
            "ChangeProgressDetails",
            "AutoTuneOptions.ErrorMessage",
            *(f"ServiceSoftwareOptions.{field}" for field in _SOFTWARE_UPDATE_FIELDS),
        ),
        secret_paths=("AdvancedSecurityOptions.MasterUserOptions.MasterUserPassword",),
        unordered_paths=(
            "VPCOptions.SubnetIds",
            "VPCOptions.SecurityGroupIds",
            "VPCOptions.AvailabilityZones",
        ),
        always_returned={
            "opensearch:ListDomainNames": ("DomainNames",),
            "opensearch:DescribeDomains": ("DomainStatusList",),
        },
        iam_actions=("es:ListDomainNames", "es:DescribeDomains", "es:ListTags"),
    ),
)
