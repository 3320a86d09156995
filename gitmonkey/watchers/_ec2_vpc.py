"""EC2 VPC networking technologies (listed in ``ec2.TECHNOLOGIES``).

Every technology is read with one region-wide Describe call (paginated where EC2 pages it);
the joins below cost one more region-wide call each, never one per item, except the two DNS
attributes of a VPC:

- ``ec2.vpc``: ``DescribeVpcs``; then, only if the region has VPCs, ``DescribeInternetGateways``
  (the gateways attached to each VPC), ``DescribeFlowLogs`` (the ACTIVE flow logs whose
  resource is the VPC and the traffic types they record: Security Monkey's "flow logs enabled"
  check, and CIS 3.7 / FSBP EC2.6, are then a rule on the item),
  and per VPC owned by the account ``DescribeVpcAttribute`` for ``enableDnsSupport`` and
  ``enableDnsHostnames`` (a VPC shared with the account by another one is the owner's to
  configure and is recorded there; its attributes are ``null`` here).
- ``ec2.subnet``: ``DescribeSubnets``; then ``DescribeRouteTables`` for the route table each
  subnet uses (its explicit association, else its VPC's main route table).
- ``ec2.route_table``, ``ec2.nat_gateway``, ``ec2.vpc_peering``, ``ec2.dhcp_options``,
  ``ec2.flow_log``, ``ec2.vpn_connection``, ``ec2.vpn_gateway``: their Describe call alone.

Each technology also reads one item by its id (``get_item``, for a re-read after a CloudTrail
event), through the same item builder: its Describe call by id, and for the joins the same
derivation applied to the answer of a call narrowed by a filter to what the item needs (a VPC:
the internet gateways attached to it and the flow logs of it, 5 calls; a subnet: the route table
explicitly associated with it, else its VPC's main one, 2 or 3 calls). The others cost one call.

What AWS keeps listing after a deletion is not an item: NAT gateways, peering connections, VPN
connections and gateways in a deleted (or deleting, failed, rejected, expired) state, and
associations, attachments and CIDR blocks that are being or were removed. Their state fields
are ephemeral, so ``pending`` becoming ``available`` is no commit.

Secrets: ``DescribeVpnConnections`` returns each tunnel's pre-shared key twice. The
``CustomerGatewayConfiguration`` document (the device configuration, keys in clear) is never
kept; ``Options.TunnelOptions.*.PreSharedKey`` is a secret path (a keyed hash is written, so a
key rotation is still a commit).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from botocore.exceptions import ClientError

from gitmonkey.model import Item, Technology
from gitmonkey.read.aws import SliceContext
from gitmonkey.read.aws_responses import UnreadableResponseError
from gitmonkey.watchers._common import collect, describe_each, ec2_arn, is_error, partition, tagged_item

# Error code of DescribeVpcs / DescribeVpcAttribute for a VPC that does not exist (deleted since
# DescribeVpcs listed it, for the attribute calls of a listing).
VPC_GONE = ("InvalidVpcID.NotFound",)
# The "does not exist" error codes of each Describe call by id. An empty answer to one reads as
# "does not exist" too (moto answers unknown NAT gateway, peering, flow log and VPN gateway ids so).
SUBNET_GONE = ("InvalidSubnetID.NotFound",)
ROUTE_TABLE_GONE = ("InvalidRouteTableID.NotFound",)
NAT_GATEWAY_GONE = ("NatGatewayNotFound",)
PEERING_GONE = ("InvalidVpcPeeringConnectionID.NotFound",)
DHCP_OPTIONS_GONE = ("InvalidDhcpOptionID.NotFound", "InvalidDhcpOptionsID.NotFound")
FLOW_LOG_GONE = ("InvalidFlowLogId.NotFound",)
VPN_CONNECTION_GONE = ("InvalidVpnConnectionID.NotFound",)
VPN_GATEWAY_GONE = ("InvalidVpnGatewayID.NotFound",)

# States in which a listed thing is going away or is gone: not recorded.
_ASSOCIATION_GONE = frozenset({"disassociating", "disassociated", "failing", "failed"})
_ATTACHMENT_GONE = frozenset({"detaching", "detached"})
_NAT_GATEWAY_GONE = frozenset({"deleting", "deleted", "failed"})
_NAT_ADDRESS_GONE = frozenset({"unassigning", "disassociating", "failed"})
_PEERING_GONE = frozenset({"deleting", "deleted", "rejected", "failed", "expired"})
_VPN_GONE = frozenset({"deleting", "deleted"})
_VPN_ROUTE_GONE = frozenset({"deleting", "deleted"})

# Routes a virtual private gateway propagates come and go with the BGP session (a tunnel going
# down withdraws them): routing state, not configuration. ``PropagatingVgws`` is the setting.
_PROPAGATED = "EnableVgwRoutePropagation"

VPC_FIELDS = (
    "VpcId",
    "OwnerId",
    "CidrBlock",
    "CidrBlockAssociationSet",
    "Ipv6CidrBlockAssociationSet",
    "DhcpOptionsId",
    "InstanceTenancy",
    "IsDefault",
    "State",
    "BlockPublicAccessStates",
    "EncryptionControl",
    "NetworkFirewallAssociations",
)
SUBNET_FIELDS = (
    "SubnetId",
    "SubnetArn",
    "VpcId",
    "OwnerId",
    "CidrBlock",
    "Ipv6CidrBlockAssociationSet",
    "AvailabilityZone",
    "AvailabilityZoneId",
    "DefaultForAz",
    "MapPublicIpOnLaunch",
    "MapCustomerOwnedIpOnLaunch",
    "CustomerOwnedIpv4Pool",
    "AssignIpv6AddressOnCreation",
    "Ipv6Native",
    "EnableDns64",
    "EnableLniAtDeviceIndex",
    "PrivateDnsNameOptionsOnLaunch",
    "OutpostArn",
    "Type",
    "BlockPublicAccessStates",
    "NetworkFirewallConnectivityType",
    "State",
    "AvailableIpAddressCount",
)
NAT_GATEWAY_FIELDS = (
    "NatGatewayId",
    "VpcId",
    "SubnetId",
    "ConnectivityType",
    "AvailabilityMode",
    "NatGatewayAddresses",
    "AutoScalingIps",
    "AutoProvisionZones",
    "AttachedAppliances",
    "RouteTableId",
    "State",
    "FailureCode",
    "FailureMessage",
    "CreateTime",
)
PEERING_FIELDS = ("VpcPeeringConnectionId", "RequesterVpcInfo", "AccepterVpcInfo", "Status", "ExpirationTime")
FLOW_LOG_FIELDS = (
    "FlowLogId",
    "ResourceId",
    "TrafficType",
    "LogDestinationType",
    "LogDestination",
    "LogGroupName",
    "DeliverLogsPermissionArn",
    "DeliverCrossAccountRole",
    "LogFormat",
    "MaxAggregationInterval",
    "DestinationOptions",
    "TagFieldSpecifications",
    "FlowLogStatus",
    "DeliverLogsStatus",
    "DeliverLogsErrorMessage",
    "CreationTime",
)
# Not CustomerGatewayConfiguration: the device configuration, pre-shared keys in clear.
VPN_CONNECTION_FIELDS = (
    "VpnConnectionId",
    "Type",
    "Category",
    "CustomerGatewayId",
    "VpnGatewayId",
    "TransitGatewayId",
    "VpnConcentratorId",
    "CoreNetworkArn",
    "CoreNetworkAttachmentArn",
    "GatewayAssociationState",
    "Options",
    "Routes",
    "VgwTelemetry",
    "PreSharedKeyArn",
    "State",
)
VPN_GATEWAY_FIELDS = ("VpnGatewayId", "Type", "AvailabilityZone", "AmazonSideAsn", "VpcAttachments", "State")

# The algorithm and version lists of a tunnel are sets (what the tunnel accepts).
_TUNNEL_SETS = (
    "Phase1EncryptionAlgorithms",
    "Phase2EncryptionAlgorithms",
    "Phase1IntegrityAlgorithms",
    "Phase2IntegrityAlgorithms",
    "Phase1DHGroupNumbers",
    "Phase2DHGroupNumbers",
    "IkeVersions",
    "Phase1AdditionalKeyExchanges",
    "Phase2AdditionalKeyExchanges",
)


# --- helpers ---------------------------------------------------------------------------------


def _fields(record: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """The named fields of an AWS record; one AWS does not return is ``None``."""
    return {name: record.get(name) for name in names}


def _live(entries: Iterable[Mapping[str, Any]] | None, state_key: str, gone: frozenset[str]) -> list[Any]:
    """The entries whose state (``entry[state_key]``, a string or ``{"State": ...}``) is not in
    ``gone``; an entry without a state is kept."""
    kept = []
    for entry in entries or ():
        state = entry.get(state_key)
        if isinstance(state, Mapping):
            state = state.get("State")
        if state not in gone:
            kept.append(entry)
    return kept


def _owner(ctx: SliceContext, record: Mapping[str, Any]) -> str:
    return record.get("OwnerId") or ctx.account_id


def the_one(records: Sequence[Any], item_id: str, ident: Callable[[Any], Any], operation: str) -> Any:
    """The record of ``item_id`` (``ident(record) == item_id``) in the answer of a Describe call
    by id; None when the answer is empty (AWS answers some unknown ids so). An answer that names
    other items only, or this one twice, says nothing of this one: it raises, never reads as "does
    not exist" (that would record a deletion)."""
    found = [record for record in records if ident(record) == item_id]
    if len(found) == 1:
        return found[0]
    if not records:
        return None
    reason = f"{len(found)} records of {item_id!r} among the {len(records)} of an answer by id"
    raise UnreadableResponseError("ec2", operation, reason)


def describe_one(
    client: Any,
    method: str,
    records: str,
    ident: str,
    item_id: str,
    *,
    gone: Iterable[str],
    **params: Any,
) -> Any:
    """The record of ``item_id`` (its field ``ident``) in the ``records`` list of one Describe call
    by id (``client.method(**params)``, not paged); None when AWS answers with a ``gone`` error
    code or an empty list. Any other error raises, and so does an answer of other items."""
    try:
        answer = getattr(client, method)(**params)
    except ClientError as exc:
        if is_error(exc, *gone):
            return None
        raise
    operation = client.meta.method_to_api_mapping.get(method, method)
    return the_one(answer.get(records) or [], item_id, lambda record: record.get(ident), operation)


def unless_gone(build: Callable[[], Item], gone: Iterable[str]) -> Item | None:
    """``build()``, or None when one of its per-item calls answers a ``gone`` error code: the
    item was deleted after its Describe call."""
    try:
        return build()
    except ClientError as exc:
        if is_error(exc, *gone):
            return None
        raise


def _filters(values: Mapping[str, str]) -> list[dict[str, Any]]:
    return [{"Name": name, "Values": [value]} for name, value in values.items()]


# --- ec2.vpc ---------------------------------------------------------------------------------


def _internet_gateways_by_vpc(gateways: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """VPC id -> ids of the internet gateways attached to it (an attachment being removed is not)."""
    attached: dict[str, list[str]] = defaultdict(list)
    for gateway in gateways:
        for attachment in _live(gateway.get("Attachments"), "State", _ATTACHMENT_GONE):
            if attachment.get("VpcId"):
                attached[attachment["VpcId"]].append(gateway["InternetGatewayId"])
    return attached


def _flow_logs_by_resource(flow_logs: Iterable[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    """Resource id -> its ACTIVE flow logs (Security Monkey: "a flow log that is not ACTIVE"
    does not count)."""
    active: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for flow_log in flow_logs:
        if flow_log.get("FlowLogStatus") == "ACTIVE" and flow_log.get("ResourceId"):
            active[flow_log["ResourceId"]].append(flow_log)
    return active


def _vpc_attribute(ec2: Any, vpc_id: str, attribute: str, member: str) -> bool:
    """One DNS attribute of a VPC. The answer names the attribute it carries; one without it
    cannot be read as "off" (that would record a false change)."""
    answer = ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute=attribute)
    value = answer.get(member)
    if not isinstance(value, Mapping) or not isinstance(value.get("Value"), bool):
        raise UnreadableResponseError("ec2", "DescribeVpcAttribute", f"no {member} in the answer")
    return value["Value"]


def vpc_item(
    ctx: SliceContext,
    vpc: Mapping[str, Any],
    gateways: Mapping[str, list[str]],
    flow_logs: Mapping[str, list[Mapping[str, Any]]],
) -> Item:
    """The item of one VPC; makes the two ``DescribeVpcAttribute`` calls of a VPC the account owns.

    ``FlowLogTrafficTypes`` (the traffic types its ACTIVE flow logs record: ``ACCEPT``, ``REJECT``,
    ``ALL``) is what CIS 3.7 and FSBP EC2.6 judge: a VPC whose only flow log records accepted
    traffic does not log the rejected connection attempts they ask for."""
    vpc_id = vpc["VpcId"]
    owner = _owner(ctx, vpc)
    configuration = _fields(vpc, VPC_FIELDS)
    configuration["OwnerId"] = owner
    configuration["CidrBlockAssociationSet"] = _live(
        vpc.get("CidrBlockAssociationSet"), "CidrBlockState", _ASSOCIATION_GONE
    )
    configuration["Ipv6CidrBlockAssociationSet"] = _live(
        vpc.get("Ipv6CidrBlockAssociationSet"), "Ipv6CidrBlockState", _ASSOCIATION_GONE
    )
    configuration["NetworkFirewallAssociations"] = vpc.get("NetworkFirewallAssociations") or []
    if owner == ctx.account_id:
        ec2 = ctx.client("ec2")
        for attribute in ("enableDnsSupport", "enableDnsHostnames"):
            member = attribute[0].upper() + attribute[1:]
            configuration[member] = _vpc_attribute(ec2, vpc_id, attribute, member)
    else:
        configuration["EnableDnsSupport"] = configuration["EnableDnsHostnames"] = None
    configuration["InternetGatewayIds"] = sorted(gateways.get(vpc_id, ()))
    own_flow_logs = flow_logs.get(vpc_id, ())
    configuration["FlowLogIds"] = sorted(f["FlowLogId"] for f in own_flow_logs)
    configuration["FlowLogTrafficTypes"] = sorted(
        {f["TrafficType"] for f in own_flow_logs if f.get("TrafficType")}
    )
    arn = ec2_arn(ctx, owner, f"vpc/{vpc_id}")
    return tagged_item(ctx, "ec2.vpc", vpc_id, arn, configuration, vpc.get("Tags"))


def list_vpcs(ctx: SliceContext) -> list[Item]:
    ec2 = ctx.client("ec2")
    vpcs = collect(ec2, "describe_vpcs", "Vpcs")
    if not vpcs:
        return []
    gateways = _internet_gateways_by_vpc(collect(ec2, "describe_internet_gateways", "InternetGateways"))
    flow_logs = _flow_logs_by_resource(collect(ec2, "describe_flow_logs", "FlowLogs"))
    return describe_each(
        lambda vpc: vpc_item(ctx, vpc, gateways, flow_logs), vpcs, name="ec2-vpc", gone=VPC_GONE
    )


def get_vpc(ctx: SliceContext, vpc_id: str) -> Item | None:
    """One VPC, its joins narrowed to it: the internet gateways with an attachment to it
    (``attachment.vpc-id``) and the flow logs of it (``resource-id``), passed through the listing's
    own derivations, so ``InternetGatewayIds``, ``FlowLogIds`` and ``FlowLogTrafficTypes`` are the
    listing's. 5 calls (3 for a VPC shared with the account)."""
    ec2 = ctx.client("ec2")
    vpc = describe_one(ec2, "describe_vpcs", "Vpcs", "VpcId", vpc_id, gone=VPC_GONE, VpcIds=[vpc_id])
    if vpc is None:
        return None
    attached = _filters({"attachment.vpc-id": vpc_id})
    gateways = _internet_gateways_by_vpc(
        collect(ec2, "describe_internet_gateways", "InternetGateways", Filters=attached)
    )
    own = _filters({"resource-id": vpc_id})
    flow_logs = _flow_logs_by_resource(collect(ec2, "describe_flow_logs", "FlowLogs", Filters=own))
    return unless_gone(lambda: vpc_item(ctx, vpc, gateways, flow_logs), VPC_GONE)


# --- ec2.subnet ------------------------------------------------------------------------------


def _route_table_of_subnets(tables: Iterable[Mapping[str, Any]]) -> tuple[dict[str, str], dict[str, str]]:
    """(subnet id -> explicitly associated route table, VPC id -> main route table)."""
    explicit: dict[str, str] = {}
    main: dict[str, str] = {}
    for table in tables:
        for association in _live(table.get("Associations"), "AssociationState", _ASSOCIATION_GONE):
            if association.get("SubnetId"):
                explicit[association["SubnetId"]] = table["RouteTableId"]
            elif association.get("Main") and table.get("VpcId"):
                main[table["VpcId"]] = table["RouteTableId"]
    return explicit, main


def subnet_item(
    ctx: SliceContext, subnet: Mapping[str, Any], explicit: Mapping[str, str], main: Mapping[str, str]
) -> Item:
    subnet_id = subnet["SubnetId"]
    owner = _owner(ctx, subnet)
    configuration = _fields(subnet, SUBNET_FIELDS)
    configuration["OwnerId"] = owner
    configuration["Ipv6CidrBlockAssociationSet"] = _live(
        subnet.get("Ipv6CidrBlockAssociationSet"), "Ipv6CidrBlockState", _ASSOCIATION_GONE
    )
    configuration["RouteTableId"] = explicit.get(subnet_id) or main.get(subnet.get("VpcId") or "")
    arn = subnet.get("SubnetArn") or ec2_arn(ctx, owner, f"subnet/{subnet_id}")
    return tagged_item(ctx, "ec2.subnet", subnet_id, arn, configuration, subnet.get("Tags"))


def list_subnets(ctx: SliceContext) -> list[Item]:
    ec2 = ctx.client("ec2")
    subnets = collect(ec2, "describe_subnets", "Subnets")
    if not subnets:
        return []
    explicit, main = _route_table_of_subnets(collect(ec2, "describe_route_tables", "RouteTables"))
    return [subnet_item(ctx, subnet, explicit, main) for subnet in subnets]


def get_subnet(ctx: SliceContext, subnet_id: str) -> Item | None:
    """One subnet, its ``RouteTableId`` by the listing's derivation applied to the route tables
    that can decide it: those with an association naming the subnet, then (only when none of them
    is live) the main route table of its VPC. 2 or 3 calls."""
    ec2 = ctx.client("ec2")
    subnet = describe_one(
        ec2, "describe_subnets", "Subnets", "SubnetId", subnet_id, gone=SUBNET_GONE, SubnetIds=[subnet_id]
    )
    if subnet is None:
        return None
    associated = _filters({"association.subnet-id": subnet_id})
    explicit, main = _route_table_of_subnets(
        collect(ec2, "describe_route_tables", "RouteTables", Filters=associated)
    )
    if subnet_id not in explicit and subnet.get("VpcId"):
        main_of_vpc = _filters({"vpc-id": subnet["VpcId"], "association.main": "true"})
        tables = collect(ec2, "describe_route_tables", "RouteTables", Filters=main_of_vpc)
        _, main = _route_table_of_subnets(tables)
    return subnet_item(ctx, subnet, explicit, main)


# --- ec2.route_table -------------------------------------------------------------------------


def route_table_item(ctx: SliceContext, table: Mapping[str, Any]) -> Item:
    table_id = table["RouteTableId"]
    owner = _owner(ctx, table)
    routes = table.get("Routes") or []
    configuration = {
        "RouteTableId": table_id,
        "VpcId": table.get("VpcId"),
        "OwnerId": owner,
        "Routes": [route for route in routes if route.get("Origin") != _PROPAGATED],
        "PropagatedRoutes": [route for route in routes if route.get("Origin") == _PROPAGATED],
        "Associations": _live(table.get("Associations"), "AssociationState", _ASSOCIATION_GONE),
        "PropagatingVgws": table.get("PropagatingVgws") or [],
    }
    arn = ec2_arn(ctx, owner, f"route-table/{table_id}")
    return tagged_item(ctx, "ec2.route_table", table_id, arn, configuration, table.get("Tags"))


def list_route_tables(ctx: SliceContext) -> list[Item]:
    return [
        route_table_item(ctx, table)
        for table in collect(ctx.client("ec2"), "describe_route_tables", "RouteTables")
    ]


def get_route_table(ctx: SliceContext, table_id: str) -> Item | None:
    table = describe_one(
        ctx.client("ec2"), "describe_route_tables", "RouteTables", "RouteTableId", table_id,
        gone=ROUTE_TABLE_GONE, RouteTableIds=[table_id],
    )
    return None if table is None else route_table_item(ctx, table)


# --- ec2.nat_gateway -------------------------------------------------------------------------


def nat_gateway_item(ctx: SliceContext, gateway: Mapping[str, Any]) -> Item:
    gateway_id = gateway["NatGatewayId"]
    configuration = _fields(gateway, NAT_GATEWAY_FIELDS)
    addresses = gateway.get("NatGatewayAddresses")
    configuration["NatGatewayAddresses"] = _live(addresses, "Status", _NAT_ADDRESS_GONE)
    configuration["AttachedAppliances"] = gateway.get("AttachedAppliances") or []
    arn = ec2_arn(ctx, ctx.account_id, f"natgateway/{gateway_id}")
    return tagged_item(ctx, "ec2.nat_gateway", gateway_id, arn, configuration, gateway.get("Tags"))


def _nat_gateway_listed(gateway: Mapping[str, Any]) -> bool:
    return gateway.get("State") not in _NAT_GATEWAY_GONE


def list_nat_gateways(ctx: SliceContext) -> list[Item]:
    gateways = collect(ctx.client("ec2"), "describe_nat_gateways", "NatGateways")
    return [nat_gateway_item(ctx, g) for g in gateways if _nat_gateway_listed(g)]


def get_nat_gateway(ctx: SliceContext, gateway_id: str) -> Item | None:
    gateway = describe_one(
        ctx.client("ec2"), "describe_nat_gateways", "NatGateways", "NatGatewayId", gateway_id,
        gone=NAT_GATEWAY_GONE, NatGatewayIds=[gateway_id],
    )
    if gateway is None or not _nat_gateway_listed(gateway):
        return None
    return nat_gateway_item(ctx, gateway)


# --- ec2.vpc_peering -------------------------------------------------------------------------


def peering_item(ctx: SliceContext, peering: Mapping[str, Any]) -> Item:
    """A peering connection, whichever side the account is on. Its ARN is the requester's (the
    account and region that created it), the same in both accounts' repositories."""
    peering_id = peering["VpcPeeringConnectionId"]
    configuration = _fields(peering, PEERING_FIELDS)
    requester = peering.get("RequesterVpcInfo") or {}
    owner = requester.get("OwnerId") or ctx.account_id
    region = requester.get("Region") or ctx.region
    arn = f"arn:{partition(ctx.client_region)}:ec2:{region}:{owner}:vpc-peering-connection/{peering_id}"
    return tagged_item(ctx, "ec2.vpc_peering", peering_id, arn, configuration, peering.get("Tags"))


def _peering_listed(peering: Mapping[str, Any]) -> bool:
    return (peering.get("Status") or {}).get("Code") not in _PEERING_GONE


def list_vpc_peering_connections(ctx: SliceContext) -> list[Item]:
    peerings = collect(ctx.client("ec2"), "describe_vpc_peering_connections", "VpcPeeringConnections")
    return [peering_item(ctx, peering) for peering in peerings if _peering_listed(peering)]


def get_vpc_peering_connection(ctx: SliceContext, peering_id: str) -> Item | None:
    peering = describe_one(
        ctx.client("ec2"), "describe_vpc_peering_connections", "VpcPeeringConnections",
        "VpcPeeringConnectionId", peering_id, gone=PEERING_GONE, VpcPeeringConnectionIds=[peering_id],
    )
    if peering is None or not _peering_listed(peering):
        return None
    return peering_item(ctx, peering)


# --- ec2.dhcp_options ------------------------------------------------------------------------


def dhcp_options_item(ctx: SliceContext, options: Mapping[str, Any]) -> Item:
    options_id = options["DhcpOptionsId"]
    owner = _owner(ctx, options)
    configuration = {
        "DhcpOptionsId": options_id,
        "OwnerId": owner,
        "DhcpConfigurations": options.get("DhcpConfigurations") or [],
    }
    arn = ec2_arn(ctx, owner, f"dhcp-options/{options_id}")
    return tagged_item(ctx, "ec2.dhcp_options", options_id, arn, configuration, options.get("Tags"))


def list_dhcp_options(ctx: SliceContext) -> list[Item]:
    return [
        dhcp_options_item(ctx, options)
        for options in collect(ctx.client("ec2"), "describe_dhcp_options", "DhcpOptions")
    ]


def get_dhcp_options(ctx: SliceContext, options_id: str) -> Item | None:
    options = describe_one(
        ctx.client("ec2"), "describe_dhcp_options", "DhcpOptions", "DhcpOptionsId", options_id,
        gone=DHCP_OPTIONS_GONE, DhcpOptionsIds=[options_id],
    )
    return None if options is None else dhcp_options_item(ctx, options)


# --- ec2.flow_log ----------------------------------------------------------------------------


def flow_log_item(ctx: SliceContext, flow_log: Mapping[str, Any]) -> Item:
    flow_log_id = flow_log["FlowLogId"]
    configuration = _fields(flow_log, FLOW_LOG_FIELDS)
    arn = ec2_arn(ctx, ctx.account_id, f"vpc-flow-log/{flow_log_id}")
    return tagged_item(ctx, "ec2.flow_log", flow_log_id, arn, configuration, flow_log.get("Tags"))


def list_flow_logs(ctx: SliceContext) -> list[Item]:
    return [flow_log_item(ctx, f) for f in collect(ctx.client("ec2"), "describe_flow_logs", "FlowLogs")]


def get_flow_log(ctx: SliceContext, flow_log_id: str) -> Item | None:
    flow_log = describe_one(
        ctx.client("ec2"), "describe_flow_logs", "FlowLogs", "FlowLogId", flow_log_id,
        gone=FLOW_LOG_GONE, FlowLogIds=[flow_log_id],
    )
    return None if flow_log is None else flow_log_item(ctx, flow_log)


# --- ec2.vpn_connection ----------------------------------------------------------------------


def vpn_connection_item(ctx: SliceContext, connection: Mapping[str, Any]) -> Item:
    connection_id = connection["VpnConnectionId"]
    configuration = _fields(connection, VPN_CONNECTION_FIELDS)
    configuration["Routes"] = _live(connection.get("Routes"), "State", _VPN_ROUTE_GONE)
    configuration["VgwTelemetry"] = connection.get("VgwTelemetry") or []
    arn = ec2_arn(ctx, ctx.account_id, f"vpn-connection/{connection_id}")
    tags = connection.get("Tags")
    return tagged_item(ctx, "ec2.vpn_connection", connection_id, arn, configuration, tags)


def _vpn_listed(record: Mapping[str, Any]) -> bool:
    return record.get("State") not in _VPN_GONE


def list_vpn_connections(ctx: SliceContext) -> list[Item]:
    """``DescribeVpnConnections`` has no paging: one answer holds every connection."""
    answer = ctx.client("ec2").describe_vpn_connections()
    return [vpn_connection_item(ctx, c) for c in answer["VpnConnections"] if _vpn_listed(c)]


def get_vpn_connection(ctx: SliceContext, connection_id: str) -> Item | None:
    connection = describe_one(
        ctx.client("ec2"), "describe_vpn_connections", "VpnConnections", "VpnConnectionId", connection_id,
        gone=VPN_CONNECTION_GONE, VpnConnectionIds=[connection_id],
    )
    if connection is None or not _vpn_listed(connection):
        return None
    return vpn_connection_item(ctx, connection)


# --- ec2.vpn_gateway -------------------------------------------------------------------------


def vpn_gateway_item(ctx: SliceContext, gateway: Mapping[str, Any]) -> Item:
    gateway_id = gateway["VpnGatewayId"]
    configuration = _fields(gateway, VPN_GATEWAY_FIELDS)
    configuration["VpcAttachments"] = _live(gateway.get("VpcAttachments"), "State", _ATTACHMENT_GONE)
    arn = ec2_arn(ctx, ctx.account_id, f"vpn-gateway/{gateway_id}")
    return tagged_item(ctx, "ec2.vpn_gateway", gateway_id, arn, configuration, gateway.get("Tags"))


def list_vpn_gateways(ctx: SliceContext) -> list[Item]:
    """``DescribeVpnGateways`` has no paging: one answer holds every gateway."""
    answer = ctx.client("ec2").describe_vpn_gateways()
    return [vpn_gateway_item(ctx, g) for g in answer["VpnGateways"] if _vpn_listed(g)]


def get_vpn_gateway(ctx: SliceContext, gateway_id: str) -> Item | None:
    gateway = describe_one(
        ctx.client("ec2"), "describe_vpn_gateways", "VpnGateways", "VpnGatewayId", gateway_id,
        gone=VPN_GATEWAY_GONE, VpnGatewayIds=[gateway_id],
    )
    if gateway is None or not _vpn_listed(gateway):
        return None
    return vpn_gateway_item(ctx, gateway)


_PEER_SETS = ("CidrBlockSet", "Ipv6CidrBlockSet")

TECHNOLOGIES: tuple[Technology, ...] = (
    Technology(
        name="ec2.vpc",
        is_global=False,
        list_items=list_vpcs,
        get_item=get_vpc,
        description=(
            "VPCs: CIDR blocks (IPv4 and IPv6), DHCP option set, tenancy, default flag, block public "
            "access and encryption control, Network Firewall associations, DNS support and DNS "
            "hostnames (VPCs the account owns), the attached internet gateways (InternetGatewayIds) "
            "and the ACTIVE flow logs of the VPC (FlowLogIds) with the traffic types they record "
            "(FlowLogTrafficTypes), tags."
        ),
        ephemeral_paths=(
            "State",
            "CidrBlockAssociationSet.*.CidrBlockState",
            "Ipv6CidrBlockAssociationSet.*.Ipv6CidrBlockState",
            "EncryptionControl.State",
            "EncryptionControl.StateMessage",
            "EncryptionControl.ResourceExclusions.*.StateMessage",
            "NetworkFirewallAssociations.*.FirewallOnboardingStatus",
        ),
        unordered_paths=(
            "CidrBlockAssociationSet",
            "Ipv6CidrBlockAssociationSet",
            "NetworkFirewallAssociations",
            "InternetGatewayIds",
            "FlowLogIds",
            "FlowLogTrafficTypes",
        ),
        always_returned={
            "ec2:DescribeVpcs": ("Vpcs",),
            "ec2:DescribeInternetGateways": ("InternetGateways",),
            "ec2:DescribeFlowLogs": ("FlowLogs",),
            "ec2:DescribeVpcAttribute": ("VpcId",),
        },
        iam_actions=(
            "ec2:DescribeVpcs",
            "ec2:DescribeInternetGateways",
            "ec2:DescribeFlowLogs",
            "ec2:DescribeVpcAttribute",
        ),
    ),
    Technology(
        name="ec2.subnet",
        is_global=False,
        list_items=list_subnets,
        get_item=get_subnet,
        description=(
            "VPC subnets: VPC, CIDR blocks, zone, default-for-zone flag, public IPv4 / customer-owned "
            "/ IPv6 address assignment on launch (MapPublicIpOnLaunch...), DNS64 and resource-name "
            "DNS options, block public access, the route table the subnet uses (RouteTableId: its "
            "explicit association, else the VPC's main table), tags."
        ),
        ephemeral_paths=(
            "State",
            "AvailableIpAddressCount",
            "Ipv6CidrBlockAssociationSet.*.Ipv6CidrBlockState",
        ),
        unordered_paths=("Ipv6CidrBlockAssociationSet",),
        always_returned={
            "ec2:DescribeSubnets": ("Subnets",),
            "ec2:DescribeRouteTables": ("RouteTables",),
        },
        iam_actions=("ec2:DescribeSubnets", "ec2:DescribeRouteTables"),
    ),
    Technology(
        name="ec2.route_table",
        is_global=False,
        list_items=list_route_tables,
        get_item=get_route_table,
        description=(
            "VPC route tables: routes with their targets and state (a blackhole route, whose target "
            "was deleted, is recorded), subnet and gateway associations (main flag), route "
            "propagation from virtual private gateways (PropagatingVgws), tags. Routes propagated "
            "by BGP change with the VPN sessions and are ephemeral (PropagatedRoutes)."
        ),
        ephemeral_paths=("PropagatedRoutes", "Associations.*.AssociationState"),
        unordered_paths=("Routes", "Associations", "PropagatingVgws"),
        always_returned={"ec2:DescribeRouteTables": ("RouteTables",)},
        iam_actions=("ec2:DescribeRouteTables",),
    ),
    Technology(
        name="ec2.nat_gateway",
        is_global=False,
        list_items=list_nat_gateways,
        get_item=get_nat_gateway,
        description=(
            "NAT gateways (not deleted, deleting or failed ones): VPC, subnet, connectivity type, "
            "availability mode, addresses (allocation, public and private IP, network interface), "
            "attached appliances, tags."
        ),
        ephemeral_paths=(
            "State",
            "FailureCode",
            "FailureMessage",
            "NatGatewayAddresses.*.Status",
            "NatGatewayAddresses.*.FailureMessage",
            "AttachedAppliances.*.AttachmentState",
            "AttachedAppliances.*.ModificationState",
            "AttachedAppliances.*.FailureCode",
            "AttachedAppliances.*.FailureMessage",
        ),
        unordered_paths=("NatGatewayAddresses", "AttachedAppliances"),
        always_returned={"ec2:DescribeNatGateways": ("NatGateways",)},
        iam_actions=("ec2:DescribeNatGateways",),
    ),
    Technology(
        name="ec2.vpc_peering",
        is_global=False,
        list_items=list_vpc_peering_connections,
        get_item=get_vpc_peering_connection,
        description=(
            "VPC peering connections in which the account is requester or accepter (not deleted, "
            "rejected, failed or expired ones): each side's VPC, account, region, CIDR blocks and "
            "peering options, the status code (pending-acceptance, active...), expiration, tags."
        ),
        ephemeral_paths=("Status.Message",),
        unordered_paths=(
            *(f"RequesterVpcInfo.{key}" for key in _PEER_SETS),
            *(f"AccepterVpcInfo.{key}" for key in _PEER_SETS),
        ),
        always_returned={"ec2:DescribeVpcPeeringConnections": ("VpcPeeringConnections",)},
        iam_actions=("ec2:DescribeVpcPeeringConnections",),
    ),
    Technology(
        name="ec2.dhcp_options",
        is_global=False,
        list_items=list_dhcp_options,
        get_item=get_dhcp_options,
        description=(
            "DHCP option sets: domain name, domain name servers (in order), NTP and NetBIOS "
            "servers, IPv6 lease time, tags."
        ),
        unordered_paths=("DhcpConfigurations",),
        always_returned={"ec2:DescribeDhcpOptions": ("DhcpOptions",)},
        iam_actions=("ec2:DescribeDhcpOptions",),
    ),
    Technology(
        name="ec2.flow_log",
        is_global=False,
        list_items=list_flow_logs,
        get_item=get_flow_log,
        description=(
            "VPC flow logs: the resource logged (VPC, subnet, interface...), traffic type, "
            "destination (CloudWatch Logs group, S3 or Firehose) and its options, delivery role, "
            "record format, aggregation interval, tags. Delivery status is ephemeral."
        ),
        ephemeral_paths=("DeliverLogsStatus", "DeliverLogsErrorMessage"),
        always_returned={"ec2:DescribeFlowLogs": ("FlowLogs",)},
        iam_actions=("ec2:DescribeFlowLogs",),
    ),
    Technology(
        name="ec2.vpn_connection",
        is_global=False,
        list_items=list_vpn_connections,
        get_item=get_vpn_connection,
        description=(
            "Site-to-site VPN connections (not deleted or deleting ones): customer, virtual private "
            "or transit gateway, type, options and per-tunnel options (outside IP, inside CIDR, IKE "
            "versions, phase 1/2 algorithms and DH groups, logging; the pre-shared key as a keyed "
            "hash only), static routes, tunnel outside IPs (VgwTelemetry), tags. The customer "
            "gateway configuration document is never kept; tunnel status is ephemeral."
        ),
        ephemeral_paths=(
            "State",
            "GatewayAssociationState",
            "Routes.*.State",
            "VgwTelemetry.*.Status",
            "VgwTelemetry.*.StatusMessage",
            "VgwTelemetry.*.LastStatusChange",
            "VgwTelemetry.*.AcceptedRouteCount",
        ),
        secret_paths=("Options.TunnelOptions.*.PreSharedKey",),
        unordered_paths=(
            "Routes",
            "VgwTelemetry",
            "Options.TunnelOptions",
            *(f"Options.TunnelOptions.*.{key}" for key in _TUNNEL_SETS),
        ),
        always_returned={"ec2:DescribeVpnConnections": ("VpnConnections",)},
        iam_actions=("ec2:DescribeVpnConnections",),
    ),
    Technology(
        name="ec2.vpn_gateway",
        is_global=False,
        list_items=list_vpn_gateways,
        get_item=get_vpn_gateway,
        description=(
            "Virtual private gateways (not deleted or deleting ones): type, Amazon-side ASN, zone, "
            "the VPCs attached (detached ones are dropped), tags."
        ),
        ephemeral_paths=("State", "VpcAttachments.*.State"),
        unordered_paths=("VpcAttachments",),
        always_returned={"ec2:DescribeVpnGateways": ("VpnGateways",)},
        iam_actions=("ec2:DescribeVpnGateways",),
    ),
)
