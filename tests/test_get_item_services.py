"""``get_item`` of the RDS, ELB, ELBv2, Redshift, OpenSearch, CloudWatch, Logs, ACM, Glacier,
CloudTrail, Config, SES and Route 53 Domains technologies, against moto (and botocore Stubber for
what moto cannot make).

For each technology: several items, with tags and policies, read one by one give what the listing
gives (``assert_get_item_matches_listing``), at a bounded number of calls; an id that does not exist,
or an item deleted in moto, reads as None; AccessDenied or throttling on any call the getter makes
raises (a failed read must never read as a deletion). Then the awkward cases one by one: an
identifier AWS folds to lower case, names that are prefixes of others, a composite alarm, a trail
homed in another region, an organization trail of another account, a domain that GetDomainDetail
does not know while it is still listed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from gitmonkey.model import Item
from gitmonkey.read.aws import SliceContext
from gitmonkey.watchers import cloudtrail, get_technology, rds, redshift, route53domains
from tests.helpers import ACCOUNT_ID, assert_get_item_matches_listing, inject, slice_context
from tests.test_watchers_glacier import VaultParts

REGION = "us-east-1"
OTHER_ACCOUNT = "210987654321"
PASSWORD = "not-a-real-password"
BUCKET = "trail-logs"

# --- seeds: several items of each technology, in moto -------------------------------------------


@dataclass
class Env:
    """What a seed may need beyond moto: the test's monkeypatch and a stack for stand-ins."""

    monkeypatch: pytest.MonkeyPatch
    stack: ExitStack


def _network(prefix: str = "10.0") -> tuple[str, list[str], list[str]]:
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock=f"{prefix}.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"{prefix}.{n}.0/24", AvailabilityZone=f"{REGION}{zone}")[
            "Subnet"
        ]["SubnetId"]
        for n, zone in ((1, "a"), (2, "b"))
    ]
    groups = sorted(
        ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc)["GroupId"]
        for name in ("db", "admin")
    )
    return vpc, subnets, groups


def seed_rds(env: Env) -> None:
    client = boto3.client("rds", region_name=REGION)
    _, subnets, groups = _network()
    for name in ("db-private", "db-spare"):
        client.create_db_subnet_group(
            DBSubnetGroupName=name, DBSubnetGroupDescription=name, SubnetIds=subnets,
            Tags=[{"Key": "team", "Value": "data"}],
        )
    client.create_db_instance(
        DBInstanceIdentifier="app-db", DBInstanceClass="db.t3.micro", Engine="postgres",
        MasterUsername="app", MasterUserPassword=PASSWORD, AllocatedStorage=20, PubliclyAccessible=True,
        DBSubnetGroupName="db-private", VpcSecurityGroupIds=list(reversed(groups)),
        Tags=[{"Key": "team", "Value": "app"}, {"Key": "env", "Value": "prod"}],
    )
    client.create_db_instance(
        DBInstanceIdentifier="billing", DBInstanceClass="db.t3.small", Engine="mysql",
        MasterUsername="app", MasterUserPassword=PASSWORD, AllocatedStorage=20,
    )
    client.create_db_instance(
        DBInstanceIdentifier="reports", DBInstanceClass="db.t3.micro", Engine="mysql",
        MasterUsername="r", MasterUserPassword=PASSWORD, AllocatedStorage=20,
    )
    for ident, tags in (("orders", [{"Key": "team", "Value": "orders"}]), ("ledger", [])):
        client.create_db_cluster(
            DBClusterIdentifier=ident, Engine="aurora-postgresql", MasterUsername="o",
            MasterUserPassword=PASSWORD, Tags=tags,
        )
    client.create_db_snapshot(DBSnapshotIdentifier="app-db-snap", DBInstanceIdentifier="app-db",
                              Tags=[{"Key": "kind", "Value": "monthly"}])
    client.create_db_snapshot(DBSnapshotIdentifier="reports-snap", DBInstanceIdentifier="reports")
    client.modify_db_snapshot_attribute(
        DBSnapshotIdentifier="app-db-snap", AttributeName="restore", ValuesToAdd=[OTHER_ACCOUNT, "all"]
    )
    client.create_db_cluster_snapshot(DBClusterSnapshotIdentifier="orders-snap", DBClusterIdentifier="orders")
    client.create_db_cluster_snapshot(DBClusterSnapshotIdentifier="ledger-snap", DBClusterIdentifier="ledger")
    client.modify_db_cluster_snapshot_attribute(
        DBClusterSnapshotIdentifier="orders-snap", AttributeName="restore", ValuesToAdd=[OTHER_ACCOUNT]
    )
    # moto answers LatestRestorableTime with the time of the call (ephemeral, as AWS's moves too): a
    # fixed clock lets two reads compare their ephemeral values.
    env.monkeypatch.setattr("moto.rds.models.utcnow", lambda: datetime(2030, 1, 1, tzinfo=UTC))


def seed_elb(env: Env) -> None:
    client = boto3.client("elb", region_name=REGION)
    cert = boto3.client("acm", region_name=REGION).request_certificate(DomainName="shop.example.com")[
        "CertificateArn"
    ]
    http = {"Protocol": "HTTP", "LoadBalancerPort": 80, "InstanceProtocol": "HTTP", "InstancePort": 8080}
    https = {"Protocol": "HTTPS", "LoadBalancerPort": 443, "InstanceProtocol": "HTTP", "InstancePort": 8080,
             "SSLCertificateId": cert}
    client.create_load_balancer(LoadBalancerName="shop", Listeners=[https, http],
                                AvailabilityZones=[f"{REGION}a"],
                                Tags=[{"Key": "team", "Value": "shop"}])
    client.create_load_balancer_policy(
        LoadBalancerName="shop", PolicyName="tls", PolicyTypeName="SSLNegotiationPolicyType",
        PolicyAttributes=[{"AttributeName": "Reference-Security-Policy",
                           "AttributeValue": "ELBSecurityPolicy-2016-08"}],
    )
    client.set_load_balancer_policies_of_listener(LoadBalancerName="shop", LoadBalancerPort=443,
                                                  PolicyNames=["tls"])
    client.create_load_balancer(LoadBalancerName="shop-internal", Listeners=[http],
                                AvailabilityZones=[f"{REGION}b"], Scheme="internal")
    client.modify_load_balancer_attributes(
        LoadBalancerName="shop-internal",
        LoadBalancerAttributes={"ConnectionDraining": {"Enabled": True, "Timeout": 30}},
    )


def seed_elbv2(env: Env) -> None:
    client = boto3.client("elbv2", region_name=REGION)
    vpc, subnets, groups = _network("10.9")
    for name, port in (("shop", 8080), ("admin", 9090)):
        arn = client.create_load_balancer(
            Name=name, Subnets=subnets, SecurityGroups=groups[:1], Scheme="internet-facing",
            Tags=[{"Key": "team", "Value": name}],
        )["LoadBalancers"][0]["LoadBalancerArn"]
        target = client.create_target_group(
            Name=f"{name}-web", Protocol="HTTP", Port=port, VpcId=vpc, HealthCheckPath=f"/{name}"
        )["TargetGroups"][0]["TargetGroupArn"]
        client.create_listener(LoadBalancerArn=arn, Protocol="HTTP", Port=80,
                               DefaultActions=[{"Type": "forward", "TargetGroupArn": target}])
    client.create_target_group(Name="unused", Protocol="HTTP", Port=7070, VpcId=vpc)
    client.create_load_balancer(Name="bare", Subnets=subnets, Scheme="internal")


def seed_redshift(env: Env) -> None:
    client = boto3.client("redshift", region_name=REGION)
    for ident, tags in (("warehouse", [{"Key": "team", "Value": "bi"}]), ("warehouse-dev", [])):
        client.create_cluster(
            ClusterIdentifier=ident, NodeType="ra3.xlplus", ClusterType="single-node",
            MasterUsername="dwadmin", MasterUserPassword="Passw0rd-not-real", Tags=tags,
        )


def _domain_policy(domain: str) -> str:
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{OTHER_ACCOUNT}:root"},
            "Action": "es:*",
            "Resource": f"arn:aws:es:{REGION}:{ACCOUNT_ID}:domain/{domain}/*",
        }],
    })


def seed_opensearch(env: Env) -> None:
    client = boto3.client("opensearch", region_name=REGION)
    client.create_domain(DomainName="logs", EngineVersion="OpenSearch_2.11",
                         AccessPolicies=_domain_policy("logs"),
                         TagList=[{"Key": "team", "Value": "observability"}])
    client.create_domain(DomainName="logs-archive", AccessPolicies=_domain_policy("logs-archive"))
    client.create_domain(DomainName="bare")


def seed_cloudwatch(env: Env) -> None:
    client = boto3.client("cloudwatch", region_name=REGION)
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:alerts"
    for name, threshold in (("cpu", 80.0), ("cpu-high", 95.0), ("disk", 90.0)):
        client.put_metric_alarm(
            AlarmName=name, MetricName="CPUUtilization", Namespace="AWS/EC2", Statistic="Average",
            Period=300, EvaluationPeriods=1, Threshold=threshold, ComparisonOperator="GreaterThanThreshold",
            Dimensions=[{"Name": "InstanceId", "Value": "i-1"}, {"Name": "AutoScalingGroupName",
                                                                  "Value": "a"}],
            AlarmActions=[topic, f"{topic}-2"], Tags=[{"Key": "team", "Value": "ops"}],
        )


def seed_logs(env: Env) -> None:
    client = boto3.client("logs", region_name=REGION)
    for group in ("/aws/cloudtrail", "/aws/app"):
        client.create_log_group(logGroupName=group)
    for group, name, pattern in (
        ("/aws/cloudtrail", "root-usage", '{ $.userIdentity.type = "Root" }'),
        ("/aws/cloudtrail", "root-usage-console", '{ $.eventName = "ConsoleLogin" }'),
        ("/aws/app", "root-usage", "ERROR"),
    ):
        client.put_metric_filter(
            logGroupName=group, filterName=name, filterPattern=pattern,
            metricTransformations=[{"metricName": name, "metricNamespace": "CIS", "metricValue": "1"}],
        )


def seed_acm(env: Env) -> None:
    client = boto3.client("acm", region_name=REGION)
    client.request_certificate(DomainName="shop.example.com", SubjectAlternativeNames=["www.example.com"],
                               Tags=[{"Key": "team", "Value": "shop"}])
    client.request_certificate(DomainName="admin.example.com")


def seed_glacier(env: Env) -> None:
    parts = VaultParts()
    env.stack.enter_context(inject(env.monkeypatch, "before-call.glacier", parts.answer))
    client = boto3.client("glacier", region_name=REGION)
    for name in ("archive", "archive-2", "plain"):
        client.create_vault(vaultName=name)
    for name in ("archive", "archive-2"):
        parts.policy[name] = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OTHER_ACCOUNT}:root"},
                           "Action": "glacier:*",
                           "Resource": f"arn:aws:glacier:{REGION}:{ACCOUNT_ID}:vaults/{name}"}],
        }
        parts.tags[name] = {"Name": name, "retention": "7y"}
    parts.lock["archive"] = {
        "Policy": json.dumps(parts.policy["archive"]), "State": "Locked",
        "CreationDate": "2024-01-01T00:00:00.000Z",
    }


def seed_cloudtrail(env: Env) -> None:
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
    client = boto3.client("cloudtrail", region_name=REGION)
    client.create_trail(Name="main", S3BucketName=BUCKET, IsMultiRegionTrail=True,
                        EnableLogFileValidation=True, TagsList=[{"Key": "owner", "Value": "security"}])
    client.start_logging(Name="main")
    client.put_event_selectors(
        TrailName="main",
        EventSelectors=[{
            "ReadWriteType": "WriteOnly",
            "IncludeManagementEvents": True,
            "DataResources": [{"Type": "AWS::S3::Object", "Values": [f"arn:aws:s3:::{BUCKET}/"]}],
        }],
    )
    client.create_trail(Name="main-data", S3BucketName=BUCKET, S3KeyPrefix="data")
    client.put_insight_selectors(TrailName="main-data",
                                 InsightSelectors=[{"InsightType": "ApiCallRateInsight"}])
    client.create_trail(Name="quiet", S3BucketName=BUCKET)
    # moto stamps a logging trail's delivery times (ephemeral) with the time of each call.
    env.monkeypatch.setattr("moto.cloudtrail.models.utcnow", lambda: datetime(2030, 1, 1, tzinfo=UTC))


def seed_config(env: Env) -> None:
    client = boto3.client("config", region_name=REGION)
    for name, identifier, parameters in (
        ("keys-rotated", "ACCESS_KEYS_ROTATED", {"maxAccessKeyAge": "90"}),
        ("keys-rotated-strict", "ACCESS_KEYS_ROTATED", {"maxAccessKeyAge": "30"}),
        ("password-policy", "IAM_PASSWORD_POLICY", None),
    ):
        rule: dict[str, Any] = {
            "ConfigRuleName": name,
            "Scope": {"ComplianceResourceTypes": ["AWS::IAM::User"]},
            "Source": {"Owner": "AWS", "SourceIdentifier": identifier},
        }
        if parameters:
            rule["InputParameters"] = json.dumps(parameters)
        client.put_config_rule(ConfigRule=rule)


def seed_ses(env: Env) -> None:
    client = boto3.client("sesv2", region_name=REGION)
    client.create_email_identity(EmailIdentity="example.com", Tags=[{"Key": "team", "Value": "mail"}])
    client.create_email_identity_policy(
        EmailIdentity="example.com", PolicyName="partner-sends",
        Policy=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Sid": "PartnerSends", "Effect": "Allow",
                           "Principal": {"AWS": f"arn:aws:iam::{OTHER_ACCOUNT}:root"},
                           "Action": ["ses:SendEmail", "ses:SendRawEmail"],
                           "Resource": f"arn:aws:ses:{REGION}:{ACCOUNT_ID}:identity/example.com"}],
        }),
    )
    client.create_email_identity(EmailIdentity="alerts@example.com")
    client.create_email_identity(EmailIdentity="example.org")


_CONTACT = {
    "FirstName": "Ada", "LastName": "Lovelace", "ContactType": "PERSON", "AddressLine1": "12 Square",
    "City": "London", "CountryCode": "GB", "ZipCode": "SW1Y 4JH", "PhoneNumber": "+44.2071234567",
    "Email": "ada@example.net",
}


def seed_route53domains(env: Env) -> None:
    client = boto3.client("route53domains", region_name=REGION)
    for name, auto_renew in (("example.com", True), ("example.net", False), ("example.network", True)):
        client.register_domain(
            DomainName=name, DurationInYears=2, AutoRenew=auto_renew, AdminContact=_CONTACT,
            RegistrantContact=_CONTACT, TechContact=_CONTACT, PrivacyProtectAdminContact=True,
            PrivacyProtectRegistrantContact=False, PrivacyProtectTechContact=True,
        )


# --- one case per technology --------------------------------------------------------------------


def _rds() -> Any:
    return boto3.client("rds", region_name=REGION)


@dataclass(frozen=True)
class Case:
    technology: str
    seed: Callable[[Env], None]
    missing: str
    max_calls: int
    delete: Callable[[], str]
    """Deletes one seeded item in moto; returns its id."""
    region: str = REGION

    def __str__(self) -> str:
        return self.technology


def _deleted(ident: str, call: Callable[..., Any], **params: Any) -> str:
    call(**params)
    return ident


def _delete_elbv2(name: str) -> str:
    client = boto3.client("elbv2", region_name=REGION)
    arn = client.describe_load_balancers(Names=[name])["LoadBalancers"][0]["LoadBalancerArn"]
    client.delete_load_balancer(LoadBalancerArn=arn)
    return name


def _delete_certificate() -> str:
    client = boto3.client("acm", region_name=REGION)
    summaries = client.list_certificates()["CertificateSummaryList"]
    arn = next(s["CertificateArn"] for s in summaries if s["DomainName"] == "admin.example.com")
    client.delete_certificate(CertificateArn=arn)
    return arn.rsplit("/", 1)[-1]


CASES = [
    Case("rds.db_instance", seed_rds, "no-such-db", 1,
         lambda: _deleted("reports", _rds().delete_db_instance, DBInstanceIdentifier="reports",
                          SkipFinalSnapshot=True)),
    Case("rds.db_cluster", seed_rds, "no-such-cluster", 1,
         lambda: _deleted("ledger", _rds().delete_db_cluster, DBClusterIdentifier="ledger",
                          SkipFinalSnapshot=True)),
    Case("rds.db_snapshot", seed_rds, "no-such-snapshot", 2,
         lambda: _deleted("reports-snap", _rds().delete_db_snapshot, DBSnapshotIdentifier="reports-snap")),
    Case("rds.db_cluster_snapshot", seed_rds, "no-such-cluster-snapshot", 2,
         lambda: _deleted("ledger-snap", _rds().delete_db_cluster_snapshot,
                          DBClusterSnapshotIdentifier="ledger-snap")),
    Case("rds.db_subnet_group", seed_rds, "no-such-group", 1,
         lambda: _deleted("db-spare", _rds().delete_db_subnet_group, DBSubnetGroupName="db-spare")),
    Case("elb.load_balancer", seed_elb, "no-such-lb", 4,
         lambda: _deleted("shop-internal", boto3.client("elb", region_name=REGION).delete_load_balancer,
                          LoadBalancerName="shop-internal")),
    Case("elbv2.load_balancer", seed_elbv2, "no-such-lb", 5, lambda: _delete_elbv2("admin")),
    Case("redshift.cluster", seed_redshift, "no-such-cluster", 1,
         lambda: _deleted("warehouse-dev", boto3.client("redshift", region_name=REGION).delete_cluster,
                          ClusterIdentifier="warehouse-dev", SkipFinalClusterSnapshot=True)),
    Case("opensearch.domain", seed_opensearch, "no-such-domain", 2,
         lambda: _deleted("logs-archive", boto3.client("opensearch", region_name=REGION).delete_domain,
                          DomainName="logs-archive")),
    Case("cloudwatch.alarm", seed_cloudwatch, "no-such-alarm", 1,
         lambda: _deleted("cpu-high", boto3.client("cloudwatch", region_name=REGION).delete_alarms,
                          AlarmNames=["cpu-high"])),
    Case("logs.metric_filter", seed_logs, "/aws/cloudtrail:no-such-filter", 1,
         lambda: _deleted("/aws/cloudtrail:root-usage",
                          boto3.client("logs", region_name=REGION).delete_metric_filter,
                          logGroupName="/aws/cloudtrail", filterName="root-usage")),
    Case("acm.certificate", seed_acm, "00000000-0000-4000-8000-000000000000", 2, _delete_certificate),
    Case("glacier.vault", seed_glacier, "no-such-vault", 4,
         lambda: _deleted("archive-2", boto3.client("glacier", region_name=REGION).delete_vault,
                          vaultName="archive-2")),
    Case("cloudtrail.trail", seed_cloudtrail, "no-such-trail", 5,
         lambda: _deleted("main-data", boto3.client("cloudtrail", region_name=REGION).delete_trail,
                          Name="main-data")),
    Case("config.rule", seed_config, "no-such-rule", 1,
         lambda: _deleted("keys-rotated", boto3.client("config", region_name=REGION).delete_config_rule,
                          ConfigRuleName="keys-rotated")),
    Case("ses.identity", seed_ses, "nobody@example.net", 2,
         lambda: _deleted("example.com", boto3.client("sesv2", region_name=REGION).delete_email_identity,
                          EmailIdentity="example.com")),
    Case("route53domains.domain", seed_route53domains, "no-such-domain.com", 2,
         lambda: _deleted("example.com",
                          boto3.client("route53domains", region_name=REGION).delete_domain,
                          DomainName="example.com"),
         region="global"),
]


@pytest.fixture
def env(monkeypatch) -> Iterator[Env]:
    with mock_aws(), ExitStack() as stack:
        yield Env(monkeypatch, stack)


def _listed(case: Case) -> list[Item]:
    return list(get_technology(case.technology).list_items(slice_context(case.region)))


@pytest.mark.parametrize("case", CASES, ids=str)
def test_every_listed_item_reads_alike_and_a_missing_one_reads_none(env, case):
    case.seed(env)

    calls = assert_get_item_matches_listing(case.technology, case.region, missing=case.missing)

    assert len(calls) >= 2, "the seed should make several items, so that a wrong item would show"
    assert max(calls) <= case.max_calls, calls


@pytest.mark.parametrize("case", CASES, ids=str)
def test_an_item_deleted_reads_none_and_the_others_still_read(env, case):
    case.seed(env)
    tech = get_technology(case.technology)

    deleted = case.delete()

    assert tech.get_item(slice_context(case.region), deleted) is None
    assert deleted not in {item.id for item in _listed(case)}
    assert_get_item_matches_listing(case.technology, case.region, missing=deleted)


def _service_id(service_name: str) -> str:
    return botocore.session.get_session().get_service_model(service_name).service_id.hyphenize()


def _raising(code: str, status: int) -> Callable[..., Any]:
    def handler(model: Any, **_: Any) -> None:
        error: Any = {"Error": {"Code": code, "Message": "injected"},
                      "ResponseMetadata": {"HTTPStatusCode": status}}
        raise ClientError(error, model.name)

    return handler


FAILURES = (("AccessDenied", 403), ("ThrottlingException", 400))


@pytest.mark.parametrize("case", CASES, ids=str)
def test_access_denied_or_throttling_on_any_call_of_the_getter_raises(env, monkeypatch, case):
    """Every call the getter makes for the item that needs the most of them, failing with each of
    ``FAILURES``: the getter raises, never reads None."""
    case.seed(env)
    tech = get_technology(case.technology)
    assert tech.get_item is not None
    made: dict[str, dict[str, int]] = {}
    for item in _listed(case):
        ctx = slice_context(case.region)
        assert tech.get_item(ctx, item.id) is not None
        made[item.id] = dict(ctx.calls)
    ident = max(made, key=lambda key: len(made[key]))
    assert made[ident]

    for call in made[ident]:
        service, operation = call.split(":")
        event = f"before-parameter-build.{_service_id(service)}.{operation}"
        for code, status in FAILURES:
            failing = inject(monkeypatch, event, _raising(code, status))
            with failing as fired, pytest.raises(ClientError) as info:
                tech.get_item(slice_context(case.region), ident)
            assert fired, call
            assert info.value.response["Error"]["Code"] == code, call


# --- the awkward cases --------------------------------------------------------------------------


def test_an_rds_identifier_in_another_case_is_neither_the_item_nor_its_absence(env):
    """RDS answers DescribeDBInstances("App-DB") with app-db: not the item asked for, nor its
    absence (app-db exists), so the getter raises instead of answering either."""
    seed_rds(env)

    with pytest.raises(rds.IdentifierMismatchError, match="app-db"):
        rds.get_db_instance(slice_context(REGION), "App-DB")
    with pytest.raises(rds.IdentifierMismatchError):
        rds.get_db_cluster(slice_context(REGION), "Orders")


def test_a_redshift_identifier_in_another_case_is_not_taken():
    """Redshift stores identifiers in lower case and finds ``Warehouse`` as ``warehouse`` (moto does
    not fold case, so a Stubber answers as AWS does)."""
    ctx = slice_context(REGION)
    stub = Stubber(ctx.client("redshift"))
    stub.add_response("describe_clusters", {"Clusters": [{"ClusterIdentifier": "warehouse"}]},
                      {"ClusterIdentifier": "Warehouse"})

    with stub, pytest.raises(redshift.IdentifierMismatchError, match="warehouse"):
        redshift.get_cluster(ctx, "Warehouse")


def test_an_automated_rds_snapshot_is_not_an_item(env):
    """The listing reads manual snapshots only; the getter asks for the same type, so an automated
    snapshot's id reads as None."""
    seed_rds(env)
    client = _rds()
    automated = client.describe_db_snapshots(SnapshotType="automated")["DBSnapshots"]
    assert automated, "moto snapshots an instance with backups at its creation"
    ident = automated[0]["DBSnapshotIdentifier"]

    assert rds.get_db_snapshot(slice_context(REGION), ident) is None


def test_a_composite_alarm_is_not_a_metric_alarm():
    """moto has no composite alarms: a Stubber answers as AWS would, were the getter to ask for any."""
    ctx = slice_context(REGION)
    stub = Stubber(ctx.client("cloudwatch"))
    composite = {"AlarmName": "composite", "AlarmRule": 'ALARM("cpu")',
                 "AlarmArn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT_ID}:alarm:composite"}
    stub.add_response("describe_alarms", {"MetricAlarms": [], "CompositeAlarms": [composite]},
                      {"AlarmNames": ["composite"], "AlarmTypes": ["MetricAlarm"]})

    with stub:
        assert get_technology("cloudwatch.alarm").get_item(ctx, "composite") is None
    stub.assert_no_pending_responses()


def test_metric_filters_of_the_same_name_in_two_groups_and_prefixes(env):
    seed_logs(env)
    get = get_technology("logs.metric_filter").get_item

    app = get(slice_context(REGION), "/aws/app:root-usage")
    trail = get(slice_context(REGION), "/aws/cloudtrail:root-usage")

    assert app is not None and trail is not None
    assert app.configuration["filterPattern"] == "ERROR"
    assert trail.configuration["filterPattern"] == '{ $.userIdentity.type = "Root" }'
    assert get(slice_context(REGION), "/aws/no-such-group:root-usage") is None
    with pytest.raises(ValueError, match="not a metric filter id"):
        get(slice_context(REGION), "root-usage")


def test_a_trail_is_read_in_its_home_region_only(env):
    seed_cloudtrail(env)
    boto3.client("s3", region_name="eu-west-1").create_bucket(
        Bucket="eu-trail-logs", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    boto3.client("cloudtrail", region_name="eu-west-1").create_trail(
        Name="eu-wide", S3BucketName="eu-trail-logs", IsMultiRegionTrail=True
    )

    assert cloudtrail.get_trail(slice_context(REGION), "eu-wide") is None
    item = cloudtrail.get_trail(slice_context("eu-west-1"), "eu-wide")
    assert item is not None and item.region == "eu-west-1"
    assert cloudtrail.get_trail(slice_context("eu-west-1"), "main") is None
    assert_get_item_matches_listing("cloudtrail.trail", "eu-west-1", missing="main")


def test_an_organization_trail_of_the_management_account_is_read_without_tags(monkeypatch):
    """DescribeTrails by name would answer only the account's own trails: the getter lists them all
    (one call), as the listing does, and reads no tags of a trail the account does not own."""
    arn = f"arn:aws:cloudtrail:{REGION}:{OTHER_ACCOUNT}:trail/org"
    trail = {"Name": "org", "TrailARN": arn, "HomeRegion": REGION, "IsMultiRegionTrail": True,
             "IsOrganizationTrail": True, "S3BucketName": "org-logs", "HasInsightSelectors": False}
    ctx = slice_context(REGION)
    client = ctx.client("cloudtrail")
    stub = Stubber(client)
    stub.add_response("describe_trails", {"trailList": [trail]}, {"includeShadowTrails": True})
    status = {"IsLogging": True, "StartLoggingTime": datetime(2024, 1, 1, tzinfo=UTC)}
    stub.add_response("get_trail_status", status, {"Name": arn})
    stub.add_response("get_event_selectors", {"TrailARN": arn, "EventSelectors": []}, {"TrailName": arn})

    with stub:
        item = cloudtrail.get_trail(ctx, "org")

    stub.assert_no_pending_responses()
    assert item is not None and item.arn == arn
    assert item.configuration["Tags"] is None
    assert item.configuration["IsOrganizationTrail"] is True
    assert dict(ctx.calls) == {"cloudtrail:DescribeTrails": 1, "cloudtrail:GetTrailStatus": 1,
                               "cloudtrail:GetEventSelectors": 1}


def _stub_insightful_trail(stub: Stubber, arn: str) -> None:
    trail = {"Name": "insightful", "TrailARN": arn, "HomeRegion": REGION, "S3BucketName": BUCKET,
             "HasInsightSelectors": True}
    stub.add_response("describe_trails", {"trailList": [trail]}, {"includeShadowTrails": True})
    stub.add_response("get_trail_status", {"IsLogging": False}, {"Name": arn})
    stub.add_response("get_event_selectors", {"TrailARN": arn, "EventSelectors": []}, {"TrailName": arn})


def test_a_trail_with_insight_selectors_costs_five_calls_and_a_failed_one_raises():
    """moto reports no insight selectors: a Stubber answers for a trail that has some."""
    arn = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT_ID}:trail/insightful"
    ctx = slice_context(REGION)
    stub = Stubber(ctx.client("cloudtrail"))
    _stub_insightful_trail(stub, arn)
    stub.add_response("get_insight_selectors", {"InsightSelectors": [{"InsightType": "ApiErrorRateInsight"}]},
                      {"TrailName": arn})
    stub.add_response("list_tags", {"ResourceTagList": [{"ResourceId": arn, "TagsList": []}]},
                      {"ResourceIdList": [arn]})

    with stub:
        item = cloudtrail.get_trail(ctx, "insightful")

    assert item is not None
    assert item.configuration["InsightSelectors"] == [{"InsightType": "ApiErrorRateInsight"}]
    assert item.configuration["Tags"] == {}
    assert ctx.api_calls == 5

    ctx = slice_context(REGION)
    stub = Stubber(ctx.client("cloudtrail"))
    _stub_insightful_trail(stub, arn)
    stub.add_client_error("get_insight_selectors", "AccessDeniedException", http_status_code=400)
    with stub, pytest.raises(ClientError, match="AccessDenied"):
        cloudtrail.get_trail(ctx, "insightful")


def test_a_trail_read_again_in_a_long_lived_session_is_read_afresh(env):
    """The listener keeps one session for many events: the getter does not answer a StopLogging
    with the status that an earlier read of the same session cached."""
    seed_cloudtrail(env)
    ctx = slice_context(REGION)
    (main,) = [item for item in cloudtrail.list_trails(ctx) if item.id == "main"]
    assert main.configuration["TrailStatus"]["IsLogging"] is True

    boto3.client("cloudtrail", region_name=REGION).stop_logging(Name="main")
    again = cloudtrail.get_trail(SliceContext(ctx.session, REGION), "main")

    assert again is not None and again.configuration["TrailStatus"]["IsLogging"] is False


def test_a_domain_prefix_of_another_is_read_alone(env):
    seed_route53domains(env)

    item = route53domains.get_domain(slice_context("global"), "example.net")

    assert item is not None and item.id == "example.net"
    assert item.configuration["AutoRenew"] is False


def test_a_domain_getdomaindetail_does_not_know_while_it_is_listed_raises(env, monkeypatch):
    """InvalidInput is also a malformed request: only a domain ListDomains no longer lists is gone."""
    seed_route53domains(env)
    event = f"before-parameter-build.{_service_id('route53domains')}.GetDomainDetail"

    with inject(monkeypatch, event, _raising("InvalidInput", 400)), pytest.raises(ClientError, match="Input"):
        route53domains.get_domain(slice_context("global"), "example.com")


def test_a_domain_transferred_out_between_the_two_calls_reads_none(env, monkeypatch):
    seed_route53domains(env)
    domains = boto3.client("route53domains", region_name=REGION)

    def transferred_out(model: Any, **_: Any) -> None:
        domains.delete_domain(DomainName="example.com")
        _raising("InvalidInput", 400)(model)

    event = f"before-parameter-build.{_service_id('route53domains')}.GetDomainDetail"
    with inject(monkeypatch, event, transferred_out):
        assert route53domains.get_domain(slice_context("global"), "example.com") is None


def test_an_elb_deleted_between_two_calls_reads_none(env, monkeypatch):
    """LoadBalancerNotFound on a later call (the tags) means it was deleted meanwhile."""
    seed_elb(env)
    event = f"before-parameter-build.{_service_id('elb')}.DescribeLoadBalancerAttributes"

    with inject(monkeypatch, event, _raising("LoadBalancerNotFound", 400)):
        assert get_technology("elb.load_balancer").get_item(slice_context(REGION), "shop") is None


def test_elbv2_target_groups_are_those_of_the_load_balancer(env):
    seed_elbv2(env)
    get = get_technology("elbv2.load_balancer").get_item

    shop, admin, bare = (get(slice_context(REGION), name) for name in ("shop", "admin", "bare"))

    assert shop is not None and admin is not None and bare is not None
    assert [group["TargetGroupName"] for group in shop.configuration["TargetGroups"]] == ["shop-web"]
    assert [group["TargetGroupName"] for group in admin.configuration["TargetGroups"]] == ["admin-web"]
    assert bare.configuration["TargetGroups"] == []
