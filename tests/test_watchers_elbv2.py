"""ELBv2 watcher against moto and stubs: listeners, attributes, target groups, tags in batches,
ephemeral state, the hashed OIDC client secret, races, failures, API calls, the audit rules."""

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
from gitmonkey.watchers import elb, elbv2
from tests.helpers import slice_context

ACCOUNT = "123456789012"
REGION = "eu-west-1"
WEAK = "ELBSecurityPolicy-TLS-1-0-2015-04"
(TECH,) = elbv2.TECHNOLOGIES


def make_ctx(region: str = REGION) -> SliceContext:
    return slice_context(region)


@pytest.fixture
def aws():
    with mock_aws():
        yield boto3.client("elbv2", region_name=REGION)


def _network(region: str = REGION) -> tuple[str, list[str], str]:
    ec2 = boto3.client("ec2", region_name=region)
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{i}.0/24", AvailabilityZone=f"{region}{zone}")[
            "Subnet"
        ]["SubnetId"]
        for i, zone in ((1, "a"), (2, "b"))
    ]
    group = ec2.create_security_group(GroupName="alb", Description="alb", VpcId=vpc)["GroupId"]
    return vpc, subnets, group


def _shop(client) -> dict[str, str]:
    vpc, subnets, group = _network()
    lb = client.create_load_balancer(
        Name="shop",
        Subnets=subnets,
        SecurityGroups=[group],
        Scheme="internet-facing",
        Tags=[{"Key": "team", "Value": "shop"}],
    )["LoadBalancers"][0]
    arn = lb["LoadBalancerArn"]
    cert = boto3.client("acm", region_name=REGION).request_certificate(DomainName="shop.example.com")[
        "CertificateArn"
    ]
    group_arn = client.create_target_group(
        Name="web", Protocol="HTTP", Port=8080, VpcId=vpc, HealthCheckPath="/health"
    )["TargetGroups"][0]["TargetGroupArn"]
    client.create_target_group(Name="unused", Protocol="HTTP", Port=9090, VpcId=vpc)
    client.create_listener(
        LoadBalancerArn=arn,
        Protocol="HTTPS",
        Port=443,
        SslPolicy=WEAK,
        Certificates=[{"CertificateArn": cert}],
        DefaultActions=[{"Type": "forward", "TargetGroupArn": group_arn}],
    )
    client.create_listener(
        LoadBalancerArn=arn,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[
            {
                "Type": "redirect",
                "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"},
            }
        ],
    )
    client.modify_load_balancer_attributes(
        LoadBalancerArn=arn, Attributes=[{"Key": "deletion_protection.enabled", "Value": "true"}]
    )
    return {"arn": arn, "cert": cert, "group": group, "vpc": vpc, "target_group": group_arn}


def test_load_balancer_configuration(aws):
    shop = _shop(aws)
    ctx = make_ctx()

    (item,) = elbv2.list_load_balancers(ctx)

    assert (item.technology, item.region, item.id, item.name) == (
        "elbv2.load_balancer",
        REGION,
        "shop",
        "shop",
    )
    assert item.arn == shop["arn"]
    config = item.configuration
    assert (config["Type"], config["Scheme"], config["VpcId"]) == (
        "application",
        "internet-facing",
        shop["vpc"],
    )
    assert config["SecurityGroups"] == [shop["group"]]
    assert config["Tags"] == {"team": "shop"}
    assert config["Attributes"]["deletion_protection.enabled"] is True
    assert config["Attributes"]["load_balancing.cross_zone.enabled"] is False
    assert config["Attributes"]["access_logs.s3.bucket"] == ""
    listeners = {listener["Port"]: listener for listener in config["Listeners"]}
    assert listeners[443]["Protocol"] == "HTTPS"
    assert listeners[443]["SslPolicy"] == WEAK
    assert listeners[443]["Certificates"] == [{"CertificateArn": shop["cert"]}]
    assert listeners[443]["DefaultActions"] == [{"Type": "forward", "TargetGroupArn": shop["target_group"]}]
    assert listeners[80]["DefaultActions"][0]["RedirectConfig"]["Protocol"] == "HTTPS"
    assert all("LoadBalancerArn" not in listener for listener in config["Listeners"])
    (group,) = config["TargetGroups"]  # "unused" routes to no load balancer
    assert (group["TargetGroupName"], group["Port"], group["HealthCheckPath"]) == ("web", 8080, "/health")
    assert "LoadBalancerArns" not in group
    assert config["State"] == {"Code": "active"}
    assert {
        "DNSName",
        "CanonicalHostedZoneId",
        "CreatedTime",
        "AvailabilityZones",
        "IpAddressType",
        "LoadBalancerName",
        "LoadBalancerArn",
    } <= set(config)
    assert ctx.calls == {
        "elbv2:DescribeLoadBalancers": 1,
        "elbv2:DescribeTags": 1,
        "elbv2:DescribeTargetGroups": 1,
        "elbv2:DescribeListeners": 1,
        "elbv2:DescribeLoadBalancerAttributes": 1,
    }


def test_no_load_balancer_costs_one_call(aws):
    ctx = make_ctx()
    assert elbv2.list_load_balancers(ctx) == []
    assert ctx.calls == {"elbv2:DescribeLoadBalancers": 1}


def test_tags_are_read_twenty_load_balancers_a_call(aws):
    _, subnets, _ = _network()
    names = [f"lb-{i:02d}" for i in range(22)]
    for name in names:
        aws.create_load_balancer(Name=name, Subnets=subnets, Tags=[{"Key": "name", "Value": name}])
    ctx = make_ctx()
    batches: list[list[str]] = []
    ctx.client("elbv2").meta.events.register(
        "provide-client-params.*.DescribeTags", lambda params, **_: batches.append(params["ResourceArns"])
    )

    items = elbv2.list_load_balancers(ctx)

    assert sorted(item.id for item in items) == names
    assert all(item.configuration["Tags"] == {"name": item.id} for item in items)
    assert [len(batch) for batch in batches] == [20, 2]
    assert ctx.calls["elbv2:DescribeListeners"] == ctx.calls["elbv2:DescribeLoadBalancerAttributes"] == 22


def test_state_is_ephemeral_and_the_oidc_client_secret_is_hashed(aws):
    _, subnets, _ = _network()
    arn = aws.create_load_balancer(Name="sso", Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
    cert = boto3.client("acm", region_name=REGION).request_certificate(DomainName="sso.example.com")[
        "CertificateArn"
    ]
    oidc = {
        "Issuer": "https://idp.example.com",
        "AuthorizationEndpoint": "https://idp.example.com/auth",
        "TokenEndpoint": "https://idp.example.com/token",
        "UserInfoEndpoint": "https://idp.example.com/me",
        "ClientId": "gitmonkey",
        "ClientSecret": "hunter2-oidc-secret",
    }
    aws.create_listener(
        LoadBalancerArn=arn,
        Protocol="HTTPS",
        Port=443,
        Certificates=[{"CertificateArn": cert}],
        DefaultActions=[
            {"Type": "authenticate-oidc", "Order": 1, "AuthenticateOidcConfig": oidc},
            {"Type": "fixed-response", "Order": 2, "FixedResponseConfig": {"StatusCode": "204"}},
        ],
    )

    (item,) = elbv2.list_load_balancers(make_ctx())
    normalized = normalize_item(item, TECH, account_id=ACCOUNT, secret_key=b"k")

    assert b"hunter2-oidc-secret" not in normalized.content
    (listener,) = normalized.document["configuration"]["Listeners"]
    assert listener["DefaultActions"][0]["AuthenticateOidcConfig"]["ClientSecret"].startswith(
        "<redacted hmac-sha256:"
    )
    assert listener["DefaultActions"][0]["AuthenticateOidcConfig"]["ClientId"] == "gitmonkey"
    assert [action["Type"] for action in listener["DefaultActions"]] == [
        "authenticate-oidc",
        "fixed-response",
    ]
    assert normalized.ephemeral == {"configuration.State": {"Code": "active"}}
    assert "State" not in normalized.document["configuration"]


def test_only_the_slice_region_is_read(aws):
    _, subnets, _ = _network()
    aws.create_load_balancer(Name="here", Subnets=subnets)
    _, east_subnets, _ = _network("us-east-1")
    boto3.client("elbv2", region_name="us-east-1").create_load_balancer(
        Name="elsewhere", Subnets=east_subnets
    )
    assert [item.id for item in elbv2.list_load_balancers(make_ctx())] == ["here"]


def test_deleted_after_its_tags_are_read_is_skipped(aws):
    _, subnets, _ = _network()
    aws.create_load_balancer(Name="keeper", Subnets=subnets)
    doomed = aws.create_load_balancer(Name="doomed", Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
    ctx = make_ctx()
    ctx.client("elbv2").meta.events.register(
        "after-call.*.DescribeTargetGroups", lambda **_: aws.delete_load_balancer(LoadBalancerArn=doomed)
    )

    items = elbv2.list_load_balancers(ctx)

    assert [item.id for item in items] == ["keeper"]


ARN = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:loadbalancer/app/stubbed/50dc6c495c0c9188"
LB = {"LoadBalancerArn": ARN, "LoadBalancerName": "stubbed", "Type": "application", "Scheme": "internal"}


def _stubbed_ctx(monkeypatch) -> tuple[SliceContext, Stubber]:
    ctx = make_ctx()
    client = boto3.client("elbv2", region_name=REGION)
    stub = Stubber(client)
    monkeypatch.setattr(ctx, "client", lambda service, region=None: client)
    monkeypatch.setattr(elbv2, "LB_WORKERS", 1)  # the stub answers in order
    return ctx, stub


def test_deleted_before_its_tags_are_read_is_skipped(monkeypatch):
    """AWS fails the whole DescribeTags batch; each load balancer of it is then asked alone."""
    ctx, stub = _stubbed_ctx(monkeypatch)
    gone = ARN.replace("stubbed", "gone")
    stub.add_response(
        "describe_load_balancers",
        {"LoadBalancers": [LB, {**LB, "LoadBalancerArn": gone, "LoadBalancerName": "gone"}]},
    )
    stub.add_client_error(
        "describe_tags",
        service_error_code="LoadBalancerNotFound",
        http_status_code=400,
        expected_params={"ResourceArns": [ARN, gone]},
    )
    stub.add_response(
        "describe_tags",
        {"TagDescriptions": [{"ResourceArn": ARN, "Tags": [{"Key": "k", "Value": "v"}]}]},
        {"ResourceArns": [ARN]},
    )
    stub.add_client_error(
        "describe_tags",
        service_error_code="LoadBalancerNotFound",
        http_status_code=400,
        expected_params={"ResourceArns": [gone]},
    )
    stub.add_response("describe_target_groups", {"TargetGroups": []})
    stub.add_response("describe_listeners", {"Listeners": []}, {"LoadBalancerArn": ARN})
    stub.add_response("describe_load_balancer_attributes", {"Attributes": []}, {"LoadBalancerArn": ARN})
    with stub:
        (item,) = elbv2.list_load_balancers(ctx)
    assert (item.id, item.configuration["Tags"]) == ("stubbed", {"k": "v"})
    stub.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("operation", "code"),
    [
        ("describe_load_balancers", "AccessDenied"),
        ("describe_tags", "Throttling"),
        ("describe_target_groups", "AccessDenied"),
        ("describe_listeners", "Throttling"),
        ("describe_load_balancer_attributes", "AccessDenied"),
    ],
)
def test_failures_raise_instead_of_returning_a_partial_list(monkeypatch, operation, code):
    ctx, stub = _stubbed_ctx(monkeypatch)
    answers = {
        "describe_load_balancers": {"LoadBalancers": [LB]},
        "describe_tags": {"TagDescriptions": [{"ResourceArn": ARN}]},
        "describe_target_groups": {"TargetGroups": []},
        "describe_listeners": {"Listeners": []},
    }
    order = [*answers, "describe_load_balancer_attributes"]
    for name in order[: order.index(operation)]:
        stub.add_response(name, answers[name])
    stub.add_client_error(operation, service_error_code=code, http_status_code=400)
    with stub, pytest.raises(ClientError) as info:
        elbv2.list_load_balancers(ctx)
    assert info.value.response["Error"]["Code"] == code


def test_listeners_are_read_on_every_page(monkeypatch):
    ctx, stub = _stubbed_ctx(monkeypatch)
    stub.add_response("describe_load_balancers", {"LoadBalancers": [LB]})
    stub.add_response("describe_tags", {"TagDescriptions": []})
    stub.add_response("describe_target_groups", {"TargetGroups": []})
    listener = {
        "ListenerArn": f"{ARN}/l1".replace(":loadbalancer/", ":listener/"),
        "Port": 80,
        "Protocol": "HTTP",
    }
    stub.add_response(
        "describe_listeners", {"Listeners": [listener], "NextMarker": "m1"}, {"LoadBalancerArn": ARN}
    )
    stub.add_response(
        "describe_listeners",
        {"Listeners": [{**listener, "Port": 81}]},
        {"LoadBalancerArn": ARN, "Marker": "m1"},
    )
    stub.add_response(
        "describe_load_balancer_attributes",
        {"Attributes": [{"Key": "idle_timeout.timeout_seconds", "Value": "60"}]},
    )
    with stub:
        (item,) = elbv2.list_load_balancers(ctx)
    assert [listener["Port"] for listener in item.configuration["Listeners"]] == [80, 81]
    assert item.configuration["Attributes"] == {"idle_timeout.timeout_seconds": "60"}
    assert item.configuration["Tags"] == {}


def test_audit_rules_read_the_watchers_output(aws):
    _shop(aws)
    (item,) = elbv2.list_load_balancers(make_ctx())
    document = json.loads(normalize_item(item, TECH, account_id=ACCOUNT, secret_key=b"k").content)
    rules = RuleSet.load({}, base_dir=Path.cwd())
    ctx = AuditContext(ACCOUNT, "test", {}, (), datetime.datetime(2024, 6, 1, tzinfo=datetime.UTC))

    found = {(f.rule_id, f.key) for f in rules.evaluate(document, None, ctx)}

    # moto reports no access_logs.s3.enabled: absent counts as disabled; HTTP:80 carries moto's
    # default SslPolicy but is not a TLS listener.
    assert found == {
        ("elbv2.load_balancer.internet-facing", "scheme"),
        ("elbv2.load_balancer.access-logs-disabled", "access-logs"),
        ("elbv2.load_balancer.tls-policy-weak", f"443:{WEAK}"),
        ("elbv2.load_balancer.tls-1-0-allowed", f"443:{WEAK}"),
        # FSBP ELB.4: moto reports routing.http.drop_invalid_header_fields.enabled false (AWS's default)
        ("elbv2.load_balancer.invalid-headers-not-dropped", "drop-invalid-headers"),
    }


def test_technology_metadata():
    assert TECH.name == "elbv2.load_balancer"
    assert not TECH.is_global
    assert TECH.ephemeral_paths == ("State",)
    assert TECH.secret_paths == ("Listeners.*.DefaultActions.*.AuthenticateOidcConfig.ClientSecret",)
    assert {"Listeners", "SecurityGroups", "TargetGroups"} <= set(TECH.unordered_paths)
    assert elbv2.LB_WORKERS == elb.LB_WORKERS
    assert set(TECH.iam_actions) == {
        "elasticloadbalancing:DescribeLoadBalancers",
        "elasticloadbalancing:DescribeListeners",
        "elasticloadbalancing:DescribeLoadBalancerAttributes",
        "elasticloadbalancing:DescribeTags",
        "elasticloadbalancing:DescribeTargetGroups",
    }
