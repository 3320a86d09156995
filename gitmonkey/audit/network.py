"""What the network lets in from the internet: port sets, security groups, network ACLs, routes.

Reads the documents of ``ec2.security_group``, ``ec2.network_acl``, ``ec2.subnet``,
``ec2.route_table`` and ``ec2.vpc`` as the watchers record them (AWS's field names). Only TCP and
UDP are modelled: exposure is about ports; an "all traffic" rule opens every TCP and UDP port.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

IPV4 = "IPv4"
IPV6 = "IPv6"
INTERNET = {IPV4: "0.0.0.0/0", IPV6: "::/0"}
PROTOCOLS = ("tcp", "udp")
ALL_PORTS = ((0, 65535),)
RETURN_PORTS = ((1024, 65535),)
_PROTOCOL_NAMES = {"-1": None, "all": None, "6": "tcp", "tcp": "tcp", "17": "udp", "udp": "udp"}

Ports = tuple[tuple[int, int], ...]
"""Sorted, disjoint, inclusive port ranges."""


def normalise(ranges: Iterable[tuple[int, int]]) -> Ports:
    merged: list[tuple[int, int]] = []
    for low, high in sorted((max(0, lo), min(65535, hi)) for lo, hi in ranges if lo <= hi):
        if low > high:
            continue
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return tuple(merged)


def intersect(a: Ports, b: Ports) -> Ports:
    return normalise((max(x[0], y[0]), min(x[1], y[1])) for x in a for y in b)


def subtract(a: Ports, b: Ports) -> Ports:
    result = list(a)
    for low, high in b:
        next_result = []
        for x, y in result:
            if high < x or low > y:
                next_result.append((x, y))
                continue
            if x < low:
                next_result.append((x, low - 1))
            if y > high:
                next_result.append((high + 1, y))
        result = next_result
    return normalise(result)


def describe_ports(ports: Ports) -> str:
    if ports == ALL_PORTS:
        return "all ports"
    return ",".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in ports)


def _protocols(protocol: Any) -> tuple[str, ...]:
    """The modelled protocols a rule's protocol covers: both for "all", none for ICMP and others."""
    name = _PROTOCOL_NAMES.get(str(protocol).lower(), "other")
    if name is None:
        return PROTOCOLS
    return (name,) if name != "other" else ()


def _is_internet(cidr: Any, family: str) -> bool:
    return isinstance(cidr, str) and cidr.strip() == INTERNET[family]


def _is_public(cidr: Any) -> bool:
    try:
        network = ipaddress.ip_network(str(cidr), strict=False)
    except ValueError:
        return False
    return network.is_global or network.prefixlen == 0


@dataclass(frozen=True)
class GroupOpening:
    """A security group permission that admits the whole internet (one family) on ``ports``."""

    group_id: str
    protocol: str
    ports: Ports
    family: str
    path: str
    """The permission's JSON path in the group's document: ``configuration.IpPermissions[2]``."""
    index: int

    def describe(self) -> str:
        ports = describe_ports(self.ports)
        return f"{self.group_id} allows {self.protocol}/{ports} from {INTERNET[self.family]}"


def group_openings(group: Mapping[str, Any]) -> list[GroupOpening]:
    """The ingress permissions of a security group document that admit 0.0.0.0/0 or ::/0."""
    configuration = group.get("configuration") or {}
    group_id = str(configuration.get("GroupId") or group.get("id") or "")
    openings = []
    for index, permission in enumerate(configuration.get("IpPermissions") or ()):
        if not isinstance(permission, Mapping):
            continue
        families = [
            family for family, key, field in ((IPV4, "IpRanges", "CidrIp"), (IPV6, "Ipv6Ranges", "CidrIpv6"))
            if any(_is_internet(r.get(field), family)
                   for r in permission.get(key) or () if isinstance(r, Mapping))
        ]
        for protocol in _protocols(permission.get("IpProtocol")):
            ports = _permission_ports(permission)
            for family in families:
                openings.append(GroupOpening(group_id, protocol, ports, family,
                                             f"configuration.IpPermissions[{index}]", index))
    return openings


def _permission_ports(permission: Mapping[str, Any]) -> Ports:
    if str(permission.get("IpProtocol")) in ("-1", "all"):
        return ALL_PORTS
    low, high = permission.get("FromPort"), permission.get("ToPort")
    if not isinstance(low, int) or not isinstance(high, int) or low < 0 or high < 0:
        return ALL_PORTS
    return normalise([(low, high)])


def acl_allows(acl: Mapping[str, Any], protocol: str, family: str, *, egress: bool) -> Ports:
    """The ports on which a network ACL lets ``protocol`` traffic in from (or, with ``egress``, out
    to) some internet address. Entries are evaluated in rule-number order, the first match decides:
    an entry for the whole internet decides its ports for every address; a narrower allow lets
    those addresses through; a narrower deny blocks only some addresses, so it decides nothing."""
    configuration = acl.get("configuration") or {}
    entries = sorted(
        (e for e in configuration.get("Entries") or ()
         if isinstance(e, Mapping) and bool(e.get("Egress")) == egress),
        key=lambda e: int(e.get("RuleNumber") or 0),
    )
    field = "CidrBlock" if family == IPV4 else "Ipv6CidrBlock"
    undecided: Ports = ALL_PORTS
    allowed: list[tuple[int, int]] = []
    for entry in entries:
        cidr = entry.get(field)
        if not cidr or protocol not in _protocols(entry.get("Protocol")):
            continue
        port_range = entry.get("PortRange") if isinstance(entry.get("PortRange"), Mapping) else None
        ports = ALL_PORTS if str(entry.get("Protocol")) == "-1" or not port_range else normalise(
            [(int(port_range.get("From") or 0), int(port_range.get("To") or 65535))])
        allow = str(entry.get("RuleAction")).lower() == "allow"
        if _is_internet(cidr, family):
            if allow:
                allowed.extend(intersect(undecided, ports))
            undecided = subtract(undecided, ports)
        elif allow and _is_public(cidr):
            allowed.extend(intersect(undecided, ports))
    return normalise(allowed)


@dataclass(frozen=True)
class Route:
    """How a subnet reaches the internet: the route to an internet gateway, or why there is none."""

    gateway: str | None
    text: str


def internet_route(subnet: Mapping[str, Any] | None, route_table: Mapping[str, Any] | None,
                   vpc: Mapping[str, Any] | None, family: str, subnet_id: str) -> Route:
    """The subnet's active route to an internet gateway for ``family`` (a default route, or any route
    whose destination is public); an unrecorded subnet or table is assumed routed (and said so)."""
    if subnet is None:
        return Route("unknown", f"{subnet_id} (not recorded: route not checked)")
    table_id = (subnet.get("configuration") or {}).get("RouteTableId")
    if route_table is None:
        return Route("unknown", f"{subnet_id} (route table {table_id or '?'} not recorded: "
                                "route not checked)")
    attached = None
    if vpc is not None:
        attached = set((vpc.get("configuration") or {}).get("InternetGatewayIds") or ())
    field = "DestinationCidrBlock" if family == IPV4 else "DestinationIpv6CidrBlock"
    best = None
    for route in (route_table.get("configuration") or {}).get("Routes") or ():
        gateway = str(route.get("GatewayId") or "")
        destination = route.get(field)
        if not gateway.startswith("igw-") or not destination or route.get("State") == "blackhole":
            continue
        if attached is not None and gateway not in attached:
            continue
        if _is_internet(destination, family):
            return Route(gateway, f"{subnet_id} routed to {gateway}")
        if best is None and _is_public(destination):
            best = Route(gateway, f"{subnet_id} routed to {gateway} for {destination}")
    if best is not None:
        return best
    return Route(None, f"{subnet_id} has no {family} route to an internet gateway (route table {table_id})")
