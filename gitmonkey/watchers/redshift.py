"""Redshift watchers: provisioned clusters (one paginated DescribeClusters per region, no per-item
call: the answer carries the tags).

Configuration is the cluster record as AWS returns it (every field, so that a field AWS adds later is
tracked without a code change), with ``Tags`` as an object and the ARN, which DescribeClusters does
not return, built from the identifier. The master password is never returned (``MasterUsername``
is, and is kept); ``PendingModifiedValues.MasterUserPassword`` is AWS's mask and that whole member is
ephemeral anyway.

Ephemeral, so that an unchanged cluster makes no commit (Security Monkey's list, #292, and what
AWS added since):
- status: ``ClusterStatus``, ``ClusterAvailabilityStatus``, ``ModifyStatus``, the ``Status`` /
  ``ApplyStatus`` of each security group, IAM role, HSM and elastic IP, the parameter groups'
  ``ParameterApplyStatus`` and per-parameter ``ClusterParameterStatusList``, AQUA's ``AquaStatus``,
  ``SnapshotScheduleState``, ``AvailabilityZoneRelocationStatus``;
- operations in progress: ``RestoreStatus``, ``DataTransferProgress``, ``ResizeInfo``,
  ``ReservedNodeExchangeStatus``, ``PendingActions``, and ``PendingModifiedValues`` (a change
  scheduled for the maintenance window shows in the configuration once applied; recording both
  would make two commits of one change);
- maintenance and schedule clocks: ``ClusterRevisionNumber`` (moves with AWS's patches),
  ``NextMaintenanceWindowStartTime``, ``ExpectedNextSnapshotScheduleTime`` (and its status),
  ``DeferredMaintenanceWindows`` (they lapse by themselves), ``ElasticResizeNumberOfNodeOptions``
  (computed by AWS), ``CustomDomainCertificateExpiryDate`` (moves when ACM renews the certificate),
  ``LoggingPublishStatus.S3Tables.LastIngestionTimes``;
- placement that a node replacement or a Multi-AZ failover changes: ``ClusterNodes`` (node IP
  addresses; ``NumberOfNodes`` is kept), ``AvailabilityZone``, ``MultiAZSecondary``.

One cluster is read again (``get_item``) with one DescribeClusters given its identifier.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from gitmonkey.model import Item, Technology
from gitmonkey.read.aws import SliceContext
from gitmonkey.watchers._common import collect, is_error, partition, tags_dict


def _item(ctx: SliceContext, record: dict[str, Any]) -> Item:
    ident = record["ClusterIdentifier"]
    configuration = dict(record)
    configuration["Tags"] = tags_dict(record.get("Tags"))
    arn = f"arn:{partition(ctx.client_region)}:redshift:{ctx.region}:{ctx.account_id}:cluster:{ident}"
    return Item("redshift.cluster", ctx.region, ident, ident, arn, configuration)


def list_clusters(ctx: SliceContext) -> list[Item]:
    """Every provisioned cluster of the region (Redshift Serverless workgroups are another API)."""
    return [_item(ctx, record) for record in collect(ctx.client("redshift"), "describe_clusters", "Clusters")]


class IdentifierMismatchError(RuntimeError):
    """DescribeClusters given one identifier answered for another: Redshift folds identifiers to
    lower case, so ``MyCluster`` reads as ``mycluster``, which is not the item asked for."""


def get_cluster(ctx: SliceContext, ident: str) -> Item | None:
    """The cluster ``ident``; None when Redshift says ClusterNotFound."""
    try:
        records = collect(ctx.client("redshift"), "describe_clusters", "Clusters", ClusterIdentifier=ident)
    except ClientError as exc:
        if is_error(exc, "ClusterNotFound", "ClusterNotFoundFault"):
            return None
        raise
    if not records:
        return None
    found = [record.get("ClusterIdentifier") for record in records]
    if found != [ident]:
        raise IdentifierMismatchError(f"DescribeClusters for {ident!r} answered {found}")
    return _item(ctx, records[0])


_EPHEMERAL = (
    "ClusterStatus",
    "ClusterAvailabilityStatus",
    "ModifyStatus",
    "RestoreStatus",
    "DataTransferProgress",
    "ResizeInfo",
    "ReservedNodeExchangeStatus",
    "PendingModifiedValues",
    "PendingActions",
    "ClusterRevisionNumber",
    "NextMaintenanceWindowStartTime",
    "DeferredMaintenanceWindows",
    "ExpectedNextSnapshotScheduleTime",
    "ExpectedNextSnapshotScheduleTimeStatus",
    "SnapshotScheduleState",
    "ElasticResizeNumberOfNodeOptions",
    "AvailabilityZoneRelocationStatus",
    "CustomDomainCertificateExpiryDate",
    "ClusterNodes",
    "AvailabilityZone",
    "MultiAZSecondary",
    "ClusterSecurityGroups.*.Status",
    "VpcSecurityGroups.*.Status",
    "ClusterParameterGroups.*.ParameterApplyStatus",
    "ClusterParameterGroups.*.ClusterParameterStatusList",
    "IamRoles.*.ApplyStatus",
    "HsmStatus.Status",
    "ElasticIpStatus.Status",
    "AquaConfiguration.AquaStatus",
    "LoggingPublishStatus.S3Tables.LastIngestionTimes",
)
_UNORDERED = (
    "ClusterSecurityGroups",
    "VpcSecurityGroups",
    "ClusterParameterGroups",
    "IamRoles",
    "Endpoint.VpcEndpoints",
    "Endpoint.VpcEndpoints.*.NetworkInterfaces",
)


TECHNOLOGIES = (
    Technology(
        name="redshift.cluster",
        is_global=False,
        list_items=list_clusters,
        get_item=get_cluster,
        description=(
            "Redshift provisioned clusters: VPC, subnet group and VPC security groups, public "
            "accessibility and endpoint, encryption and KMS key, enhanced VPC routing, automated and "
            "manual snapshot retention, cross-region snapshot copy, version upgrades and maintenance "
            "track, IAM roles, parameter groups, master user name (never a password), node type and "
            "count, tags; every other field DescribeClusters returns."
        ),
        ephemeral_paths=_EPHEMERAL,
        unordered_paths=_UNORDERED,
        always_returned={
            "redshift:DescribeClusters": ("Clusters",),
        },
        iam_actions=("redshift:DescribeClusters",),
    ),
)
