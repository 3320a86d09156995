"""Exposure: whether an item is reachable from the internet, on which ports, by which path; and
security-group findings weighed by the exposure of the items that use the group.

Real parts: moto accounts built with each exposure path and each way of breaking it (no public
address, no route to an internet gateway, a network ACL deny, a group nothing uses), ``run_sync``
into a real account repository, the audit reading related items from the commit.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from gitmonkey.audit import network as net
from gitmonkey.audit.exposure import exposure
from gitmonkey.audit.related import RepositoryItems, StaticItems
from gitmonkey.normalize.paths import item_path
from gitmonkey.store import AccountRepository
from gitmonkey.store.state import EphemeralStore
from tests.helpers import ACCOUNT_ID, SyncedAccount, make_config

REGION = "us-east-1"
NETWORK = [
    "ec2.vpc",
    "ec2.subnet",
    "ec2.route_table",
    "ec2.network_acl",
    "ec2.security_group",
    "ec2.instance",
    "ec2.network_interface",
    "ec2.elastic_ip",
]
INGRESS = "ec2.security_group.ingress-internet"
INSTANCE_EXPOSED = "ec2.instance.internet-exposed"
RULES = [
    INGRESS,
    INSTANCE_EXPOSED,
    "elb.load_balancer.internet-exposed",
    "elbv2.load_balancer.internet-exposed",
    "rds.db_instance.internet-exposed",
]


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


class World(SyncedAccount):
    """One moto account with a VPC, an attached internet gateway and a public subnet routed to it."""

    def __init__(self, tmp_path: Path) -> None:
        super().__init__(tmp_path, RULES, NETWORK, REGION)
        self.ec2 = boto3.client("ec2", region_name=REGION)
        self.vpc = self.ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        self.subnet = self.ec2.create_subnet(
            VpcId=self.vpc, CidrBlock="10.0.1.0/24", AvailabilityZone="us-east-1a"
        )["Subnet"]["SubnetId"]
        self.subnet_b = self.ec2.create_subnet(
            VpcId=self.vpc, CidrBlock="10.0.2.0/24", AvailabilityZone="us-east-1b"
        )["Subnet"]["SubnetId"]
        self.igw = self.ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        self.ec2.attach_internet_gateway(InternetGatewayId=self.igw, VpcId=self.vpc)
        self.table = self.ec2.create_route_table(VpcId=self.vpc)["RouteTable"]["RouteTableId"]
        self.ec2.create_route(RouteTableId=self.table, DestinationCidrBlock="0.0.0.0/0", GatewayId=self.igw)
        for subnet in (self.subnet, self.subnet_b):
            self.ec2.associate_route_table(RouteTableId=self.table, SubnetId=subnet)
        self.ssh = self.group("ssh", ("tcp", 22))

    def group(self, name: str, *rules: tuple[str, int], cidr: str = "0.0.0.0/0") -> str:
        group = self.ec2.create_security_group(GroupName=name, Description=name, VpcId=self.vpc)["GroupId"]
        if rules:
            self.ec2.authorize_security_group_ingress(
                GroupId=group,
                IpPermissions=[
                    {"IpProtocol": protocol, "FromPort": port, "ToPort": port, "IpRanges": [{"CidrIp": cidr}]}
                    for protocol, port in rules
                ],
            )
        return group

    def instance(self, *groups: str, public: bool = True, subnet: str | None = None) -> str:
        answer = self.ec2.run_instances(
            ImageId="ami-12345678",
            MinCount=1,
            MaxCount=1,
            NetworkInterfaces=[
                {
                    "DeviceIndex": 0,
                    "SubnetId": subnet or self.subnet,
                    "Groups": list(groups or (self.ssh,)),
                    "AssociatePublicIpAddress": public,
                }
            ],
        )
        return answer["Instances"][0]["InstanceId"]

    def issue(self, rule: str, technology: str, item_id: str) -> list[dict[str, Any]]:
        return [i for i in self.issues(item_path(REGION, technology, item_id)) if i["rule"] == rule]

    def verdict(self, technology: str, item_id: str) -> Any:
        repo = AccountRepository(self.path)
        items = {p: s for p, s in repo.list_blobs("items/").items()}
        related = RepositoryItems(repo, items, EphemeralStore.load(repo.state_dir))
        document = related.get(technology, item_id, REGION)
        assert document is not None, f"{technology} {item_id} not recorded"
        return exposure(document, related)


def test_a_public_instance_behind_an_open_group_is_exposed_with_its_path(tmp_path: Path, aws: None) -> None:
    world = World(tmp_path)
    instance = world.instance()
    world.sync()

    verdict = world.verdict("ec2.instance", instance)
    assert verdict.exposed
    [opening] = verdict.openings
    assert (opening.protocol, opening.ports, opening.family) == ("tcp", ((22, 22),), "IPv4")
    assert re.fullmatch(
        rf"{world.ssh} allows tcp/22 from 0\.0\.0\.0/0; used by {instance} with public IP [0-9.]+ in "
        rf"{world.subnet} routed to {world.igw}; network ACL acl-\w+ allows it",
        opening.text,
    ), opening.text

    [issue] = world.issue(INSTANCE_EXPOSED, "ec2.instance", instance)
    assert issue["score"] == 10
    assert issue["details"] == opening.text
    assert issue["key"] == "tcp:22:IPv4"
    assert issue["path"] == "configuration.NetworkInterfaces[0].Groups[0].GroupId"
    [ingress] = world.issue(INGRESS, "ec2.security_group", world.ssh)
    assert ingress["score"] == 10
    assert f"used by {instance} with public IP" in ingress["details"]


def test_web_ports_only_score_low_on_an_instance(tmp_path: Path, aws: None) -> None:
    world = World(tmp_path)
    web = world.group("web", ("tcp", 443), ("tcp", 80))
    instance = world.instance(web)
    world.sync()

    issues = world.issue(INSTANCE_EXPOSED, "ec2.instance", instance)
    assert sorted((i["key"], i["score"]) for i in issues) == [("tcp:443:IPv4", 3), ("tcp:80:IPv4", 3)]


def test_no_public_address_is_not_exposed_and_halves_the_group_score(tmp_path: Path, aws: None) -> None:
    world = World(tmp_path)
    instance = world.instance(public=False)
    world.sync()

    verdict = world.verdict("ec2.instance", instance)
    assert not verdict.exposed
    assert verdict.closed == [f"{instance} has no public address"]
    assert world.issue(INSTANCE_EXPOSED, "ec2.instance", instance) == []
    [ingress] = world.issue(INGRESS, "ec2.security_group", world.ssh)
    assert ingress["score"] == 5
    assert (
        f"scored 5 of 10: used by {instance}, not reachable from the internet through it"
        in ingress["details"]
    )


def test_a_group_nothing_uses_scores_1(tmp_path: Path, aws: None) -> None:
    world = World(tmp_path)
    world.sync()

    [ingress] = world.issue(INGRESS, "ec2.security_group", world.ssh)
    assert ingress["score"] == 1
    assert "no network interface or resource uses this group" in ingress["details"]


def test_removing_the_route_to_the_gateway_reaudits_the_instance_and_its_group(
    tmp_path: Path, aws: None
) -> None:
    world = World(tmp_path)
    instance = world.instance()
    world.sync()
    assert world.issue(INSTANCE_EXPOSED, "ec2.instance", instance)

    world.ec2.delete_route(RouteTableId=world.table, DestinationCidrBlock="0.0.0.0/0")
    world.sync()

    verdict = world.verdict("ec2.instance", instance)
    assert not verdict.exposed
    assert verdict.closed == [
        f"{world.subnet} has no IPv4 route to an internet gateway (route table {world.table})"
    ]
    assert world.issue(INSTANCE_EXPOSED, "ec2.instance", instance) == []
    assert [i["score"] for i in world.issue(INGRESS, "ec2.security_group", world.ssh)] == [5]


def test_a_route_to_a_detached_gateway_does_not_expose(tmp_path: Path, aws: None) -> None:
    world = World(tmp_path)
    instance = world.instance()
    world.ec2.detach_internet_gateway(InternetGatewayId=world.igw, VpcId=world.vpc)
    world.sync()

    verdict = world.verdict("ec2.instance", instance)
    assert not verdict.exposed, verdict.openings


def test_a_network_acl_deny_blocks_the_port_and_a_later_allow_reopens_it(tmp_path: Path, aws: None) -> None:
    world = World(tmp_path)
    instance = world.instance()
    acl = world.ec2.create_network_acl(VpcId=world.vpc)["NetworkAcl"]["NetworkAclId"]
    for egress in (False, True):
        world.ec2.create_network_acl_entry(
            NetworkAclId=acl,
            RuleNumber=200,
            Protocol="-1",
            RuleAction="allow",
            Egress=egress,
            CidrBlock="0.0.0.0/0",
        )
    world.ec2.create_network_acl_entry(
        NetworkAclId=acl,
        RuleNumber=100,
        Protocol="6",
        RuleAction="deny",
        Egress=False,
        CidrBlock="0.0.0.0/0",
        PortRange={"From": 22, "To": 22},
    )
    associations = world.ec2.describe_network_acls(
        Filters=[{"Name": "association.subnet-id", "Values": [world.subnet]}]
    )["NetworkAcls"]
    association = next(
        a["NetworkAclAssociationId"]
        for n in associations
        for a in n["Associations"]
        if a["SubnetId"] == world.subnet
    )
    world.ec2.replace_network_acl_association(AssociationId=association, NetworkAclId=acl)
    world.sync()

    verdict = world.verdict("ec2.instance", instance)
    assert not verdict.exposed
    assert verdict.closed == [f"network ACL {acl} blocks tcp/22"]
    assert [i["score"] for i in world.issue(INGRESS, "ec2.security_group", world.ssh)] == [5]

    # Only the network ACL changes: the instance and the group are judged again in the same sync.
    world.ec2.delete_network_acl_entry(NetworkAclId=acl, RuleNumber=100, Egress=False)
    world.sync()
    assert world.verdict("ec2.instance", instance).exposed
    assert [i["score"] for i in world.issue(INSTANCE_EXPOSED, "ec2.instance", instance)] == [10]
    assert [i["score"] for i in world.issue(INGRESS, "ec2.security_group", world.ssh)] == [10]


def test_an_elastic_ip_exposes_a_private_instance_and_its_removal_hides_it(tmp_path: Path, aws: None) -> None:
    world = World(tmp_path)
    instance = world.instance(public=False)
    allocation = world.ec2.allocate_address(Domain="vpc")
    association = world.ec2.associate_address(AllocationId=allocation["AllocationId"], InstanceId=instance)
    world.sync()

    [opening] = world.verdict("ec2.instance", instance).openings
    assert f"with Elastic IP {allocation['PublicIp']}" in opening.text
    assert world.issue(INSTANCE_EXPOSED, "ec2.instance", instance)

    world.ec2.disassociate_address(AssociationId=association["AssociationId"])
    world.sync()
    assert world.issue(INSTANCE_EXPOSED, "ec2.instance", instance) == []


def test_moving_the_instance_to_another_group_reweighs_both_groups(tmp_path: Path, aws: None) -> None:
    world = World(tmp_path)
    instance = world.instance()
    closed = world.group("closed")
    world.sync()
    assert [i["score"] for i in world.issue(INGRESS, "ec2.security_group", world.ssh)] == [10]

    interface = world.ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0][
        "NetworkInterfaces"
    ][0]["NetworkInterfaceId"]
    world.ec2.modify_network_interface_attribute(NetworkInterfaceId=interface, Groups=[closed])
    world.sync()

    assert world.issue(INSTANCE_EXPOSED, "ec2.instance", instance) == []
    [ingress] = world.issue(INGRESS, "ec2.security_group", world.ssh)
    assert ingress["score"] == 1


def test_a_terminated_instance_leaves_its_group_unused(tmp_path: Path, aws: None) -> None:
    world = World(tmp_path)
    instance = world.instance()
    world.sync()
    world.ec2.terminate_instances(InstanceIds=[instance])
    # moto keeps the primary interface of a terminated instance (AWS deletes it on termination).
    for interface in world.ec2.describe_network_interfaces()["NetworkInterfaces"]:
        world.ec2.delete_network_interface(NetworkInterfaceId=interface["NetworkInterfaceId"])
    world.sync()
    assert [i["score"] for i in world.issue(INGRESS, "ec2.security_group", world.ssh)] == [1]


def test_a_group_is_not_weighed_when_network_interfaces_are_not_watched(tmp_path: Path, aws: None) -> None:
    world = World(tmp_path)
    world.config = make_config(
        tmp_path,
        audit=world.config.audit,
        technologies=["ec2.security_group"],
        accounts=[{"name": "prod", "id": ACCOUNT_ID, "regions": [REGION]}],
    )
    world.sync(["ec2.security_group"])
    [ingress] = world.issue(INGRESS, "ec2.security_group", world.ssh)
    assert ingress["score"] == 10
    assert "scored" not in ingress["details"]


def test_an_internet_facing_load_balancer_is_exposed_on_its_listener_ports(tmp_path: Path, aws: None) -> None:
    world = World(tmp_path)
    web = world.group("lb", ("tcp", 443), ("tcp", 8080))
    elbv2 = boto3.client("elbv2", region_name=REGION)
    for name, scheme in (("public-lb", "internet-facing"), ("private-lb", "internal")):
        arn = elbv2.create_load_balancer(
            Name=name,
            Subnets=[world.subnet, world.subnet_b],
            SecurityGroups=[web],
            Scheme=scheme,
            Type="application",
        )["LoadBalancers"][0]["LoadBalancerArn"]
        group = elbv2.create_target_group(Name=f"{name}-tg", Protocol="HTTP", Port=80, VpcId=world.vpc)
        elbv2.create_listener(
            LoadBalancerArn=arn,
            Protocol="HTTP",
            Port=443,
            DefaultActions=[
                {"Type": "forward", "TargetGroupArn": group["TargetGroups"][0]["TargetGroupArn"]}
            ],
        )
    world.sync([*NETWORK, "elbv2.load_balancer"])

    issues = world.issue("elbv2.load_balancer.internet-exposed", "elbv2.load_balancer", "public-lb")
    assert [(i["key"], i["score"]) for i in issues] == [("tcp:443:IPv4", 10)]
    assert re.fullmatch(
        rf"{web} allows tcp/443 from 0\.0\.0\.0/0; used by public-lb with internet-facing scheme "
        rf"in ({world.subnet}|{world.subnet_b}) routed to {world.igw}; network ACL acl-\w+ allows it",
        issues[0]["details"],
    ), issues[0]["details"]
    assert world.issue("elbv2.load_balancer.internet-exposed", "elbv2.load_balancer", "private-lb") == []
    assert world.verdict("elbv2.load_balancer", "private-lb").closed == [
        "private-lb is internal (scheme internal)"
    ]


def test_a_publicly_accessible_database_is_exposed_on_its_port_only(tmp_path: Path, aws: None) -> None:
    world = World(tmp_path)
    db_group = world.group("db", ("tcp", 5432), ("tcp", 22))
    rds = boto3.client("rds", region_name=REGION)
    rds.create_db_subnet_group(
        DBSubnetGroupName="dbs", DBSubnetGroupDescription="d", SubnetIds=[world.subnet, world.subnet_b]
    )
    for name, public in (("open-db", True), ("closed-db", False)):
        rds.create_db_instance(
            DBInstanceIdentifier=name,
            Engine="postgres",
            DBInstanceClass="db.t3.micro",
            MasterUsername="admin",
            MasterUserPassword="password123",
            AllocatedStorage=20,
            DBSubnetGroupName="dbs",
            VpcSecurityGroupIds=[db_group],
            PubliclyAccessible=public,
        )
    world.sync([*NETWORK, "rds.db_instance", "rds.db_subnet_group"])

    issues = world.issue("rds.db_instance.internet-exposed", "rds.db_instance", "open-db")
    assert [(i["key"], i["score"]) for i in issues] == [("tcp:5432:IPv4", 10)]
    assert world.issue("rds.db_instance.internet-exposed", "rds.db_instance", "closed-db") == []
    assert world.verdict("rds.db_instance", "closed-db").closed == ["closed-db is not publicly accessible"]


# --- the network model, on documents -------------------------------------------------------------


def acl(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"configuration": {"NetworkAclId": "acl-1", "Entries": list(entries)}}


def entry(
    number: int,
    action: str,
    *,
    cidr: str = "0.0.0.0/0",
    protocol: str = "-1",
    ports: tuple[int, int] | None = None,
    egress: bool = False,
) -> dict[str, Any]:
    found: dict[str, Any] = {
        "RuleNumber": number,
        "RuleAction": action,
        "Protocol": protocol,
        "Egress": egress,
        "CidrBlock": cidr,
    }
    if ports:
        found["PortRange"] = {"From": ports[0], "To": ports[1]}
    return found


def test_network_acl_rules_are_evaluated_in_number_order() -> None:
    allow_all = entry(100, "allow")
    deny_ssh_first = entry(50, "deny", protocol="6", ports=(22, 22))
    assert net.acl_allows(acl(allow_all, deny_ssh_first), "tcp", net.IPV4, egress=False) == (
        (0, 21),
        (23, 65535),
    )
    assert (
        net.acl_allows(
            acl(entry(150, "deny", protocol="6", ports=(22, 22)), allow_all), "tcp", net.IPV4, egress=False
        )
        == net.ALL_PORTS
    )
    # A deny for part of the internet decides nothing for the rest of it.
    assert (
        net.acl_allows(
            acl(entry(50, "deny", cidr="203.0.113.0/24"), allow_all), "tcp", net.IPV4, egress=False
        )
        == net.ALL_PORTS
    )
    assert net.acl_allows(acl(entry(32767, "deny")), "udp", net.IPV4, egress=False) == ()
    assert net.acl_allows(acl(allow_all), "tcp", net.IPV6, egress=False) == ()


def test_security_group_openings_read_both_families_and_all_traffic() -> None:
    group = {
        "id": "sg-1",
        "configuration": {
            "GroupId": "sg-1",
            "IpPermissions": [
                {"IpProtocol": "-1", "IpRanges": [], "Ipv6Ranges": [{"CidrIpv6": "::/0"}]},
                {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
                {"IpProtocol": "icmp", "FromPort": -1, "ToPort": -1, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
            ],
        },
    }
    assert [(o.protocol, o.ports, o.family, o.index) for o in net.group_openings(group)] == [
        ("tcp", net.ALL_PORTS, net.IPV6, 0),
        ("udp", net.ALL_PORTS, net.IPV6, 0),
    ]


def test_an_unrecorded_subnet_is_assumed_routed_and_said_unchecked() -> None:
    instance = {
        "technology": "ec2.instance",
        "id": "i-1",
        "region": REGION,
        "configuration": {
            "PublicIpAddress": "198.51.100.7",
            "NetworkInterfaces": [
                {
                    "NetworkInterfaceId": "eni-1",
                    "SubnetId": "subnet-9",
                    "Groups": [{"GroupId": "sg-1"}],
                    "Attachment": {"DeviceIndex": 0},
                }
            ],
        },
    }
    group = {
        "technology": "ec2.security_group",
        "id": "sg-1",
        "region": REGION,
        "configuration": {
            "GroupId": "sg-1",
            "IpPermissions": [
                {"IpProtocol": "tcp", "FromPort": 3389, "ToPort": 3389, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
            ],
        },
    }
    verdict = exposure(instance, StaticItems([instance, group]))
    assert [o.text for o in verdict.openings] == [
        "sg-1 allows tcp/3389 from 0.0.0.0/0; used by i-1 with public IP 198.51.100.7 in subnet-9 "
        "(not recorded: route not checked)"
    ]


def test_ipv6_addresses_are_exposed_through_an_ipv6_default_route() -> None:
    instance = {
        "technology": "ec2.instance",
        "id": "i-6",
        "region": REGION,
        "configuration": {
            "NetworkInterfaces": [
                {
                    "NetworkInterfaceId": "eni-6",
                    "SubnetId": "subnet-6",
                    "VpcId": "vpc-6",
                    "Groups": [{"GroupId": "sg-6"}],
                    "Ipv6Addresses": [{"Ipv6Address": "2600::1"}],
                }
            ]
        },
    }
    documents = [
        instance,
        {
            "technology": "ec2.security_group",
            "id": "sg-6",
            "region": REGION,
            "configuration": {
                "GroupId": "sg-6",
                "IpPermissions": [
                    {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}
                ],
            },
        },
        {
            "technology": "ec2.subnet",
            "id": "subnet-6",
            "region": REGION,
            "configuration": {"RouteTableId": "rtb-6", "VpcId": "vpc-6"},
        },
        {
            "technology": "ec2.route_table",
            "id": "rtb-6",
            "region": REGION,
            "configuration": {
                "Routes": [{"DestinationIpv6CidrBlock": "::/0", "GatewayId": "igw-6", "State": "active"}]
            },
        },
        {
            "technology": "ec2.vpc",
            "id": "vpc-6",
            "region": REGION,
            "configuration": {"InternetGatewayIds": ["igw-6"]},
        },
        {
            "technology": "ec2.network_acl",
            "id": "acl-6",
            "region": REGION,
            "configuration": {
                "NetworkAclId": "acl-6",
                "VpcId": "vpc-6",
                "IsDefault": True,
                "Associations": [{"SubnetId": "subnet-6"}],
                "Entries": [
                    {
                        "RuleNumber": 100,
                        "Protocol": "-1",
                        "RuleAction": "allow",
                        "Egress": e,
                        "Ipv6CidrBlock": "::/0",
                    }
                    for e in (False, True)
                ],
            },
        },
    ]
    [opening] = exposure(instance, StaticItems(documents)).openings
    assert opening.text == (
        "sg-6 allows tcp/22 from ::/0; used by i-6 with IPv6 address 2600::1 in subnet-6 "
        "routed to igw-6; network ACL acl-6 allows it"
    )


# --- gitmonkey exposure ---------------------------------------------------------------------------


def test_the_exposure_command_lists_what_is_reachable_now_and_then(tmp_path: Path, aws: None) -> None:
    from click.testing import CliRunner

    from gitmonkey.cli import cli
    from gitmonkey.exposure_report import exposure_report

    world = World(tmp_path)
    exposed = world.instance()
    private = world.instance(public=False)
    elastic = world.instance(public=False)
    allocation = world.ec2.allocate_address(Domain="vpc")["AllocationId"]
    world.ec2.associate_address(AllocationId=allocation, InstanceId=elastic)
    world.sync(now=datetime(2026, 1, 1, tzinfo=UTC))
    everything = {r.id: r for r in exposure_report(world.config)}
    assert {i: r.exposed for i, r in everything.items()} == {exposed: True, private: False, elastic: True}
    assert everything[private].reasons == [f"{private} has no public address"]
    interfaces = exposure_report(world.config, technologies=["ec2.network_interface"], exposed_only=True)
    assert {r.technology for r in interfaces} == {"ec2.network_interface"} and len(interfaces) == 2

    runner = CliRunner()
    out = runner.invoke(cli, ["exposure", "--config", str(world.config.path), "--format", "json"])
    assert out.exit_code == 1, out.output
    rows = {r["id"]: r for r in json.loads(out.output)}
    assert set(rows) == {exposed, elastic}
    assert (rows[exposed]["openings"][0]["ports"], rows[exposed]["openings"][0]["security_group"]) == (
        "22",
        world.ssh,
    )
    text = runner.invoke(cli, ["exposure", "--config", str(world.config.path), "--all"])
    assert f"{exposed}: {world.ssh} allows tcp/22 from 0.0.0.0/0" in text.output
    assert f"{private}: {private} has no public address" in text.output

    # The route goes: nothing is reachable now, and --at still shows what was; an auto-assigned
    # address is ephemeral (not in history), so only the Elastic IP shows then.
    world.ec2.delete_route(RouteTableId=world.table, DestinationCidrBlock="0.0.0.0/0")
    world.sync(now=datetime(2026, 1, 2, tzinfo=UTC))
    assert exposure_report(world.config, exposed_only=True) == []
    now = runner.invoke(cli, ["exposure", "--config", str(world.config.path)])
    assert now.exit_code == 0, now.output
    then = exposure_report(world.config, at="2026-01-01 12:00:00 +0000", exposed_only=True)
    assert [r.id for r in then] == [elastic]


# --- which items a change re-audits ---------------------------------------------------------------


def test_a_change_reaudits_dependents_through_the_declared_relations() -> None:
    from gitmonkey.audit.related import referring_paths

    def doc(technology: str, item_id: str, **configuration: Any) -> dict[str, Any]:
        return {"technology": technology, "id": item_id, "region": REGION, "configuration": configuration}

    documents = {
        "i-1": doc(
            "ec2.instance",
            "i-1",
            SubnetId="subnet-1",
            SecurityGroups=[{"GroupId": "sg-a"}, {"GroupId": "sg-b"}],
        ),
        "i-2": doc("ec2.instance", "i-2", SubnetId="subnet-2", SecurityGroups=[{"GroupId": "sg-b"}]),
        "sg-a": doc("ec2.security_group", "sg-a"),
        "sg-b": doc("ec2.security_group", "sg-b"),
        "subnet-1": doc("ec2.subnet", "subnet-1", RouteTableId="rtb-1"),
        "subnet-2": doc("ec2.subnet", "subnet-2", RouteTableId="rtb-2"),
        "rtb-1": doc("ec2.route_table", "rtb-1"),
        "rtb-2": doc("ec2.route_table", "rtb-2"),
        "acl-1": doc("ec2.network_acl", "acl-1", Associations=[{"SubnetId": "subnet-1"}]),
    }
    paths = {key: item_path(REGION, d["technology"], key) for key, d in documents.items()}
    blobs = {paths[key]: f"blob-{key}" for key in documents}
    contents = {f"blob-{key}": json.dumps(d).encode() for key, d in documents.items()}
    old_instance = doc("ec2.instance", "i-2", SubnetId="subnet-2", SecurityGroups=[{"GroupId": "sg-a"}])
    contents["blob-old-i-2"] = json.dumps(old_instance).encode()

    def read(shas: Any) -> dict[str, bytes]:
        return {sha: contents[sha] for sha in shas}

    def reaudited(*changed: str, previous: dict[str, str] | None = None) -> set[str]:
        found = referring_paths(
            [paths[c] for c in changed], blobs, read, {paths[k]: v for k, v in (previous or {}).items()}
        )
        return {key for key, path in paths.items() if path in found}

    # A route table: the subnet using it, the instance in that subnet, and (alone) its groups.
    assert reaudited("rtb-1") == {"subnet-1", "i-1", "sg-a", "sg-b"}
    # A network ACL judges its subnets as their own configuration does (chain).
    assert reaudited("acl-1") == {"subnet-1", "i-1", "sg-a", "sg-b"}
    # A group: the instances using it, and their other groups (weighed by those instances) — but
    # not the instances of those other groups: sg-b's change does not reach i-2 through sg-a.
    assert reaudited("sg-a") == {"i-1", "sg-b"}
    # An instance that left sg-a for sg-b: both groups are weighed again.
    assert reaudited("i-2", previous={"i-2": "blob-old-i-2"}) == {"sg-a", "sg-b"}


def test_a_classic_load_balancer_inherits_its_groups_internet_ingress_on_listener_ports(
    tmp_path: Path, aws: None
) -> None:
    world = World(tmp_path)
    web = world.group("classic", ("tcp", 443), ("tcp", 22))
    elb = boto3.client("elb", region_name=REGION)
    for name, scheme in (("classic-public", "internet-facing"), ("classic-private", "internal")):
        elb.create_load_balancer(
            LoadBalancerName=name,
            Listeners=[
                {
                    "Protocol": "HTTPS",
                    "LoadBalancerPort": 443,
                    "InstanceProtocol": "HTTP",
                    "InstancePort": 80,
                    "SSLCertificateId": "arn:aws:iam::123456789012:server-certificate/x",
                }
            ],
            Subnets=[world.subnet],
            SecurityGroups=[web],
            Scheme=scheme,
        )
    world.sync([*NETWORK, "elb.load_balancer"])

    issues = world.issue("elb.load_balancer.internet-exposed", "elb.load_balancer", "classic-public")
    # Port 22 is open in the group too, but the load balancer listens on 443 only.
    assert [(i["key"], i["score"]) for i in issues] == [("tcp:443:IPv4", 10)]
    assert issues[0]["details"].startswith(
        f"{web} allows tcp/443 from 0.0.0.0/0; used by classic-public with "
        f"internet-facing scheme in {world.subnet} routed to {world.igw}"
    )
    assert world.issue("elb.load_balancer.internet-exposed", "elb.load_balancer", "classic-private") == []
