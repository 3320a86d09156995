"""RDS watchers: DB instances, DB clusters, manual DB / DB cluster snapshots, and DB subnet groups.

Instances and clusters cost one paginated call per region each: DescribeDBInstances and
DescribeDBClusters carry the tags (``TagList``), so no per-item call is needed. They also list
DocumentDB and Neptune instances and clusters, which share the RDS API; those are recorded too.

Snapshots are the manual ones the account owns (``SnapshotType="manual"``): automated snapshots
cannot be shared (they must be copied first) and come and go daily, so they would only add
churn. Each snapshot costs one more call, for its ``restore`` attribute: the accounts allowed to
restore it, recorded as ``RestoreAccounts`` (sorted; ``all`` means public).

Configuration is the record as AWS returns it (every field, so that a field AWS adds later is
tracked without a code change), with ``TagList`` turned into a ``Tags`` object and the ARN left
to the document's ``arn``. Status fields are ephemeral: they move without a configuration
change. ``PendingModifiedValues`` is ephemeral too: it holds a change scheduled for the next
maintenance window, which shows up in the configuration itself once applied; recording both
would make two commits of one change. ``AvailabilityZone`` / ``SecondaryAvailabilityZone`` and a
cluster member's ``IsClusterWriter`` swap on a Multi-AZ failover, which is not a change either.
``InstanceCreateTime`` is kept: it changes only when the instance is replaced.

DB subnet groups (also DocumentDB's and Neptune's, which share the API) cost one paginated
DescribeDBSubnetGroups per region: the VPC, the subnets with their availability zones (sorted:
AWS defines no order) and the network types. ``SubnetGroupStatus`` and each subnet's
``SubnetStatus`` are ephemeral. DescribeDBSubnetGroups carries no tags and they are not read (one
more call per group, for nothing that decides where a database is reachable from).

One item is read again (``get_item``) with the same Describe call given its identifier (a
snapshot: also its attributes call), which answers the same record as the listing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from gitmonkey.model import Item, Technology
from gitmonkey.read.aws import SliceContext
from gitmonkey.watchers._common import collect, describe_each, is_error, partition, tags_dict

SNAPSHOT_WORKERS = 8
RESTORE_ATTRIBUTE = "restore"


def _item(
    ctx: SliceContext,
    technology: str,
    record: dict[str, Any],
    id_key: str,
    arn_key: str,
    arn_kind: str,
    **extra: Any,
) -> Item:
    """The item of one RDS record: the record less ``TagList`` (as ``Tags``) and its ARN, plus ``extra``."""
    ident = record[id_key]
    configuration = {key: value for key, value in record.items() if key not in ("TagList", arn_key)}
    configuration["Tags"] = tags_dict(record.get("TagList"))
    configuration.update(extra)
    arn = record.get(arn_key) or (
        f"arn:{partition(ctx.client_region)}:rds:{ctx.region}:{ctx.account_id}:{arn_kind}:{ident}"
    )
    return Item(technology, ctx.region, ident, ident, arn, configuration)


class IdentifierMismatchError(RuntimeError):
    """A Describe call given one identifier answered for another: RDS folds identifiers to lower
    case, so ``MyDB`` reads as ``mydb``, which is not the item asked for (nor its absence)."""


def _described(
    ctx: SliceContext,
    operation: str,
    list_key: str,
    id_key: str,
    ident: str,
    not_found: Iterable[str],
    **params: Any,
) -> dict[str, Any] | None:
    """The record of ``ident`` from a Describe call by identifier; None when RDS says it does not
    exist (an error code of ``not_found``, or an empty answer)."""
    try:
        records = collect(ctx.client("rds"), operation, list_key, **params)
    except ClientError as exc:
        if is_error(exc, *not_found):
            return None
        raise
    if not records:
        return None
    found = [record.get(id_key) for record in records]
    if found != [ident]:
        raise IdentifierMismatchError(f"{operation} for {ident!r} answered {found}")
    return records[0]


def _instance_item(ctx: SliceContext, record: dict[str, Any]) -> Item:
    return _item(ctx, "rds.db_instance", record, "DBInstanceIdentifier", "DBInstanceArn", "db")


def _cluster_item(ctx: SliceContext, record: dict[str, Any]) -> Item:
    return _item(ctx, "rds.db_cluster", record, "DBClusterIdentifier", "DBClusterArn", "cluster")


def _subnet_group_item(ctx: SliceContext, record: dict[str, Any]) -> Item:
    name = record["DBSubnetGroupName"]
    configuration = {key: value for key, value in record.items() if key != "DBSubnetGroupArn"}
    arn = record.get("DBSubnetGroupArn") or (
        f"arn:{partition(ctx.client_region)}:rds:{ctx.region}:{ctx.account_id}:subgrp:{name}"
    )
    return Item("rds.db_subnet_group", ctx.region, name, name, arn, configuration)


def list_db_instances(ctx: SliceContext) -> list[Item]:
    return [
        _instance_item(ctx, record)
        for record in collect(ctx.client("rds"), "describe_db_instances", "DBInstances")
    ]


def get_db_instance(ctx: SliceContext, ident: str) -> Item | None:
    """One DescribeDBInstances."""
    record = _described(
        ctx, "describe_db_instances", "DBInstances", "DBInstanceIdentifier", ident,
        ("DBInstanceNotFound", "DBInstanceNotFoundFault"), DBInstanceIdentifier=ident,
    )
    return None if record is None else _instance_item(ctx, record)


def list_db_clusters(ctx: SliceContext) -> list[Item]:
    return [
        _cluster_item(ctx, record)
        for record in collect(ctx.client("rds"), "describe_db_clusters", "DBClusters")
    ]


def get_db_cluster(ctx: SliceContext, ident: str) -> Item | None:
    """One DescribeDBClusters."""
    record = _described(
        ctx, "describe_db_clusters", "DBClusters", "DBClusterIdentifier", ident,
        ("DBClusterNotFoundFault", "DBClusterNotFound"), DBClusterIdentifier=ident,
    )
    return None if record is None else _cluster_item(ctx, record)


def list_db_subnet_groups(ctx: SliceContext) -> list[Item]:
    return [
        _subnet_group_item(ctx, record)
        for record in collect(ctx.client("rds"), "describe_db_subnet_groups", "DBSubnetGroups")
    ]


def get_db_subnet_group(ctx: SliceContext, name: str) -> Item | None:
    """One DescribeDBSubnetGroups."""
    record = _described(
        ctx, "describe_db_subnet_groups", "DBSubnetGroups", "DBSubnetGroupName", name,
        ("DBSubnetGroupNotFoundFault", "DBSubnetGroupNotFound"), DBSubnetGroupName=name,
    )
    return None if record is None else _subnet_group_item(ctx, record)


@dataclass(frozen=True)
class _SnapshotKind:
    technology: str
    list_operation: str
    list_key: str
    id_key: str
    arn_key: str
    arn_kind: str
    attributes_operation: str
    attributes_result: str
    attributes_list: str
    not_found: tuple[str, ...]


_DB_SNAPSHOT = _SnapshotKind(
    technology="rds.db_snapshot",
    list_operation="describe_db_snapshots",
    list_key="DBSnapshots",
    id_key="DBSnapshotIdentifier",
    arn_key="DBSnapshotArn",
    arn_kind="snapshot",
    attributes_operation="describe_db_snapshot_attributes",
    attributes_result="DBSnapshotAttributesResult",
    attributes_list="DBSnapshotAttributes",
    not_found=("DBSnapshotNotFound", "DBSnapshotNotFoundFault"),
)
_DB_CLUSTER_SNAPSHOT = _SnapshotKind(
    technology="rds.db_cluster_snapshot",
    list_operation="describe_db_cluster_snapshots",
    list_key="DBClusterSnapshots",
    id_key="DBClusterSnapshotIdentifier",
    arn_key="DBClusterSnapshotArn",
    arn_kind="cluster-snapshot",
    attributes_operation="describe_db_cluster_snapshot_attributes",
    attributes_result="DBClusterSnapshotAttributesResult",
    attributes_list="DBClusterSnapshotAttributes",
    not_found=("DBClusterSnapshotNotFoundFault", "DBClusterSnapshotNotFound"),
)


def _restore_accounts(ctx: SliceContext, kind: _SnapshotKind, ident: str) -> list[str]:
    rds = ctx.client("rds")
    response = getattr(rds, kind.attributes_operation)(**{kind.id_key: ident})
    accounts: list[str] = []
    for attribute in response.get(kind.attributes_result, {}).get(kind.attributes_list) or []:
        if attribute.get("AttributeName") == RESTORE_ATTRIBUTE:
            accounts.extend(attribute.get("AttributeValues") or [])
    return sorted(set(accounts))


def _snapshot_item(ctx: SliceContext, kind: _SnapshotKind, record: dict[str, Any]) -> Item:
    restore = _restore_accounts(ctx, kind, record[kind.id_key])
    return _item(
        ctx, kind.technology, record, kind.id_key, kind.arn_key, kind.arn_kind, RestoreAccounts=restore
    )


def _list_snapshots(ctx: SliceContext, kind: _SnapshotKind) -> list[Item]:
    """Every manual snapshot of the region; the per-snapshot attribute reads run on a small pool."""
    records = collect(ctx.client("rds"), kind.list_operation, kind.list_key, SnapshotType="manual")
    return describe_each(
        lambda record: _snapshot_item(ctx, kind, record),
        records,
        workers=SNAPSHOT_WORKERS,
        name="rds-snapshot",
        gone=kind.not_found,
    )


def _get_snapshot(ctx: SliceContext, kind: _SnapshotKind, ident: str) -> Item | None:
    """The listing's two calls for one snapshot. ``SnapshotType="manual"`` keeps the listing's
    scope: an automated snapshot of that name is not an item (an empty answer)."""
    record = _described(
        ctx, kind.list_operation, kind.list_key, kind.id_key, ident, kind.not_found,
        **{kind.id_key: ident, "SnapshotType": "manual"},
    )
    if record is None:
        return None
    try:
        return _snapshot_item(ctx, kind, record)
    except ClientError as exc:
        if is_error(exc, *kind.not_found):
            return None
        raise


def list_db_snapshots(ctx: SliceContext) -> list[Item]:
    return _list_snapshots(ctx, _DB_SNAPSHOT)


def get_db_snapshot(ctx: SliceContext, ident: str) -> Item | None:
    """DescribeDBSnapshots and DescribeDBSnapshotAttributes."""
    return _get_snapshot(ctx, _DB_SNAPSHOT, ident)


def list_db_cluster_snapshots(ctx: SliceContext) -> list[Item]:
    return _list_snapshots(ctx, _DB_CLUSTER_SNAPSHOT)


def get_db_cluster_snapshot(ctx: SliceContext, ident: str) -> Item | None:
    """DescribeDBClusterSnapshots and DescribeDBClusterSnapshotAttributes."""
    return _get_snapshot(ctx, _DB_CLUSTER_SNAPSHOT, ident)


def _member_status(*lists: str) -> tuple[str, ...]:
    return tuple(f"{name}.*.Status" for name in lists)


_INSTANCE_EPHEMERAL = (
    "DBInstanceStatus",
    "LatestRestorableTime",
    "PendingModifiedValues",
    "StatusInfos",
    "PercentProgress",
    "AutomaticRestartTime",
    "ResumeFullAutomationModeTime",
    "IsStorageConfigUpgradeAvailable",
    "StorageVolumeStatus",
    "StorageOperationStatus",
    "StorageOperationPercentProgress",
    "AvailabilityZone",
    "SecondaryAvailabilityZone",
    "MasterUserSecret.SecretStatus",
    "DBSubnetGroup.SubnetGroupStatus",
    "DBSubnetGroup.Subnets.*.SubnetStatus",
    "DBParameterGroups.*.ParameterApplyStatus",
    *_member_status(
        "VpcSecurityGroups",
        "DBSecurityGroups",
        "OptionGroupMemberships",
        "AssociatedRoles",
        "DomainMemberships",
    ),
)
_INSTANCE_UNORDERED = (
    "VpcSecurityGroups",
    "DBSecurityGroups",
    "DBParameterGroups",
    "OptionGroupMemberships",
    "DBSubnetGroup.Subnets",
    "ReadReplicaDBInstanceIdentifiers",
    "ReadReplicaDBClusterIdentifiers",
    "EnabledCloudwatchLogsExports",
    "AssociatedRoles",
    "DomainMemberships",
    "ProcessorFeatures",
    "DBInstanceAutomatedBackupsReplications",
)
_CLUSTER_EPHEMERAL = (
    "Status",
    "PercentProgress",
    "EarliestRestorableTime",
    "LatestRestorableTime",
    "PendingModifiedValues",
    "StatusInfos",
    "AutomaticRestartTime",
    "Capacity",
    "EarliestBacktrackTime",
    "BacktrackConsumedChangeRecords",
    "IOOptimizedNextAllowedModificationTime",
    "GlobalWriteForwardingStatus",
    "LocalWriteForwardingStatus",
    "MasterUserSecret.SecretStatus",
    "DBClusterMembers.*.IsClusterWriter",
    "DBClusterMembers.*.DBClusterParameterGroupStatus",
    *_member_status(
        "VpcSecurityGroups", "DBClusterOptionGroupMemberships", "AssociatedRoles", "DomainMemberships"
    ),
)
_CLUSTER_UNORDERED = (
    "AvailabilityZones",
    "VpcSecurityGroups",
    "DBClusterMembers",
    "DBClusterOptionGroupMemberships",
    "ReadReplicaIdentifiers",
    "CustomEndpoints",
    "EnabledCloudwatchLogsExports",
    "AssociatedRoles",
    "DomainMemberships",
)
_SNAPSHOT_EPHEMERAL = ("Status", "PercentProgress", "FullSnapshotSizeInBytes")


TECHNOLOGIES = (
    Technology(
        name="rds.db_instance",
        is_global=False,
        list_items=list_db_instances,
        get_item=get_db_instance,
        description=(
            "RDS DB instances (also DocumentDB and Neptune): engine and version, class, public "
            "accessibility, endpoint, storage encryption and KMS key, IAM authentication, deletion "
            "protection, backups, VPC security groups, subnet, parameter and option groups, Multi-AZ, "
            "CA certificate, tags; every other field DescribeDBInstances returns."
        ),
        ephemeral_paths=_INSTANCE_EPHEMERAL,
        unordered_paths=_INSTANCE_UNORDERED,
        always_returned={
            "rds:DescribeDBInstances": ("DBInstances",),
        },
        iam_actions=("rds:DescribeDBInstances",),
    ),
    Technology(
        name="rds.db_cluster",
        is_global=False,
        list_items=list_db_clusters,
        get_item=get_db_cluster,
        description=(
            "RDS DB clusters (Aurora, Multi-AZ DB clusters, DocumentDB, Neptune): engine, endpoints, "
            "members, public accessibility, storage encryption, IAM authentication, deletion protection, "
            "backups, VPC security groups, subnet and parameter groups, tags; every other field "
            "DescribeDBClusters returns."
        ),
        ephemeral_paths=_CLUSTER_EPHEMERAL,
        unordered_paths=_CLUSTER_UNORDERED,
        always_returned={
            "rds:DescribeDBClusters": ("DBClusters",),
        },
        iam_actions=("rds:DescribeDBClusters",),
    ),
    Technology(
        name="rds.db_snapshot",
        is_global=False,
        list_items=list_db_snapshots,
        get_item=get_db_snapshot,
        description=(
            "Manual RDS DB snapshots owned by the account: source instance, engine, encryption, "
            "tags, and RestoreAccounts (who may restore it; 'all' means public)."
        ),
        ephemeral_paths=_SNAPSHOT_EPHEMERAL,
        unordered_paths=("RestoreAccounts", "ProcessorFeatures"),
        always_returned={
            "rds:DescribeDBSnapshots": ("DBSnapshots",),
            "rds:DescribeDBSnapshotAttributes": ("DBSnapshotAttributesResult",),
        },
        iam_actions=("rds:DescribeDBSnapshots", "rds:DescribeDBSnapshotAttributes"),
    ),
    Technology(
        name="rds.db_cluster_snapshot",
        is_global=False,
        list_items=list_db_cluster_snapshots,
        get_item=get_db_cluster_snapshot,
        description=(
            "Manual RDS DB cluster snapshots owned by the account: source cluster, engine, encryption, "
            "tags, and RestoreAccounts (who may restore it; 'all' means public)."
        ),
        ephemeral_paths=_SNAPSHOT_EPHEMERAL,
        unordered_paths=("RestoreAccounts", "AvailabilityZones"),
        always_returned={
            "rds:DescribeDBClusterSnapshots": ("DBClusterSnapshots",),
            "rds:DescribeDBClusterSnapshotAttributes": ("DBClusterSnapshotAttributesResult",),
        },
        iam_actions=("rds:DescribeDBClusterSnapshots", "rds:DescribeDBClusterSnapshotAttributes"),
    ),
    Technology(
        name="rds.db_subnet_group",
        is_global=False,
        list_items=list_db_subnet_groups,
        get_item=get_db_subnet_group,
        description=(
            "RDS DB subnet groups (also DocumentDB and Neptune): description, VPC, subnets with their "
            "availability zones and Outposts, supported network types (IPv4 / dual-stack)."
        ),
        ephemeral_paths=("SubnetGroupStatus", "Subnets.*.SubnetStatus"),
        unordered_paths=("Subnets", "SupportedNetworkTypes"),
        always_returned={
            "rds:DescribeDBSubnetGroups": ("DBSubnetGroups",),
        },
        iam_actions=("rds:DescribeDBSubnetGroups",),
    ),
)
