"""`gitmonkey listen` end to end for every watched service moto emulates: a create, an update and a
delete of each technology, each made in moto, then delivered as the CloudTrail record AWS logs for
that call (moto emits none), through the shipped EventBridge rule into the queue, and recorded.

One case per service (EC2 in three), watching only that service's technologies. A case seeds what
its baseline needs, syncs, then runs its steps in order; each step makes a change with boto3,
publishes the step's record(s) and runs one round of a listener that lives for the whole case (as
one `gitmonkey listen` process does). Every step then asserts that the item appeared / changed in
the named field / disappeared, that the commit touching it is authored by the record's principal
(creates by Alice, an assumed role; updates by Bob, an IAM user; deletes by the root user), says
added / modified / deleted and carries ``Gitmonkey-Event: <eventName>``, and that the queue is empty.
Where a change takes several calls (detach, then delete) each call's record is delivered.

Where moto cannot make a change, or makes it unlike AWS, the case says so where it works around it:
Glacier vault policies (the watcher tests' stand-in answers them), a KMS key's deletion at the end
of its waiting period (moto's backend is told), DescribeNetworkAcls' error for a deleted ACL,
ModifyDBSubnetGroup losing the group, PutMetricFilter adding a second filter of the same name, and
DeleteTrail ignoring a trail named by its ARN.

Records carry exactly the fields the event map reads (gitmonkey/watchers/events/<service>.yaml),
spelt as AWS's CloudTrail samples spell them: lowerCamelCase ``requestParameters`` of the query
APIs, ``<Action>Request`` wrappers of the newer EC2 calls, versioned Lambda event names, and so on.
"""

from __future__ import annotations

import copy
import io
import json
import zipfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import jmespath
import pytest
from moto import mock_aws

from gitmonkey.listen.run import ListenReport
from gitmonkey.normalize.paths import item_path, parse_item_path
from gitmonkey.watchers import get_technology
from tests.helpers import ACCOUNT_ID, git, inject
from tests.listen_world import ALICE, BOB, REGION, ListenWorld, cloudtrail_record, minutes_ago
from tests.test_watchers_glacier import VaultParts

ROOT = {
    "type": "Root",
    "principalId": ACCOUNT_ID,
    "arn": f"arn:aws:iam::{ACCOUNT_ID}:root",
    "accountId": ACCOUNT_ID,
    "accessKeyId": "ASIAEXAMPLEROOT",
}
# The record KMS itself logs when a key's waiting period ends (the KMS developer guide's DeleteKey sample).
AWS_INTERNAL = {"accountId": ACCOUNT_ID, "invokedBy": "AWS Internal"}
IDENTITIES = {"create": ALICE, "update": BOB, "delete": ROOT}
AUTHORS = {"create": "Admin/alice@example.com", "update": "bob", "delete": "root"}
VERBS = {"create": "added", "update": "modified", "delete": "deleted"}
AZ_A, AZ_B = f"{REGION}a", f"{REGION}b"
POLICY_VERSION = "2012-10-17"
MISSING = object()

EC2 = "ec2.amazonaws.com"
IAM = "iam.amazonaws.com"


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": POLICY_VERSION, "Statement": list(statements)}


def allow(principal: Any, action: str, resource: str = "*", sid: str = "") -> dict[str, Any]:
    statement = {"Effect": "Allow", "Principal": principal, "Action": action, "Resource": resource}
    return {"Sid": sid, **statement} if sid else statement


TRUST_EC2 = policy({"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                    "Action": "sts:AssumeRole"})
TRUST_LAMBDA = policy({"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                       "Action": "sts:AssumeRole"})


# --- the table's vocabulary -----------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One change: its kind, the item file it must touch, the record(s) CloudTrail logs for it and,
    for a create or an update, a JMESPath over the stored ``configuration`` and the value it must
    have afterwards (and, for an update, must not have had before)."""

    kind: str
    path: str
    records: tuple[dict[str, Any], ...]
    field: str = ""
    value: Any = None
    identity: dict[str, Any] | None = None
    author: str = ""

    @property
    def event(self) -> str:
        """The event the commit names: the last record's (the others, when there are several, are
        the calls AWS requires before it, such as detaching before deleting)."""
        return str(self.records[-1]["eventName"])


def create(path: str, *records: dict[str, Any], field: str = "", value: Any = None) -> Step:
    return Step("create", path, records, field, value)


def update(path: str, *records: dict[str, Any], field: str, value: Any) -> Step:
    return Step("update", path, records, field, value)


def delete(path: str, *records: dict[str, Any], **kwargs: Any) -> Step:
    return Step("delete", path, records, **kwargs)


class Env:
    """What a case's seed and steps share: the world, boto3 clients, the test's monkeypatch and a
    stack for stand-ins that last the test, and whatever the seed leaves for the steps (attributes)."""

    def __init__(self, world: ListenWorld, monkeypatch: pytest.MonkeyPatch, stack: ExitStack) -> None:
        self.world = world
        self.monkeypatch = monkeypatch
        self.stack = stack
        self._clients: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"the case's seed set no {name!r}")

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = boto3.client(service, region_name=REGION)
        return self._clients[service]


@dataclass(frozen=True)
class Case:
    technologies: tuple[str, ...]
    steps: Callable[[Env], Iterator[Step]]
    seed: Callable[[Env], None] = lambda env: None
    kinds: tuple[str, ...] = ("create", "update", "delete")
    """What the steps cover of each technology (all three, but where AWS has no such call)."""


def path(technology: str, item_id: str) -> str:
    region = "global" if get_technology(technology).is_global else REGION
    return item_path(region, technology, item_id)


def record(source: str, name: str, request: dict[str, Any] | None = None,
           response: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return cloudtrail_record(source, name, request, response, **extra)


def ec2_record(name: str, request: dict[str, Any] | None, response: dict[str, Any] | None = None,
               **extra: Any) -> dict[str, Any]:
    """EC2's query-API records answer with the requestId, and ``_return`` for a boolean answer."""
    answer = {"requestId": "5f5b5c6e-0000-4000-8000-000000000001", "_return": True}
    return record(EC2, name, request, answer if response is None else response, **extra)


# --- EC2: the network ---------------------------------------------------------------------------


def seed_ec2_network(env: Env) -> None:
    # moto answers DescribeNetworkAcls of an unknown id with InvalidRouteTableID.NotFound; AWS with
    # InvalidNetworkAclID.NotFound, which the watcher reads as "gone" (as tests/test_get_item_ec2.py).
    from moto.ec2 import exceptions
    from moto.ec2.models import network_acls

    env.monkeypatch.setattr(network_acls, "InvalidRouteTableIdError", exceptions.InvalidNetworkAclIdError)


def ec2_network(env: Env) -> Iterator[Step]:
    ec2 = env.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]
    vpc_id = vpc["VpcId"]
    yield create(path("ec2.vpc", vpc_id), ec2_record(
        "CreateVpc", {"cidrBlock": "10.20.0.0/16", "instanceTenancy": "default",
                      "amazonProvidedIpv6CidrBlock": False},
        {"requestId": "5f5b5c6e-0000-4000-8000-000000000002", "vpc": {
            "vpcId": vpc_id, "state": "pending", "ownerId": ACCOUNT_ID, "cidrBlock": "10.20.0.0/16",
            "cidrBlockAssociationSet": {"items": [{"cidrBlock": "10.20.0.0/16",
                                                   "cidrBlockState": {"state": "associated"}}]},
            "ipv6CidrBlockAssociationSet": {}, "dhcpOptionsId": vpc["DhcpOptionsId"],
            "instanceTenancy": "default", "tagSet": {}, "isDefault": False}},
    ), field="CidrBlock", value="10.20.0.0/16")

    gateway = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=gateway, VpcId=vpc_id)
    yield update(path("ec2.vpc", vpc_id), ec2_record(
        "AttachInternetGateway", {"internetGatewayId": gateway, "vpcId": vpc_id},
    ), field="InternetGatewayIds", value=[gateway])

    subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.20.1.0/24", AvailabilityZone=AZ_A)["Subnet"]
    subnet_id = subnet["SubnetId"]
    yield create(path("ec2.subnet", subnet_id), ec2_record(
        "CreateSubnet", {"vpcId": vpc_id, "cidrBlock": "10.20.1.0/24", "availabilityZone": AZ_A},
        {"requestId": "5f5b5c6e-0000-4000-8000-000000000003", "subnet": {
            "subnetId": subnet_id, "subnetArn": subnet["SubnetArn"], "state": "available",
            "vpcId": vpc_id, "cidrBlock": "10.20.1.0/24", "availableIpAddressCount": 251,
            "availabilityZone": AZ_A, "defaultForAz": False, "mapPublicIpOnLaunch": False,
            "ownerId": ACCOUNT_ID, "assignIpv6AddressOnCreation": False}},
    ), field="CidrBlock", value="10.20.1.0/24")

    ec2.modify_subnet_attribute(SubnetId=subnet_id, MapPublicIpOnLaunch={"Value": True})
    yield update(path("ec2.subnet", subnet_id), ec2_record(
        "ModifySubnetAttribute", {"subnetId": subnet_id, "mapPublicIpOnLaunch": {"value": True}},
    ), field="MapPublicIpOnLaunch", value=True)

    table = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    yield create(path("ec2.route_table", table), ec2_record(
        "CreateRouteTable", {"vpcId": vpc_id},
        {"requestId": "5f5b5c6e-0000-4000-8000-000000000004", "routeTable": {
            "routeTableId": table, "vpcId": vpc_id, "ownerId": ACCOUNT_ID,
            "routeSet": {"items": [{"destinationCidrBlock": "10.20.0.0/16", "gatewayId": "local",
                                    "state": "active", "origin": "CreateRouteTable"}]},
            "associationSet": {}, "propagatingVgwSet": {}, "tagSet": {}}},
    ), field="VpcId", value=vpc_id)

    ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", GatewayId=gateway)
    yield update(path("ec2.route_table", table), ec2_record(
        "CreateRoute", {"routeTableId": table, "destinationCidrBlock": "0.0.0.0/0", "gatewayId": gateway},
    ), field="Routes[?DestinationCidrBlock=='0.0.0.0/0'].GatewayId", value=[gateway])

    acl = ec2.create_network_acl(VpcId=vpc_id)["NetworkAcl"]["NetworkAclId"]
    yield create(path("ec2.network_acl", acl), ec2_record(
        "CreateNetworkAcl", {"vpcId": vpc_id},
        {"requestId": "5f5b5c6e-0000-4000-8000-000000000005", "networkAcl": {
            "networkAclId": acl, "vpcId": vpc_id, "default": False, "ownerId": ACCOUNT_ID,
            "entrySet": {}, "associationSet": {}, "tagSet": {}}},
    ), field="IsDefault", value=False)

    ec2.create_network_acl_entry(NetworkAclId=acl, RuleNumber=100, Protocol="6", RuleAction="deny",
                                 Egress=False, CidrBlock="0.0.0.0/0", PortRange={"From": 22, "To": 22})
    yield update(path("ec2.network_acl", acl), ec2_record(
        "CreateNetworkAclEntry", {"networkAclId": acl, "ruleNumber": 100, "egress": False,
                                  "ruleAction": "deny", "icmpTypeCode": {}, "aclProtocol": "6",
                                  "portRange": {"from": 22, "to": 22}, "cidrBlock": "0.0.0.0/0"},
    ), field="Entries[?RuleNumber==`100`].RuleAction", value=["deny"])

    group = ec2.create_security_group(GroupName="db", Description="db", VpcId=vpc_id)["GroupId"]
    yield create(path("ec2.security_group", group), ec2_record(
        "CreateSecurityGroup", {"groupName": "db", "groupDescription": "db", "vpcId": vpc_id},
        {"requestId": "5f5b5c6e-0000-4000-8000-000000000006", "_return": True, "groupId": group},
    ), field="GroupName", value="db")

    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{"CidrIp": "10.20.0.0/16"}]}])
    yield update(path("ec2.security_group", group), ec2_record(
        "AuthorizeSecurityGroupIngress",
        {"groupId": group, "ipPermissions": {"items": [{
            "ipProtocol": "tcp", "fromPort": 5432, "toPort": 5432,
            "groups": {}, "ipRanges": {"items": [{"cidrIp": "10.20.0.0/16"}]},
            "ipv6Ranges": {}, "prefixListIds": {}}]}},
        {"requestId": "5f5b5c6e-0000-4000-8000-000000000007", "_return": True,
         "securityGroupRuleSet": {"items": [{"groupId": group, "ipProtocol": "tcp", "fromPort": 5432,
                                             "toPort": 5432, "cidrIpv4": "10.20.0.0/16",
                                             "isEgress": False}]}},
    ), field="IpPermissions[0].FromPort", value=5432)

    ec2.delete_security_group(GroupId=group)
    yield delete(path("ec2.security_group", group), ec2_record("DeleteSecurityGroup", {"groupId": group}))

    ec2.delete_network_acl(NetworkAclId=acl)
    yield delete(path("ec2.network_acl", acl), ec2_record("DeleteNetworkAcl", {"networkAclId": acl}))

    ec2.delete_route_table(RouteTableId=table)
    yield delete(path("ec2.route_table", table), ec2_record("DeleteRouteTable", {"routeTableId": table}))

    ec2.delete_subnet(SubnetId=subnet_id)
    yield delete(path("ec2.subnet", subnet_id), ec2_record("DeleteSubnet", {"subnetId": subnet_id}))

    # AWS refuses to delete a VPC with an internet gateway attached: the detach is logged first.
    ec2.detach_internet_gateway(InternetGatewayId=gateway, VpcId=vpc_id)
    ec2.delete_internet_gateway(InternetGatewayId=gateway)
    ec2.delete_vpc(VpcId=vpc_id)
    yield delete(path("ec2.vpc", vpc_id),
                 ec2_record("DetachInternetGateway", {"internetGatewayId": gateway, "vpcId": vpc_id},
                            when=minutes_ago(1)),
                 ec2_record("DeleteVpc", {"vpcId": vpc_id}))


# --- EC2: instances, volumes, key pairs, addresses ----------------------------------------------


def _public_key(comment: str) -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    blob = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return f"{blob.decode()} {comment}"


def seed_ec2_compute(env: Env) -> None:
    # an instance at the baseline, for the volume and the address to attach to
    env.base = env.client("ec2").run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1,
                                               InstanceType="t3.micro", Placement={"AvailabilityZone": AZ_A},
                                               )["Instances"][0]["InstanceId"]


def ec2_compute(env: Env) -> Iterator[Step]:
    ec2 = env.client("ec2")
    started = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="t3.micro",
                                Placement={"AvailabilityZone": AZ_A})
    instance = started["Instances"][0]
    instance_id = instance["InstanceId"]
    eni = instance["NetworkInterfaces"][0]["NetworkInterfaceId"]
    yield create(path("ec2.instance", instance_id), ec2_record(
        "RunInstances",
        {"instancesSet": {"items": [{"imageId": "ami-12c6146b", "minCount": 1, "maxCount": 1}]},
         "instanceType": "t3.micro", "blockDeviceMapping": {}, "monitoring": {"enabled": False},
         "disableApiTermination": False, "disableApiStop": False, "clientToken": "token-1"},
        {"requestId": "5f5b5c6e-0000-4000-8000-000000000010", "reservationId": started["ReservationId"],
         "ownerId": ACCOUNT_ID, "groupSet": {}, "instancesSet": {"items": [{
             "instanceId": instance_id, "imageId": "ami-12c6146b",
             "instanceState": {"code": 0, "name": "pending"},
             "instanceType": "t3.micro", "placement": {"availabilityZone": AZ_A, "tenancy": "default"},
             "networkInterfaceSet": {"items": [{"networkInterfaceId": eni}]}}]}},
    ), field="InstanceType", value="t3.micro")

    ec2.modify_instance_metadata_options(InstanceId=instance_id, HttpTokens="required")
    yield update(path("ec2.instance", instance_id), ec2_record(
        "ModifyInstanceMetadataOptions",
        {"ModifyInstanceMetadataOptionsRequest": {"HttpTokens": "required", "InstanceId": instance_id}},
        {"ModifyInstanceMetadataOptionsResponse": {
            "instanceId": instance_id, "requestId": "5f5b5c6e-0000-4000-8000-000000000011",
            "instanceMetadataOptions": {"httpTokens": "required", "httpPutResponseHopLimit": 1,
                                        "state": "pending", "httpEndpoint": "enabled"}}},
    ), field="MetadataOptions.HttpTokens", value="required")

    ec2.terminate_instances(InstanceIds=[instance_id])
    yield delete(path("ec2.instance", instance_id), ec2_record(
        "TerminateInstances", {"instancesSet": {"items": [{"instanceId": instance_id}]}},
        {"requestId": "5f5b5c6e-0000-4000-8000-000000000012", "instancesSet": {"items": [{
            "instanceId": instance_id, "currentState": {"code": 32, "name": "shutting-down"},
            "previousState": {"code": 16, "name": "running"}}]}},
    ))

    volume = ec2.create_volume(Size=8, AvailabilityZone=AZ_A, VolumeType="gp3")["VolumeId"]
    yield create(path("ec2.volume", volume), ec2_record(
        "CreateVolume", {"size": 8, "zone": AZ_A, "volumeType": "gp3", "encrypted": False},
        {"requestId": "5f5b5c6e-0000-4000-8000-000000000013", "volumeId": volume, "size": "8",
         "zone": AZ_A, "status": "creating", "createTime": 1764788400000, "volumeType": "gp3",
         "iops": 3000, "encrypted": False, "multiAttachEnabled": False, "throughput": 125},
    ), field="Size", value=8)

    ec2.attach_volume(VolumeId=volume, InstanceId=env.base, Device="/dev/sdf")
    yield update(path("ec2.volume", volume), ec2_record(
        "AttachVolume", {"volumeId": volume, "instanceId": env.base, "device": "/dev/sdf"},
        {"requestId": "5f5b5c6e-0000-4000-8000-000000000014", "volumeId": volume, "instanceId": env.base,
         "device": "/dev/sdf", "status": "attaching", "attachTime": 1764788460000,
         "deleteOnTermination": False},
    ), field="Attachments[0].InstanceId", value=env.base)

    ec2.detach_volume(VolumeId=volume, InstanceId=env.base, Device="/dev/sdf")
    ec2.delete_volume(VolumeId=volume)
    yield delete(path("ec2.volume", volume),
                 ec2_record("DetachVolume", {"volumeId": volume, "force": False},
                            {"requestId": "5f5b5c6e-0000-4000-8000-000000000015", "volumeId": volume,
                             "instanceId": env.base, "device": "/dev/sdf", "status": "detaching",
                             "attachTime": 1764788460000, "deleteOnTermination": False},
                            when=minutes_ago(1)),
                 ec2_record("DeleteVolume", {"volumeId": volume}))

    created = ec2.create_key_pair(KeyName="deploy")
    yield create(path("ec2.key_pair", "deploy"), ec2_record(
        "CreateKeyPair", {"keyName": "deploy"},
        {"requestId": "5f5b5c6e-0000-4000-8000-000000000016", "keyName": "deploy",
         "keyFingerprint": created["KeyFingerprint"], "keyPairId": created["KeyPairId"],
         "keyMaterial": "<sensitiveDataRemoved>"},
    ), field="KeyFingerprint", value=created["KeyFingerprint"])

    # A key pair cannot be changed in place: a rotation replaces it under the same name.
    ec2.delete_key_pair(KeyName="deploy")
    imported = ec2.import_key_pair(KeyName="deploy", PublicKeyMaterial=_public_key("deploy@ci").encode())
    assert imported["KeyFingerprint"] != created["KeyFingerprint"]
    yield update(path("ec2.key_pair", "deploy"),
                 ec2_record("DeleteKeyPair", {"keyName": "deploy"}, when=minutes_ago(1)),
                 ec2_record("ImportKeyPair",
                            {"keyName": "deploy", "publicKeyMaterial": "<sensitiveDataRemoved>"},
                            {"requestId": "5f5b5c6e-0000-4000-8000-000000000017", "keyName": "deploy",
                             "keyFingerprint": imported["KeyFingerprint"],
                             "keyPairId": imported["KeyPairId"]}),
                 field="KeyFingerprint", value=imported["KeyFingerprint"])

    ec2.delete_key_pair(KeyName="deploy")
    yield delete(path("ec2.key_pair", "deploy"), ec2_record("DeleteKeyPair", {"keyName": "deploy"}))

    address = ec2.allocate_address(Domain="vpc")
    allocation = address["AllocationId"]
    yield create(path("ec2.elastic_ip", allocation), ec2_record(
        "AllocateAddress", {"domain": "vpc"},
        {"requestId": "5f5b5c6e-0000-4000-8000-000000000018", "publicIp": address["PublicIp"],
         "domain": "vpc", "allocationId": allocation, "networkBorderGroup": REGION},
    ), field="PublicIp", value=address["PublicIp"])

    association = ec2.associate_address(AllocationId=allocation, InstanceId=env.base)["AssociationId"]
    yield update(path("ec2.elastic_ip", allocation), ec2_record(
        "AssociateAddress", {"allocationId": allocation, "instanceId": env.base, "allowReassociation": False},
        {"requestId": "5f5b5c6e-0000-4000-8000-000000000019", "_return": True, "associationId": association},
    ), field="InstanceId", value=env.base)

    ec2.disassociate_address(AssociationId=association)
    ec2.release_address(AllocationId=allocation)
    yield delete(path("ec2.elastic_ip", allocation),
                 ec2_record("DisassociateAddress", {"associationId": association}, when=minutes_ago(1)),
                 ec2_record("ReleaseAddress", {"allocationId": allocation}))


# --- EC2: snapshots, images, interfaces, DHCP options, peerings, VPN gateways --------------------

PEER_ACCOUNT = "210987654321"


def seed_ec2_more(env: Env) -> None:
    ec2 = env.client("ec2")
    env.vpc = ec2.create_vpc(CidrBlock="10.50.0.0/16")["Vpc"]["VpcId"]
    env.peer_vpc = ec2.create_vpc(CidrBlock="10.60.0.0/16")["Vpc"]["VpcId"]
    env.subnet = ec2.create_subnet(VpcId=env.vpc, CidrBlock="10.50.1.0/24", AvailabilityZone=AZ_A)[
        "Subnet"]["SubnetId"]
    env.volume = ec2.create_volume(Size=8, AvailabilityZone=AZ_A)["VolumeId"]
    env.instance = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=env.subnet)[
        "Instances"][0]["InstanceId"]


def ec2_more(env: Env) -> Iterator[Step]:
    ec2 = env.client("ec2")
    answer = "5f5b5c6e-0000-4000-8000-000000000020"

    snapshot = ec2.create_snapshot(VolumeId=env.volume, Description="nightly")
    snapshot_id = snapshot["SnapshotId"]
    yield create(path("ec2.snapshot", snapshot_id), ec2_record(
        "CreateSnapshot", {"volumeId": env.volume, "description": "nightly"},
        {"requestId": answer, "snapshotId": snapshot_id, "volumeId": env.volume, "status": "pending",
         "startTime": 1764788400000, "progress": "", "ownerId": ACCOUNT_ID, "volumeSize": "8",
         "description": "nightly", "encrypted": False},
    ), field="Description", value="nightly")

    ec2.modify_snapshot_attribute(SnapshotId=snapshot_id, Attribute="createVolumePermission",
                                  OperationType="add", UserIds=[PEER_ACCOUNT])
    yield update(path("ec2.snapshot", snapshot_id), ec2_record(
        "ModifySnapshotAttribute",
        {"snapshotId": snapshot_id, "createVolumePermission": {"add": {"items": [{"userId": PEER_ACCOUNT}]}},
         "attributeType": "CREATE_VOLUME_PERMISSION"},
    ), field="CreateVolumePermissions[].UserId", value=[PEER_ACCOUNT])

    ec2.delete_snapshot(SnapshotId=snapshot_id)
    yield delete(path("ec2.snapshot", snapshot_id), ec2_record("DeleteSnapshot", {"snapshotId": snapshot_id}))

    image = ec2.create_image(InstanceId=env.instance, Name="web-2026-12-03", NoReboot=True)["ImageId"]
    yield create(path("ec2.image", image), ec2_record(
        "CreateImage", {"instanceId": env.instance, "name": "web-2026-12-03", "noReboot": True},
        {"requestId": answer, "imageId": image},
    ), field="Name", value="web-2026-12-03")

    ec2.modify_image_attribute(ImageId=image, LaunchPermission={"Add": [{"UserId": PEER_ACCOUNT}]})
    yield update(path("ec2.image", image), ec2_record(
        "ModifyImageAttribute",
        {"imageId": image, "launchPermission": {"add": {"items": [{"userId": PEER_ACCOUNT}]}},
         "attributeType": "launchPermission"},
    ), field="LaunchPermissions[].UserId", value=[PEER_ACCOUNT])

    ec2.deregister_image(ImageId=image)
    yield delete(path("ec2.image", image), ec2_record("DeregisterImage", {"imageId": image}))

    interface = ec2.create_network_interface(SubnetId=env.subnet, Description="appliance")["NetworkInterface"]
    eni = interface["NetworkInterfaceId"]
    yield create(path("ec2.network_interface", eni), ec2_record(
        "CreateNetworkInterface", {"subnetId": env.subnet, "description": "appliance", "groupSet": {},
                                   "privateIpAddressesSet": {}},
        {"requestId": answer, "networkInterface": {
            "networkInterfaceId": eni, "subnetId": env.subnet, "vpcId": env.vpc, "availabilityZone": AZ_A,
            "description": "appliance", "ownerId": ACCOUNT_ID, "requesterManaged": False, "status": "pending",
            "macAddress": interface.get("MacAddress", "02:00:00:00:00:01"),
            "privateIpAddress": interface["PrivateIpAddress"], "sourceDestCheck": True,
            "interfaceType": "interface", "groupSet": {}, "privateIpAddressesSet": {}, "tagSet": {}}},
    ), field="Description", value="appliance")

    ec2.modify_network_interface_attribute(NetworkInterfaceId=eni, SourceDestCheck={"Value": False})
    yield update(path("ec2.network_interface", eni), ec2_record(
        "ModifyNetworkInterfaceAttribute", {"networkInterfaceId": eni, "sourceDestCheck": {"value": False}},
    ), field="SourceDestCheck", value=False)

    ec2.delete_network_interface(NetworkInterfaceId=eni)
    yield delete(path("ec2.network_interface", eni),
                 ec2_record("DeleteNetworkInterface", {"networkInterfaceId": eni}))

    made = ec2.create_dhcp_options(DhcpConfigurations=[{"Key": "domain-name", "Values": ["corp.example"]}])
    options = made["DhcpOptions"]["DhcpOptionsId"]
    logged = {"items": [{"key": "domain-name", "valueSet": {"items": [{"value": "corp.example"}]}}]}
    yield create(path("ec2.dhcp_options", options), ec2_record(
        "CreateDhcpOptions", {"dhcpConfigurationSet": logged},
        {"requestId": answer, "dhcpOptions": {"dhcpOptionsId": options, "ownerId": ACCOUNT_ID, "tagSet": {},
                                              "dhcpConfigurationSet": logged}},
    ), field="Tags", value={})

    ec2.create_tags(Resources=[options], Tags=[{"Key": "team", "Value": "network"}])
    yield update(path("ec2.dhcp_options", options), ec2_record(
        "CreateTags", {"resourcesSet": {"items": [{"resourceId": options}]},
                       "tagSet": {"items": [{"key": "team", "value": "network"}]}},
    ), field="Tags.team", value="network")

    ec2.delete_dhcp_options(DhcpOptionsId=options)
    yield delete(path("ec2.dhcp_options", options),
                 ec2_record("DeleteDhcpOptions", {"dhcpOptionsId": options}))

    peering = ec2.create_vpc_peering_connection(VpcId=env.vpc, PeerVpcId=env.peer_vpc)["VpcPeeringConnection"]
    peering_id = peering["VpcPeeringConnectionId"]
    yield create(path("ec2.vpc_peering", peering_id), ec2_record(
        "CreateVpcPeeringConnection", {"vpcId": env.vpc, "peerVpcId": env.peer_vpc},
        {"requestId": answer, "vpcPeeringConnection": {
            "vpcPeeringConnectionId": peering_id,
            "requesterVpcInfo": {"ownerId": ACCOUNT_ID, "vpcId": env.vpc, "cidrBlock": "10.50.0.0/16",
                                 "region": REGION},
            "accepterVpcInfo": {"ownerId": ACCOUNT_ID, "vpcId": env.peer_vpc, "region": REGION},
            "status": {"code": "initiating-request", "message": f"Initiating Request to {ACCOUNT_ID}"},
            "tagSet": {}}},
    ), field="AccepterVpcInfo.VpcId", value=env.peer_vpc)

    ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
    yield update(path("ec2.vpc_peering", peering_id), ec2_record(
        "AcceptVpcPeeringConnection", {"vpcPeeringConnectionId": peering_id},
        {"requestId": answer, "vpcPeeringConnection": {
            "vpcPeeringConnectionId": peering_id,
            "status": {"code": "provisioning", "message": "Provisioning"}}},
    ), field="Status.Code", value="active")

    ec2.delete_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
    yield delete(path("ec2.vpc_peering", peering_id),
                 ec2_record("DeleteVpcPeeringConnection", {"vpcPeeringConnectionId": peering_id}))

    gateway = ec2.create_vpn_gateway(Type="ipsec.1")["VpnGateway"]
    gateway_id = gateway["VpnGatewayId"]
    yield create(path("ec2.vpn_gateway", gateway_id), ec2_record(
        "CreateVpnGateway", {"type": "ipsec.1"},
        {"requestId": answer, "vpnGateway": {"vpnGatewayId": gateway_id, "state": "available",
                                             "type": "ipsec.1", "attachments": {}, "amazonSideAsn": 64512,
                                             "tagSet": {}}},
    ), field="Type", value="ipsec.1")

    ec2.attach_vpn_gateway(VpcId=env.vpc, VpnGatewayId=gateway_id)
    yield update(path("ec2.vpn_gateway", gateway_id), ec2_record(
        "AttachVpnGateway", {"vpcId": env.vpc, "vpnGatewayId": gateway_id},
        {"requestId": answer, "attachment": {"vpcId": env.vpc, "state": "attaching"}},
    ), field="VpcAttachments[].VpcId", value=[env.vpc])

    ec2.detach_vpn_gateway(VpcId=env.vpc, VpnGatewayId=gateway_id)
    ec2.delete_vpn_gateway(VpnGatewayId=gateway_id)
    yield delete(path("ec2.vpn_gateway", gateway_id),
                 ec2_record("DetachVpnGateway", {"vpcId": env.vpc, "vpnGatewayId": gateway_id},
                            when=minutes_ago(1)),
                 ec2_record("DeleteVpnGateway", {"vpnGatewayId": gateway_id}))


# --- IAM ----------------------------------------------------------------------------------------


def iam_steps(env: Env) -> Iterator[Step]:
    iam = env.client("iam")
    arn = f"arn:aws:iam::{ACCOUNT_ID}"

    user = iam.create_user(UserName="deploy")["User"]
    yield create(path("iam.user", "deploy"), record(
        IAM, "CreateUser", {"userName": "deploy"},
        {"user": {"path": "/", "userName": "deploy", "userId": user["UserId"], "arn": user["Arn"],
                  "createDate": "Dec 3, 2026, 9:00:00 AM"}},
    ), field="Arn", value=f"{arn}:user/deploy")

    document = policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::artifacts/*"})
    iam.put_user_policy(UserName="deploy", PolicyName="artifacts", PolicyDocument=json.dumps(document))
    yield update(path("iam.user", "deploy"), record(
        IAM, "PutUserPolicy",
        {"userName": "deploy", "policyName": "artifacts", "policyDocument": json.dumps(document)},
    ), field="UserPolicyList[0].PolicyName", value="artifacts")

    iam.delete_user_policy(UserName="deploy", PolicyName="artifacts")
    iam.delete_user(UserName="deploy")
    yield delete(path("iam.user", "deploy"),
                 record(IAM, "DeleteUserPolicy", {"userName": "deploy", "policyName": "artifacts"},
                        when=minutes_ago(1)),
                 record(IAM, "DeleteUser", {"userName": "deploy"}))

    role = iam.create_role(RoleName="app", AssumeRolePolicyDocument=json.dumps(TRUST_EC2))["Role"]
    yield create(path("iam.role", "app"), record(
        IAM, "CreateRole", {"roleName": "app", "assumeRolePolicyDocument": json.dumps(TRUST_EC2)},
        {"role": {"path": "/", "roleName": "app", "roleId": role["RoleId"], "arn": role["Arn"],
                  "createDate": "Dec 3, 2026, 9:00:00 AM",
                  "assumeRolePolicyDocument": json.dumps(TRUST_EC2)}},
    ), field="AssumeRolePolicyDocument.Statement[0].Principal.Service", value="ec2.amazonaws.com")

    iam.update_assume_role_policy(RoleName="app", PolicyDocument=json.dumps(TRUST_LAMBDA))
    yield update(path("iam.role", "app"), record(
        IAM, "UpdateAssumeRolePolicy", {"roleName": "app", "policyDocument": json.dumps(TRUST_LAMBDA)},
    ), field="AssumeRolePolicyDocument.Statement[0].Principal.Service", value="lambda.amazonaws.com")

    iam.create_group(GroupName="ops")
    yield create(path("iam.group", "ops"), record(
        IAM, "CreateGroup", {"groupName": "ops"},
        {"group": {"path": "/", "groupName": "ops", "groupId": "AGPAEXAMPLEOPS", "arn": f"{arn}:group/ops",
                   "createDate": "Dec 3, 2026, 9:00:00 AM"}},
    ), field="Arn", value=f"{arn}:group/ops")

    ops = policy({"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"})
    iam.put_group_policy(GroupName="ops", PolicyName="read", PolicyDocument=json.dumps(ops))
    yield update(path("iam.group", "ops"), record(
        IAM, "PutGroupPolicy", {"groupName": "ops", "policyName": "read", "policyDocument": json.dumps(ops)},
    ), field="GroupPolicyList[0].PolicyDocument.Statement[0].Action", value="ec2:Describe*")

    iam.delete_group_policy(GroupName="ops", PolicyName="read")
    iam.delete_group(GroupName="ops")
    yield delete(path("iam.group", "ops"),
                 record(IAM, "DeleteGroupPolicy", {"groupName": "ops", "policyName": "read"},
                        when=minutes_ago(1)),
                 record(IAM, "DeleteGroup", {"groupName": "ops"}))

    first = policy({"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*"})
    created = iam.create_policy(PolicyName="logs-write", PolicyDocument=json.dumps(first))["Policy"]
    policy_arn = created["Arn"]
    yield create(path("iam.policy", "logs-write"), record(
        IAM, "CreatePolicy", {"policyName": "logs-write", "policyDocument": json.dumps(first)},
        {"policy": {"policyName": "logs-write", "policyId": created["PolicyId"], "arn": policy_arn,
                    "path": "/", "defaultVersionId": "v1", "attachmentCount": 0,
                    "permissionsBoundaryUsageCount": 0, "isAttachable": True,
                    "createDate": "Dec 3, 2026, 9:00:00 AM", "updateDate": "Dec 3, 2026, 9:00:00 AM"}},
    ), field="DefaultVersionId", value="v1")

    second = policy({"Effect": "Allow", "Action": ["logs:PutLogEvents", "logs:CreateLogStream"],
                     "Resource": "*"})
    iam.create_policy_version(PolicyArn=policy_arn, PolicyDocument=json.dumps(second), SetAsDefault=True)
    yield update(path("iam.policy", "logs-write"), record(
        IAM, "CreatePolicyVersion",
        {"policyArn": policy_arn, "policyDocument": json.dumps(second), "setAsDefault": True},
        {"policyVersion": {"versionId": "v2", "isDefaultVersion": True,
                           "createDate": "Dec 3, 2026, 9:05:00 AM"}},
    ), field="Document.Statement[0].Action", value=["logs:PutLogEvents", "logs:CreateLogStream"])

    iam.delete_policy_version(PolicyArn=policy_arn, VersionId="v1")
    iam.delete_policy(PolicyArn=policy_arn)
    yield delete(path("iam.policy", "logs-write"),
                 record(IAM, "DeletePolicyVersion", {"policyArn": policy_arn, "versionId": "v1"},
                        when=minutes_ago(1)),
                 record(IAM, "DeletePolicy", {"policyArn": policy_arn}))

    profile = iam.create_instance_profile(InstanceProfileName="app-profile")["InstanceProfile"]
    yield create(path("iam.instance_profile", "app-profile"), record(
        IAM, "CreateInstanceProfile", {"instanceProfileName": "app-profile"},
        {"instanceProfile": {"path": "/", "instanceProfileName": "app-profile",
                             "instanceProfileId": profile["InstanceProfileId"], "arn": profile["Arn"],
                             "createDate": "Dec 3, 2026, 9:00:00 AM", "roles": []}},
    ), field="Roles", value=[])

    iam.add_role_to_instance_profile(InstanceProfileName="app-profile", RoleName="app")
    yield update(path("iam.instance_profile", "app-profile"), record(
        IAM, "AddRoleToInstanceProfile", {"instanceProfileName": "app-profile", "roleName": "app"},
    ), field="Roles[].RoleName", value=["app"])

    iam.remove_role_from_instance_profile(InstanceProfileName="app-profile", RoleName="app")
    iam.delete_instance_profile(InstanceProfileName="app-profile")
    yield delete(path("iam.instance_profile", "app-profile"),
                 record(IAM, "RemoveRoleFromInstanceProfile",
                        {"instanceProfileName": "app-profile", "roleName": "app"}, when=minutes_ago(1)),
                 record(IAM, "DeleteInstanceProfile", {"instanceProfileName": "app-profile"}))

    iam.delete_role(RoleName="app")
    yield delete(path("iam.role", "app"), record(IAM, "DeleteRole", {"roleName": "app"}))


# --- S3, SQS, SNS -------------------------------------------------------------------------------


def s3_steps(env: Env) -> Iterator[Step]:
    s3 = env.client("s3")
    host = "release-artifacts.s3.amazonaws.com"
    s3.create_bucket(Bucket="release-artifacts")
    yield create(path("s3.bucket", "release-artifacts"), record(
        "s3.amazonaws.com", "CreateBucket", {"bucketName": "release-artifacts", "Host": host},
        additionalEventData={"SignatureVersion": "SigV4", "AuthenticationMethod": "AuthHeader"},
    ), field="Name", value="release-artifacts")

    document = policy(allow({"AWS": "arn:aws:iam::210987654321:root"}, "s3:GetObject",
                            "arn:aws:s3:::release-artifacts/*", sid="ReadForProd"))
    s3.put_bucket_policy(Bucket="release-artifacts", Policy=json.dumps(document))
    yield update(path("s3.bucket", "release-artifacts"), record(
        "s3.amazonaws.com", "PutBucketPolicy",
        {"bucketPolicy": document, "bucketName": "release-artifacts", "Host": host, "policy": ""},
    ), field="Policy.Statement[0].Sid", value="ReadForProd")

    s3.delete_bucket(Bucket="release-artifacts")
    yield delete(path("s3.bucket", "release-artifacts"), record(
        "s3.amazonaws.com", "DeleteBucket", {"bucketName": "release-artifacts", "Host": host},
    ))


def sqs_steps(env: Env) -> Iterator[Step]:
    sqs = env.client("sqs")
    url = sqs.create_queue(QueueName="orders")["QueueUrl"]
    yield create(path("sqs.queue", "orders"), record(
        "sqs.amazonaws.com", "CreateQueue", {"queueName": "orders"}, {"queueUrl": url},
    ), field="VisibilityTimeout", value=30)

    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "120"})
    yield update(path("sqs.queue", "orders"), record(
        "sqs.amazonaws.com", "SetQueueAttributes",
        {"queueUrl": url, "attributes": {"VisibilityTimeout": "120"}},
    ), field="VisibilityTimeout", value=120)

    sqs.delete_queue(QueueUrl=url)
    yield delete(path("sqs.queue", "orders"), record("sqs.amazonaws.com", "DeleteQueue", {"queueUrl": url}))


def sns_steps(env: Env) -> Iterator[Step]:
    sns = env.client("sns")
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    yield create(path("sns.topic", "alerts"), record(
        "sns.amazonaws.com", "CreateTopic", {"name": "alerts"}, {"topicArn": topic},
    ), field="Name", value="alerts")

    sns.set_topic_attributes(TopicArn=topic, AttributeName="DisplayName", AttributeValue="Alerts")
    yield update(path("sns.topic", "alerts"), record(
        "sns.amazonaws.com", "SetTopicAttributes",
        {"topicArn": topic, "attributeName": "DisplayName", "attributeValue": "Alerts"},
    ), field="DisplayName", value="Alerts")

    sns.delete_topic(TopicArn=topic)
    yield delete(path("sns.topic", "alerts"), record("sns.amazonaws.com", "DeleteTopic", {"topicArn": topic}))


# --- Lambda, KMS --------------------------------------------------------------------------------


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


def seed_lambda(env: Env) -> None:
    iam = env.client("iam")
    role = iam.create_role(RoleName="fn-role", AssumeRolePolicyDocument=json.dumps(TRUST_LAMBDA))
    env.role = role["Role"]["Arn"]


def lambda_steps(env: Env) -> Iterator[Step]:
    source = "lambda.amazonaws.com"
    client = env.client("lambda")
    made = client.create_function(FunctionName="api", Runtime="python3.12", Role=env.role,
                                  Handler="app.handler", Code={"ZipFile": _zip()}, Timeout=3)
    yield create(path("lambda.function", "api"), record(
        source, "CreateFunction20150331",
        {"functionName": "api", "runtime": "python3.12", "role": env.role, "handler": "app.handler",
         "code": {}, "timeout": 3, "publish": False},
        {"functionName": "api", "functionArn": made["FunctionArn"], "runtime": "python3.12",
         "role": env.role, "handler": "app.handler", "codeSize": made["CodeSize"], "description": "",
         "timeout": 3, "memorySize": 128, "lastModified": made["LastModified"],
         "codeSha256": made["CodeSha256"], "version": "$LATEST", "tracingConfig": {"mode": "PassThrough"},
         "revisionId": "e1f4b2a0-0000-4000-8000-000000000001", "state": "Pending",
         "stateReason": "The function is being created.",
         "stateReasonCode": "Creating", "packageType": "Zip", "architectures": ["x86_64"]},
    ), field="Timeout", value=3)

    changed = client.update_function_configuration(FunctionName="api", Timeout=30)
    yield update(path("lambda.function", "api"), record(
        source, "UpdateFunctionConfiguration20150331v2", {"functionName": "api", "timeout": 30},
        {"functionName": "api", "functionArn": made["FunctionArn"], "runtime": "python3.12",
         "role": env.role, "handler": "app.handler", "timeout": 30, "memorySize": 128,
         "lastModified": changed["LastModified"], "version": "$LATEST",
         "revisionId": "e1f4b2a0-0000-4000-8000-000000000002",
         "state": "Active", "lastUpdateStatus": "InProgress"},
    ), field="Timeout", value=30)

    client.delete_function(FunctionName="api")
    yield delete(path("lambda.function", "api"),
                 record(source, "DeleteFunction20150331", {"functionName": "api"}))


def _kms_resources(arn: str) -> list[dict[str, str]]:
    return [{"accountId": ACCOUNT_ID, "type": "AWS::KMS::Key", "ARN": arn}]


def kms_steps(env: Env) -> Iterator[Step]:
    source = "kms.amazonaws.com"
    kms = env.client("kms")
    metadata = kms.create_key(Description="orders", KeyUsage="ENCRYPT_DECRYPT", KeySpec="SYMMETRIC_DEFAULT")[
        "KeyMetadata"]
    key, arn = metadata["KeyId"], metadata["Arn"]
    yield create(path("kms.key", key), record(
        source, "CreateKey",
        {"keySpec": "SYMMETRIC_DEFAULT", "keyUsage": "ENCRYPT_DECRYPT", "description": "orders",
         "origin": "AWS_KMS", "bypassPolicyLockoutSafetyCheck": False, "multiRegion": False},
        {"keyMetadata": {"aWSAccountId": ACCOUNT_ID, "keyId": key, "arn": arn,
                         "creationDate": "Dec 3, 2026, 9:00:00 AM", "enabled": True, "description": "orders",
                         "keyUsage": "ENCRYPT_DECRYPT", "keyState": "Enabled", "origin": "AWS_KMS",
                         "keyManager": "CUSTOMER", "customerMasterKeySpec": "SYMMETRIC_DEFAULT",
                         "keySpec": "SYMMETRIC_DEFAULT", "encryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
                         "multiRegion": False}},
        resources=_kms_resources(arn),
    ), field="Description", value="orders")

    document = policy(allow({"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}, "kms:*", sid="Owner"),
                      allow({"AWS": f"arn:aws:iam::{ACCOUNT_ID}:role/orders"}, "kms:Decrypt", sid="Orders"))
    kms.put_key_policy(KeyId=key, PolicyName="default", Policy=json.dumps(document))
    yield update(path("kms.key", key), record(
        source, "PutKeyPolicy",
        {"keyId": key, "policyName": "default", "policy": json.dumps(document),
         "bypassPolicyLockoutSafetyCheck": False},
        resources=_kms_resources(arn),
    ), field="KeyPolicy.Statement[1].Sid", value="Orders")

    kms.enable_key_rotation(KeyId=key)
    yield update(path("kms.key", key), record(
        source, "EnableKeyRotation", {"keyId": key}, resources=_kms_resources(arn),
    ), field="KeyRotationEnabled", value=True)

    scheduled = kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    yield update(path("kms.key", key), record(
        source, "ScheduleKeyDeletion", {"keyId": key, "pendingWindowInDays": 7},
        {"keyId": arn, "deletionDate": scheduled["DeletionDate"].strftime("%b %-d, %Y, %-I:%M:%S %p"),
         "keyState": "PendingDeletion", "pendingWindowInDays": 7},
        resources=_kms_resources(arn),
    ), field="KeyState", value="PendingDeletion")



def seed_kms_deletion(env: Env) -> None:
    kms = env.client("kms")
    metadata = kms.create_key(Description="retired")["KeyMetadata"]
    kms.schedule_key_deletion(KeyId=metadata["KeyId"], PendingWindowInDays=7)
    env.key, env.key_arn = metadata["KeyId"], metadata["Arn"]


def kms_deletion_steps(env: Env) -> Iterator[Step]:
    """No API call deletes a key: KMS does, when the waiting period of ScheduleKeyDeletion ends, and
    logs DeleteKey as the AWS service (the KMS developer guide's sample: no userIdentity.type, no
    ARN, invokedBy "AWS Internal"). moto has no clock for that: its backend is told."""
    from moto.kms.models import kms_backends

    kms_backends[ACCOUNT_ID][REGION].delete_key(env.key)
    yield delete(path("kms.key", env.key), record(
        "kms.amazonaws.com", "DeleteKey", None, None, resources=_kms_resources(env.key_arn),
        eventType="AwsServiceEvent", sourceIPAddress="AWS Internal", userAgent="AWS Internal",
    ), identity=AWS_INTERNAL, author="AWS Internal")


# --- RDS, Redshift ------------------------------------------------------------------------------


def seed_rds(env: Env) -> None:
    ec2 = env.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    env.subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.30.{n}.0/24", AvailabilityZone=zone)["Subnet"]["SubnetId"]
        for n, zone in ((1, AZ_A), (2, AZ_B), (3, AZ_A))
    ]


def rds_steps(env: Env) -> Iterator[Step]:
    source = "rds.amazonaws.com"
    rds = env.client("rds")
    first_two = env.subnets[:2]
    group = rds.create_db_subnet_group(DBSubnetGroupName="db-private", DBSubnetGroupDescription="private",
                                       SubnetIds=first_two)["DBSubnetGroup"]
    yield create(path("rds.db_subnet_group", "db-private"), record(
        source, "CreateDBSubnetGroup",
        {"dBSubnetGroupName": "db-private", "dBSubnetGroupDescription": "private", "subnetIds": first_two},
        {"dBSubnetGroupName": "db-private", "dBSubnetGroupDescription": "private", "vpcId": group["VpcId"],
         "subnetGroupStatus": "Complete", "dBSubnetGroupArn": group["DBSubnetGroupArn"],
         "subnets": [{"subnetIdentifier": s, "subnetStatus": "Active"} for s in first_two]},
    ), field="DBSubnetGroupDescription", value="private")

    # moto's ModifyDBSubnetGroup takes the group out of its backend and never puts it back: it is put back.
    from moto.rds.models import rds_backends

    groups = rds_backends[ACCOUNT_ID][REGION].subnet_groups
    modified = groups["db-private"]
    rds.modify_db_subnet_group(DBSubnetGroupName="db-private", SubnetIds=env.subnets,
                               DBSubnetGroupDescription="private, three subnets")
    groups.setdefault("db-private", modified)
    yield update(path("rds.db_subnet_group", "db-private"), record(
        source, "ModifyDBSubnetGroup",
        {"dBSubnetGroupName": "db-private", "dBSubnetGroupDescription": "private, three subnets",
         "subnetIds": env.subnets},
        {"dBSubnetGroupName": "db-private", "dBSubnetGroupDescription": "private, three subnets",
         "vpcId": group["VpcId"], "subnetGroupStatus": "Complete",
         "dBSubnetGroupArn": group["DBSubnetGroupArn"],
         "subnets": [{"subnetIdentifier": s, "subnetStatus": "Active"} for s in env.subnets]},
    ), field="DBSubnetGroupDescription", value="private, three subnets")

    rds.create_db_instance(DBInstanceIdentifier="app-db", DBInstanceClass="db.t3.micro", Engine="postgres",
                           MasterUsername="app", MasterUserPassword="not-a-real-password",
                           AllocatedStorage=20, DBSubnetGroupName="db-private", BackupRetentionPeriod=1)
    yield create(path("rds.db_instance", "app-db"), record(
        source, "CreateDBInstance",
        {"dBInstanceIdentifier": "app-db", "allocatedStorage": 20, "dBInstanceClass": "db.t3.micro",
         "engine": "postgres", "masterUsername": "app", "masterUserPassword": "****",
         "dBSubnetGroupName": "db-private", "backupRetentionPeriod": 1},
        {"dBInstanceIdentifier": "app-db", "dBInstanceClass": "db.t3.micro", "engine": "postgres",
         "dBInstanceStatus": "creating", "masterUsername": "app", "allocatedStorage": 20,
         "backupRetentionPeriod": 1, "multiAZ": False, "publiclyAccessible": False,
         "dBInstanceArn": f"arn:aws:rds:{REGION}:{ACCOUNT_ID}:db:app-db", "storageEncrypted": False},
    ), field="BackupRetentionPeriod", value=1)

    rds.modify_db_instance(DBInstanceIdentifier="app-db", BackupRetentionPeriod=7, ApplyImmediately=True)
    yield update(path("rds.db_instance", "app-db"), record(
        source, "ModifyDBInstance",
        {"dBInstanceIdentifier": "app-db", "backupRetentionPeriod": 7, "applyImmediately": True},
        {"dBInstanceIdentifier": "app-db", "dBInstanceClass": "db.t3.micro", "engine": "postgres",
         "dBInstanceStatus": "available", "backupRetentionPeriod": 7,
         "dBInstanceArn": f"arn:aws:rds:{REGION}:{ACCOUNT_ID}:db:app-db"},
    ), field="BackupRetentionPeriod", value=7)

    rds.delete_db_instance(DBInstanceIdentifier="app-db", SkipFinalSnapshot=True)
    yield delete(path("rds.db_instance", "app-db"), record(
        source, "DeleteDBInstance",
        {"dBInstanceIdentifier": "app-db", "skipFinalSnapshot": True, "deleteAutomatedBackups": True},
        {"dBInstanceIdentifier": "app-db", "dBInstanceClass": "db.t3.micro", "engine": "postgres",
         "dBInstanceStatus": "deleting", "dBInstanceArn": f"arn:aws:rds:{REGION}:{ACCOUNT_ID}:db:app-db"},
    ))

    rds.delete_db_subnet_group(DBSubnetGroupName="db-private")
    yield delete(path("rds.db_subnet_group", "db-private"), record(
        source, "DeleteDBSubnetGroup", {"dBSubnetGroupName": "db-private"},
    ))


def redshift_steps(env: Env) -> Iterator[Step]:
    source = "redshift.amazonaws.com"
    client = env.client("redshift")
    client.create_cluster(ClusterIdentifier="warehouse", NodeType="ra3.xlplus", ClusterType="single-node",
                          MasterUsername="dwadmin", MasterUserPassword="Passw0rd-not-real",
                          AutomatedSnapshotRetentionPeriod=1)
    yield create(path("redshift.cluster", "warehouse"), record(
        source, "CreateCluster",
        {"clusterIdentifier": "warehouse", "nodeType": "ra3.xlplus", "clusterType": "single-node",
         "masterUsername": "dwadmin", "masterUserPassword": "HIDDEN_DUE_TO_SECURITY_REASONS",
         "automatedSnapshotRetentionPeriod": 1},
        {"clusterIdentifier": "warehouse", "nodeType": "ra3.xlplus", "clusterStatus": "creating",
         "clusterAvailabilityStatus": "Modifying", "masterUsername": "dwadmin", "dBName": "dev",
         "automatedSnapshotRetentionPeriod": 1, "numberOfNodes": 1, "publiclyAccessible": False,
         "encrypted": False},
    ), field="AutomatedSnapshotRetentionPeriod", value=1)

    client.modify_cluster(ClusterIdentifier="warehouse", AutomatedSnapshotRetentionPeriod=7)
    yield update(path("redshift.cluster", "warehouse"), record(
        source, "ModifyCluster", {"clusterIdentifier": "warehouse", "automatedSnapshotRetentionPeriod": 7},
        {"clusterIdentifier": "warehouse", "nodeType": "ra3.xlplus", "clusterStatus": "available",
         "automatedSnapshotRetentionPeriod": 7, "numberOfNodes": 1},
    ), field="AutomatedSnapshotRetentionPeriod", value=7)

    client.delete_cluster(ClusterIdentifier="warehouse", SkipFinalClusterSnapshot=True)
    yield delete(path("redshift.cluster", "warehouse"), record(
        source, "DeleteCluster", {"clusterIdentifier": "warehouse", "skipFinalClusterSnapshot": True},
        {"clusterIdentifier": "warehouse", "nodeType": "ra3.xlplus", "clusterStatus": "deleting",
         "numberOfNodes": 1},
    ))


# --- load balancers ---------------------------------------------------------------------------


def seed_elb(env: Env) -> None:
    ec2 = env.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    env.subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.40.{n}.0/24", AvailabilityZone=zone)["Subnet"]["SubnetId"]
        for n, zone in ((1, AZ_A), (2, AZ_B))
    ]
    env.groups = [ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc)["GroupId"]
                  for name in ("web", "web-tls")]


def elb_steps(env: Env) -> Iterator[Step]:
    source = "elasticloadbalancing.amazonaws.com"
    classic, v2 = env.client("elb"), env.client("elbv2")

    listener = {"Protocol": "HTTP", "LoadBalancerPort": 80, "InstanceProtocol": "HTTP", "InstancePort": 8080}
    dns = classic.create_load_balancer(LoadBalancerName="shop", Listeners=[listener],
                                       AvailabilityZones=[AZ_A])["DNSName"]
    yield create(path("elb.load_balancer", "shop"), record(
        source, "CreateLoadBalancer",
        {"loadBalancerName": "shop", "availabilityZones": [AZ_A],
         "listeners": [{"protocol": "HTTP", "loadBalancerPort": 80, "instanceProtocol": "HTTP",
                        "instancePort": 8080}]},
        {"dNSName": dns},
    ), field="Listeners[0].InstancePort", value=8080)

    check = {"Target": "HTTP:8080/health", "Interval": 10, "Timeout": 5, "UnhealthyThreshold": 2,
             "HealthyThreshold": 3}
    classic.configure_health_check(LoadBalancerName="shop", HealthCheck=check)
    lowered = {k[0].lower() + k[1:]: v for k, v in check.items()}
    yield update(path("elb.load_balancer", "shop"), record(
        source, "ConfigureHealthCheck", {"loadBalancerName": "shop", "healthCheck": lowered},
        {"healthCheck": lowered},
    ), field="HealthCheck.Target", value="HTTP:8080/health")

    classic.delete_load_balancer(LoadBalancerName="shop")
    yield delete(path("elb.load_balancer", "shop"), record(
        source, "DeleteLoadBalancer", {"loadBalancerName": "shop"},
    ))

    made = v2.create_load_balancer(Name="api", Subnets=env.subnets, SecurityGroups=env.groups[:1],
                                   Scheme="internet-facing", Type="application")["LoadBalancers"][0]
    arn = made["LoadBalancerArn"]
    yield create(path("elbv2.load_balancer", "api"), record(
        source, "CreateLoadBalancer",
        {"name": "api", "subnets": env.subnets, "securityGroups": env.groups[:1],
         "scheme": "internet-facing", "type": "application"},
        {"loadBalancers": [{
            "loadBalancerArn": arn, "dNSName": made["DNSName"], "canonicalHostedZoneId": "Z35SXDOTRQ7X7K",
            "createdTime": "Dec 3, 2026, 9:00:00 AM", "loadBalancerName": "api", "scheme": "internet-facing",
            "vpcId": made["VpcId"], "state": {"code": "provisioning"}, "type": "application",
            "availabilityZones": [{"zoneName": AZ_A, "subnetId": env.subnets[0]},
                                  {"zoneName": AZ_B, "subnetId": env.subnets[1]}],
            "securityGroups": env.groups[:1], "ipAddressType": "ipv4"}]},
    ), field="SecurityGroups", value=env.groups[:1])

    v2.set_security_groups(LoadBalancerArn=arn, SecurityGroups=env.groups)
    yield update(path("elbv2.load_balancer", "api"), record(
        source, "SetSecurityGroups", {"loadBalancerArn": arn, "securityGroups": env.groups},
        {"securityGroupIds": env.groups},
    ), field="sort(SecurityGroups)", value=sorted(env.groups))

    v2.delete_load_balancer(LoadBalancerArn=arn)
    yield delete(path("elbv2.load_balancer", "api"), record(
        source, "DeleteLoadBalancer", {"loadBalancerArn": arn},
    ))


# --- Secrets Manager, ECR -----------------------------------------------------------------------


def secretsmanager_steps(env: Env) -> Iterator[Step]:
    source = "secretsmanager.amazonaws.com"
    client = env.client("secretsmanager")
    made = client.create_secret(Name="db/password", SecretString="not-a-real-password",
                                Description="the database password")
    arn = made["ARN"]
    yield create(path("secretsmanager.secret", "db/password"), record(
        source, "CreateSecret",
        {"name": "db/password", "clientRequestToken": "6e3f1d3a-0000-4000-8000-000000000001",
         "description": "the database password"},
        {"arn": arn, "name": "db/password", "versionId": made["VersionId"]},
    ), field="Description", value="the database password")

    document = policy(allow({"AWS": f"arn:aws:iam::{ACCOUNT_ID}:role/app"}, "secretsmanager:GetSecretValue",
                            sid="AppReads"))
    client.put_resource_policy(SecretId=arn, ResourcePolicy=json.dumps(document))
    yield update(path("secretsmanager.secret", "db/password"), record(
        source, "PutResourcePolicy",
        {"secretId": arn, "resourcePolicy": json.dumps(document), "blockPublicPolicy": True},
        {"arn": arn, "name": "db/password"},
    ), field="ResourcePolicy.Statement[0].Sid", value="AppReads")

    client.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
    yield delete(path("secretsmanager.secret", "db/password"), record(
        source, "DeleteSecret", {"secretId": arn, "forceDeleteWithoutRecovery": True},
        {"arn": arn, "name": "db/password", "deletionDate": "Dec 3, 2026, 9:10:00 AM"},
    ))


def ecr_steps(env: Env) -> Iterator[Step]:
    source = "ecr.amazonaws.com"
    ecr = env.client("ecr")
    repo = ecr.create_repository(repositoryName="team/app")["repository"]
    yield create(path("ecr.repository", "team/app"), record(
        source, "CreateRepository", {"repositoryName": "team/app"},
        {"repository": {"repositoryArn": repo["repositoryArn"], "registryId": ACCOUNT_ID,
                        "repositoryName": "team/app", "repositoryUri": repo["repositoryUri"],
                        "createdAt": "Dec 3, 2026, 9:00:00 AM", "imageTagMutability": "MUTABLE",
                        "imageScanningConfiguration": {"scanOnPush": False},
                        "encryptionConfiguration": {"encryptionType": "AES256"}}},
    ), field="imageTagMutability", value="MUTABLE")

    ecr.put_image_tag_mutability(repositoryName="team/app", imageTagMutability="IMMUTABLE")
    yield update(path("ecr.repository", "team/app"), record(
        source, "PutImageTagMutability", {"repositoryName": "team/app", "imageTagMutability": "IMMUTABLE"},
        {"registryId": ACCOUNT_ID, "repositoryName": "team/app", "imageTagMutability": "IMMUTABLE"},
    ), field="imageTagMutability", value="IMMUTABLE")

    ecr.delete_repository(repositoryName="team/app")
    yield delete(path("ecr.repository", "team/app"), record(
        source, "DeleteRepository", {"repositoryName": "team/app", "force": False},
        {"repository": {"repositoryArn": repo["repositoryArn"], "registryId": ACCOUNT_ID,
                        "repositoryName": "team/app", "repositoryUri": repo["repositoryUri"],
                        "createdAt": "Dec 3, 2026, 9:00:00 AM", "imageTagMutability": "IMMUTABLE"}},
    ))


# --- CloudWatch alarms, Logs metric filters -----------------------------------------------------


def cloudwatch_steps(env: Env) -> Iterator[Step]:
    source = "monitoring.amazonaws.com"
    cloudwatch = env.client("cloudwatch")
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:alerts"
    cloudwatch.put_metric_alarm(
        AlarmName="cpu-high", MetricName="CPUUtilization", Namespace="AWS/EC2", Statistic="Average",
        Period=300, EvaluationPeriods=2, Threshold=80.0, ComparisonOperator="GreaterThanThreshold",
        Dimensions=[{"Name": "AutoScalingGroupName", "Value": "web"}], AlarmActions=[topic])
    yield create(path("cloudwatch.alarm", "cpu-high"), record(
        source, "PutMetricAlarm",
        {"alarmName": "cpu-high", "alarmActions": [topic], "metricName": "CPUUtilization",
         "namespace": "AWS/EC2", "statistic": "Average",
         "dimensions": [{"name": "AutoScalingGroupName", "value": "web"}], "period": 300,
         "evaluationPeriods": 2, "threshold": 80.0, "comparisonOperator": "GreaterThanThreshold"},
    ), field="AlarmActions", value=[topic])

    cloudwatch.put_metric_alarm(
        AlarmName="cpu-high", MetricName="CPUUtilization", Namespace="AWS/EC2", Statistic="Average",
        Period=300, EvaluationPeriods=2, Threshold=90.0, ComparisonOperator="GreaterThanThreshold",
        Dimensions=[{"Name": "AutoScalingGroupName", "Value": "web"}], AlarmActions=[topic])
    yield update(path("cloudwatch.alarm", "cpu-high"), record(
        source, "PutMetricAlarm",
        {"alarmName": "cpu-high", "alarmActions": [topic], "metricName": "CPUUtilization",
         "namespace": "AWS/EC2", "statistic": "Average",
         "dimensions": [{"name": "AutoScalingGroupName", "value": "web"}], "period": 300,
         "evaluationPeriods": 2, "threshold": 90.0, "comparisonOperator": "GreaterThanThreshold"},
    ), field="Threshold", value=90.0)

    cloudwatch.disable_alarm_actions(AlarmNames=["cpu-high"])
    yield update(path("cloudwatch.alarm", "cpu-high"), record(
        source, "DisableAlarmActions", {"alarmNames": ["cpu-high"]},
    ), field="ActionsEnabled", value=False)

    cloudwatch.delete_alarms(AlarmNames=["cpu-high"])
    yield delete(path("cloudwatch.alarm", "cpu-high"), record(
        source, "DeleteAlarms", {"alarmNames": ["cpu-high"]},
    ))


def seed_logs(env: Env) -> None:
    env.client("logs").create_log_group(logGroupName="/aws/cloudtrail")


def logs_steps(env: Env) -> Iterator[Step]:
    source = "logs.amazonaws.com"
    logs = env.client("logs")
    transform = {"metricName": "RootUsage", "metricNamespace": "CIS", "metricValue": "1"}
    first = '{ $.userIdentity.type = "Root" }'
    logs.put_metric_filter(logGroupName="/aws/cloudtrail", filterName="root-usage", filterPattern=first,
                           metricTransformations=[transform])
    item = path("logs.metric_filter", "/aws/cloudtrail:root-usage")
    yield create(item, record(
        source, "PutMetricFilter",
        {"logGroupName": "/aws/cloudtrail", "filterName": "root-usage", "filterPattern": first,
         "metricTransformations": [transform]},
    ), field="filterPattern", value=first)

    second = '{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS }'
    # AWS replaces a filter put again under its name; moto adds a second one: the test replaces it.
    logs.delete_metric_filter(logGroupName="/aws/cloudtrail", filterName="root-usage")
    logs.put_metric_filter(logGroupName="/aws/cloudtrail", filterName="root-usage", filterPattern=second,
                           metricTransformations=[transform])
    yield update(item, record(
        source, "PutMetricFilter",
        {"logGroupName": "/aws/cloudtrail", "filterName": "root-usage", "filterPattern": second,
         "metricTransformations": [transform]},
    ), field="filterPattern", value=second)

    logs.delete_metric_filter(logGroupName="/aws/cloudtrail", filterName="root-usage")
    yield delete(item, record(
        source, "DeleteMetricFilter", {"logGroupName": "/aws/cloudtrail", "filterName": "root-usage"},
    ))


# --- CloudTrail, Config -------------------------------------------------------------------------


def seed_cloudtrail(env: Env) -> None:
    env.client("s3").create_bucket(Bucket="trail-logs")


def cloudtrail_steps(env: Env) -> Iterator[Step]:
    source = "cloudtrail.amazonaws.com"
    client = env.client("cloudtrail")
    trail = client.create_trail(Name="main", S3BucketName="trail-logs", IsMultiRegionTrail=True,
                                IncludeGlobalServiceEvents=True, EnableLogFileValidation=True)
    arn = trail["TrailARN"]
    yield create(path("cloudtrail.trail", "main"), record(
        source, "CreateTrail",
        {"name": "main", "s3BucketName": "trail-logs", "isMultiRegionTrail": True,
         "includeGlobalServiceEvents": True, "enableLogFileValidation": True},
        {"name": "main", "s3BucketName": "trail-logs", "includeGlobalServiceEvents": True,
         "isMultiRegionTrail": True, "trailARN": arn, "logFileValidationEnabled": True,
         "isOrganizationTrail": False},
    ), field="LogFileValidationEnabled", value=True)

    client.update_trail(Name=arn, EnableLogFileValidation=False)
    yield update(path("cloudtrail.trail", "main"), record(
        source, "UpdateTrail", {"name": arn, "enableLogFileValidation": False},
        {"name": "main", "s3BucketName": "trail-logs", "includeGlobalServiceEvents": True,
         "isMultiRegionTrail": True, "trailARN": arn, "logFileValidationEnabled": False,
         "isOrganizationTrail": False},
    ), field="LogFileValidationEnabled", value=False)

    # named by its name this time (moto deletes no trail named by its ARN; AWS takes either)
    client.delete_trail(Name="main")
    yield delete(path("cloudtrail.trail", "main"), record(source, "DeleteTrail", {"name": "main"}))


def config_steps(env: Env) -> Iterator[Step]:
    source = "config.amazonaws.com"
    client = env.client("config")
    rule = {"ConfigRuleName": "s3-versioning",
            "Source": {"Owner": "AWS", "SourceIdentifier": "S3_BUCKET_VERSIONING_ENABLED"},
            "Scope": {"ComplianceResourceTypes": ["AWS::S3::Bucket"]}}
    logged = {"configRuleName": "s3-versioning",
              "source": {"owner": "AWS", "sourceIdentifier": "S3_BUCKET_VERSIONING_ENABLED"},
              "scope": {"complianceResourceTypes": ["AWS::S3::Bucket"]}}
    client.put_config_rule(ConfigRule=rule)
    yield create(path("config.rule", "s3-versioning"), record(
        source, "PutConfigRule", {"configRule": logged},
    ), field="Source.SourceIdentifier", value="S3_BUCKET_VERSIONING_ENABLED")

    client.put_config_rule(ConfigRule={**rule, "Description": "buckets keep their versions"})
    yield update(path("config.rule", "s3-versioning"), record(
        source, "PutConfigRule", {"configRule": {**logged, "description": "buckets keep their versions"}},
    ), field="Description", value="buckets keep their versions")

    client.delete_config_rule(ConfigRuleName="s3-versioning")
    yield delete(path("config.rule", "s3-versioning"), record(
        source, "DeleteConfigRule", {"configRuleName": "s3-versioning"},
    ))


# --- Route 53, ACM, OpenSearch, Glacier, SES ----------------------------------------------------


def seed_route53(env: Env) -> None:
    zone = env.client("route53").create_hosted_zone(Name="example.com", CallerReference="zone-1")
    env.zone = zone["HostedZone"]["Id"].rsplit("/", 1)[-1]


def _record_change(action: str, ttl: int) -> dict[str, Any]:
    return {"Action": action, "ResourceRecordSet": {"Name": "www.example.com", "Type": "A", "TTL": ttl,
                                                    "ResourceRecords": [{"Value": "192.0.2.10"}]}}


def route53_steps(env: Env) -> Iterator[Step]:
    route53 = env.client("route53")
    item = path("route53.record_set", f"{env.zone}/www.example.com./A")

    def change(action: str, ttl: int) -> dict[str, Any]:
        answer = route53.change_resource_record_sets(HostedZoneId=env.zone,
                                                     ChangeBatch={"Changes": [_record_change(action, ttl)]})
        return record(
            "route53.amazonaws.com", "ChangeResourceRecordSets",
            {"hostedZoneId": env.zone, "changeBatch": {"changes": [{
                "action": action, "resourceRecordSet": {"name": "www.example.com", "type": "A", "tTL": ttl,
                                                        "resourceRecords": [{"value": "192.0.2.10"}]}}]}},
            {"changeInfo": {"id": answer["ChangeInfo"]["Id"], "status": "PENDING",
                            "submittedAt": "Dec 3, 2026, 9:00:00 AM"}},
        )

    yield create(item, change("CREATE", 300), field="TTL", value=300)
    yield update(item, change("UPSERT", 60), field="TTL", value=60)
    yield delete(item, change("DELETE", 60))


def acm_steps(env: Env) -> Iterator[Step]:
    source = "acm.amazonaws.com"
    acm = env.client("acm")
    arn = acm.request_certificate(DomainName="shop.example.com", ValidationMethod="DNS")["CertificateArn"]
    item = path("acm.certificate", arn.rsplit("/", 1)[-1])
    yield create(item, record(
        source, "RequestCertificate",
        {"domainName": "shop.example.com", "validationMethod": "DNS", "idempotencyToken": "shop"},
        {"certificateArn": arn},
    ), field="DomainName", value="shop.example.com")

    acm.add_tags_to_certificate(CertificateArn=arn, Tags=[{"Key": "team", "Value": "shop"}])
    yield update(item, record(
        source, "AddTagsToCertificate", {"certificateArn": arn, "tags": [{"key": "team", "value": "shop"}]},
    ), field="Tags.team", value="shop")

    acm.delete_certificate(CertificateArn=arn)
    yield delete(item, record(source, "DeleteCertificate", {"certificateArn": arn}))


def opensearch_steps(env: Env) -> Iterator[Step]:
    source = "es.amazonaws.com"
    client = env.client("opensearch")
    status = client.create_domain(DomainName="logs", EngineVersion="OpenSearch_2.11")["DomainStatus"]
    yield create(path("opensearch.domain", "logs"), record(
        source, "CreateDomain", {"domainName": "logs", "engineVersion": "OpenSearch_2.11"},
        {"domainStatus": {"domainId": status["DomainId"], "domainName": "logs", "aRN": status["ARN"],
                          "created": True, "deleted": False, "processing": True,
                          "engineVersion": "OpenSearch_2.11"}},
    ), field="EngineVersion", value="OpenSearch_2.11")

    document = policy(allow({"AWS": f"arn:aws:iam::{ACCOUNT_ID}:role/ingest"}, "es:ESHttpPost",
                            f"arn:aws:es:{REGION}:{ACCOUNT_ID}:domain/logs/*", sid="Ingest"))
    client.update_domain_config(DomainName="logs", AccessPolicies=json.dumps(document))
    yield update(path("opensearch.domain", "logs"), record(
        source, "UpdateDomainConfig", {"domainName": "logs", "accessPolicies": json.dumps(document)},
        {"domainConfig": {"accessPolicies": {"options": json.dumps(document),
                                             "status": {"state": "Processing"}}}},
    ), field="AccessPolicies.Statement[0].Sid", value="Ingest")

    client.delete_domain(DomainName="logs")
    yield delete(path("opensearch.domain", "logs"), record(
        source, "DeleteDomain", {"domainName": "logs"},
        {"domainStatus": {"domainId": status["DomainId"], "domainName": "logs", "aRN": status["ARN"],
                          "created": True, "deleted": True, "processing": True}},
    ))


def seed_glacier(env: Env) -> None:
    # moto has no vault access policy, lock or tags: the watcher tests' stand-in answers those calls.
    env.parts = VaultParts()
    env.stack.enter_context(inject(env.monkeypatch, "before-call.glacier", env.parts.answer))


def glacier_steps(env: Env) -> Iterator[Step]:
    source = "glacier.amazonaws.com"
    glacier = env.client("glacier")
    glacier.create_vault(vaultName="ledger")
    yield create(path("glacier.vault", "ledger"), record(
        source, "CreateVault", {"accountId": "-", "vaultName": "ledger"},
        {"location": f"/{ACCOUNT_ID}/vaults/ledger"},
    ), field="VaultName", value="ledger")

    document = policy(allow({"AWS": "arn:aws:iam::210987654321:role/restore"}, "glacier:InitiateJob",
                            f"arn:aws:glacier:{REGION}:{ACCOUNT_ID}:vaults/ledger", sid="Restore"))
    env.parts.policy["ledger"] = document
    yield update(path("glacier.vault", "ledger"), record(
        source, "SetVaultAccessPolicy",
        {"accountId": "-", "vaultName": "ledger", "policy": {"policy": json.dumps(document)}},
    ), field="Policy.Statement[0].Sid", value="Restore")

    glacier.delete_vault(vaultName="ledger")
    yield delete(path("glacier.vault", "ledger"), record(
        source, "DeleteVault", {"accountId": "-", "vaultName": "ledger"},
    ))


def ses_steps(env: Env) -> Iterator[Step]:
    source = "ses.amazonaws.com"
    sesv2 = env.client("sesv2")
    sesv2.create_email_identity(EmailIdentity="mail.example.com")
    yield create(path("ses.identity", "mail.example.com"), record(
        source, "CreateEmailIdentity", {"emailIdentity": "mail.example.com"},
        {"identityType": "DOMAIN", "verifiedForSendingStatus": False,
         "dkimAttributes": {"signingEnabled": True, "status": "PENDING", "signingAttributesOrigin": "AWS_SES",
                            "nextSigningKeyLength": "RSA_2048_BIT"}},
    ), field="IdentityType", value="DOMAIN")

    document = policy(allow({"AWS": f"arn:aws:iam::{ACCOUNT_ID}:role/mailer"}, "ses:SendEmail",
                            f"arn:aws:ses:{REGION}:{ACCOUNT_ID}:identity/mail.example.com", sid="Mailer"))
    sesv2.create_email_identity_policy(EmailIdentity="mail.example.com", PolicyName="mailer",
                                       Policy=json.dumps(document))
    yield update(path("ses.identity", "mail.example.com"), record(
        source, "CreateEmailIdentityPolicy",
        {"emailIdentity": "mail.example.com", "policyName": "mailer", "policy": json.dumps(document)},
    ), field="Policies.mailer.Statement[0].Sid", value="Mailer")

    sesv2.delete_email_identity(EmailIdentity="mail.example.com")
    yield delete(path("ses.identity", "mail.example.com"), record(
        source, "DeleteEmailIdentity", {"emailIdentity": "mail.example.com"},
    ))


# --- the table ----------------------------------------------------------------------------------

CASES = [
    pytest.param(Case(("ec2.vpc", "ec2.subnet", "ec2.route_table", "ec2.network_acl", "ec2.security_group"),
                      ec2_network, seed_ec2_network), id="ec2-network"),
    pytest.param(Case(("ec2.instance", "ec2.volume", "ec2.key_pair", "ec2.elastic_ip"), ec2_compute,
                      seed_ec2_compute), id="ec2-compute"),
    pytest.param(Case(("ec2.snapshot", "ec2.image", "ec2.network_interface", "ec2.dhcp_options",
                       "ec2.vpc_peering", "ec2.vpn_gateway"), ec2_more, seed_ec2_more), id="ec2-more"),
    pytest.param(Case(("iam.user", "iam.role", "iam.group", "iam.policy", "iam.instance_profile"), iam_steps),
                 id="iam"),
    pytest.param(Case(("s3.bucket",), s3_steps), id="s3"),
    pytest.param(Case(("sqs.queue",), sqs_steps), id="sqs"),
    pytest.param(Case(("sns.topic",), sns_steps), id="sns"),
    pytest.param(Case(("lambda.function",), lambda_steps, seed_lambda), id="lambda"),
    pytest.param(Case(("kms.key",), kms_steps, kinds=("create", "update")), id="kms"),
    pytest.param(Case(("kms.key",), kms_deletion_steps, seed_kms_deletion, kinds=("delete",)),
                 id="kms-deletekey"),
    pytest.param(Case(("rds.db_instance", "rds.db_subnet_group"), rds_steps, seed_rds), id="rds"),
    pytest.param(Case(("elb.load_balancer", "elbv2.load_balancer"), elb_steps, seed_elb), id="elb-elbv2"),
    pytest.param(Case(("redshift.cluster",), redshift_steps), id="redshift"),
    pytest.param(Case(("secretsmanager.secret",), secretsmanager_steps), id="secretsmanager"),
    pytest.param(Case(("ecr.repository",), ecr_steps), id="ecr"),
    pytest.param(Case(("cloudwatch.alarm",), cloudwatch_steps), id="cloudwatch"),
    pytest.param(Case(("logs.metric_filter",), logs_steps, seed_logs), id="logs"),
    pytest.param(Case(("cloudtrail.trail",), cloudtrail_steps, seed_cloudtrail), id="cloudtrail"),
    pytest.param(Case(("config.rule",), config_steps), id="config"),
    pytest.param(Case(("route53.record_set",), route53_steps, seed_route53), id="route53"),
    pytest.param(Case(("acm.certificate",), acm_steps), id="acm"),
    pytest.param(Case(("opensearch.domain",), opensearch_steps), id="opensearch"),
    pytest.param(Case(("glacier.vault",), glacier_steps, seed_glacier), id="glacier"),
    pytest.param(Case(("ses.identity",), ses_steps), id="ses"),
]


# --- the driver ---------------------------------------------------------------------------------


def _document(file: Path) -> dict[str, Any] | None:
    return json.loads(file.read_text()) if file.exists() else None


def _field(document: dict[str, Any] | None, expression: str) -> Any:
    if document is None:
        return MISSING
    return jmespath.search(expression, document["configuration"])


class Listening:
    """One listener for a whole case, as one `gitmonkey listen` process receives batch after batch;
    ``round`` is one pass over what the queue holds, and what that pass did."""

    def __init__(self, world: ListenWorld) -> None:
        self.said: list[str] = []
        self.listener = world.listener(progress=self.said.append)

    def round(self) -> ListenReport:
        before = copy.deepcopy(self.listener.report)
        self.said.clear()
        after = self.listener.run(once=True)
        return ListenReport(
            run_id=after.run_id, received=after.received - before.received,
            recorded=after.recorded - before.recorded, skipped=after.skipped - before.skipped,
            poison=after.poison - before.poison, retried=after.retried - before.retried,
            commits=after.commits - before.commits, errors=after.errors[len(before.errors):],
        )


def _run(world: ListenWorld, listening: Listening, step: Step) -> None:
    file = world.repo / step.path
    before = _document(file)
    assert (before is None) == (step.kind == "create"), f"{step.event}: {step.path} before the change"

    identity = step.identity or IDENTITIES[step.kind]
    world.publish(*({**r, "userIdentity": identity} for r in step.records))
    report = listening.round()

    where = f"{step.event} -> {step.path}"
    assert report.received == len(step.records), where
    assert (report.poison, report.retried, report.errors) == (0, 0, []), f"{where}: {listening.said}"
    assert not report.skipped, f"{where}: {report.skipped}"
    assert report.commits >= 1, where
    after = _document(file)
    if step.kind == "delete":
        assert after is None, f"{where}: still recorded"
    else:
        assert after is not None, f"{where}: not recorded"
        if step.field:
            assert _field(after, step.field) == step.value, f"{where}: {json.dumps(after, indent=1)}"
        if step.kind == "update":
            assert after != before, where
            if step.field:
                assert _field(before, step.field) != step.value, f"{where}: already so before"
    log = git(world.repo, "log", "-1", "--format=%an%n%s%n%B", "--", step.path).splitlines()
    author, subject, message = log[0], log[1], "\n".join(log[2:])
    assert author == (step.author or AUTHORS[step.kind]), where
    assert subject.endswith(f": {VERBS[step.kind]}"), f"{where}: {subject}"
    assert f"Gitmonkey-Event: {step.event}" in message, f"{where}: {message}"
    assert world.depth() == 0, f"{where}: the queue is not empty"


@pytest.mark.parametrize("case", CASES)
def test_listen_records_the_create_update_and_delete_of_each_technology(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with mock_aws(), ExitStack() as stack:
        world = ListenWorld(tmp_path, case.technologies)
        env = Env(world, monkeypatch, stack)
        case.seed(env)
        world.sync()
        listening = Listening(world)
        covered: dict[str, set[str]] = {t: set() for t in case.technologies}
        for step in case.steps(env):
            _run(world, listening, step)
            covered[parse_item_path(step.path).technology].add(step.kind)
        assert covered == {t: set(case.kinds) for t in case.technologies}
