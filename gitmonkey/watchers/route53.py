"""Route 53 watchers: DNS record sets of every hosted zone, public and private (global:
ListHostedZones, then ListResourceRecordSets per zone, both paginated).

Item identity includes the zone: ``<zone id>/<record name>/<type>[/<set identifier>]``, e.g.
``Z0123456789ABC/www.example.com./A``. Security Monkey keyed records by name alone, so the same
name in a public and a private zone (split-horizon DNS) collided. The record name is kept as AWS
spells it: trailing dot, characters other than ``a-z0-9-_`` as ``\\ddd`` octal escapes (AWS returns a
wildcard as ``\\052``), internationalised names in punycode. The store escapes ids reversibly, so
``/``, ``*`` and ``\\`` are safe in them; the parts cannot run into each other because zone ids and
types contain no ``/`` and AWS escapes a ``/`` inside a name (``\\057``); the set identifier, which may
contain anything, comes last. The item name is the record name with its octal escapes decoded, the
type, and the set identifier in brackets (``*.example.com. CNAME``); the ARN is the hosted zone's,
the resource IAM policies name to control the record.

Configuration: the record set as AWS returns it (``Name``, ``Type``, ``TTL``, ``ResourceRecords``,
``AliasTarget``, the routing policy fields ``SetIdentifier``, ``Weight``, ``Region``,
``GeoLocation``, ``GeoProximityLocation``, ``Failover``, ``MultiValueAnswer``,
``CidrRoutingConfig``, and ``HealthCheckId``, ``TrafficPolicyInstanceId``) plus the zone's
``HostedZoneId``, ``HostedZoneName`` and ``PrivateZone``. ``ResourceRecords`` is sorted: AWS
defines no order for the values of a record set. Nothing is ephemeral: a record set changes only
when someone changes it.

A zone deleted between the two calls (``NoSuchHostedZone``) is skipped, so its records are recorded
as deleted. Route 53's API allows five requests per second per account, so zones are read one
after the other.

There is no ``get_item``: the event map reads the whole slice again on every Route 53 event (a
ChangeResourceRecordSets names records as the caller spelt them, not as the ids spell them), and
a read of one record set would rest on ListResourceRecordSets' ordering from StartRecordName for
escaped and wildcard names, where a miss would read as a deletion.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from botocore.exceptions import ClientError

from gitmonkey.model import Item, Technology
from gitmonkey.read.aws import SliceContext
from gitmonkey.watchers._common import collect, is_error, partition

ZONE_GONE = ("NoSuchHostedZone",)
_OCTAL_ESCAPE = re.compile(r"\\([0-7]{3})")


def zone_id(raw: str) -> str:
    """``Z0123`` from ListHostedZones' ``/hostedzone/Z0123``."""
    return raw.rsplit("/", 1)[-1]


def record_id(zone: str, record: dict[str, Any]) -> str:
    """``<zone id>/<record name>/<type>[/<set identifier>]``: unique in the account."""
    parts = [zone, record["Name"], record["Type"]]
    if record.get("SetIdentifier") is not None:
        parts.append(record["SetIdentifier"])
    return "/".join(parts)


def display_name(name: str) -> str:
    """A record name with AWS's ``\\ddd`` octal escapes decoded: ``\\052.example.com.`` reads
    ``*.example.com.``. The escapes are bytes: read as UTF-8, else as Latin-1 (Route 53's own
    example spells ``exämple.com`` as ``ex\\344mple.com``). A name that would decode to a control
    character is returned as AWS spells it."""
    if not _OCTAL_ESCAPE.search(name):
        return name
    data = bytearray()
    position = 0
    for match in _OCTAL_ESCAPE.finditer(name):
        data += name[position:match.start()].encode("utf-8")
        data.append(int(match.group(1), 8) & 0xFF)
        position = match.end()
    data += name[position:].encode("utf-8")
    try:
        decoded = data.decode("utf-8")
    except UnicodeDecodeError:
        decoded = data.decode("latin-1")
    if any(unicodedata.category(char) == "Cc" for char in decoded):
        return name
    return decoded


def _item(ctx: SliceContext, zone: dict[str, Any], record: dict[str, Any]) -> Item:
    ident = zone_id(zone["Id"])
    configuration: dict[str, Any] = {
        "HostedZoneId": ident,
        "HostedZoneName": zone["Name"],
        "PrivateZone": bool((zone.get("Config") or {}).get("PrivateZone", False)),
    }
    configuration.update(record)
    name = f"{display_name(record['Name'])} {record['Type']}"
    if record.get("SetIdentifier") is not None:
        name += f" [{record['SetIdentifier']}]"
    arn = f"arn:{partition(ctx.client_region)}:route53:::hostedzone/{ident}"
    return Item("route53.record_set", ctx.region, record_id(ident, record), name, arn, configuration)


def list_record_sets(ctx: SliceContext) -> list[Item]:
    """Every record set of every hosted zone of the account; any failure but a zone deleted since
    the listing raises."""
    route53 = ctx.client("route53")
    items: list[Item] = []
    for zone in collect(route53, "list_hosted_zones", "HostedZones"):
        try:
            records = collect(
                route53, "list_resource_record_sets", "ResourceRecordSets", HostedZoneId=zone["Id"]
            )
        except ClientError as exc:
            if is_error(exc, *ZONE_GONE):
                continue
            raise
        items.extend(_item(ctx, zone, record) for record in records)
    return items


TECHNOLOGIES = (
    Technology(
        name="route53.record_set",
        is_global=True,
        list_items=list_record_sets,
        description=(
            "Route 53 DNS record sets of every public and private hosted zone: zone id, name and "
            "visibility, record name and type, TTL, values (sorted), alias target, routing policy "
            "(set identifier, weight, latency region, geolocation, failover, multivalue, CIDR "
            "routing) and health check."
        ),
        unordered_paths=("ResourceRecords",),
        # IsTruncated too: a page without it would read as the last one (a partial list). Marker is
        # not: Route 53 leaves it out of a first page, although botocore's model marks it required.
        always_returned={
            "route53:ListHostedZones": ("HostedZones", "IsTruncated"),
            "route53:ListResourceRecordSets": ("ResourceRecordSets", "IsTruncated"),
        },
        iam_actions=("route53:ListHostedZones", "route53:ListResourceRecordSets"),
    ),
)
