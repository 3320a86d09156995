"""ec2.instance, ec2.elastic_ip, ec2.network_interface, ec2.key_pair and ec2.volume watchers
against moto (botocore Stubber and injected errors for paging, races, failures and the states moto
does not produce): recorded fields, ephemeral values kept out (an instance stop and start makes
no commit), user data hashed, API calls per item, and the rules on real moto output."""

from __future__ import annotations

import base64
import functools
import json
import subprocess
import urllib.parse
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from gitmonkey.audit import AuditContext, RuleSet
from gitmonkey.normalize import REDACTED_PREFIX, merge_ephemeral, normalize_item
from gitmonkey.read.aws import AccountSession, SliceContext
from gitmonkey.sync import run_sync
from gitmonkey.watchers import _ec2_compute as compute
from gitmonkey.watchers import ec2, get_technology
from tests.helpers import error_response, git, inject, make_config, slice_context

ACCOUNT = "123456789012"
REGION = "us-east-1"
USER_DATA = "#!/bin/sh\necho DB_PASSWORD=hunter2-very-secret > /etc/app.env\n"
USER_DATA_B64 = base64.b64encode(USER_DATA.encode()).decode()
PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl ann@laptop"
TECHNOLOGIES = ("ec2.instance", "ec2.elastic_ip", "ec2.network_interface", "ec2.key_pair", "ec2.volume")
LISTERS: dict[str, Callable[[SliceContext], list[Any]]] = {
    "ec2.instance": compute.list_instances,
    "ec2.elastic_ip": compute.list_elastic_ips,
    "ec2.network_interface": compute.list_network_interfaces,
    "ec2.key_pair": compute.list_key_pairs,
    "ec2.volume": compute.list_volumes,
}


_SESSIONS: dict[str, AccountSession] = {}


@pytest.fixture(autouse=True)
def _one_session_per_test():
    """Slices of one test share an account session (and so its boto3 clients, which take a few
    hundred milliseconds each to create); each slice still counts its own calls."""
    _SESSIONS.clear()
    yield
    _SESSIONS.clear()


def make_ctx(region: str = REGION) -> SliceContext:
    if "test" not in _SESSIONS:
        _SESSIONS["test"] = slice_context(region).session
    return SliceContext(_SESSIONS["test"], region)


@pytest.fixture
def aws():
    with mock_aws():
        yield


def _client(region: str = REGION) -> Any:
    return boto3.client("ec2", region_name=region)


def _by_id(items):
    return {item.id: item for item in items}


def _normalized(item):
    return normalize_item(item, get_technology(item.technology), account_id=ACCOUNT, secret_key=b"k")


def _documents(lister: Callable[[SliceContext], list[Any]]) -> dict[str, dict[str, Any]]:
    return {item.id: _normalized(item).document for item in lister(make_ctx())}


def _stubbed(monkeypatch, ctx: SliceContext) -> Stubber:
    client = _client()
    monkeypatch.setattr(ctx, "client", lambda service, region=None: client)
    return Stubber(client)


def _tags(resource: str, **tags: str) -> list[dict[str, Any]]:
    return [{"ResourceType": resource, "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}]


def _instance(client, *, user_data: str | None = USER_DATA, tokens: str = "optional", **extra: Any) -> str:
    params: dict[str, Any] = {
        "ImageId": "ami-12345678",
        "MinCount": 1,
        "MaxCount": 1,
        "InstanceType": "t3.micro",
        "MetadataOptions": {"HttpTokens": tokens, "HttpEndpoint": "enabled", "HttpPutResponseHopLimit": 2},
        **extra,
    }
    if user_data is not None:
        params["UserData"] = user_data
    return client.run_instances(**params)["Instances"][0]["InstanceId"]


def _web_instance(client) -> tuple[str, str, str]:
    """An instance with two security groups, a key pair, an instance profile, user data and tags;
    returns (instance id, group zeta, group alpha)."""
    boto3.client("iam", region_name=REGION).create_instance_profile(InstanceProfileName="web")
    zeta = client.create_security_group(GroupName="zeta", Description="z")["GroupId"]
    alpha = client.create_security_group(GroupName="alpha", Description="a")["GroupId"]
    client.create_key_pair(KeyName="deploy")
    instance = _instance(
        client,
        tokens="required",
        SecurityGroupIds=[zeta, alpha],
        KeyName="deploy",
        IamInstanceProfile={"Name": "web"},
        TagSpecifications=_tags("instance", Name="web-1", team="a"),
    )
    return instance, zeta, alpha


@functools.cache
def _rules() -> RuleSet:
    return RuleSet.load({}, base_dir=Path.cwd())


def _rules_findings(document: dict[str, Any]) -> set[tuple[str, str]]:
    rules = _rules()
    ctx = AuditContext.from_config(
        {}, account_id=ACCOUNT, account_name="test", now=datetime(2026, 1, 1, tzinfo=UTC)
    )
    return {(f.rule_id, f.key) for f in rules.evaluate(document, None, ctx)}


def _audited(item) -> dict[str, Any]:
    """The document the audit sees: the committed document with the ephemeral values merged back."""
    normalized = _normalized(item)
    return merge_ephemeral(json.loads(normalized.content), normalized.ephemeral)


# --- ec2.instance ------------------------------------------------------------------------------


def test_instance_configuration(aws):
    client = _client()
    instance, zeta, alpha = _web_instance(client)
    ctx = make_ctx()

    (item,) = compute.list_instances(ctx)

    assert item.technology == "ec2.instance"
    assert item.id == instance
    assert item.name == "web-1"
    assert item.arn == f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/{instance}"
    config = item.configuration
    assert config["InstanceId"] == instance
    assert config["InstanceType"] == "t3.micro"
    assert config["ImageId"] == "ami-12345678"
    assert config["KeyName"] == "deploy"
    assert config["MetadataOptions"]["HttpTokens"] == "required"
    assert config["MetadataOptions"]["HttpEndpoint"] == "enabled"
    assert config["MetadataOptions"]["HttpPutResponseHopLimit"] == 2
    assert config["IamInstanceProfile"]["Arn"] == f"arn:aws:iam::{ACCOUNT}:instance-profile/web"
    assert config["Monitoring"] == {"State": "disabled"}
    assert {g["GroupId"] for g in config["SecurityGroups"]} == {zeta, alpha}
    assert config["Tags"] == {"Name": "web-1", "team": "a"}
    assert config["OwnerId"] == ACCOUNT
    assert config["ReservationId"].startswith("r-")
    assert "RequesterId" in config
    assert config["UserData"] == USER_DATA_B64
    assert config["NetworkInterfaces"][0]["Attachment"]["DeviceIndex"] == 0
    assert config["BlockDeviceMappings"][0]["Ebs"]["VolumeId"].startswith("vol-")
    assert dict(ctx.calls) == {"ec2:DescribeInstances": 1, "ec2:DescribeInstanceAttribute": 1}

    normalized = _normalized(item)
    document = normalized.document["configuration"]
    assert [g["GroupId"] for g in document["SecurityGroups"]] == sorted([zeta, alpha])
    for key in ("State", "LaunchTime", "PublicIpAddress", "PublicDnsName", "StateTransitionReason"):
        assert key not in document
    assert "State" not in document["MetadataOptions"]
    interface = document["NetworkInterfaces"][0]
    assert "Association" not in interface and "Status" not in interface
    assert "AttachTime" not in interface["Attachment"] and "Status" not in interface["Attachment"]
    assert "AttachTime" not in document["BlockDeviceMappings"][0]["Ebs"]
    assert normalized.ephemeral["configuration.State"] == {"Code": 16, "Name": "running"}
    assert "configuration.LaunchTime" in normalized.ephemeral


def test_user_data_is_hashed_never_written(aws):
    client = _client()
    _instance(client)
    _instance(client, user_data=None)

    items = compute.list_instances(make_ctx())
    normalized = [_normalized(item) for item in items]

    hashed = [n for n in normalized if n.document["configuration"]["UserData"] is not None]
    empty = [n for n in normalized if n.document["configuration"]["UserData"] is None]
    assert len(hashed) == len(empty) == 1
    assert hashed[0].document["configuration"]["UserData"].startswith(REDACTED_PREFIX)
    for n in normalized:
        text = n.content.decode()
        assert "hunter2" not in text and USER_DATA_B64 not in text
        assert not any("hunter2" in json.dumps(value) for value in n.ephemeral.values())


def test_user_data_change_is_a_change(aws):
    client = _client()
    instance = _instance(client)
    before = _documents(compute.list_instances)[instance]

    client.stop_instances(InstanceIds=[instance])
    new = base64.b64encode(b"#!/bin/sh\necho rotated\n")
    client.modify_instance_attribute(InstanceId=instance, UserData={"Value": new})
    client.start_instances(InstanceIds=[instance])
    after = _documents(compute.list_instances)[instance]

    assert before["configuration"]["UserData"] != after["configuration"]["UserData"]
    assert after["configuration"]["UserData"].startswith(REDACTED_PREFIX)
    before["configuration"].pop("UserData")
    after["configuration"].pop("UserData")
    assert before == after


def _public_ip(client, instance: str) -> str | None:
    return client.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0].get(
        "PublicIpAddress"
    )


def test_stop_and_start_make_no_change(aws):
    """The instance, its interfaces and volumes read the same running, stopped and started again,
    while state, launch time, public address (moto gives a new one at each start) and the stop's
    reason move in the ephemeral values."""
    client = _client()
    instance, _, _ = _web_instance(client)
    listers = (compute.list_instances, compute.list_network_interfaces, compute.list_volumes)
    running = [_documents(lister) for lister in listers]
    address_before = _public_ip(client, instance)

    client.stop_instances(InstanceIds=[instance])
    stopped = [_documents(lister) for lister in listers]
    (stopped_item,) = compute.list_instances(make_ctx())
    client.start_instances(InstanceIds=[instance])
    started = [_documents(lister) for lister in listers]

    assert address_before and _public_ip(client, instance) not in (None, address_before)
    assert all(running), "an instance, its interfaces and its volumes"
    assert running[0][instance]["configuration"]["UserData"].startswith(REDACTED_PREFIX)
    assert running == stopped == started
    ephemeral = _normalized(stopped_item).ephemeral
    assert ephemeral["configuration.State"]["Name"] == "stopped"
    assert ephemeral["configuration.StateTransitionReason"].startswith("User initiated")
    assert "configuration.PublicIpAddress" not in ephemeral or not ephemeral["configuration.PublicIpAddress"]


def test_stop_and_start_make_no_commit_and_user_data_stays_out_of_git(tmp_path, aws):
    client = _client()
    instance, _, _ = _web_instance(client)
    address = client.allocate_address(Domain="vpc")["AllocationId"]
    client.associate_address(AllocationId=address, InstanceId=instance)
    config = make_config(tmp_path, accounts=[{"name": "prod", "id": ACCOUNT, "regions": [REGION]}])
    technologies = list(TECHNOLOGIES)
    assert run_sync(config, technologies=technologies).exit_code == 0
    repo = config.repo_path(config.accounts[0])
    head = git(repo, "rev-parse", "HEAD")
    assert (repo / f"items/{REGION}/ec2/instance/{instance}.json").is_file()

    client.stop_instances(InstanceIds=[instance])
    assert run_sync(config, technologies=technologies).exit_code == 0
    client.start_instances(InstanceIds=[instance])
    report = run_sync(config, technologies=technologies)

    assert report.exit_code == 0
    assert git(repo, "rev-parse", "HEAD") == head
    everything = subprocess.run(
        ["git", "-C", str(repo), "log", "-p", "--all", "--format=%B"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "hunter2" not in everything and USER_DATA_B64 not in everything
    assert "redacted" in everything


def test_calls_per_instance_and_none_in_an_empty_region(aws):
    client = _client()
    for _ in range(3):
        _instance(client)
    ctx = make_ctx()
    assert len(compute.list_instances(ctx)) == 3
    assert dict(ctx.calls) == {"ec2:DescribeInstances": 1, "ec2:DescribeInstanceAttribute": 3}

    empty = make_ctx("eu-west-1")
    assert compute.list_instances(empty) == []
    assert dict(empty.calls) == {"ec2:DescribeInstances": 1}


def test_terminated_instances_are_not_items_and_cost_no_call(aws):
    client = _client()
    kept = _instance(client)
    gone = _instance(client)
    client.terminate_instances(InstanceIds=[gone])
    ctx = make_ctx()

    assert [item.id for item in compute.list_instances(ctx)] == [kept]
    assert ctx.calls["ec2:DescribeInstanceAttribute"] == 1


def _reservation(*instances: dict[str, Any], owner: str = ACCOUNT) -> dict[str, Any]:
    return {"ReservationId": "r-1", "OwnerId": owner, "Instances": list(instances)}


def _stub_instance(instance_id: str, state: str = "running") -> dict[str, Any]:
    return {"InstanceId": instance_id, "State": {"Code": 16, "Name": state}, "InstanceType": "t3.micro"}


def test_shutting_down_instances_are_not_items(monkeypatch):
    ctx = make_ctx()
    stub = _stubbed(monkeypatch, ctx)
    stub.add_response(
        "describe_instances",
        {"Reservations": [_reservation(_stub_instance("i-1"), _stub_instance("i-2", "shutting-down"))]},
    )
    stub.add_response(
        "describe_instance_attribute",
        {"InstanceId": "i-1", "UserData": {}},
        {"InstanceId": "i-1", "Attribute": "userData"},
    )
    with stub:
        items = compute.list_instances(ctx)
    stub.assert_no_pending_responses()
    assert [item.id for item in items] == ["i-1"]
    config = items[0].configuration
    assert config["UserData"] is None
    assert config["SecurityGroups"] == [] and config["Tags"] == {}
    assert config["RequesterId"] is None


def test_instances_follow_next_token(monkeypatch):
    ctx = make_ctx()
    stub = _stubbed(monkeypatch, ctx)
    # Every page is read before the first user data read, so the calls come in this order.
    stub.add_response(
        "describe_instances", {"Reservations": [_reservation(_stub_instance("i-1"))], "NextToken": "t1"}
    )
    stub.add_response(
        "describe_instances",
        {"Reservations": [_reservation(_stub_instance("i-2"), owner="210987654321")]},
        {"NextToken": "t1"},
    )
    stub.add_response("describe_instance_attribute", {"InstanceId": "i-1", "UserData": {}})
    stub.add_response("describe_instance_attribute", {"InstanceId": "i-2", "UserData": {}})
    with stub:
        items = _by_id(compute.list_instances(ctx))
    stub.assert_no_pending_responses()
    assert set(items) == {"i-1", "i-2"}
    assert items["i-2"].arn == "arn:aws:ec2:us-east-1:210987654321:instance/i-2"
    assert items["i-2"].configuration["OwnerId"] == "210987654321"


def _instance_id_of(request: Any) -> str:
    body = request.body.decode() if isinstance(request.body, bytes) else request.body
    return urllib.parse.parse_qs(body)["InstanceId"][0]


def test_instance_gone_between_list_and_user_data_is_skipped(aws, monkeypatch):
    client = _client()
    kept = _instance(client)
    gone = _instance(client)

    def handler(request: Any, **_: Any) -> Any:
        if _instance_id_of(request) == gone:
            return error_response(
                400, "InvalidInstanceID.NotFound", f"The instance ID '{gone}' does not exist"
            )
        return None

    with inject(monkeypatch, "before-send.ec2.DescribeInstanceAttribute", handler) as fired:
        items = compute.list_instances(make_ctx())
    assert fired
    assert [item.id for item in items] == [kept]


def test_a_failed_user_data_read_fails_the_listing(aws, monkeypatch):
    client = _client()
    _instance(client)
    _instance(client)

    def handler(request: Any, **_: Any) -> Any:
        return error_response(403, "UnauthorizedOperation", "not allowed")

    with (
        inject(monkeypatch, "before-send.ec2.DescribeInstanceAttribute", handler),
        pytest.raises(ClientError) as info,
    ):
        compute.list_instances(make_ctx())
    assert info.value.response["Error"]["Code"] == "UnauthorizedOperation"


def test_a_throttled_user_data_read_fails_the_listing(monkeypatch):
    ctx = make_ctx()
    stub = _stubbed(monkeypatch, ctx)
    stub.add_response("describe_instances", {"Reservations": [_reservation(_stub_instance("i-1"))]})
    stub.add_client_error("describe_instance_attribute", service_error_code="RequestLimitExceeded")
    with stub, pytest.raises(ClientError) as info:
        compute.list_instances(ctx)
    assert info.value.response["Error"]["Code"] == "RequestLimitExceeded"


def test_instance_listing_failure_raises(monkeypatch):
    ctx = make_ctx()
    stub = _stubbed(monkeypatch, ctx)
    stub.add_client_error("describe_instances", service_error_code="RequestLimitExceeded")
    with stub, pytest.raises(ClientError):
        compute.list_instances(ctx)


def test_instance_fields_moto_does_not_return_are_kept_or_ephemeral(monkeypatch):
    """A record as AWS returns it for a stopped instance on a dedicated host in an open capacity
    reservation: the stop's traces and the host are ephemeral, the options are configuration."""
    ctx = make_ctx()
    stub = _stubbed(monkeypatch, ctx)
    instance = {
        **_stub_instance("i-1", "stopped"),
        "StateReason": {"Code": "Client.UserInitiatedShutdown", "Message": "User initiated shutdown"},
        "StateTransitionReason": "User initiated (2024-05-01 10:00:00 GMT)",
        "LaunchTime": datetime(2024, 4, 1, tzinfo=UTC),
        "PublicDnsName": "",
        "PrivateDnsName": "ip-10-0-0-5.ec2.internal",
        "PrivateIpAddress": "10.0.0.5",
        "Placement": {
            "AvailabilityZone": "us-east-1a",
            "Tenancy": "host",
            "HostId": "h-1",
            "Affinity": "default",
        },
        "CapacityReservationId": "cr-1",
        "CapacityReservationSpecification": {"CapacityReservationPreference": "open"},
        "UsageOperation": "RunInstances",
        "UsageOperationUpdateTime": datetime(2024, 4, 1, tzinfo=UTC),
        "CpuOptions": {"CoreCount": 1, "ThreadsPerCore": 2},
        "HibernationOptions": {"Configured": False},
        "EnclaveOptions": {"Enabled": False},
        "MetadataOptions": {
            "State": "pending",
            "HttpTokens": "optional",
            "HttpPutResponseHopLimit": 1,
            "HttpEndpoint": "enabled",
        },
        "ElasticGpuAssociations": [
            {
                "ElasticGpuId": "egpu-1",
                "ElasticGpuAssociationId": "egpu-assoc-1",
                "ElasticGpuAssociationState": "associated",
                "ElasticGpuAssociationTime": "2024-04-01T00:00:00Z",
            }
        ],
    }
    stub.add_response("describe_instances", {"Reservations": [_reservation(instance)]})
    stub.add_response("describe_instance_attribute", {"InstanceId": "i-1", "UserData": {"Value": "ZWNobw=="}})
    with stub:
        (item,) = compute.list_instances(ctx)
    normalized = _normalized(item)
    document = normalized.document["configuration"]
    for key in (
        "StateReason",
        "StateTransitionReason",
        "LaunchTime",
        "PublicDnsName",
        "CapacityReservationId",
        "UsageOperationUpdateTime",
    ):
        assert key not in document, key
    assert document["Placement"] == {
        "AvailabilityZone": "us-east-1a",
        "Tenancy": "host",
        "Affinity": "default",
    }
    assert document["MetadataOptions"] == {
        "HttpTokens": "optional",
        "HttpPutResponseHopLimit": 1,
        "HttpEndpoint": "enabled",
    }
    assert document["CpuOptions"] == {"CoreCount": 1, "ThreadsPerCore": 2}
    assert document["CapacityReservationSpecification"] == {"CapacityReservationPreference": "open"}
    assert document["PrivateDnsName"] == "ip-10-0-0-5.ec2.internal"
    assert document["ElasticGpuAssociations"] == [
        {"ElasticGpuId": "egpu-1", "ElasticGpuAssociationId": "egpu-assoc-1"}
    ]
    assert normalized.ephemeral["configuration.Placement.HostId"] == "h-1"
    assert _rules_findings(_audited(item)) == {("ec2.instance.imdsv2-not-required", "imdsv1")}


def test_instance_rules_on_moto_output(aws):
    client = _client()
    legacy = _instance(client, tokens="optional")
    hardened = _instance(client, tokens="required")
    closed = _instance(client, tokens="optional")
    client.modify_instance_metadata_options(InstanceId=closed, HttpEndpoint="disabled")
    items = _by_id(compute.list_instances(make_ctx()))

    findings = {ident: _rules_findings(_audited(item)) for ident, item in items.items()}

    # moto's default subnet gives every instance a public address, as a default VPC does, and moto
    # reports every instance as paravirtual (FSBP EC2.24)
    moto_defaults = {("ec2.instance.public-ip", "public-ip"), ("ec2.instance.paravirtual", "paravirtual")}
    assert findings[legacy] == {("ec2.instance.imdsv2-not-required", "imdsv1"), *moto_defaults}
    assert findings[hardened] == moto_defaults
    assert findings[closed] == moto_defaults
    # the committed document alone (no ephemeral values) has no public address
    assert ("ec2.instance.public-ip", "public-ip") not in _rules_findings(
        json.loads(_normalized(items[legacy]).content)
    )


def test_instance_profile_rule_is_off_by_default(aws):
    client = _client()
    _instance(client, tokens="required")
    (item,) = compute.list_instances(make_ctx())
    (rule,) = [r for r in _rules().rules if r.id == "ec2.instance.no-instance-profile"]
    assert rule.enabled is False
    assert item.configuration.get("IamInstanceProfile") is None
    assert ("ec2.instance.no-instance-profile", "no-instance-profile") not in _rules_findings(_audited(item))


# --- ec2.elastic_ip ----------------------------------------------------------------------------


def test_elastic_ip_configuration_and_association(aws):
    client = _client()
    instance = _instance(client)
    bastion = client.allocate_address(Domain="vpc", TagSpecifications=_tags("elastic-ip", Name="bastion"))
    spare = client.allocate_address(Domain="vpc")
    association = client.associate_address(AllocationId=bastion["AllocationId"], InstanceId=instance)
    ctx = make_ctx()

    items = _by_id(compute.list_elastic_ips(ctx))

    assert set(items) == {bastion["AllocationId"], spare["AllocationId"]}
    item = items[bastion["AllocationId"]]
    assert item.technology == "ec2.elastic_ip"
    assert item.name == "bastion"
    assert item.arn == f"arn:aws:ec2:us-east-1:{ACCOUNT}:elastic-ip/{bastion['AllocationId']}"
    config = item.configuration
    assert config["PublicIp"] == bastion["PublicIp"]
    assert config["Domain"] == "vpc"
    assert config["AssociationId"] == association["AssociationId"]
    assert config["InstanceId"] == instance
    assert config["NetworkInterfaceId"].startswith("eni-")
    assert config["NetworkInterfaceOwnerId"] == ACCOUNT
    assert config["PrivateIpAddress"]
    assert config["Tags"] == {"Name": "bastion"}

    other = items[spare["AllocationId"]]
    assert other.name == spare["PublicIp"]
    for key in compute.ADDRESS_ASSOCIATION_FIELDS:
        assert other.configuration[key] is None, key
    assert dict(ctx.calls) == {"ec2:DescribeAddresses": 1}

    assert _rules_findings(_audited(other)) == {("ec2.elastic_ip.unassociated", "unassociated")}
    assert _rules_findings(_audited(item)) == set()


def test_elastic_ip_association_is_configuration_and_survives_stop_start(aws):
    client = _client()
    first = _instance(client)
    second = _instance(client)
    address = client.allocate_address(Domain="vpc")["AllocationId"]
    client.associate_address(AllocationId=address, InstanceId=first)
    before = _documents(compute.list_elastic_ips)[address]

    client.stop_instances(InstanceIds=[first])
    client.start_instances(InstanceIds=[first])
    assert _documents(compute.list_elastic_ips)[address] == before

    client.associate_address(AllocationId=address, InstanceId=second, AllowReassociation=True)
    moved = _documents(compute.list_elastic_ips)[address]
    assert moved["configuration"]["InstanceId"] == second
    assert moved != before


def test_classic_elastic_ip_is_named_by_its_address(monkeypatch):
    ctx = make_ctx()
    stub = _stubbed(monkeypatch, ctx)
    stub.add_response(
        "describe_addresses",
        {"Addresses": [{"PublicIp": "198.51.100.7", "Domain": "standard", "InstanceId": "i-1"}]},
    )
    with stub:
        (item,) = compute.list_elastic_ips(ctx)
    assert item.id == item.name == "198.51.100.7"
    assert item.arn == f"arn:aws:ec2:us-east-1:{ACCOUNT}:elastic-ip/198.51.100.7"
    assert item.configuration["InstanceId"] == "i-1"
    assert item.configuration["AssociationId"] is None
    assert _rules_findings(_audited(item)) == set()


def test_elastic_ip_listing_failure_raises(monkeypatch):
    ctx = make_ctx()
    stub = _stubbed(monkeypatch, ctx)
    stub.add_client_error(
        "describe_addresses", service_error_code="UnauthorizedOperation", http_status_code=403
    )
    with stub, pytest.raises(ClientError):
        compute.list_elastic_ips(ctx)


# --- ec2.network_interface ---------------------------------------------------------------------


def test_network_interface_configuration(aws):
    client = _client()
    instance = _instance(client)
    subnet = client.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]["SubnetId"]
    zeta = client.create_security_group(GroupName="zeta", Description="z")["GroupId"]
    alpha = client.create_security_group(GroupName="alpha", Description="a")["GroupId"]
    extra = client.create_network_interface(
        SubnetId=subnet,
        Groups=[zeta, alpha],
        Description="second interface",
        TagSpecifications=_tags("network-interface", Name="extra", team="a"),
    )["NetworkInterface"]["NetworkInterfaceId"]
    client.attach_network_interface(NetworkInterfaceId=extra, InstanceId=instance, DeviceIndex=1)
    ctx = make_ctx()

    items = _by_id(compute.list_network_interfaces(ctx))

    assert len(items) == 2
    item = items[extra]
    assert item.technology == "ec2.network_interface"
    assert item.name == "extra"
    assert item.arn == f"arn:aws:ec2:us-east-1:{ACCOUNT}:network-interface/{extra}"
    config = item.configuration
    assert config["Description"] == "second interface"
    assert config["SubnetId"] == subnet
    assert config["Tags"] == {"Name": "extra", "team": "a"}
    assert "TagSet" not in config
    assert config["RequesterManaged"] is False
    assert config["Attachment"]["InstanceId"] == instance
    assert config["Attachment"]["DeviceIndex"] == 1
    assert dict(ctx.calls) == {"ec2:DescribeNetworkInterfaces": 1}
    primary = next(i for ident, i in items.items() if ident != extra)
    assert primary.name == primary.id

    normalized = _normalized(item)
    document = normalized.document["configuration"]
    assert [g["GroupId"] for g in document["Groups"]] == sorted([zeta, alpha])
    assert "Status" not in document
    assert "AttachTime" not in document["Attachment"] and "Status" not in document["Attachment"]
    assert normalized.ephemeral["configuration.Status"] == "in-use"

    client.detach_network_interface(AttachmentId=config["Attachment"]["AttachmentId"])
    detached = _documents(compute.list_network_interfaces)[extra]
    assert "Attachment" not in detached["configuration"]


def test_requester_managed_interfaces_are_items(monkeypatch):
    """A Lambda interface, as AWS describes it (moto creates none): an item like any other."""
    ctx = make_ctx()
    stub = _stubbed(monkeypatch, ctx)
    lambda_interface = {
        "NetworkInterfaceId": "eni-1",
        "InterfaceType": "lambda",
        "Description": "AWS Lambda VPC ENI-fn-1",
        "RequesterManaged": True,
        "RequesterId": "AROAEXAMPLE:fn",
        "Status": "in-use",
        "SubnetId": "subnet-1",
        "VpcId": "vpc-1",
        "OwnerId": ACCOUNT,
        "Groups": [{"GroupId": "sg-2", "GroupName": "b"}, {"GroupId": "sg-1", "GroupName": "a"}],
        "PrivateIpAddress": "10.0.0.9",
        "PrivateIpAddresses": [{"Primary": True, "PrivateIpAddress": "10.0.0.9"}],
        "Attachment": {
            "AttachmentId": "ela-attach-1",
            "AttachTime": datetime(2024, 4, 1, tzinfo=UTC),
            "DeleteOnTermination": False,
            "DeviceIndex": 1,
            "InstanceOwnerId": "amazon-aws",
            "Status": "attached",
        },
        "TagSet": [],
    }
    stub.add_response(
        "describe_network_interfaces", {"NetworkInterfaces": [lambda_interface], "NextToken": "t1"}
    )
    stub.add_response(
        "describe_network_interfaces",
        {"NetworkInterfaces": [{**lambda_interface, "NetworkInterfaceId": "eni-2"}]},
        {"NextToken": "t1"},
    )
    with stub:
        items = _by_id(compute.list_network_interfaces(ctx))
    assert set(items) == {"eni-1", "eni-2"}
    document = _normalized(items["eni-1"]).document["configuration"]
    assert document["RequesterManaged"] is True
    assert document["InterfaceType"] == "lambda"
    assert document["Attachment"] == {
        "AttachmentId": "ela-attach-1",
        "DeleteOnTermination": False,
        "DeviceIndex": 1,
        "InstanceOwnerId": "amazon-aws",
    }
    assert [g["GroupId"] for g in document["Groups"]] == ["sg-1", "sg-2"]


def test_network_interface_public_association_is_ephemeral(monkeypatch):
    ctx = make_ctx()
    stub = _stubbed(monkeypatch, ctx)
    association = {"IpOwnerId": "amazon", "PublicIp": "203.0.113.5", "PublicDnsName": "ec2-203-0-113-5.x"}
    interface = {
        "NetworkInterfaceId": "eni-1",
        "Status": "in-use",
        "Association": association,
        "PublicDnsName": "ec2-203-0-113-5.x",
        "PrivateIpAddresses": [{"Primary": True, "PrivateIpAddress": "10.0.0.9", "Association": association}],
    }
    stub.add_response("describe_network_interfaces", {"NetworkInterfaces": [interface]})
    with stub:
        (item,) = compute.list_network_interfaces(ctx)
    document = _normalized(item).document["configuration"]
    assert document == {
        "NetworkInterfaceId": "eni-1",
        "PrivateIpAddresses": [{"Primary": True, "PrivateIpAddress": "10.0.0.9"}],
        "Tags": {},
    }


def test_network_interface_listing_failure_raises(monkeypatch):
    ctx = make_ctx()
    stub = _stubbed(monkeypatch, ctx)
    stub.add_client_error("describe_network_interfaces", service_error_code="RequestLimitExceeded")
    with stub, pytest.raises(ClientError):
        compute.list_network_interfaces(ctx)


# --- ec2.key_pair ------------------------------------------------------------------------------


def test_key_pair_configuration(aws):
    client = _client()
    made = client.create_key_pair(KeyName="deploy")
    imported = client.import_key_pair(
        KeyName="laptop",
        PublicKeyMaterial=PUBLIC_KEY.encode(),
        TagSpecifications=_tags("key-pair", owner="ann"),
    )
    ctx = make_ctx()

    items = _by_id(compute.list_key_pairs(ctx))

    assert set(items) == {"deploy", "laptop"}
    item = items["laptop"]
    assert item.technology == "ec2.key_pair"
    assert item.name == "laptop"
    assert item.arn == f"arn:aws:ec2:us-east-1:{ACCOUNT}:key-pair/{imported['KeyPairId']}"
    config = item.configuration
    assert config["KeyPairId"] == imported["KeyPairId"]
    assert config["KeyFingerprint"] == imported["KeyFingerprint"]
    assert config["KeyType"] == "ed25519"
    assert config["Tags"] == {"owner": "ann"}
    assert "CreateTime" in config
    assert items["deploy"].configuration["KeyFingerprint"] == made["KeyFingerprint"]
    for item in items.values():
        assert "KeyMaterial" not in item.configuration and "PublicKey" not in item.configuration
    assert dict(ctx.calls) == {"ec2:DescribeKeyPairs": 1}


def test_key_pair_replaced_under_its_name_is_a_modification(aws):
    client = _client()
    client.create_key_pair(KeyName="deploy")
    before = _documents(compute.list_key_pairs)["deploy"]
    assert _documents(compute.list_key_pairs)["deploy"] == before

    client.delete_key_pair(KeyName="deploy")
    client.import_key_pair(KeyName="deploy", PublicKeyMaterial=PUBLIC_KEY.encode())
    after = _documents(compute.list_key_pairs)["deploy"]

    assert after["configuration"]["KeyPairId"] != before["configuration"]["KeyPairId"]
    assert after["configuration"]["KeyFingerprint"] != before["configuration"]["KeyFingerprint"]


def test_key_pair_listing_failure_raises(monkeypatch):
    ctx = make_ctx()
    stub = _stubbed(monkeypatch, ctx)
    stub.add_client_error(
        "describe_key_pairs", service_error_code="UnauthorizedOperation", http_status_code=403
    )
    with stub, pytest.raises(ClientError):
        compute.list_key_pairs(ctx)


# --- ec2.volume --------------------------------------------------------------------------------

KEY_ARN = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/0a1b2c3d-0000-4000-8000-000000000000"


def test_volume_configuration_and_rule(aws):
    client = _client()
    instance = _instance(client)
    data = client.create_volume(
        AvailabilityZone="us-east-1a",
        Size=20,
        VolumeType="gp3",
        Encrypted=True,
        KmsKeyId=KEY_ARN,
        TagSpecifications=_tags("volume", Name="data"),
    )["VolumeId"]
    scratch = client.create_volume(AvailabilityZone="us-east-1a", Size=5)["VolumeId"]
    client.attach_volume(VolumeId=scratch, InstanceId=instance, Device="/dev/sdf")
    ctx = make_ctx()

    items = _by_id(compute.list_volumes(ctx))

    assert {data, scratch} <= set(items)  # and the instance's root volume
    item = items[data]
    assert item.technology == "ec2.volume"
    assert item.name == "data"
    assert item.arn == f"arn:aws:ec2:us-east-1:{ACCOUNT}:volume/{data}"
    config = item.configuration
    assert config["Encrypted"] is True
    assert config["KmsKeyId"] == KEY_ARN
    assert config["Size"] == 20 and config["VolumeType"] == "gp3"
    assert config["Attachments"] == []
    assert config["Tags"] == {"Name": "data"}
    assert dict(ctx.calls) == {"ec2:DescribeVolumes": 1}

    attached = _normalized(items[scratch])
    document = attached.document["configuration"]
    assert "State" not in document
    assert document["Attachments"] == [{"Device": "/dev/sdf", "InstanceId": instance, "VolumeId": scratch}]
    assert attached.ephemeral["configuration.State"] == "in-use"
    assert attached.ephemeral["configuration.Attachments.0.State"] == "attached"

    assert _rules_findings(_audited(items[scratch])) == {("ec2.volume.unencrypted", "unencrypted")}
    assert _rules_findings(_audited(item)) == set()

    client.detach_volume(VolumeId=scratch, InstanceId=instance)
    detached = _by_id(compute.list_volumes(ctx))[scratch]
    assert _documents(compute.list_volumes)[scratch]["configuration"]["Attachments"] == []
    # FSBP EC2.3 is about attached volumes; a detached unencrypted one has a rule of its own
    assert _rules_findings(_audited(detached)) == {("ec2.volume.unencrypted-detached", "unencrypted")}


def test_volumes_follow_next_token(monkeypatch):
    ctx = make_ctx()
    stub = _stubbed(monkeypatch, ctx)
    volume = {"VolumeId": "vol-1", "Size": 1, "Encrypted": False, "State": "available"}
    stub.add_response("describe_volumes", {"Volumes": [volume], "NextToken": "t1"})
    stub.add_response(
        "describe_volumes",
        {"Volumes": [{**volume, "VolumeId": "vol-2", "VolumeArn": "arn:aws:ec2:us-east-1:1:volume/vol-2"}]},
        {"NextToken": "t1"},
    )
    with stub:
        items = _by_id(compute.list_volumes(ctx))
    assert set(items) == {"vol-1", "vol-2"}
    assert items["vol-2"].arn == "arn:aws:ec2:us-east-1:1:volume/vol-2"
    assert "VolumeArn" not in items["vol-2"].configuration
    assert items["vol-1"].configuration["Attachments"] == []


def test_volume_listing_failure_raises(monkeypatch):
    ctx = make_ctx()
    stub = _stubbed(monkeypatch, ctx)
    stub.add_client_error("describe_volumes", service_error_code="RequestLimitExceeded")
    with stub, pytest.raises(ClientError):
        compute.list_volumes(ctx)


# --- all five ----------------------------------------------------------------------------------


def test_a_fresh_account_has_no_items(aws):
    for name, lister in LISTERS.items():
        ctx = make_ctx()
        assert lister(ctx) == [], name
        assert sum(ctx.calls.values()) == 1, name


def test_technologies_are_declared_in_ec2_and_name_every_call(aws):
    client = _client()
    instance, _, _ = _web_instance(client)
    address = client.allocate_address(Domain="vpc")["AllocationId"]
    client.associate_address(AllocationId=address, InstanceId=instance)
    registered = {tech.name: tech for tech in ec2.TECHNOLOGIES}
    for name, lister in LISTERS.items():
        tech = get_technology(name)
        assert registered[name] is tech
        assert tech.list_items is lister
        ctx = make_ctx()
        items = lister(ctx)
        assert items, name
        assert set(ctx.calls) <= set(tech.iam_actions), name
        for item in items:
            assert item.technology == name
            first = _normalized(item)
            assert _normalized(item).content == first.content  # deterministic
        again = {item.id: _normalized(item).content for item in lister(make_ctx())}
        assert again == {item.id: _normalized(item).content for item in items}, name


# --- seeds for the garbled-answer test (tests/test_unreadable_responses.py) --------------------


def _seed_instance(client: Callable[..., Any]) -> None:
    ec2_client = client("ec2", region_name=REGION)
    ec2_client.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, UserData=USER_DATA)


def _seed_elastic_ip(client: Callable[..., Any]) -> None:
    client("ec2", region_name=REGION).allocate_address(Domain="vpc")


def _seed_network_interface(client: Callable[..., Any]) -> None:
    ec2_client = client("ec2", region_name=REGION)
    vpc = ec2_client.create_vpc(CidrBlock="10.11.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2_client.create_subnet(VpcId=vpc, CidrBlock="10.11.1.0/24")["Subnet"]["SubnetId"]
    ec2_client.create_network_interface(SubnetId=subnet, Description="seed")


def _seed_key_pair(client: Callable[..., Any]) -> None:
    client("ec2", region_name=REGION).create_key_pair(KeyName="seed-key")


def _seed_volume(client: Callable[..., Any]) -> None:
    client("ec2", region_name=REGION).create_volume(AvailabilityZone=f"{REGION}a", Size=1)


GARBLE_SEEDS: dict[str, Callable[[Callable[..., Any]], None]] = {
    "ec2.instance": _seed_instance,
    "ec2.elastic_ip": _seed_elastic_ip,
    "ec2.network_interface": _seed_network_interface,
    "ec2.key_pair": _seed_key_pair,
    "ec2.volume": _seed_volume,
}


@pytest.mark.parametrize("name", sorted(GARBLE_SEEDS))
def test_garble_seeds_make_an_item(aws, name):
    GARBLE_SEEDS[name](lambda service, region_name=REGION: boto3.client(service, region_name=region_name))
    assert LISTERS[name](make_ctx())


# --- FSBP / CIS checks on moto output ----------------------------------------------------------


def test_interface_and_instance_compliance_rules_on_moto_output(aws):
    client = _client()
    instance = _instance(client, tokens="required")
    subnet = client.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]["SubnetId"]
    router = client.create_network_interface(SubnetId=subnet, Description="router")["NetworkInterface"]
    plain = client.create_network_interface(SubnetId=subnet, Description="plain")["NetworkInterface"]
    client.modify_network_interface_attribute(
        NetworkInterfaceId=router["NetworkInterfaceId"], SourceDestCheck={"Value": False}
    )
    client.attach_network_interface(
        NetworkInterfaceId=router["NetworkInterfaceId"], InstanceId=instance, DeviceIndex=1
    )
    ctx = make_ctx()

    interfaces = _by_id(compute.list_network_interfaces(ctx))
    instances = _by_id(compute.list_instances(ctx))

    # FSBP EC2.180 on the interface whose check was turned off, nothing on the other
    assert _rules_findings(_audited(interfaces[router["NetworkInterfaceId"]])) == {
        ("ec2.network_interface.source-dest-check-disabled", "source-dest-check")
    }
    assert _rules_findings(_audited(interfaces[plain["NetworkInterfaceId"]])) == set()
    # FSBP EC2.17: the instance now has two interfaces (moto's defaults as in the test above)
    assert _rules_findings(_audited(instances[instance])) == {
        ("ec2.instance.multiple-enis", "multiple-enis"),
        ("ec2.instance.public-ip", "public-ip"),
        ("ec2.instance.paravirtual", "paravirtual"),
    }

