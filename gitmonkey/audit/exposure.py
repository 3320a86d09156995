"""Whether an item is reachable from the internet, on which ports, and by which path.

An item is reachable on a port when all of these hold, and the verdict names each link:

1. it has a public address: a public IPv4 address (auto-assigned or Elastic) or an IPv6 address on
   a network interface, an internet-facing load balancer, a publicly accessible database;
2. its subnet routes to an internet gateway attached to its VPC;
3. one of its security groups admits 0.0.0.0/0 (or ::/0) on the port;
4. the subnet's network ACL lets the port in from the internet and the replies (ports 1024-65535)
   out.

The items are read from the repository at the audited commit (``ctx.related``), so the verdict at
a commit is the exposure at that point in history, with two approximations:

- an auto-assigned public IPv4 address is ephemeral (it changes on every stop and start, and is
  kept out of history so that those make no commit): the audit sees the address the last sync saw
  (``.git/gitmonkey/ephemeral.json``), and a verdict on an old commit sees only Elastic IPs and
  IPv6 addresses;
- a link whose item is not recorded (the subnet of a technology that is not watched) is assumed
  open, and the verdict says it was not checked: unknown is not safe.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import gitmonkey.audit.network as net
from gitmonkey.audit.references import SG, SUBNET
from gitmonkey.audit.related import RelatedItems

ALL = {protocol: net.ALL_PORTS for protocol in net.PROTOCOLS}


@dataclass(frozen=True)
class Opening:
    """The item is reachable on ``ports`` (``protocol``, ``family``); ``via`` is the security group
    permission that admits it (None where no security group applies)."""

    protocol: str
    ports: net.Ports
    family: str
    via: net.GroupOpening | None
    text: str

    @property
    def key(self) -> str:
        return f"{self.protocol}:{net.describe_ports(self.ports).replace(' ', '-')}:{self.family}"


@dataclass
class Exposure:
    technology: str
    item_id: str
    openings: list[Opening] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    """Why the item is not reachable, one reason per place it could have been (empty when exposed)."""

    @property
    def exposed(self) -> bool:
        return bool(self.openings)

    def summary(self) -> str:
        if self.openings:
            return "; ".join(o.text for o in self.openings)
        return "; ".join(dict.fromkeys(self.closed)) or "not reachable from the internet"


@dataclass(frozen=True)
class Placement:
    """One place an item receives traffic: a network interface, a load balancer's subnets."""

    label: str
    public: Mapping[str, str]
    """Family -> how the place is public ("public IP 54.1.2.3"); a family absent is not public."""
    subnets: tuple[str, ...] | None
    """None: no subnet to check (EC2-Classic, a service endpoint outside any VPC)."""
    groups: tuple[str, ...] | None
    """None: no security group applies (a network load balancer without groups)."""
    listens: Mapping[str, net.Ports] = field(default_factory=lambda: ALL)
    vpc: str | None = None


def _config(document: Mapping[str, Any] | None) -> Mapping[str, Any]:
    configuration = document.get("configuration") if isinstance(document, Mapping) else None
    return configuration if isinstance(configuration, Mapping) else {}


def _region(document: Mapping[str, Any]) -> str:
    return str(document.get("region") or "global")


def _ids(values: Iterable[Any], key: str | None = None) -> tuple[str, ...]:
    found = []
    for value in values or ():
        value = value.get(key) if key and isinstance(value, Mapping) else value
        if isinstance(value, str) and value and value not in found:
            found.append(value)
    return tuple(found)


# --- placements of each technology --------------------------------------------------------------


def _elastic_ips(document: Mapping[str, Any], related: RelatedItems) -> dict[str, str]:
    """Network interface id (or "" for the instance itself) -> Elastic IP associated with it."""
    found = {}
    for _ref, address in related.referring(document, "ec2.elastic_ip"):
        configuration = _config(address)
        public_ip = str(configuration.get("PublicIp") or address.get("name") or "")
        found[str(configuration.get("NetworkInterfaceId") or "")] = public_ip
    return found


def _interface_placement(label: str, interface: Mapping[str, Any], elastic: Mapping[str, str],
                         fallback_ip: str = "") -> Placement:
    public = {}
    interface_id = str(interface.get("NetworkInterfaceId") or "")
    association = interface.get("Association") if isinstance(interface.get("Association"), Mapping) else {}
    address = elastic.get(interface_id) or elastic.get("")
    if address:
        public[net.IPV4] = f"Elastic IP {address}"
    elif association.get("PublicIp") or fallback_ip:
        public[net.IPV4] = f"public IP {association.get('PublicIp') or fallback_ip}"
    ipv6 = _ids(interface.get("Ipv6Addresses") or (), "Ipv6Address")
    if ipv6:
        public[net.IPV6] = f"IPv6 address {ipv6[0]}"
    subnet = interface.get("SubnetId")
    return Placement(label, public, (str(subnet),) if subnet else None,
                     _ids(interface.get("Groups") or (), "GroupId"), vpc=interface.get("VpcId"))


def _instance(document: Mapping[str, Any], related: RelatedItems) -> list[Placement]:
    configuration = _config(document)
    label = str(document.get("id"))
    elastic = _elastic_ips(document, related)
    interfaces = [i for i in configuration.get("NetworkInterfaces") or () if isinstance(i, Mapping)]
    if not interfaces:
        interfaces = [{"SubnetId": configuration.get("SubnetId"), "VpcId": configuration.get("VpcId"),
                       "Groups": configuration.get("SecurityGroups"), "NetworkInterfaceId": ""}]
    primary_ip = str(configuration.get("PublicIpAddress") or "")
    placements = []
    for interface in interfaces:
        primary = (interface.get("Attachment") or {}).get("DeviceIndex") in (0, None)
        placements.append(_interface_placement(label, interface, elastic, primary_ip if primary else ""))
    return placements


def _network_interface(document: Mapping[str, Any], related: RelatedItems) -> list[Placement]:
    configuration = _config(document)
    instance = (configuration.get("Attachment") or {}).get("InstanceId")
    label = f"{document.get('id')}" + (f" of {instance}" if instance else "")
    return [_interface_placement(label, configuration, _elastic_ips(document, related))]


def _listener_ports(pairs: Iterable[tuple[Any, Any]]) -> dict[str, net.Ports]:
    ports: dict[str, list[tuple[int, int]]] = {}
    for protocol, port in pairs:
        if not isinstance(port, int):
            continue
        name = str(protocol or "").upper()
        protocols = ("udp",) if name == "UDP" else ("tcp", "udp") if name == "TCP_UDP" else ("tcp",)
        for p in protocols:
            ports.setdefault(p, []).append((port, port))
    return {p: net.normalise(r) for p, r in ports.items()}


def _classic_load_balancer(document: Mapping[str, Any], related: RelatedItems) -> list[Placement] | str:
    configuration = _config(document)
    if configuration.get("Scheme") != "internet-facing":
        return f"{document.get('id')} is internal (scheme {configuration.get('Scheme')})"
    listens = _listener_ports((li.get("Protocol"), li.get("LoadBalancerPort"))
                              for li in configuration.get("Listeners") or () if isinstance(li, Mapping))
    in_vpc = bool(configuration.get("VPCId"))
    return [Placement(str(document.get("id")), {net.IPV4: "internet-facing scheme"},
                      _ids(configuration.get("Subnets") or ()) if in_vpc else None,
                      _ids(configuration.get("SecurityGroups") or ()) if in_vpc else None,
                      listens, vpc=configuration.get("VPCId"))]


def _load_balancer_v2(document: Mapping[str, Any], related: RelatedItems) -> list[Placement] | str:
    configuration = _config(document)
    if configuration.get("Scheme") != "internet-facing":
        return f"{document.get('id')} is internal (scheme {configuration.get('Scheme')})"
    if configuration.get("Type") == "gateway":
        return f"{document.get('id')} is a gateway load balancer (it takes no traffic from the internet)"
    address_type = str(configuration.get("IpAddressType") or "ipv4")
    public = {}
    if address_type != "dualstack-without-public-ipv4":
        public[net.IPV4] = "internet-facing scheme"
    if address_type.startswith("dualstack"):
        public[net.IPV6] = "internet-facing scheme (dual stack)"
    listens = _listener_ports((li.get("Protocol"), li.get("Port"))
                              for li in configuration.get("Listeners") or () if isinstance(li, Mapping))
    groups = _ids(configuration.get("SecurityGroups") or ())
    return [Placement(str(document.get("id")), public,
                      _ids(configuration.get("AvailabilityZones") or (), "SubnetId"),
                      groups if groups or configuration.get("Type") != "network" else None,
                      listens, vpc=configuration.get("VpcId"))]


def _database(document: Mapping[str, Any], port: Any, subnets: tuple[str, ...] | None,
              groups_key: str = "VpcSecurityGroups") -> list[Placement] | str:
    configuration = _config(document)
    if configuration.get("PubliclyAccessible") is not True:
        return f"{document.get('id')} is not publicly accessible"
    groups = _ids((g for g in configuration.get(groups_key) or ()
                   if isinstance(g, Mapping) and g.get("Status", "active") == "active"), "VpcSecurityGroupId")
    listens = {"tcp": net.normalise([(port, port)])} if isinstance(port, int) else {"tcp": net.ALL_PORTS}
    subnet_group = configuration.get("DBSubnetGroup")
    vpc = configuration.get("VpcId") or (
        subnet_group.get("VpcId") if isinstance(subnet_group, Mapping) else None)
    return [Placement(str(document.get("id")), {net.IPV4: "PubliclyAccessible set"}, subnets, groups, listens,
                      vpc=vpc)]


def _db_instance(document: Mapping[str, Any], related: RelatedItems) -> list[Placement] | str:
    configuration = _config(document)
    port = (configuration.get("Endpoint") or {}).get("Port") or configuration.get("DbInstancePort")
    subnet_group = configuration.get("DBSubnetGroup") or {}
    subnets = _ids(subnet_group.get("Subnets") or (), "SubnetIdentifier") if subnet_group else None
    return _database(document, port, subnets)


def _db_cluster(document: Mapping[str, Any], related: RelatedItems) -> list[Placement] | str:
    configuration = _config(document)
    name = str(configuration.get("DBSubnetGroup") or "")
    group = related.get("rds.db_subnet_group", name, _region(document))
    subnets = _ids(_config(group).get("Subnets") or (), "SubnetIdentifier") if group else None
    return _database(document, configuration.get("Port"), subnets)


def _redshift(document: Mapping[str, Any], related: RelatedItems) -> list[Placement] | str:
    configuration = _config(document)
    return _database(document, (configuration.get("Endpoint") or {}).get("Port"), None)


def _opensearch(document: Mapping[str, Any], related: RelatedItems) -> list[Placement] | str:
    configuration = _config(document)
    vpc = (configuration.get("VPCOptions") or {}).get("VPCId")
    if vpc:
        return f"{document.get('id')} is in {vpc} (a VPC domain has no public endpoint)"
    https_only = (configuration.get("DomainEndpointOptions") or {}).get("EnforceHTTPS") is True
    listens = {"tcp": net.normalise([(443, 443)] if https_only else [(80, 80), (443, 443)])}
    public = {net.IPV4: "public endpoint (not in a VPC; its access policy decides who may use it)"}
    return [Placement(str(document.get("id")), public, None, None, listens)]


PLACEMENTS: dict[str, Callable[[Mapping[str, Any], RelatedItems], list[Placement] | str]] = {
    "ec2.instance": _instance,
    "ec2.network_interface": _network_interface,
    "elb.load_balancer": _classic_load_balancer,
    "elbv2.load_balancer": _load_balancer_v2,
    "rds.db_instance": _db_instance,
    "rds.db_cluster": _db_cluster,
    "redshift.cluster": _redshift,
    "opensearch.domain": _opensearch,
}
"""The technologies whose exposure is judged, and where each receives traffic."""


# --- the verdict ---------------------------------------------------------------------------------


def exposure(document: Mapping[str, Any], related: RelatedItems) -> Exposure | None:
    """The exposure of an item (None for a technology that receives no traffic from the internet)."""
    technology = str(document.get("technology") or "")
    placements_of = PLACEMENTS.get(technology)
    if placements_of is None:
        return None
    cache = related.memo.setdefault("exposure", {})
    key = (technology, _region(document), str(document.get("id")))
    if key in cache:
        return cache[key]
    result = Exposure(technology, str(document.get("id")))
    placements = placements_of(document, related)
    if isinstance(placements, str):
        result.closed.append(placements)
    else:
        for placement in placements:
            _judge(placement, document, related, result)
    if technology == "rds.db_cluster":
        _cluster_members(document, related, result)
    cache[key] = result
    return result


def _cluster_members(document: Mapping[str, Any], related: RelatedItems, result: Exposure) -> None:
    for ref, member in related.referenced(document, "rds.db_instance"):
        member_exposure = exposure(member, related) if member else None
        if member_exposure is None:
            continue
        if member_exposure.exposed:
            result.openings.extend(
                Opening(o.protocol, o.ports, o.family, o.via, f"member {ref.item_id}: {o.text}")
                for o in member_exposure.openings)
            result.closed.clear()
        elif not result.openings:
            result.closed.extend(member_exposure.closed)


@dataclass(frozen=True)
class _Way:
    """How a placement reaches the internet through one subnet: the route (text) and the subnet's
    network ACL (None: not checked); ``blocked`` says why it does not."""

    route: str = ""
    acl: Mapping[str, Any] | None = None
    blocked: str = ""
    acl_unknown: bool = False
    """The subnet is recorded but no network ACL of it is: the ACL is not checked (and said so)."""


def _judge(placement: Placement, document: Mapping[str, Any], related: RelatedItems,
           result: Exposure) -> None:
    if not placement.public:
        result.closed.append(f"{placement.label} has no public address")
        return
    region = _region(document)
    for family, public_text in placement.public.items():
        for way in _ways(placement, family, related, region):
            if way.blocked:
                result.closed.append(way.blocked)
            else:
                _open_ports(placement, family, public_text, way, related, region, result)


def _ways(placement: Placement, family: str, related: RelatedItems, region: str) -> list[_Way]:
    if placement.subnets is None:
        if not placement.vpc:
            return [_Way()]
        vpc = related.get("ec2.vpc", str(placement.vpc), region)
        if vpc is None:
            return [_Way(f"{placement.vpc} (not recorded: routes not checked)")]
        gateways = _config(vpc).get("InternetGatewayIds") or []
        if not gateways:
            return [_Way(blocked=f"{placement.vpc} has no internet gateway attached")]
        return [_Way(f"{placement.vpc} with {gateways[0]} attached (subnets not recorded: routes "
                     "not checked)")]
    ways = []
    for subnet_id in placement.subnets:
        subnet = related.get(SUBNET, subnet_id, region)
        table_id = str(_config(subnet).get("RouteTableId") or "")
        table = related.get("ec2.route_table", table_id, region) if table_id else None
        vpc_id = str(_config(subnet).get("VpcId") or placement.vpc or "")
        vpc = related.get("ec2.vpc", vpc_id, region) if vpc_id else None
        route = net.internet_route(subnet, table, vpc, family, subnet_id)
        if route.gateway is None:
            ways.append(_Way(blocked=route.text))
        else:
            acl = _acl(subnet, vpc_id, related, region)
            ways.append(_Way(route.text, acl, acl_unknown=acl is None and subnet is not None))
    return ways


def _acl(subnet: Mapping[str, Any] | None, vpc_id: str, related: RelatedItems, region: str
         ) -> Mapping[str, Any] | None:
    if subnet is None:
        return None
    associated = related.referring(subnet, "ec2.network_acl")
    if associated:
        return associated[0][1]
    for acl in related.all("ec2.network_acl", region):
        configuration = _config(acl)
        if configuration.get("IsDefault") is True and configuration.get("VpcId") == vpc_id:
            return acl
    return None


def _open_ports(placement: Placement, family: str, public_text: str, way: _Way, related: RelatedItems,
                region: str, result: Exposure) -> None:
    acl_id = str(_config(way.acl).get("NetworkAclId") or way.acl.get("id") or "") if way.acl else ""
    openings = _group_openings(placement, family, related, region)
    if not openings:
        groups = ", ".join(placement.groups or ()) or "none"
        result.closed.append(f"{placement.label}: no security group ({groups}) admits {net.INTERNET[family]}")
        return
    where = f"{placement.label} with {public_text}" + (f" in {way.route}" if way.route else "")
    opened = False
    blocked = []
    for opening in openings:
        ports = net.intersect(opening.ports, placement.listens.get(opening.protocol) or ())
        if ports and way.acl is not None:
            inbound = net.acl_allows(way.acl, opening.protocol, family, egress=False)
            replies = net.intersect(net.acl_allows(way.acl, opening.protocol, family, egress=True),
                                    net.RETURN_PORTS)
            allowed = net.intersect(ports, inbound) if replies else ()
            if not allowed:
                blocked.append(f"network ACL {acl_id} blocks {opening.protocol}/{net.describe_ports(ports)}"
                               + ("" if replies else " (no replies to the internet allowed out)"))
            ports = allowed
        if not ports:
            continue
        opened = True
        what = f"{opening.protocol}/{net.describe_ports(ports)}"
        text = (f"{opening.via.group_id} allows {what} from {net.INTERNET[family]}; used by {where}"
                if opening.via else f"{where} is open on {what} to {net.INTERNET[family]}")
        if acl_id:
            text += f"; network ACL {acl_id} allows it"
        elif way.acl_unknown:
            text += "; network ACL not recorded (not checked)"
        result.openings.append(Opening(opening.protocol, ports, family, opening.via, text))
    if not opened:
        result.closed.extend(blocked or [
            f"{placement.label}: its security groups admit the internet on no port it listens on"])


def _group_openings(placement: Placement, family: str, related: RelatedItems, region: str
                    ) -> list[Opening]:
    if placement.groups is None:
        return [Opening(p, net.ALL_PORTS, family, None, "") for p in net.PROTOCOLS]
    found = []
    for group_id in placement.groups:
        group = related.get(SG, group_id, region)
        if group is None:
            continue
        for opening in net.group_openings(group):
            if opening.family == family:
                found.append(Opening(opening.protocol, opening.ports, family, opening, ""))
    return found


# --- security groups, weighed by their users -----------------------------------------------------

EXPOSED = "exposed"
IN_USE = "in use"
UNUSED = "unused"
UNKNOWN = "unknown"


@dataclass(frozen=True)
class Weight:
    verdict: str
    text: str

    def score(self, score: int) -> int:
        """A finding's score weighed by the verdict: whole when an exposed item uses the permission
        (or use cannot be known), half when only unexposed items use it, 1 when nothing does."""
        if self.verdict == IN_USE:
            return min(score, max(1, (score + 1) // 2))
        if self.verdict == UNUSED:
            return min(score, 1)
        return score


def security_group_users(group: Mapping[str, Any], related: RelatedItems) -> list[Mapping[str, Any]]:
    """The recorded items that use the security group, by the declared references to it."""
    from gitmonkey.audit.references import REFERENCES

    users: dict[tuple[str, str], Mapping[str, Any]] = {}
    for technology in dict.fromkeys(r.source for r in REFERENCES if SG in r.targets and r.source != SG):
        for _ref, user in related.referring(group, technology):
            users.setdefault((technology, str(user.get("id"))), user)
    return list(users.values())


def weigh_permission(group: Mapping[str, Any], index: int | None, related: RelatedItems,
                     watches_interfaces: bool = True) -> Weight:
    """How exposed the users of a security group are through its ingress permission ``index``."""
    group_id = str(_config(group).get("GroupId") or group.get("id"))
    users = security_group_users(group, related)
    if not users:
        if not watches_interfaces:
            return Weight(UNKNOWN, "")
        return Weight(UNUSED, "no network interface or resource uses this group")
    closed = []
    for user in users:
        verdict = exposure(user, related)
        if verdict is None:
            continue
        for opening in verdict.openings:
            via = opening.via
            if via and via.group_id == group_id and (index is None or via.index == index):
                return Weight(EXPOSED, opening.text.split("; ", 1)[-1])
        closed.extend(verdict.closed[:1])
    instances = {str(u.get("id")) for u in users if u.get("technology") == "ec2.instance"}
    shown = sorted({str(u.get("id")) for u in users
                    if str((_config(u).get("Attachment") or {}).get("InstanceId")) not in instances})
    names = ", ".join(shown[:5]) + (" ..." if len(shown) > 5 else "")
    reason = f": {closed[0]}" if closed else ""
    return Weight(IN_USE, f"used by {names}, not reachable from the internet through it{reason}")
