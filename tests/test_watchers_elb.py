"""Classic ELB watcher against moto and stubs: listeners and their TLS policies, attributes, tags
in batches, the ephemeral instance count, races, failures, paging, API calls, the audit rules."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from gitmonkey.audit import AuditContext, RuleSet
from gitmonkey.normalize import normalize_item
from gitmonkey.read.aws import SliceContext
from gitmonkey.watchers import elb
from tests.helpers import slice_context

ACCOUNT = "123456789012"
REGION = "eu-west-1"
(TECH,) = elb.TECHNOLOGIES
WEAK = "ELBSecurityPolicy-TLS-1-0-2015-04"
ACCESS_LOG = {"Enabled": True, "S3BucketName": "logs", "EmitInterval": 5, "S3BucketPrefix": "shop"}
HTTP = {"Protocol": "HTTP", "LoadBalancerPort": 80, "InstanceProtocol": "HTTP", "InstancePort": 8080}


def make_ctx(region: str = REGION) -> SliceContext:
    return slice_context(region)


@pytest.fixture
def aws():
    with mock_aws():
        yield boto3.client("elb", region_name=REGION)


def _certificate() -> str:
    acm = boto3.client("acm", region_name=REGION)
    return acm.request_certificate(DomainName="shop.example.com")["CertificateArn"]


def _create(client, name: str, listeners=(HTTP,), **extra) -> None:
    client.create_load_balancer(
        LoadBalancerName=name, Listeners=list(listeners), AvailabilityZones=[f"{REGION}a"], **extra
    )


def _shop(client) -> str:
    """An internet-facing LB with an HTTPS listener on a TLS 1.0 reference policy and an HTTP one."""
    cert = _certificate()
    https = {"Protocol": "HTTPS", "LoadBalancerPort": 443, "InstanceProtocol": "HTTP", "InstancePort": 8080,
             "SSLCertificateId": cert}
    tags = [{"Key": "team", "Value": "shop"}, {"Key": "env", "Value": "prod"}]
    _create(client, "shop", (https, HTTP), Tags=tags)
    client.create_load_balancer_policy(
        LoadBalancerName="shop",
        PolicyName="tls-ref",
        PolicyTypeName="SSLNegotiationPolicyType",
        PolicyAttributes=[{"AttributeName": "Reference-Security-Policy", "AttributeValue": WEAK}],
    )
    client.create_load_balancer_policy(
        LoadBalancerName="shop", PolicyName="unattached", PolicyTypeName="SSLNegotiationPolicyType",
        PolicyAttributes=[{"AttributeName": "Protocol-SSLv3", "AttributeValue": "true"}],
    )
    client.set_load_balancer_policies_of_listener(LoadBalancerName="shop", LoadBalancerPort=443,
                                                  PolicyNames=["tls-ref"])
    client.modify_load_balancer_attributes(
        LoadBalancerName="shop",
        LoadBalancerAttributes={
            "AccessLog": ACCESS_LOG,
            "ConnectionDraining": {"Enabled": True, "Timeout": 30},
        },
    )
    return cert


def test_load_balancer_configuration(aws):
    cert = _shop(aws)
    ctx = make_ctx()

    (item,) = elb.list_load_balancers(ctx)

    assert (item.technology, item.region, item.id, item.name) == ("elb.load_balancer", REGION, "shop", "shop")
    assert item.arn == f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:loadbalancer/shop"
    config = item.configuration
    assert config["LoadBalancerName"] == "shop"
    assert config["Scheme"] == "internet-facing"
    assert config["Tags"] == {"team": "shop", "env": "prod"}
    listeners = {listener["LoadBalancerPort"]: listener for listener in config["Listeners"]}
    assert listeners[80] == {**HTTP, "Policies": []}
    assert listeners[443]["SSLCertificateId"] == cert
    assert listeners[443]["Policies"] == [
        {
            "PolicyName": "tls-ref",
            "PolicyTypeName": "SSLNegotiationPolicyType",
            "ReferenceSecurityPolicy": WEAK,
            "Protocols": [],
            "ServerDefinedCipherOrder": False,
            "Ciphers": [],
        }
    ]
    assert config["Attributes"]["AccessLog"] == ACCESS_LOG
    assert config["Attributes"]["ConnectionDraining"] == {"Enabled": True, "Timeout": 30}
    assert sorted(config["Policies"]["OtherPolicies"]) == ["tls-ref", "unattached"]
    assert config["InstanceCount"] == 0
    assert config["HealthCheck"] is None  # moto leaves it out unless configured
    assert "ListenerDescriptions" not in config and "Instances" not in config
    assert {"DNSName", "VPCId", "Subnets", "SecurityGroups", "AvailabilityZones", "CreatedTime",
            "SourceSecurityGroup", "BackendServerDescriptions"} <= set(config)
    assert ctx.calls == {
        "elb:DescribeLoadBalancers": 1,
        "elb:DescribeTags": 1,
        "elb:DescribeLoadBalancerAttributes": 1,
        "elb:DescribeLoadBalancerPolicies": 1,
    }


def test_custom_ssl_policy_becomes_protocol_and_cipher_flags(aws):
    https = {"Protocol": "SSL", "LoadBalancerPort": 8443, "InstanceProtocol": "TCP", "InstancePort": 8443,
             "SSLCertificateId": _certificate()}
    _create(aws, "custom", (https,))
    flags = {
        "Protocol-SSLv3": "true", "Protocol-TLSv1": "false", "Protocol-TLSv1.2": "true",
        "Server-Defined-Cipher-Order": "true", "ECDHE-RSA-AES128-GCM-SHA256": "true", "RC4-SHA": "true",
        "DES-CBC3-SHA": "false",
    }
    aws.create_load_balancer_policy(
        LoadBalancerName="custom", PolicyName="mine", PolicyTypeName="SSLNegotiationPolicyType",
        PolicyAttributes=[{"AttributeName": k, "AttributeValue": v} for k, v in flags.items()],
    )
    aws.set_load_balancer_policies_of_listener(LoadBalancerName="custom", LoadBalancerPort=8443,
                                               PolicyNames=["mine"])

    (item,) = elb.list_load_balancers(make_ctx())

    (policy,) = item.configuration["Listeners"][0]["Policies"]
    assert policy == {
        "PolicyName": "mine",
        "PolicyTypeName": "SSLNegotiationPolicyType",
        "ReferenceSecurityPolicy": None,
        "Protocols": ["SSLv3", "TLSv1.2"],
        "ServerDefinedCipherOrder": True,
        "Ciphers": ["ECDHE-RSA-AES128-GCM-SHA256", "RC4-SHA"],
    }


def test_other_listener_policies_keep_their_attributes(aws):
    _create(aws, "sticky")
    aws.create_lb_cookie_stickiness_policy(
        LoadBalancerName="sticky", PolicyName="cookie", CookieExpirationPeriod=60
    )
    aws.set_load_balancer_policies_of_listener(LoadBalancerName="sticky", LoadBalancerPort=80,
                                               PolicyNames=["cookie"])

    (item,) = elb.list_load_balancers(make_ctx())

    (policy,) = item.configuration["Listeners"][0]["Policies"]
    assert policy["PolicyName"] == "cookie"
    assert policy["PolicyTypeName"] != elb.SSL_POLICY_TYPE  # moto's name differs from AWS's
    assert isinstance(policy["Attributes"], dict)  # moto reports none; AWS: CookieExpirationPeriod
    assert "Protocols" not in policy


def test_no_listener_policy_costs_no_policy_call(aws):
    _create(aws, "plain", Scheme="internal")
    ctx = make_ctx()

    (item,) = elb.list_load_balancers(ctx)

    assert item.configuration["Scheme"] == "internal"
    assert item.configuration["Tags"] == {}
    assert item.configuration["Attributes"]["AccessLog"] == {"Enabled": False}
    assert "elb:DescribeLoadBalancerPolicies" not in ctx.calls


def test_tags_are_read_twenty_load_balancers_a_call(aws):
    names = [f"lb-{i:02d}" for i in range(23)]
    for name in names:
        _create(aws, name, Tags=[{"Key": "name", "Value": name}])
    ctx = make_ctx()
    batches: list[list[str]] = []
    ctx.client("elb").meta.events.register(
        "provide-client-params.*.DescribeTags",
        lambda params, **_: batches.append(params["LoadBalancerNames"]),
    )

    items = elb.list_load_balancers(ctx)

    assert sorted(item.id for item in items) == names
    assert all(item.configuration["Tags"] == {"name": item.id} for item in items)
    assert [len(batch) for batch in batches] == [20, 3]
    assert ctx.calls["elb:DescribeTags"] == 2
    assert ctx.calls["elb:DescribeLoadBalancerAttributes"] == 23


def test_instance_count_is_ephemeral(aws):
    _create(aws, "asg")
    ec2 = boto3.client("ec2", region_name=REGION)
    (before,) = elb.list_load_balancers(make_ctx())
    instances = ec2.run_instances(ImageId="ami-12345678", MinCount=2, MaxCount=2)["Instances"]
    aws.register_instances_with_load_balancer(
        LoadBalancerName="asg", Instances=[{"InstanceId": i["InstanceId"]} for i in instances]
    )
    (after,) = elb.list_load_balancers(make_ctx())

    old = normalize_item(before, TECH, account_id=ACCOUNT, secret_key=b"k")
    new = normalize_item(after, TECH, account_id=ACCOUNT, secret_key=b"k")

    assert new.content == old.content
    assert old.ephemeral == {"configuration.InstanceCount": 0}
    assert new.ephemeral == {"configuration.InstanceCount": 2}
    assert instances[0]["InstanceId"] not in new.content.decode()


def test_only_the_slice_region_is_read(aws):
    _create(aws, "here")
    boto3.client("elb", region_name="us-east-1").create_load_balancer(
        LoadBalancerName="elsewhere", Listeners=[HTTP], AvailabilityZones=["us-east-1a"]
    )
    assert [item.id for item in elb.list_load_balancers(make_ctx())] == ["here"]


def test_deleted_before_its_tags_are_read_is_skipped(aws, monkeypatch):
    for name in ("keeper", "doomed"):
        _create(aws, name)
    ctx = make_ctx()
    ctx.client("elb").meta.events.register(
        "after-call.*.DescribeLoadBalancers", lambda **_: aws.delete_load_balancer(LoadBalancerName="doomed")
    )

    items = elb.list_load_balancers(ctx)

    assert [item.id for item in items] == ["keeper"]
    assert ctx.calls["elb:DescribeTags"] == 3  # the batch failed; then one call per load balancer
    assert ctx.calls["elb:DescribeLoadBalancerAttributes"] == 1



def test_tag_batches_retry_one_by_one_only_when_a_member_is_gone():
    client = boto3.client("elb", region_name=REGION)
    stub = Stubber(client)
    gone = {"service_error_code": "LoadBalancerNotFound", "http_status_code": 400}
    stub.add_client_error("describe_tags", **gone, expected_params={"LoadBalancerNames": ["a", "b"]})
    tagged = {"TagDescriptions": [{"LoadBalancerName": "a", "Tags": [{"Key": "k"}]}]}
    stub.add_response("describe_tags", tagged, {"LoadBalancerNames": ["a"]})
    stub.add_client_error("describe_tags", **gone, expected_params={"LoadBalancerNames": ["b"]})
    stub.add_response("describe_tags", {"TagDescriptions": []}, {"LoadBalancerNames": ["c", "d"]})
    stub.add_client_error("describe_tags", **gone, expected_params={"LoadBalancerNames": ["e"]})
    with stub:
        tags = elb.tags_in_batches(client, "LoadBalancerNames", "LoadBalancerName", "abcde", batch=2)
    assert tags == {"a": {"k": ""}, "c": {}, "d": {}}
    stub.assert_no_pending_responses()

DESCRIPTION = {
    "LoadBalancerName": "stubbed",
    "ListenerDescriptions": [
        {"Listener": {"Protocol": "HTTPS", "LoadBalancerPort": 443, "InstancePort": 80,
                      "SSLCertificateId": "arn:aws:acm:eu-west-1:123456789012:certificate/x"},
         "PolicyNames": ["tls"]}
    ],
    "Scheme": "internet-facing",
}


def _stubbed_ctx(monkeypatch) -> tuple[SliceContext, Stubber]:
    ctx = make_ctx()
    client = boto3.client("elb", region_name=REGION)
    stub = Stubber(client)
    monkeypatch.setattr(ctx, "client", lambda service, region=None: client)
    monkeypatch.setattr(elb, "LB_WORKERS", 1)  # the stub answers in order
    return ctx, stub


def _listed(stub: Stubber, *descriptions) -> None:
    stub.add_response("describe_load_balancers", {"LoadBalancerDescriptions": list(descriptions)})
    stub.add_response("describe_tags", {"TagDescriptions": [
        {"LoadBalancerName": d["LoadBalancerName"]} for d in descriptions
    ]})


@pytest.mark.parametrize(
    "operation", ["describe_load_balancer_attributes", "describe_load_balancer_policies"]
)
def test_deleted_between_tags_and_describe_is_skipped(monkeypatch, operation):
    ctx, stub = _stubbed_ctx(monkeypatch)
    _listed(stub, DESCRIPTION)
    if operation == "describe_load_balancer_policies":
        stub.add_response("describe_load_balancer_attributes", {"LoadBalancerAttributes": {}})
    stub.add_client_error(operation, service_error_code="LoadBalancerNotFound", http_status_code=400)
    with stub:
        assert elb.list_load_balancers(ctx) == []
    stub.assert_no_pending_responses()


def test_policy_deleted_while_reading_fails_the_slice(monkeypatch):
    ctx, stub = _stubbed_ctx(monkeypatch)
    _listed(stub, DESCRIPTION)
    stub.add_response("describe_load_balancer_attributes", {"LoadBalancerAttributes": {}})
    stub.add_client_error("describe_load_balancer_policies", service_error_code="PolicyNotFound",
                          http_status_code=400)
    with stub, pytest.raises(elb.LoadBalancerChangedError, match="'stubbed'"):
        elb.list_load_balancers(ctx)


@pytest.mark.parametrize(
    ("operation", "code"),
    [
        ("describe_load_balancers", "AccessDenied"),
        ("describe_tags", "Throttling"),
        ("describe_load_balancer_attributes", "AccessDenied"),
        ("describe_load_balancer_policies", "Throttling"),
    ],
)
def test_failures_raise_instead_of_returning_a_partial_list(monkeypatch, operation, code):
    ctx, stub = _stubbed_ctx(monkeypatch)
    order = ["describe_load_balancers", "describe_tags", "describe_load_balancer_attributes",
             "describe_load_balancer_policies"]
    answers = {
        "describe_load_balancers": {"LoadBalancerDescriptions": [DESCRIPTION]},
        "describe_tags": {"TagDescriptions": [{"LoadBalancerName": "stubbed"}]},
        "describe_load_balancer_attributes": {"LoadBalancerAttributes": {}},
    }
    for name in order[: order.index(operation)]:
        stub.add_response(name, answers[name])
    stub.add_client_error(operation, service_error_code=code, http_status_code=400)
    with stub, pytest.raises(ClientError) as info:
        elb.list_load_balancers(ctx)
    assert info.value.response["Error"]["Code"] == code


def test_listing_follows_every_page(monkeypatch):
    ctx, stub = _stubbed_ctx(monkeypatch)
    second = {**DESCRIPTION, "LoadBalancerName": "second", "ListenerDescriptions": []}
    stub.add_response("describe_load_balancers", {"LoadBalancerDescriptions": [second], "NextMarker": "m1"})
    stub.add_response("describe_load_balancers", {"LoadBalancerDescriptions": []}, {"Marker": "m1"})
    stub.add_response("describe_tags", {"TagDescriptions": [
        {"LoadBalancerName": "second", "Tags": [{"Key": "k", "Value": "v"}]}
    ]})
    stub.add_response("describe_load_balancer_attributes", {"LoadBalancerAttributes": {}})
    with stub:
        (item,) = elb.list_load_balancers(ctx)
    assert (item.id, item.configuration["Tags"]) == ("second", {"k": "v"})


def test_audit_rules_read_the_watchers_output(aws):
    _shop(aws)
    _create(aws, "quiet", Scheme="internal")
    rules = RuleSet.load({}, base_dir=Path.cwd())
    ctx = AuditContext(ACCOUNT, "test", {}, (), datetime.datetime(2024, 6, 1, tzinfo=datetime.UTC))
    found: dict[str, set[tuple[str, str]]] = {}
    for item in elb.list_load_balancers(make_ctx()):
        document = json.loads(normalize_item(item, TECH, account_id=ACCOUNT, secret_key=b"k").content)
        found[item.id] = {(f.rule_id, f.key) for f in rules.evaluate(document, None, ctx)}

    assert found["shop"] == {
        ("elb.load_balancer.internet-facing", "scheme"),
        ("elb.load_balancer.tls-policy-weak", "443:tls-ref:ELBSecurityPolicy-TLS-1-0-2015-04"),
        ("elb.load_balancer.tls-1-0-allowed", "443:tls-ref:ELBSecurityPolicy-TLS-1-0-2015-04"),
        # FSBP: ELB.8 (not TLS-1-2-2017-01), ELB.3 (the HTTP listener), ELB.10 (one zone), ELB.9
        ("elb.load_balancer.tls-policy-not-recommended", "443"),
        ("elb.load_balancer.listener-not-encrypted", "80"),
        ("elb.load_balancer.single-az", "single-az"),
        ("elb.load_balancer.cross-zone-disabled", "cross-zone"),
    }
    assert found["quiet"] == {
        ("elb.load_balancer.access-logs-disabled", "access-logs"),
        ("elb.load_balancer.listener-not-encrypted", "80"),
        ("elb.load_balancer.single-az", "single-az"),
        ("elb.load_balancer.cross-zone-disabled", "cross-zone"),
        ("elb.load_balancer.connection-draining-disabled", "connection-draining"),
    }


def test_technology_metadata():
    assert TECH.name == "elb.load_balancer"
    assert not TECH.is_global
    assert TECH.ephemeral_paths == ("InstanceCount",)
    assert {"Listeners", "Listeners.*.Policies", "SecurityGroups", "Subnets"} <= set(TECH.unordered_paths)
    assert set(TECH.iam_actions) == {
        "elasticloadbalancing:DescribeLoadBalancers",
        "elasticloadbalancing:DescribeLoadBalancerAttributes",
        "elasticloadbalancing:DescribeLoadBalancerPolicies",
        "elasticloadbalancing:DescribeTags",
    }
