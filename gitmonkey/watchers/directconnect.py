"""AWS Direct Connect watcher: connections (dedicated and hosted), from DescribeConnections.

DescribeConnections answers for the whole region with the tags inline, so a region costs one call
(more only if AWS pages the answer: it follows ``nextToken``, which recent versions of the API
have and botocore has no paginator for). Nothing is read per connection.

A connection is recorded as AWS returns it (location, bandwidth, VLAN, partner and provider, LAG,
jumbo frames, logical redundancy, the AWS device it ends on, MACsec capability, encryption mode and
keys, prefix pool sizes, billing mode), with ``tags`` as a ``Tags`` object.

What is ephemeral, because it moves without anyone changing the connection:
- ``connectionState``: ``available`` / ``down`` is the link's operational state (a fibre cut, a
  maintenance), and ``requested`` / ``pending`` / ``ordering`` the provisioning's progress; what
  the connection *is* does not change with them. A link that goes down is an outage to alert on
  elsewhere (CloudWatch's ConnectionState metric), not a configuration commit.
- ``loaIssueTime``: AWS sets it on every DescribeLoa call, which is a read.
- ``portEncryptionStatus`` (MACsec link up or down) and each MACsec key's ``state`` (associating,
  associated...): operational, like the connection state. The encryption *mode* and the keys
  (secret ARN, CKN, start date) are configuration and are kept.
- ``rateLimiterStatus`` in use / remaining / total bandwidth, and the unallocated prefix counts:
  counters that move as virtual interfaces are added; the limits themselves are kept.

Connections in state ``deleted`` or ``rejected`` are not recorded: AWS keeps listing them for a while
after they are gone (or after a hosted connection was declined), and recording them would put off
their deletion until AWS stops listing them.

The CKN of a MACsec key is its public name (the CAK, the secret, is never returned), so nothing
here is a secret.

There is no ``get_item``: the region's one DescribeConnections call already is the cheapest read of
a connection, and DescribeConnections given a connection id that does not exist fails with
DirectConnectClientException, Direct Connect's code for every client error (a malformed id, a
throttled or refused call alike), so "not found" could only be told from its message text.
"""

from __future__ import annotations

from typing import Any

from gitmonkey.model import Item, Technology
from gitmonkey.read.aws import SliceContext
from gitmonkey.watchers._common import follow_tokens, partition

GONE_STATES = frozenset({"deleted", "rejected"})

_EPHEMERAL = (
    "connectionState",
    "loaIssueTime",
    "portEncryptionStatus",
    "macSecKeys.*.state",
    "rateLimiterStatus.inUse",
    "rateLimiterStatus.remaining",
    "rateLimiterStatus.totalBandwidth",
    "prefixPoolUnallocatedCountIpv4",
    "prefixPoolUnallocatedCountIpv6",
)


def _tags(tags: list[dict[str, Any]] | None) -> dict[str, str]:
    """Direct Connect's ``[{"key": k, "value": v}]`` (lower case, unlike most services) as ``{k: v}``."""
    return {tag["key"]: tag.get("value") or "" for tag in tags or ()}


def list_connections(ctx: SliceContext) -> list[Item]:
    """Every connection of the region (botocore has no paginator for DescribeConnections)."""
    call = ctx.client("directconnect").describe_connections
    items = []
    for connection in follow_tokens(call, "connections", cursor="nextToken"):
        if connection.get("connectionState") in GONE_STATES:
            continue
        ident = connection["connectionId"]
        configuration = {key: value for key, value in connection.items() if key != "tags"}
        configuration["Tags"] = _tags(connection.get("tags"))
        owner = connection.get("ownerAccount") or ctx.account_id
        arn = f"arn:{partition(ctx.client_region)}:directconnect:{ctx.region}:{owner}:dxcon/{ident}"
        name = connection.get("connectionName") or ident
        items.append(Item("directconnect.connection", ctx.region, ident, name, arn, configuration))
    return items


TECHNOLOGIES = (
    Technology(
        name="directconnect.connection",
        is_global=False,
        list_items=list_connections,
        description=(
            "Direct Connect connections (dedicated and hosted): location, bandwidth, VLAN, partner and "
            "provider, LAG, owner account, MACsec capability, encryption mode and keys (secret ARN, "
            "CKN), jumbo frames, logical redundancy, AWS device, billing mode, tags. The connection "
            "state (available, down...) and the MACsec link status are ephemeral."
        ),
        ephemeral_paths=_EPHEMERAL,
        unordered_paths=("macSecKeys",),
        always_returned={
            "directconnect:DescribeConnections": ("connections",),
        },
        iam_actions=("directconnect:DescribeConnections",),
    ),
)
