"""What relations and exposure cost the audit, on a synthetic network estate.

The estate: one VPC, 20 subnets (half routed to an internet gateway), their route tables and
network ACL, 200 security groups (one in ten open to the internet), 5,000 instances with a
network interface each (one in four with a public address), each instance in two groups.

- ``exposure_group_change``: auditing a commit that changes one security group, which re-audits
  its 50 instances, their interfaces and their other groups (weighed by those instances' exposure),
  against auditing a commit of one item that nothing depends on, in the same repository.
- ``exposure_route_change``: a commit of one route table, which re-audits its subnet's 250
  instances, interfaces and their groups, against the same baseline.
- ``exposure_audit_all``: ``audit --all`` over the estate against listing, reading and parsing it.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from gitmonkey.audit.run import audit_all, audit_ranges
from gitmonkey.config import load_config
from gitmonkey.normalize import canonical_json
from gitmonkey.normalize.paths import item_path
from gitmonkey.store import AccountRepository, FileChange, PlannedCommit

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
SUBNETS = 20
GROUPS = 200
INSTANCES = 5_000


def _item(technology: str, item_id: str, configuration: dict[str, Any]) -> FileChange:
    document = {
        "account": ACCOUNT_ID,
        "arn": f"arn:aws:ec2:{REGION}:{ACCOUNT_ID}:{item_id}",
        "configuration": configuration,
        "id": item_id,
        "name": item_id,
        "region": REGION,
        "technology": technology,
    }
    return FileChange(item_path(REGION, technology, item_id), canonical_json(document).encode())


def _group(g: int, extra_port: int | None = None) -> FileChange:
    open_to_world = g % 10 == 0
    permissions = [
        {
            "IpProtocol": "tcp",
            "FromPort": 22,
            "ToPort": 22,
            "UserIdGroupPairs": [],
            "IpRanges": [{"CidrIp": "0.0.0.0/0" if open_to_world else "10.0.0.0/8"}],
        }
    ]
    if extra_port is not None:
        permissions.append(
            {
                "IpProtocol": "tcp",
                "FromPort": extra_port,
                "ToPort": extra_port,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            }
        )
    return _item(
        "ec2.security_group",
        f"sg-{g:04d}",
        {"GroupId": f"sg-{g:04d}", "GroupName": f"g{g}", "VpcId": "vpc-1", "IpPermissions": permissions},
    )


def _route_table(s: int, routed: bool) -> FileChange:
    routes = [{"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local", "State": "active"}]
    if routed:
        routes.append({"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-1", "State": "active"})
    return _item(
        "ec2.route_table",
        f"rtb-{s:02d}",
        {"RouteTableId": f"rtb-{s:02d}", "VpcId": "vpc-1", "Routes": routes},
    )


def _estate() -> list[FileChange]:
    changes = [_item("ec2.vpc", "vpc-1", {"VpcId": "vpc-1", "InternetGatewayIds": ["igw-1"]})]
    entries = [
        {"RuleNumber": n, "Protocol": "-1", "RuleAction": a, "Egress": e, "CidrBlock": "0.0.0.0/0"}
        for e in (False, True)
        for n, a in ((100, "allow"), (32767, "deny"))
    ]
    changes.append(
        _item(
            "ec2.network_acl",
            "acl-1",
            {
                "NetworkAclId": "acl-1",
                "VpcId": "vpc-1",
                "IsDefault": True,
                "Entries": entries,
                "Associations": [{"SubnetId": f"subnet-{s:02d}"} for s in range(SUBNETS)],
            },
        )
    )
    for s in range(SUBNETS):
        changes.append(
            _item(
                "ec2.subnet",
                f"subnet-{s:02d}",
                {"SubnetId": f"subnet-{s:02d}", "VpcId": "vpc-1", "RouteTableId": f"rtb-{s:02d}"},
            )
        )
        changes.append(_route_table(s, routed=s % 2 == 0))
    changes += [_group(g) for g in range(GROUPS)]
    for i in range(INSTANCES):
        subnet, groups = (
            f"subnet-{i % SUBNETS:02d}",
            [{"GroupId": f"sg-{i % GROUPS:04d}"}, {"GroupId": f"sg-{(i * 7 + 1) % GROUPS:04d}"}],
        )
        interface = {
            "NetworkInterfaceId": f"eni-{i:05d}",
            "SubnetId": subnet,
            "VpcId": "vpc-1",
            "Groups": groups,
            "Attachment": {"DeviceIndex": 0, "InstanceId": f"i-{i:05d}"},
            "Ipv6Addresses": [],
        }
        public = {"PublicIpAddress": f"198.51.{i // 250}.{i % 250}"} if i % 4 == 0 else {}
        changes.append(
            _item(
                "ec2.instance",
                f"i-{i:05d}",
                {
                    "InstanceId": f"i-{i:05d}",
                    "SubnetId": subnet,
                    "VpcId": "vpc-1",
                    "SecurityGroups": groups,
                    "NetworkInterfaces": [interface],
                    **public,
                },
            )
        )
        changes.append(_item("ec2.network_interface", f"eni-{i:05d}", interface))
    changes.append(_item("ec2.key_pair", "lonely", {"KeyName": "lonely"}))
    return changes


def _setup(root: Path) -> tuple[Any, AccountRepository]:
    root.mkdir(parents=True, exist_ok=True)
    config_path = root / "gitmonkey.yaml"
    config_path.write_text(
        yaml.safe_dump({"repos_dir": "accounts", "accounts": [{"name": "bench", "id": ACCOUNT_ID}]})
    )
    repo = AccountRepository.open(root / "accounts" / "bench")
    repo.commit([PlannedCommit("baseline", tuple(_estate()))])
    config = load_config(config_path)
    audit_all(repo, config, config.accounts[0])
    return config, repo


def _audit_commit(
    config: Any, repo: AccountRepository, change: FileChange, subject: str
) -> tuple[float, int]:
    old = repo.head()
    repo.commit([PlannedCommit(subject, (change,))])
    start = time.perf_counter()
    result = audit_ranges(repo, config, config.accounts[0], [(old, repo.head())])
    return time.perf_counter() - start, result.audited


def run() -> list[dict[str, Any]]:
    figures: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        config, repo = _setup(Path(tmp) / "estate")
        baseline, _ = _audit_commit(
            config,
            repo,
            _item("ec2.key_pair", "lonely", {"KeyName": "lonely", "KeyType": "ed25519"}),
            "one item nothing depends on",
        )
        seconds, audited = _audit_commit(config, repo, _group(10, extra_port=3389), "one open group")
        figures.append(
            {
                "name": "exposure_group_change",
                "audit_s": round(seconds, 3),
                "items_audited": audited,
                "baseline_s": round(baseline, 3),
                "baseline": "audit of a one-item commit (key pair)",
                "ratio": round(seconds / baseline, 1),
            }
        )
        seconds, audited = _audit_commit(config, repo, _route_table(2, routed=False), "one route table")
        figures.append(
            {
                "name": "exposure_route_change",
                "audit_s": round(seconds, 3),
                "items_audited": audited,
                "baseline_s": round(baseline, 3),
                "baseline": "audit of a one-item commit (key pair)",
                "ratio": round(seconds / baseline, 1),
            }
        )
        start = time.perf_counter()
        blobs = repo.list_blobs("items/")
        parsed = [json.loads(c) for c in repo.read_blobs(blobs.values()).values()]
        floor = time.perf_counter() - start
        start = time.perf_counter()
        result = audit_all(repo, config, config.accounts[0])
        seconds = time.perf_counter() - start
        figures.append(
            {
                "name": "exposure_audit_all",
                "items": len(parsed),
                "audit_s": round(seconds, 2),
                "items_per_s": round(result.audited / seconds),
                "baseline_s": round(floor, 2),
                "baseline": "list + read + parse every item",
                "ratio": round(seconds / floor, 1),
            }
        )
    return figures
