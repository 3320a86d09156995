"""Rules on what is reachable from the internet (``gitmonkey.audit.exposure``), and the weighing of
security-group findings by the exposure of the items that use the group.

- ``<technology>.internet-exposed``: one finding per protocol and port range on which the item is
  reachable, its details the whole path ("sg-1 allows tcp/22 from 0.0.0.0/0; used by i-2 with
  public IP ... in subnet-3 routed to igw-4; network ACL acl-5 allows it"). These keep Security
  Monkey's dependent audits of load balancers and databases (an internet-facing ELB or a publicly
  accessible RDS instance inherits its security group's internet-ingress score, 10, on a listener
  or database port) and add the route and network ACL checks it did not make.
- Rules declared with ``weigh="exposure"`` (the security groups' internet-ingress rules) have each
  finding's score weighed by ``weigh_hit``: whole when an exposed item uses the permission, half
  when the group is used only by items the internet cannot reach through it, 1 when nothing uses
  the group (Security Monkey's users asked for it: #143).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import gitmonkey.audit.exposure as ex
from gitmonkey.audit.context import AuditContext
from gitmonkey.audit.references import SG, references
from gitmonkey.audit.related import NoRelatedItems
from gitmonkey.audit.rule_model import Hit, Rule

RULES: list[Rule] = []

WEB_PORTS = ((80, 80), (443, 443))
WEB_SCORE = 3

_EXPOSED_RULES = (
    # technology, score, what the item is, remediation
    ("ec2.instance", 10, "instance",
     "Remove the public address, move the instance to a private subnet behind a load balancer, or "
     "restrict the security group's source to the networks that need it."),
    ("elb.load_balancer", 10, "load balancer",
     "If the load balancer serves the internet on purpose, justify the issue; otherwise make it "
     "internal or restrict its security groups."),
    ("elbv2.load_balancer", 10, "load balancer",
     "If the load balancer serves the internet on purpose, justify the issue; otherwise make it "
     "internal or restrict its security groups."),
    ("rds.db_instance", 10, "database instance",
     "Turn off PubliclyAccessible, or restrict the security group to the networks that need the database."),
    ("rds.db_cluster", 10, "database cluster",
     "Turn off PubliclyAccessible on the cluster and its instances, or restrict the security groups."),
    ("redshift.cluster", 10, "Redshift cluster",
     "Turn off PubliclyAccessible, or restrict the security groups to the networks that need the cluster."),
)


def _group_paths(document: dict) -> dict[str, str]:
    configuration = document.get("configuration") or {}
    technology = str(document.get("technology") or "")
    return {r.item_id: r.path for r in references(technology, configuration, SG, str(document.get("region")))}


def _exposed_check(technology: str) -> Any:
    def check(document: dict, previous: dict | None, ctx: AuditContext) -> Iterator[Hit]:
        verdict = ex.exposure(document, ctx.related)
        if verdict is None or not verdict.exposed:
            return
        paths = _group_paths(document)
        for opening in verdict.openings:
            path = paths.get(opening.via.group_id, "configuration") if opening.via else "configuration"
            web_only = technology == "ec2.instance" and not ex.net.subtract(opening.ports, WEB_PORTS)
            yield Hit(opening.text, path, opening.key, WEB_SCORE if web_only else None)

    return check


for _technology, _score, _what, _remediation in _EXPOSED_RULES:
    RULES.append(Rule(
        id=f"{_technology}.internet-exposed",
        technology=_technology,
        score=_score,
        title="Reachable from the internet",
        description=(
            f"The {_what} can be reached from the internet: it has a public address, its subnet routes "
            "to an internet gateway, a security group admits 0.0.0.0/0 or ::/0 on a port it listens on, "
            "and the network ACL lets the port in and the replies out. One finding per protocol and "
            "port range, with the path that makes it reachable. An auto-assigned public IPv4 address "
            "is the one the last sync saw; a link that is not recorded is assumed open and said to be "
            "unchecked."
            + (f" Only HTTP and HTTPS (ports 80 and 443) scores {WEB_SCORE}." if _technology == "ec2.instance"
               else " Security Monkey scored this dependent audit 10, inherited from the security group.")
        ),
        remediation=_remediation,
        source=f"python:{__name__}",
        check=_exposed_check(_technology),
    ))


_PERMISSION = re.compile(r"^configuration\.IpPermissions\[(\d+)\]")


def weigh_hit(kind: str, document: dict, hit: Hit, ctx: AuditContext) -> ex.Weight | None:
    """The weight of a finding of a rule declared ``weigh: <kind>`` (None: not weighed)."""
    if kind != "exposure" or document.get("technology") != SG or isinstance(ctx.related, NoRelatedItems):
        return None
    match = _PERMISSION.match(hit.path)
    return ex.weigh_permission(document, int(match.group(1)) if match else None, ctx.related,
                               watches_interfaces=ctx.watches("ec2.network_interface"))
