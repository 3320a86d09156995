"""The declared relations between items: which technology names which, and where.

A ``Reference`` says that items of ``source`` name items of ``targets`` in their configuration, and
how to read those names (``read``). ``gitmonkey.audit.related`` builds on the declarations: rules
read the items an item refers to (or the items that refer to it), and a change of an item re-audits
the items whose findings depend on it.

By default the source depends on the target: a user is judged by its groups, an instance by its
security groups and subnet, so a change of the target re-audits the source (and, transitively,
whatever depends on the source). ``reaudits_target`` declares the other direction too, where the
target is judged by its sources:

- ``CHAIN``: the target is judged by the source as by its own configuration (a subnet by the network
  ACL associated with it; an instance by the Elastic IP associated with it): a change of the source
  re-audits the target and everything that depends on the target;
- ``ALONE``: only the target's own findings depend on the source (a security group's findings are
  weighed by the exposure of the items using it): a change of the source re-audits the target and
  goes no further, so that one instance's change does not re-audit every instance sharing its group.

Regional items name items of their own region (``Ref.region`` is filled in from the item read);
IAM items are global.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from gitmonkey.audit.statement import parse_arn

GLOBAL = "global"
SAME_REGION = ""
"""``Ref.region`` of a reference read from a configuration alone: the region of the item read."""
CHAIN = "chain"
ALONE = "alone"


@dataclass(frozen=True)
class Ref:
    """One reference found in an item: the item referred to, and the JSON path where it is named."""

    technology: str
    item_id: str
    path: str
    region: str = GLOBAL
    value: str = ""
    """The reference as the item writes it (a group name, a policy ARN)."""


@dataclass(frozen=True)
class Reference:
    """``source`` items name ``targets`` items; ``read`` finds the references in a configuration."""

    source: str
    targets: tuple[str, ...]
    read: Callable[[Mapping[str, Any]], Iterator[Ref]]
    reaudits_target: str = ""
    """``CHAIN`` or ``ALONE`` when the target's findings also depend on the source (module docstring)."""
    reaudits_source: bool = True
    """False when the source is not judged by the target (a network ACL by the subnets it names)."""


@dataclass(frozen=True)
class Dependency:
    """Rules on ``source`` items judge them by every item of the ``on`` technologies (an account's
    posture by its metric filters and alarms): a change to any of those re-audits all ``source``
    items. For relations that no item names by id."""

    source: str
    on: tuple[str, ...]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _get(configuration: Mapping[str, Any], dotted: str) -> Any:
    value: Any = configuration
    for key in dotted.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _named(technology: str, where: str, region: str = SAME_REGION) -> Callable[..., Iterator[Ref]]:
    """References to ``technology`` by id at ``where``: ``A.B`` (one value), ``A[].B`` (a list of
    values, or of objects when followed by ``.key``), ``A[].B[].C`` (lists in lists)."""

    parts = where.split("[]")

    def read(configuration: Mapping[str, Any]) -> Iterator[Ref]:
        yield from _walk(configuration, parts, "configuration", technology, region)

    return read


def _walk(value: Any, parts: list[str], path: str, technology: str, region: str) -> Iterator[Ref]:
    head, rest = parts[0].strip("."), parts[1:]
    if head:
        value = _get(value, head) if isinstance(value, Mapping) else None
        path = f"{path}.{head}"
    if not rest:
        if isinstance(value, str) and value:
            yield Ref(technology, value, path, region, value)
        return
    for i, element in enumerate(_as_list(value)):
        yield from _walk(element, rest, f"{path}[{i}]", technology, region)


def _chain(*readers: Callable[[Mapping[str, Any]], Iterator[Ref]]) -> Callable[..., Iterator[Ref]]:
    def read(configuration: Mapping[str, Any]) -> Iterator[Ref]:
        for reader in readers:
            yield from reader(configuration)

    return read


def managed_policy_ref(arn: str, path: str) -> Ref | None:
    """The item of a managed policy ARN: ``iam.aws_policy`` for AWS's (``arn:<partition>:iam::aws:``),
    ``iam.policy`` for the account's own; both are named by the policy name (unique per account)."""
    parsed = parse_arn(arn)
    if parsed is None or parsed.service != "iam" or not (parsed.resource or "").startswith("policy/"):
        return None
    name = (parsed.resource or "").rsplit("/", 1)[-1]
    if not name:
        return None
    return Ref("iam.aws_policy" if parsed.account == "aws" else "iam.policy", name, path, value=arn)


def _managed_policies(configuration: Mapping[str, Any]) -> Iterator[Ref]:
    for i, attached in enumerate(_as_list(configuration.get("AttachedManagedPolicies"))):
        arn = attached.get("PolicyArn") if isinstance(attached, dict) else None
        where = f"configuration.AttachedManagedPolicies[{i}]"
        if isinstance(arn, str) and (ref := managed_policy_ref(arn, where)):
            yield ref
    boundary = configuration.get("PermissionsBoundary")
    arn = boundary.get("PermissionsBoundaryArn") if isinstance(boundary, dict) else None
    if isinstance(arn, str) and (ref := managed_policy_ref(arn, "configuration.PermissionsBoundary")):
        yield ref


def _iam_name_in_arn(technology: str, kind: str, where: str) -> Callable[..., Iterator[Ref]]:
    """A reference to an IAM item named by the last segment of an ARN (``role/path/name``)."""

    def read(configuration: Mapping[str, Any]) -> Iterator[Ref]:
        arn = _get(configuration, where)
        parsed = parse_arn(arn) if isinstance(arn, str) else None
        resource = (parsed.resource or "") if parsed else ""
        if parsed and parsed.service == "iam" and resource.startswith(f"{kind}/"):
            name = resource.rsplit("/", 1)[-1]
            if name:
                yield Ref(technology, name, f"configuration.{where}", GLOBAL, str(arn))

    return read


_POLICIES = ("iam.policy", "iam.aws_policy")
SG = "ec2.security_group"
SUBNET = "ec2.subnet"
_SECURITY_GROUP_USERS: tuple[tuple[str, Callable[..., Iterator[Ref]]], ...] = (
    ("ec2.instance", _chain(_named(SG, "SecurityGroups[].GroupId"),
                            _named(SG, "NetworkInterfaces[].Groups[].GroupId"))),
    ("ec2.network_interface", _named(SG, "Groups[].GroupId")),
    ("elb.load_balancer", _named(SG, "SecurityGroups[]")),
    ("elbv2.load_balancer", _named(SG, "SecurityGroups[]")),
    ("rds.db_instance", _named(SG, "VpcSecurityGroups[].VpcSecurityGroupId")),
    ("rds.db_cluster", _named(SG, "VpcSecurityGroups[].VpcSecurityGroupId")),
    ("lambda.function", _named(SG, "VpcConfig.SecurityGroupIds[]")),
    ("opensearch.domain", _named(SG, "VPCOptions.SecurityGroupIds[]")),
    ("redshift.cluster", _named(SG, "VpcSecurityGroups[].VpcSecurityGroupId")),
    ("ec2.vpc_endpoint", _named(SG, "Groups[].GroupId")),
)
_SUBNET_USERS: tuple[tuple[str, Callable[..., Iterator[Ref]]], ...] = (
    ("ec2.instance", _named(SUBNET, "SubnetId")),
    ("ec2.network_interface", _named(SUBNET, "SubnetId")),
    ("elb.load_balancer", _named(SUBNET, "Subnets[]")),
    ("elbv2.load_balancer", _named(SUBNET, "AvailabilityZones[].SubnetId")),
    ("rds.db_instance", _named(SUBNET, "DBSubnetGroup.Subnets[].SubnetIdentifier")),
    ("rds.db_subnet_group", _named(SUBNET, "Subnets[].SubnetIdentifier")),
    ("lambda.function", _named(SUBNET, "VpcConfig.SubnetIds[]")),
    ("opensearch.domain", _named(SUBNET, "VPCOptions.SubnetIds[]")),
    ("ec2.vpc_endpoint", _named(SUBNET, "SubnetIds[]")),
    ("ec2.nat_gateway", _named(SUBNET, "SubnetId")),
)

REFERENCES: tuple[Reference, ...] = (
    # IAM: a principal is judged by its groups and managed policies.
    Reference("iam.user", ("iam.group",), _named("iam.group", "GroupList[]", GLOBAL)),
    Reference("iam.user", _POLICIES, _managed_policies),
    Reference("iam.role", _POLICIES, _managed_policies),
    Reference("iam.group", _POLICIES, _managed_policies),
    Reference("iam.instance_profile", ("iam.role",), _named("iam.role", "Roles[].RoleName", GLOBAL)),
    Reference("ec2.instance", ("iam.instance_profile",),
              _iam_name_in_arn("iam.instance_profile", "instance-profile", "IamInstanceProfile.Arn")),
    Reference("lambda.function", ("iam.role",), _iam_name_in_arn("iam.role", "role", "Role")),
    # Network: an item is judged by its security groups and where it sits; a security group's
    # findings are weighed by the items that use it.
    *(Reference(source, (SG,), read, ALONE) for source, read in _SECURITY_GROUP_USERS),
    *(Reference(source, (SUBNET,), read) for source, read in _SUBNET_USERS),
    Reference("ec2.instance", ("ec2.network_interface",), _named("ec2.network_interface",
                                                                 "NetworkInterfaces[].NetworkInterfaceId")),
    Reference("ec2.network_interface", ("ec2.instance",), _named("ec2.instance", "Attachment.InstanceId")),
    Reference("ec2.elastic_ip", ("ec2.instance",), _named("ec2.instance", "InstanceId"), CHAIN, False),
    Reference("ec2.elastic_ip", ("ec2.network_interface",),
              _named("ec2.network_interface", "NetworkInterfaceId"), CHAIN, False),
    Reference("rds.db_instance", ("rds.db_cluster",), _named("rds.db_cluster", "DBClusterIdentifier")),
    Reference("rds.db_instance", ("rds.db_subnet_group",),
              _named("rds.db_subnet_group", "DBSubnetGroup.DBSubnetGroupName")),
    Reference("rds.db_cluster", ("rds.db_instance",),
              _named("rds.db_instance", "DBClusterMembers[].DBInstanceIdentifier")),
    Reference("rds.db_cluster", ("rds.db_subnet_group",), _named("rds.db_subnet_group", "DBSubnetGroup")),
    Reference("ec2.subnet", ("ec2.route_table",), _named("ec2.route_table", "RouteTableId")),
    Reference("ec2.network_acl", (SUBNET,), _named(SUBNET, "Associations[].SubnetId"), CHAIN, False),
    Reference("ec2.route_table", ("ec2.nat_gateway",), _named("ec2.nat_gateway", "Routes[].NatGatewayId")),
    *(Reference(source, ("ec2.vpc",), _named("ec2.vpc", key)) for source, key in (
        ("ec2.subnet", "VpcId"), ("ec2.route_table", "VpcId"), ("ec2.instance", "VpcId"),
        ("ec2.network_interface", "VpcId"), ("ec2.network_acl", "VpcId"), (SG, "VpcId"),
        ("elb.load_balancer", "VPCId"), ("elbv2.load_balancer", "VpcId"), ("redshift.cluster", "VpcId"),
        ("lambda.function", "VpcConfig.VpcId"), ("opensearch.domain", "VPCOptions.VPCId"),
    )),
)

DEPENDENCIES: tuple[Dependency, ...] = (
    Dependency("iam.root", ("iam.role", "iam.group", "iam.user")),
    Dependency("cloudtrail.status",
               ("cloudtrail.trail", "logs.metric_filter", "cloudwatch.alarm", "sns.topic")),
)


_BY_SOURCE: dict[str, list[Reference]] = {}
for _reference in REFERENCES:
    _BY_SOURCE.setdefault(_reference.source, []).append(_reference)


def references(technology: str, configuration: Mapping[str, Any], target: str | None = None,
               region: str = GLOBAL, *, targets: Collection[str] | None = None) -> list[Ref]:
    """The references an item of ``technology`` in ``region`` makes (to ``target`` items only, or
    to items of ``targets``, if given), each once (the first place it is named), in the order they
    are found."""
    wanted = {target} if target is not None else (set(targets) if targets is not None else None)
    found: dict[tuple[str, str, str], Ref] = {}
    for reference in _BY_SOURCE.get(technology, ()):
        if wanted is not None and wanted.isdisjoint(reference.targets):
            continue
        for ref in reference.read(configuration):
            if wanted is not None and ref.technology not in wanted:
                continue
            if ref.region == SAME_REGION:
                ref = Ref(ref.technology, ref.item_id, ref.path, region, ref.value)
            found.setdefault((ref.technology, ref.region, ref.item_id), ref)
    return list(found.values())


def reaudited_targets(technology: str) -> dict[str, str]:
    """Target technology -> ``CHAIN`` / ``ALONE`` for the references of ``technology`` whose
    targets are judged by it (``Reference.reaudits_target``)."""
    return {
        target: reference.reaudits_target
        for reference in _BY_SOURCE.get(technology, ())
        if reference.reaudits_target
        for target in reference.targets
    }
