"""A 2xx answer gitmonkey cannot read fails the read; it is never taken for "nothing there".

Behind a proxy or a TLS-inspecting middlebox that answers ``200 OK`` with a garbled body (cut in
half, empty, an HTML page, a well-formed document of the wrong shape), botocore's parsers do not
always raise; a watcher would then see an empty listing (items recorded as deleted) or an item
without its policy (recorded as modified). These tests put ``tests.broken_endpoint`` (a real
HTTP proxy on 127.0.0.1) between gitmonkey and a moto server and garble one operation at a time:

- the meta-test: for every technology, every operation its read makes and every garbling shape,
  ``list_items`` raises ``UnreadableResponseError`` (for XML bodies, botocore's
  ``ResponseParserError`` is accepted too) and never returns a list;
- end to end, one technology per protocol: ``run_sync`` (and the CLI, in a subprocess) exits 3,
  the slice fails naming the operation and keeps its files, no commit is made, the issue stays open;
- a garbled first answer is retried within ``max_attempts``.

One moto server and one proxy per module (per xdist worker); the server is reset and seeded
again only when a test needs other items than the previous one.
"""

from __future__ import annotations

import datetime
import functools
import gc
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.parsers import ResponseParserError

from gitmonkey.config import AccountConfig, config_from_dict
from gitmonkey.model import GLOBAL_REGION, Item
from gitmonkey.normalize.paths import issue_path, item_path
from gitmonkey.read.aws import AccountSession, SliceContext
from gitmonkey.read.aws_responses import UnreadableResponseError
from gitmonkey.sync import SyncReport, run_sync
from gitmonkey.watchers import all_technologies, always_returned
from gitmonkey.watchers import iam as iam_watcher
from tests.broken_endpoint import (
    XML_PROTOCOLS,
    BrokenEndpoint,
    MotoServer,
    OperationIndex,
    broken_endpoint,
    moto_server,
    shapes_for,
)
from tests.helpers import git
from tests.test_watchers_accessanalyzer import GARBLE_STAND_INS as ACCESS_ANALYZER_ANSWERS
from tests.test_watchers_ec2_account import EC2_ACCOUNT_ANSWERS
from tests.test_watchers_organizations import GARBLE_OPERATIONS as ORGANIZATIONS_OPERATIONS
from tests.test_watchers_organizations import GARBLE_SEEDS as ORGANIZATIONS_SEEDS

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
SEED_FILE = "tests/test_unreadable_responses.py"
TECHNOLOGIES = all_technologies()


# --- seeding: one small function per technology ------------------------------------------------


class Aws:
    """boto3 clients straight to the moto server (seeding never goes through the proxy)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def __call__(self, service: str, region: str = REGION, *, region_name: str | None = None) -> Any:
        """``region_name`` as boto3 spells it, for the GARBLE_SEEDS of the watcher tests."""
        return boto3.client(service, region_name=region_name or region, endpoint_url=self.url)


TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
SAML_METADATA = (
    '<?xml version="1.0"?>\n<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
    "entityID='https://idp.example.com/saml'><md:IDPSSODescriptor protocolSupportEnumeration="
    '"urn:oasis:names:tc:SAML:2.0:protocol"><md:SingleSignOnService '
    'Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.com/sso"/>'
    "</md:IDPSSODescriptor></md:EntityDescriptor>\n<!-- " + "padding " * 120 + "-->"
)  # botocore wants at least 1,000 characters


def _public_policy(action: str, resource: str = "*") -> str:
    """A policy letting anyone do ``action``: the resource-policy rules open an issue on it."""
    statement = {"Effect": "Allow", "Principal": "*", "Action": action, "Resource": resource}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


@functools.cache
def _self_signed_pem() -> tuple[str, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "seed.example.com")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(4242)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=90))
        .sign(key, hashes.SHA256())
    )
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode(), private.decode()


def seed_acm(aws: Aws) -> str:
    arn = aws("acm").request_certificate(DomainName="seed.example.com")["CertificateArn"]
    return arn.rsplit("/", 1)[-1]


def seed_cloudtrail(aws: Aws) -> str:
    aws("s3").create_bucket(Bucket="seed-trail-logs")
    aws("cloudtrail").create_trail(Name="seed-trail", S3BucketName="seed-trail-logs")
    return "seed-trail"


def seed_config(aws: Aws) -> str:
    aws("s3").create_bucket(Bucket="seed-config-history")
    config = aws("config")
    config.put_configuration_recorder(
        ConfigurationRecorder={"name": "default", "roleARN": f"arn:aws:iam::{ACCOUNT_ID}:role/config"}
    )
    config.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": "seed-config-history"})
    return "default"


def seed_ec2_image(aws: Aws) -> str:
    return aws("ec2").register_image(Name="seed-image", RootDeviceName="/dev/sda1")["ImageId"]


def seed_ec2_network_acl(aws: Aws) -> str:
    ec2 = aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
    return ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]


def seed_ec2_security_group(aws: Aws) -> str:
    """A group open to the internet on port 22 (an issue)."""
    ec2 = aws("ec2")
    group = ec2.create_security_group(GroupName="seed-ssh", Description="ssh from anywhere")["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=group,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
        ],
    )
    return group


def seed_ec2_snapshot(aws: Aws) -> str:
    ec2 = aws("ec2")
    volume = ec2.create_volume(AvailabilityZone=f"{REGION}a", Size=1)["VolumeId"]
    return ec2.create_snapshot(VolumeId=volume)["SnapshotId"]


def seed_ec2_vpc_endpoint(aws: Aws) -> str:
    ec2 = aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    endpoint = ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=f"com.amazonaws.{REGION}.s3")
    return endpoint["VpcEndpoint"]["VpcEndpointId"]


def seed_ecr(aws: Aws) -> str:
    ecr = aws("ecr")
    ecr.create_repository(repositoryName="seed-repo")
    ecr.set_repository_policy(repositoryName="seed-repo", policyText=_public_policy("ecr:BatchGetImage"))
    rule = {
        "rulePriority": 1,
        "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days",
                      "countNumber": 14},
        "action": {"type": "expire"},
    }
    ecr.put_lifecycle_policy(repositoryName="seed-repo", lifecyclePolicyText=json.dumps({"rules": [rule]}))
    return "seed-repo"


def seed_elb(aws: Aws) -> str:
    """A load balancer whose listener has a policy (so that DescribeLoadBalancerPolicies is called)."""
    elb = aws("elb")
    listener = {"Protocol": "HTTP", "LoadBalancerPort": 80, "InstanceProtocol": "HTTP", "InstancePort": 8080}
    elb.create_load_balancer(
        LoadBalancerName="seed-elb", Listeners=[listener], AvailabilityZones=[f"{REGION}a"]
    )
    elb.create_lb_cookie_stickiness_policy(LoadBalancerName="seed-elb", PolicyName="sticky")
    elb.set_load_balancer_policies_of_listener(
        LoadBalancerName="seed-elb", LoadBalancerPort=80, PolicyNames=["sticky"]
    )
    return "seed-elb"


def seed_elbv2(aws: Aws) -> str:
    ec2 = aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{n}.0/24", AvailabilityZone=f"{REGION}{zone}")[
            "Subnet"
        ]["SubnetId"]
        for n, zone in ((1, "a"), (2, "b"))
    ]
    aws("elbv2").create_load_balancer(Name="seed-alb", Subnets=subnets)
    return "seed-alb"


def seed_iam_group(aws: Aws) -> str:
    aws("iam").create_group(GroupName="seed-group")
    return "seed-group"


def seed_iam_policy(aws: Aws) -> str:
    aws("iam").create_policy(PolicyName="seed-policy", PolicyDocument=_public_policy("s3:GetObject"))
    return "seed-policy"


def seed_iam_role(aws: Aws) -> str:
    aws("iam").create_role(RoleName="seed-role", AssumeRolePolicyDocument=json.dumps(TRUST))
    return "seed-role"


def seed_iam_instance_profile(aws: Aws) -> str:
    aws("iam").create_role(RoleName="seed-role", AssumeRolePolicyDocument=json.dumps(TRUST))
    aws("iam").create_instance_profile(InstanceProfileName="seed-profile")
    aws("iam").add_role_to_instance_profile(InstanceProfileName="seed-profile", RoleName="seed-role")
    return "seed-profile"


def seed_iam_saml_provider(aws: Aws) -> str:
    aws("iam").create_saml_provider(Name="seed-idp", SAMLMetadataDocument=SAML_METADATA)
    return "seed-idp"


def seed_iam_server_certificate(aws: Aws) -> str:
    body, private = _self_signed_pem()
    aws("iam").upload_server_certificate(
        ServerCertificateName="seed-cert", CertificateBody=body, PrivateKey=private
    )
    return "seed-cert"


def seed_iam_user(aws: Aws) -> str:
    """``seed-user`` (access key, console password, virtual MFA) and ``seed-hardware`` (a hardware
    MFA device, which only the per-user ListMFADevices shows), as tests/test_watchers_iam.py seeds them."""
    from tests.test_watchers_iam import GARBLE_SEEDS as IAM_SEEDS

    IAM_SEEDS["iam.user"](aws)
    return "seed-user"


def seed_kms(aws: Aws) -> str:
    return aws("kms").create_key(Description="seed key")["KeyMetadata"]["KeyId"]


def seed_lambda(aws: Aws) -> str:
    """A function anyone may invoke, with a function URL (GetPolicy and GetFunctionUrlConfig
    answer 2xx; the public policy is an issue)."""
    role = aws("iam").create_role(RoleName="seed-fn-role", AssumeRolePolicyDocument=json.dumps(TRUST))
    client = aws("lambda")
    client.create_function(
        FunctionName="seed-fn",
        Runtime="python3.12",
        Role=role["Role"]["Arn"],
        Handler="app.handler",
        Code={"ZipFile": _zip()},
    )
    client.add_permission(
        FunctionName="seed-fn", StatementId="public", Action="lambda:InvokeFunction", Principal="*"
    )
    client.create_function_url_config(FunctionName="seed-fn", AuthType="NONE")
    return "seed-fn"


def seed_opensearch(aws: Aws) -> str:
    aws("opensearch").create_domain(DomainName="seed-domain")
    return "seed-domain"


def _db_cluster(aws: Aws) -> Any:
    rds = aws("rds")
    rds.create_db_cluster(
        DBClusterIdentifier="seed-cluster",
        Engine="aurora-postgresql",
        MasterUsername="seed",
        MasterUserPassword="Secr3t-pass",
    )
    return rds


def _db_instance(aws: Aws) -> Any:
    rds = aws("rds")
    rds.create_db_instance(
        DBInstanceIdentifier="seed-db",
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        MasterUsername="seed",
        MasterUserPassword="Secr3t-pass",
        AllocatedStorage=20,
    )
    return rds


def seed_rds_db_cluster(aws: Aws) -> str:
    _db_cluster(aws)
    return "seed-cluster"


def seed_rds_db_cluster_snapshot(aws: Aws) -> str:
    _db_cluster(aws).create_db_cluster_snapshot(
        DBClusterSnapshotIdentifier="seed-cluster-snap", DBClusterIdentifier="seed-cluster"
    )
    return "seed-cluster-snap"


def seed_rds_db_instance(aws: Aws) -> str:
    _db_instance(aws)
    return "seed-db"


def seed_rds_db_snapshot(aws: Aws) -> str:
    _db_instance(aws).create_db_snapshot(DBSnapshotIdentifier="seed-db-snap", DBInstanceIdentifier="seed-db")
    return "seed-db-snap"


def seed_s3(aws: Aws, *, every_part: bool = True) -> str:
    """A bucket with a public policy (an issue); with ``every_part``, every configuration part is
    set too, so that every per-bucket call answers 2xx (an unset part answers 404)."""
    s3 = aws("s3")
    bucket = "seed-bucket"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_policy(Bucket=bucket, Policy=_public_policy("s3:GetObject", f"arn:aws:s3:::{bucket}/*"))
    if not every_part:
        return bucket
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": False,
            "RestrictPublicBuckets": False,
        },
    )
    encryption = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [encryption]})
    expire = {"ID": "expire", "Status": "Enabled", "Filter": {"Prefix": "tmp/"}, "Expiration": {"Days": 7}}
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [expire]})
    cors = {"AllowedMethods": ["GET"], "AllowedOrigins": ["*"]}
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [cors]})
    s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration={"IndexDocument": {"Suffix": "index.html"}})
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "team", "Value": "web"}]})
    s3.put_bucket_ownership_controls(
        Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    )
    return bucket


def seed_secretsmanager(aws: Aws) -> str:
    secrets = aws("secretsmanager")
    secrets.create_secret(Name="seed-secret", SecretString="not-a-real-secret")
    policy = _public_policy("secretsmanager:GetSecretValue")
    secrets.put_resource_policy(SecretId="seed-secret", ResourcePolicy=policy)
    return "seed-secret"


def seed_sns(aws: Aws) -> str:
    """A topic anyone may publish to (an issue), with a subscription."""
    sns = aws("sns")
    arn = sns.create_topic(Name="seed-topic")["TopicArn"]
    policy = _public_policy("sns:Publish", arn)
    sns.set_topic_attributes(TopicArn=arn, AttributeName="Policy", AttributeValue=policy)
    sns.subscribe(TopicArn=arn, Protocol="email", Endpoint="ops@example.com")
    return "seed-topic"


def seed_sqs(aws: Aws) -> str:
    """A queue anyone may send to (an issue)."""
    policy = _public_policy("sqs:SendMessage", f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:seed-queue")
    aws("sqs").create_queue(QueueName="seed-queue", Attributes={"Policy": policy})
    return "seed-queue"


def seed_config_rule(aws: Aws) -> str:
    source = {"Owner": "AWS", "SourceIdentifier": "S3_BUCKET_VERSIONING_ENABLED"}
    aws("config").put_config_rule(ConfigRule={"ConfigRuleName": "seed-rule", "Source": source})
    return "seed-rule"


# moto's DescribeConnections answers hasLogicalRedundancy as a JSON boolean where AWS and the model
# say a string ("unknown", "yes", "no"): the proxy answers the call as AWS would (a stand-in
# answer), and garbles that.
DIRECTCONNECT_CONNECTIONS = {
    "connections": [
        {
            "ownerAccount": ACCOUNT_ID,
            "connectionId": "dxcon-seed",
            "connectionName": "seed-dx",
            "connectionState": "available",
            "region": REGION,
            "location": "EqDC2",
            "bandwidth": "1Gbps",
            "vlan": 101,
            "hasLogicalRedundancy": "no",
            "jumboFrameCapable": False,
            "macSecCapable": False,
            "encryptionMode": "no_encrypt",
            "tags": [{"key": "team", "value": "network"}],
        }
    ]
}


def seed_directconnect(aws: Aws) -> str:
    return "dxcon-seed"  # answered by the proxy: see DIRECTCONNECT_CONNECTIONS


def _vpc(aws: Aws, cidr: str = "10.20.0.0/16") -> str:
    return aws("ec2").create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]


def _subnet(aws: Aws) -> str:
    return aws("ec2").create_subnet(VpcId=_vpc(aws), CidrBlock="10.20.1.0/24")["Subnet"]["SubnetId"]


def seed_ec2_dhcp_options(aws: Aws) -> str:
    configuration = [{"Key": "domain-name", "Values": ["seed.internal"]}]
    return aws("ec2").create_dhcp_options(DhcpConfigurations=configuration)["DhcpOptions"]["DhcpOptionsId"]


def seed_ec2_elastic_ip(aws: Aws) -> str:
    return aws("ec2").allocate_address(Domain="vpc")["AllocationId"]


def seed_ec2_flow_log(aws: Aws) -> str:
    aws("s3").create_bucket(Bucket="seed-flow-logs")
    return aws("ec2").create_flow_logs(
        ResourceIds=[_vpc(aws)],
        ResourceType="VPC",
        TrafficType="ALL",
        LogDestinationType="s3",
        LogDestination="arn:aws:s3:::seed-flow-logs",
    )["FlowLogIds"][0]


def seed_ec2_instance(aws: Aws) -> str:
    ec2 = aws("ec2")
    image = ec2.register_image(Name="seed-image", RootDeviceName="/dev/sda1")["ImageId"]
    return ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]


def seed_ec2_key_pair(aws: Aws) -> str:
    aws("ec2").create_key_pair(KeyName="seed-key")
    return "seed-key"


def seed_ec2_nat_gateway(aws: Aws) -> str:
    ec2 = aws("ec2")
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    gateway = ec2.create_nat_gateway(SubnetId=_subnet(aws), AllocationId=allocation)
    return gateway["NatGateway"]["NatGatewayId"]


def seed_ec2_network_interface(aws: Aws) -> str:
    interface = aws("ec2").create_network_interface(SubnetId=_subnet(aws))
    return interface["NetworkInterface"]["NetworkInterfaceId"]


def seed_ec2_route_table(aws: Aws) -> str:
    return aws("ec2").create_route_table(VpcId=_vpc(aws))["RouteTable"]["RouteTableId"]


def seed_ec2_subnet(aws: Aws) -> str:
    return _subnet(aws)


def seed_ec2_volume(aws: Aws) -> str:
    return aws("ec2").create_volume(AvailabilityZone=f"{REGION}a", Size=1)["VolumeId"]


def seed_ec2_vpc(aws: Aws) -> str:
    return _vpc(aws)


def seed_ec2_vpc_peering(aws: Aws) -> str:
    peering = aws("ec2").create_vpc_peering_connection(VpcId=_vpc(aws), PeerVpcId=_vpc(aws, "10.21.0.0/16"))
    return peering["VpcPeeringConnection"]["VpcPeeringConnectionId"]


def seed_ec2_vpn_gateway(aws: Aws) -> str:
    return aws("ec2").create_vpn_gateway(Type="ipsec.1")["VpnGateway"]["VpnGatewayId"]


def seed_ec2_vpn_connection(aws: Aws) -> str:
    ec2 = aws("ec2")
    customer = ec2.create_customer_gateway(Type="ipsec.1", PublicIp="203.0.113.10", BgpAsn=65000)
    return ec2.create_vpn_connection(
        Type="ipsec.1",
        CustomerGatewayId=customer["CustomerGateway"]["CustomerGatewayId"],
        VpnGatewayId=seed_ec2_vpn_gateway(aws),
    )["VpnConnection"]["VpnConnectionId"]


# moto's Glacier has no access policy, vault lock or tags (its server answers 404 with an HTML
# page): the proxy answers those calls as AWS would.
GLACIER_ANSWERS = {
    "glacier:GetVaultAccessPolicy": json.dumps({"Policy": _public_policy("glacier:InitiateJob")}).encode(),
    "glacier:GetVaultLock": json.dumps({
        "Policy": _public_policy("glacier:DeleteArchive"),
        "State": "InProgress",
        "CreationDate": "2026-01-01T00:00:00.000Z",
        "ExpirationDate": "2026-01-02T00:00:00.000Z",
    }).encode(),
    "glacier:ListTagsForVault": json.dumps({"Tags": {"team": "archive"}}).encode(),
}


def seed_glacier(aws: Aws) -> str:
    aws("glacier").create_vault(accountId="-", vaultName="seed-vault")
    return "seed-vault"


# moto loads no AWS managed policies in server mode: the proxy lists one as attached, as AWS would.
_IAM_XMLNS = "https://iam.amazonaws.com/doc/2010-05-08/"
AWS_POLICY_ANSWERS = {
    "iam:ListPolicies": (
        f'<ListPoliciesResponse xmlns="{_IAM_XMLNS}"><ListPoliciesResult><IsTruncated>false</IsTruncated>'
        "<Policies><member><PolicyName>ReadOnlyAccess</PolicyName><DefaultVersionId>v1</DefaultVersionId>"
        "<PolicyId>ANPAEXAMPLEREADONLY00</PolicyId><Path>/</Path>"
        "<Arn>arn:aws:iam::aws:policy/ReadOnlyAccess</Arn><AttachmentCount>1</AttachmentCount>"
        "<IsAttachable>true</IsAttachable></member></Policies></ListPoliciesResult>"
        "<ResponseMetadata><RequestId>seed</RequestId></ResponseMetadata></ListPoliciesResponse>"
    ).encode(),
    "iam:GetPolicyVersion": (
        f'<GetPolicyVersionResponse xmlns="{_IAM_XMLNS}"><GetPolicyVersionResult><PolicyVersion>'
        "<Document>%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow"
        "%22%2C%22Action%22%3A%22s3%3AGet%2A%22%2C%22Resource%22%3A%22%2A%22%7D%5D%7D</Document>"
        "<VersionId>v1</VersionId><IsDefaultVersion>true</IsDefaultVersion></PolicyVersion>"
        "</GetPolicyVersionResult><ResponseMetadata><RequestId>seed</RequestId></ResponseMetadata>"
        "</GetPolicyVersionResponse>"
    ).encode(),
}


def seed_iam_aws_policy(aws: Aws) -> str:
    return "ReadOnlyAccess"


def seed_logs_metric_filter(aws: Aws) -> str:
    logs = aws("logs")
    logs.create_log_group(logGroupName="seed-group")
    logs.put_metric_filter(logGroupName="seed-group", filterName="seed-filter", filterPattern="ERROR",
                           metricTransformations=[{"metricName": "Errors", "metricNamespace": "Seed",
                                                   "metricValue": "1"}])
    return "seed-group:seed-filter"


def seed_cloudwatch_alarm(aws: Aws) -> str:
    aws("cloudwatch").put_metric_alarm(
        AlarmName="seed-alarm", MetricName="Errors", Namespace="Seed", Statistic="Sum", Period=60,
        EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanOrEqualToThreshold")
    return "seed-alarm"


def seed_rds_db_subnet_group(aws: Aws) -> str:
    ec2 = aws("ec2")
    vpc = _vpc(aws)
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{n}.0/24", AvailabilityZone=f"{REGION}{zone}")[
            "Subnet"
        ]["SubnetId"]
        for n, zone in ((1, "a"), (2, "b"))
    ]
    aws("rds").create_db_subnet_group(
        DBSubnetGroupName="seed-subnets", DBSubnetGroupDescription="seed", SubnetIds=subnets
    )
    return "seed-subnets"


def seed_redshift(aws: Aws) -> str:
    aws("redshift").create_cluster(
        ClusterIdentifier="seed-warehouse",
        ClusterType="single-node",
        NodeType="dc2.large",
        MasterUsername="seed",
        MasterUserPassword="Secr3t-pass1",
    )
    return "seed-warehouse"


def seed_route53(aws: Aws) -> str:
    route53 = aws("route53")
    zone = route53.create_hosted_zone(Name="seed.example.com", CallerReference="seed")["HostedZone"]["Id"]
    record = {"Name": "www.seed.example.com.", "Type": "A", "TTL": 60,
              "ResourceRecords": [{"Value": "192.0.2.1"}]}
    route53.change_resource_record_sets(
        HostedZoneId=zone, ChangeBatch={"Changes": [{"Action": "CREATE", "ResourceRecordSet": record}]}
    )
    return f"{zone.rsplit('/', 1)[-1]}/www.seed.example.com./A"


def seed_route53domains(aws: Aws) -> str:
    contact = {
        "FirstName": "Sam", "LastName": "Seed", "ContactType": "PERSON", "AddressLine1": "1 Main St",
        "City": "Town", "State": "WA", "CountryCode": "US", "ZipCode": "12345",
        "PhoneNumber": "+1.5555550100", "Email": "sam@example.com",
    }
    aws("route53domains").register_domain(
        DomainName="seed-example.com",
        DurationInYears=2,  # moto refuses 1: "ExpirationDate must by between 1 and 10 years from now"
        AdminContact=contact,
        RegistrantContact=contact,
        TechContact=contact,
    )
    return "seed-example.com"


def seed_ses(aws: Aws) -> str:
    aws("sesv2").create_email_identity(EmailIdentity="seed.example.com")
    return "seed.example.com"


def seed_iam_password_policy(aws: Aws) -> str:
    aws("iam").update_account_password_policy(MinimumPasswordLength=14, PasswordReusePrevention=24)
    return "account"


def seed_iam_root(aws: Aws) -> str:
    return "account"  # always there; moto's credential report has no root row


def seed_s3_account_public_access_block(aws: Aws) -> str:
    from gitmonkey.watchers import s3 as s3_watcher

    control = aws("s3control")
    s3_watcher.use_custom_endpoint_as_is(control, ACCOUNT_ID, aws.url)  # botocore prefixes the host
    control.put_public_access_block(
        AccountId=ACCOUNT_ID,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True,
            "BlockPublicPolicy": True, "RestrictPublicBuckets": True,
        },
    )
    return "account"


def seed_guardduty_status(aws: Aws) -> str:
    aws("guardduty").create_detector(Enable=True)
    return REGION


def seed_securityhub_status(aws: Aws) -> str:
    aws("securityhub").enable_security_hub(EnableDefaultStandards=False)
    return REGION


def seed_config_status(aws: Aws) -> str:
    seed_config(aws)
    return REGION


def seed_cloudtrail_status(aws: Aws) -> str:
    aws("s3").create_bucket(Bucket="seed-trail-status")
    trail = {"Name": "seed-status", "S3BucketName": "seed-trail-status", "IsMultiRegionTrail": True}
    aws("cloudtrail").create_trail(**trail)
    return "account"


def seed_ec2_account_settings(aws: Aws) -> str:
    aws("ec2").enable_ebs_encryption_by_default()
    return REGION


def seed_account_alternate_contacts(aws: Aws) -> str:
    from tests.test_watchers_account import GARBLE_SEEDS as ACCOUNT_SEEDS

    ACCOUNT_SEEDS["account.alternate_contacts"](aws)
    return "account"


@dataclass(frozen=True)
class Seed:
    """How to create one item of a technology on moto, and the calls its read then makes.

    ``operations``: every "service:Operation" the clean read of the seeded item gets a 2xx
    answer to; the ``-clean`` case checks the list. A call answered by an error (such as "no
    policy") cannot be garbled, the proxy only rewrites 2xx answers: seed what makes it answer 2xx.
    ``answers``: calls the proxy answers itself (with these bodies), where moto cannot.
    """

    seed: Callable[[Aws], str]
    operations: tuple[str, ...]
    answers: dict[str, bytes] = field(default_factory=dict)


SEEDS: dict[str, Seed] = {
    "iam.password_policy": Seed(seed_iam_password_policy, ("iam:GetAccountPasswordPolicy",)),
    "iam.root": Seed(
        seed_iam_root,
        ("iam:GetAccountSummary", "iam:GenerateCredentialReport", "iam:GetCredentialReport"),
    ),
    "s3.account_public_access_block": Seed(
        seed_s3_account_public_access_block, ("s3control:GetPublicAccessBlock",)
    ),
    "guardduty.status": Seed(seed_guardduty_status, ("guardduty:ListDetectors", "guardduty:GetDetector")),
    "securityhub.status": Seed(seed_securityhub_status, ("securityhub:DescribeHub",)),
    "config.status": Seed(
        seed_config_status,
        (
            "config:DescribeConfigurationRecorders",
            "config:DescribeConfigurationRecorderStatus",
            "config:DescribeDeliveryChannels",
        ),
    ),
    "cloudtrail.status": Seed(
        seed_cloudtrail_status,
        ("cloudtrail:DescribeTrails", "cloudtrail:GetTrailStatus", "cloudtrail:GetEventSelectors"),
    ),
    # moto lacks the newer EC2 settings calls and Access Analyzer: the proxy answers them as AWS does.
    "ec2.account_settings": Seed(
        seed_ec2_account_settings,
        ("ec2:GetEbsEncryptionByDefault", *EC2_ACCOUNT_ANSWERS),
        EC2_ACCOUNT_ANSWERS,
    ),
    "accessanalyzer.status": Seed(
        lambda aws: REGION,
        ("accessanalyzer:ListAnalyzers",),
        ACCESS_ANALYZER_ANSWERS["accessanalyzer.status"],
    ),
    "account.alternate_contacts": Seed(seed_account_alternate_contacts, ("account:GetAlternateContact",)),
    "acm.certificate": Seed(
        seed_acm, ("acm:ListCertificates", "acm:DescribeCertificate", "acm:ListTagsForCertificate")
    ),
    "cloudtrail.trail": Seed(
        seed_cloudtrail,
        (
            "cloudtrail:DescribeTrails",
            "cloudtrail:GetTrailStatus",
            "cloudtrail:GetEventSelectors",
            "cloudtrail:ListTags",
        ),
    ),
    "config.recorder": Seed(
        seed_config,
        (
            "config:DescribeConfigurationRecorders",
            "config:DescribeConfigurationRecorderStatus",
            "config:DescribeDeliveryChannels",
        ),
    ),
    "config.rule": Seed(seed_config_rule, ("config:DescribeConfigRules",)),
    "directconnect.connection": Seed(
        seed_directconnect,
        ("directconnect:DescribeConnections",),
        {"directconnect:DescribeConnections": json.dumps(DIRECTCONNECT_CONNECTIONS).encode()},
    ),
    "ec2.dhcp_options": Seed(seed_ec2_dhcp_options, ("ec2:DescribeDhcpOptions",)),
    "ec2.elastic_ip": Seed(seed_ec2_elastic_ip, ("ec2:DescribeAddresses",)),
    "ec2.flow_log": Seed(seed_ec2_flow_log, ("ec2:DescribeFlowLogs",)),
    "ec2.image": Seed(seed_ec2_image, ("ec2:DescribeImages", "ec2:DescribeImageAttribute")),
    "ec2.instance": Seed(seed_ec2_instance, ("ec2:DescribeInstances", "ec2:DescribeInstanceAttribute")),
    "ec2.key_pair": Seed(seed_ec2_key_pair, ("ec2:DescribeKeyPairs",)),
    "ec2.nat_gateway": Seed(seed_ec2_nat_gateway, ("ec2:DescribeNatGateways",)),
    "ec2.network_acl": Seed(seed_ec2_network_acl, ("ec2:DescribeNetworkAcls",)),
    "ec2.network_interface": Seed(seed_ec2_network_interface, ("ec2:DescribeNetworkInterfaces",)),
    "ec2.route_table": Seed(seed_ec2_route_table, ("ec2:DescribeRouteTables",)),
    "ec2.security_group": Seed(seed_ec2_security_group, ("ec2:DescribeSecurityGroups",)),
    "ec2.snapshot": Seed(seed_ec2_snapshot, ("ec2:DescribeSnapshots", "ec2:DescribeSnapshotAttribute")),
    "ec2.subnet": Seed(seed_ec2_subnet, ("ec2:DescribeSubnets", "ec2:DescribeRouteTables")),
    "ec2.volume": Seed(seed_ec2_volume, ("ec2:DescribeVolumes",)),
    "ec2.vpc": Seed(
        seed_ec2_vpc,
        (
            "ec2:DescribeVpcs",
            "ec2:DescribeInternetGateways",
            "ec2:DescribeFlowLogs",
            "ec2:DescribeVpcAttribute",
        ),
    ),
    "ec2.vpc_endpoint": Seed(seed_ec2_vpc_endpoint, ("ec2:DescribeVpcEndpoints",)),
    "ec2.vpc_peering": Seed(seed_ec2_vpc_peering, ("ec2:DescribeVpcPeeringConnections",)),
    "ec2.vpn_connection": Seed(seed_ec2_vpn_connection, ("ec2:DescribeVpnConnections",)),
    "ec2.vpn_gateway": Seed(seed_ec2_vpn_gateway, ("ec2:DescribeVpnGateways",)),
    "ecr.repository": Seed(
        seed_ecr,
        (
            "ecr:DescribeRepositories",
            "ecr:GetRepositoryPolicy",
            "ecr:GetLifecyclePolicy",
            "ecr:ListTagsForResource",
        ),
    ),
    "elb.load_balancer": Seed(
        seed_elb,
        (
            "elb:DescribeLoadBalancers",
            "elb:DescribeTags",
            "elb:DescribeLoadBalancerAttributes",
            "elb:DescribeLoadBalancerPolicies",
        ),
    ),
    "elbv2.load_balancer": Seed(
        seed_elbv2,
        (
            "elbv2:DescribeLoadBalancers",
            "elbv2:DescribeTags",
            "elbv2:DescribeTargetGroups",
            "elbv2:DescribeListeners",
            "elbv2:DescribeLoadBalancerAttributes",
        ),
    ),
    "iam.aws_policy": Seed(seed_iam_aws_policy, ("iam:ListPolicies", "iam:GetPolicyVersion"),
                           AWS_POLICY_ANSWERS),
    "logs.metric_filter": Seed(seed_logs_metric_filter, ("logs:DescribeMetricFilters",)),
    "cloudwatch.alarm": Seed(seed_cloudwatch_alarm, ("cloudwatch:DescribeAlarms",)),
    "glacier.vault": Seed(
        seed_glacier,
        (
            "glacier:ListVaults",
            "glacier:GetVaultAccessPolicy",
            "glacier:GetVaultLock",
            "glacier:ListTagsForVault",
        ),
        GLACIER_ANSWERS,
    ),
    "iam.group": Seed(seed_iam_group, ("iam:GetAccountAuthorizationDetails",)),
    "iam.policy": Seed(seed_iam_policy, ("iam:GetAccountAuthorizationDetails",)),
    "iam.role": Seed(seed_iam_role, ("iam:GetAccountAuthorizationDetails", "iam:ListRoles")),
    "iam.instance_profile": Seed(seed_iam_instance_profile, ("iam:ListInstanceProfiles",)),
    "iam.saml_provider": Seed(seed_iam_saml_provider, ("iam:ListSAMLProviders", "iam:GetSAMLProvider")),
    "iam.server_certificate": Seed(
        seed_iam_server_certificate, ("iam:ListServerCertificates", "iam:GetServerCertificate")
    ),
    "iam.user": Seed(
        seed_iam_user,
        (
            "iam:GetAccountAuthorizationDetails",
            "iam:GenerateCredentialReport",
            "iam:GetCredentialReport",
            "iam:ListVirtualMFADevices",
            "iam:ListAccessKeys",
            "iam:ListMFADevices",
        ),
    ),
    "kms.key": Seed(
        seed_kms,
        (
            "kms:ListKeys",
            "kms:ListAliases",
            "kms:DescribeKey",
            "kms:GetKeyPolicy",
            "kms:GetKeyRotationStatus",
            "kms:ListGrants",
            "kms:ListResourceTags",
        ),
    ),
    "lambda.function": Seed(
        seed_lambda,
        (
            "lambda:ListFunctions",
            "lambda:ListEventSourceMappings",
            "lambda:GetPolicy",
            "lambda:GetFunctionUrlConfig",
            "lambda:ListAliases",
            "lambda:ListTags",
        ),
    ),
    "opensearch.domain": Seed(
        seed_opensearch, ("opensearch:ListDomainNames", "opensearch:DescribeDomains", "opensearch:ListTags")
    ),
    "rds.db_cluster": Seed(seed_rds_db_cluster, ("rds:DescribeDBClusters",)),
    "rds.db_cluster_snapshot": Seed(
        seed_rds_db_cluster_snapshot,
        ("rds:DescribeDBClusterSnapshots", "rds:DescribeDBClusterSnapshotAttributes"),
    ),
    "rds.db_instance": Seed(seed_rds_db_instance, ("rds:DescribeDBInstances",)),
    "rds.db_snapshot": Seed(
        seed_rds_db_snapshot, ("rds:DescribeDBSnapshots", "rds:DescribeDBSnapshotAttributes")
    ),
    "rds.db_subnet_group": Seed(seed_rds_db_subnet_group, ("rds:DescribeDBSubnetGroups",)),
    "redshift.cluster": Seed(seed_redshift, ("redshift:DescribeClusters",)),
    "route53.record_set": Seed(seed_route53, ("route53:ListHostedZones", "route53:ListResourceRecordSets")),
    "route53domains.domain": Seed(
        seed_route53domains, ("route53domains:ListDomains", "route53domains:GetDomainDetail")
    ),
    "s3.bucket": Seed(
        seed_s3,
        (
            "s3:ListBuckets",
            "s3:GetBucketLocation",  # moto's ListBuckets has no BucketRegion; AWS's has
            "s3:GetBucketAcl",
            "s3:GetBucketPolicy",
            "s3:GetPublicAccessBlock",
            "s3:GetBucketEncryption",
            "s3:GetBucketVersioning",
            "s3:GetBucketLogging",
            "s3:GetBucketLifecycleConfiguration",
            "s3:GetBucketCors",
            "s3:GetBucketWebsite",
            "s3:GetBucketTagging",
            "s3:GetBucketOwnershipControls",
        ),
    ),
    "secretsmanager.secret": Seed(
        seed_secretsmanager, ("secretsmanager:ListSecrets", "secretsmanager:GetResourcePolicy")
    ),
    "ses.identity": Seed(seed_ses, ("sesv2:ListEmailIdentities", "sesv2:GetEmailIdentity")),
    "sns.topic": Seed(
        seed_sns,
        (
            "sns:ListTopics",
            "sns:GetTopicAttributes",
            "sns:ListSubscriptionsByTopic",
            "sns:ListTagsForResource",
        ),
    ),
    "sqs.queue": Seed(seed_sqs, ("sqs:ListQueues", "sqs:GetQueueAttributes", "sqs:ListQueueTags")),
    # organizations.account, .unit, .policy: an organization managed by the seeding account.
    **{name: Seed(seed, ORGANIZATIONS_OPERATIONS[name]) for name, seed in ORGANIZATIONS_SEEDS.items()},
}


# --- the moto server, the proxy, and what is seeded ---------------------------------------------


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    with moto_server() as server, _fewer_full_collections():
        yield server


@contextmanager
def _fewer_full_collections() -> Iterator[None]:
    """This module allocates a lot (moto's backends, botocore's models, parsed answers) in a large
    heap, and CPython's default thresholds then run a full collection every few seconds: a
    quarter of the module's time. They are raised while it runs (the heap grows by a third)."""
    thresholds = gc.get_threshold()
    gc.set_threshold(thresholds[0], thresholds[1], max(thresholds[2], 100))
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


@pytest.fixture(scope="module")
def proxy(moto: MotoServer) -> Iterator[BrokenEndpoint]:
    with broken_endpoint(moto.url) as endpoint:
        yield endpoint


@pytest.fixture(autouse=True)
def _no_rule_outlives_its_test(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "proxy" in request.fixturenames:
        request.getfixturevalue("proxy").clear()


@pytest.fixture
def no_report_polling(monkeypatch: pytest.MonkeyPatch) -> None:
    """IAM's credential report is polled with sleeps: an answer read as "not ready" would wait 15 s."""
    monkeypatch.setattr(iam_watcher, "_sleep", lambda _seconds: None)


@dataclass
class Seeded:
    """The moto server seeded for one key (a technology, or the end-to-end items)."""

    key: str
    generation: int
    item_id: Any  # what the seeding function returned: an id, or ids by technology
    read: bool = False
    clean_ids: list[str] = field(default_factory=list)
    clean_ops: list[str] = field(default_factory=list)
    refused_ops: list[str] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)


def _seeded(moto: MotoServer, key: str, seed: Callable[[Aws], Any]) -> Seeded:
    """Reset the moto server and seed it for ``key``, unless it already is: the tests of one key
    run one after the other on a worker, and share one seeding."""
    current = moto.seeded
    if isinstance(current, Seeded) and current.key == key and current.generation == moto.generation:
        return current
    moto.reset()
    state = Seeded(key, moto.generation, seed(Aws(moto.url)))
    moto.seeded = state
    return state


def account_session(endpoint: str, max_attempts: int = 1) -> AccountSession:
    """An account session as ``run_sync`` makes one, its calls sent to ``endpoint``."""
    account = AccountConfig(name="lab", id=ACCOUNT_ID, regions=(REGION,), endpoint_url=endpoint)
    return AccountSession(account, max_attempts=max_attempts, always_returned=always_returned())


class ReadContext(SliceContext):
    """A slice context whose account-wide shared results (IAM's authorization details, credential
    report) are its own, as in a sync of its own: reads reuse the session's clients, never a
    result, nor a failure, that an earlier read computed."""

    def __init__(self, session: AccountSession, region: str) -> None:
        super().__init__(session, region)
        self._own: dict[Any, Any] = {}

    def shared(self, key: Any, compute: Callable[[], Any]) -> Any:
        if key not in self._own:
            self._own[key] = compute()
        return self._own[key]


def _raised(call: Callable[[], Any]) -> tuple[Any, Exception | None]:
    try:
        return call(), None
    except Exception as exc:
        return None, exc


def _read(session: AccountSession, technology: str) -> list[Item]:
    tech = TECHNOLOGIES[technology]
    return list(tech.list_items(ReadContext(session, GLOBAL_REGION if tech.is_global else REGION)))


@pytest.fixture(scope="module")
def session(proxy: BrokenEndpoint) -> AccountSession:
    """The meta-test's session (a client costs tens of milliseconds to make); max_attempts 1."""
    return account_session(proxy.url)


def _seeded_technology(
    moto: MotoServer, proxy: BrokenEndpoint, session: AccountSession, technology: str
) -> Seeded:
    """The server seeded with one item of ``technology``, read once cleanly through the proxy."""
    if technology not in SEEDS:
        pytest.fail(
            f"{technology} has no seeding entry: add one to SEEDS in {SEED_FILE} (a function that "
            "creates one item of it on moto, and the operations its read makes)"
        )
    seed = SEEDS[technology]
    state = _seeded(moto, technology, seed.seed)
    if not state.read:
        _prepare(proxy, seed)
        items, raised = _raised(lambda: _read(session, technology))
        if raised is not None:
            served = [f"{s.name} ({s.status})" for s in proxy.served]
            pytest.fail(
                f"the clean read of {technology} through the proxy failed: {type(raised).__name__}: "
                f"{raised} (calls: {served})"
            )
        state.clean_ids = [item.id for item in items]
        state.clean_ops = proxy.operations()
        state.refused_ops = sorted({f"{s.name} ({s.status})" for s in proxy.served if not s.ok})
        state.read = True
    _prepare(proxy, seed)
    return state


def _prepare(proxy: BrokenEndpoint, seed: Seed) -> None:
    """No rule, no record of earlier requests; the seed's stand-in answers."""
    proxy.clear()
    for operation, body in seed.answers.items():
        proxy.answer(operation, body)


# --- the meta-test: every technology, every operation, every shape -----------------------------


_INDEX = OperationIndex()


def _protocol(operation: str) -> str:
    return _INDEX.protocol(operation.split(":", 1)[0])


def _name(operation: str) -> str:
    return operation.split(":", 1)[1]


def _read_cases() -> list[Any]:
    """Per technology, its clean read, then each of its operations garbled with each shape: one
    technology's cases are consecutive, so that a worker seeds the server once for them."""
    cases = []
    for technology in sorted(set(TECHNOLOGIES) | set(SEEDS)):
        cases.append(pytest.param(technology, None, None, id=f"{technology}-clean"))
        seed = SEEDS.get(technology)
        for operation in seed.operations if seed else ():
            cases += [
                pytest.param(technology, operation, shape, id=f"{technology}-{operation}-{shape}")
                for shape in shapes_for(_protocol(operation))
            ]
    return cases


def test_every_technology_has_a_seeding_entry():
    missing = sorted(set(TECHNOLOGIES) - set(SEEDS))
    unknown = sorted(set(SEEDS) - set(TECHNOLOGIES))
    assert not missing, (
        f"no seeding entry for {', '.join(missing)}: add one per technology to SEEDS in {SEED_FILE}, "
        "so that its read is tested against garbled answers"
    )
    assert not unknown, f"SEEDS names technologies that do not exist: {', '.join(unknown)}"


@pytest.mark.parametrize(("technology", "operation", "shape"), _read_cases())
def test_reading_through_a_garbling_proxy(
    moto, proxy, session, no_report_polling, technology, operation, shape
):
    """Clean (no ``shape``): the read returns the seeded item, with the calls SEEDS lists.
    Garbled: the read raises ``UnreadableResponseError`` naming the call, never returns a list."""
    state = _seeded_technology(moto, proxy, session, technology)
    assert state.item_id in state.clean_ids, (
        f"the clean read of {technology} returned {state.clean_ids}, not the seeded {state.item_id}"
    )
    if shape is None:
        expected = SEEDS[technology].operations
        assert sorted(state.clean_ops) == sorted(expected), (
            f"the clean read of {technology} got 2xx answers to {state.clean_ops} (and errors to "
            f"{state.refused_ops}), but SEEDS lists {list(expected)}: update its entry in {SEED_FILE} "
            "(an operation answered by an error is not garbled: seed what makes it answer 2xx)"
        )
        return
    assert operation in state.clean_ops, f"the clean read made no {operation} call answered 2xx"
    proxy.garble(operation, shape)

    items, raised = _raised(lambda: _read(session, technology))

    assert proxy.garbled(operation), f"{operation} was never answered 2xx: nothing was garbled"
    assert raised is not None, (
        f"{technology}: with {operation} answered by a {shape} body, list_items returned "
        f"{len(items)} items {[i.id for i in items]} (clean: {state.clean_ids}) instead of raising"
    )
    accepted: tuple[type[Exception], ...] = (UnreadableResponseError,)
    if _protocol(operation) in XML_PROTOCOLS:
        accepted += (ResponseParserError,)
    assert isinstance(raised, accepted), (
        f"{technology}: with {operation} answered by a {shape} body, list_items raised "
        f"{type(raised).__module__}.{type(raised).__name__}: {raised} (expected UnreadableResponseError)"
    )
    assert _name(operation) in str(raised), f"the error does not name {operation}: {raised}"


# --- end to end: run_sync and the CLI, one technology per protocol ----------------------------


@dataclass(frozen=True)
class EndToEnd:
    """A technology seeded with an item some rule flags, and the operations garbled in its sync."""

    seed: Callable[[Aws], str]
    operations: tuple[str, ...]


END_TO_END: dict[str, EndToEnd] = {
    "sqs.queue": EndToEnd(seed_sqs, ("sqs:ListQueues", "sqs:GetQueueAttributes")),  # json
    "sns.topic": EndToEnd(seed_sns, ("sns:ListTopics", "sns:GetTopicAttributes")),  # query
    "s3.bucket": EndToEnd(  # rest-xml
        functools.partial(seed_s3, every_part=False), ("s3:ListBuckets", "s3:GetBucketPolicy")
    ),
    "lambda.function": EndToEnd(seed_lambda, ("lambda:ListFunctions", "lambda:GetPolicy")),  # rest-json
    "ec2.security_group": EndToEnd(seed_ec2_security_group, ("ec2:DescribeSecurityGroups",)),  # ec2
}


def seed_end_to_end(aws: Aws) -> dict[str, str]:
    """One item of each end-to-end technology, seeded together (their ids by technology): the
    end-to-end tests of a worker share one seeding, and each syncs only its own technology."""
    return {technology: case.seed(aws) for technology, case in END_TO_END.items()}


def _write_config(root: Path, endpoint: str, technology: str, max_attempts: int) -> Path:
    raw = {
        "repos_dir": "accounts",
        "max_attempts": max_attempts,
        "technologies": [technology],
        "accounts": [{"name": "lab", "id": ACCOUNT_ID, "regions": [REGION], "endpoint_url": endpoint}],
    }
    path = root / "gitmonkey.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def _sync(config_path: Path) -> SyncReport:
    raw = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    return run_sync(config_from_dict(raw, config_path))


@dataclass(frozen=True)
class Synced:
    """An account repository after a clean first sync: the item recorded, an issue open on it."""

    root: Path  # holds gitmonkey.yaml and accounts/lab
    technology: str
    item_file: str
    issue_file: str
    items: int

    def repo(self, root: Path | None = None) -> Path:
        return (root or self.root) / "accounts" / "lab"


def _synced(
    moto: MotoServer, proxy: BrokenEndpoint, factory: pytest.TempPathFactory, technology: str
) -> Synced:
    """The first clean sync of ``technology``, made once per seeding; each test syncs a copy."""
    state = _seeded(moto, "end-to-end", seed_end_to_end)
    synced = state.extras.get(technology)
    if synced is not None:
        return synced
    item_id = state.item_id[technology]
    root = factory.mktemp(technology.replace(".", "-"))
    proxy.clear()
    report = _sync(_write_config(root, proxy.url, technology, max_attempts=1))
    assert report.exit_code == 0, report.to_dict()
    (outcome,) = report.accounts[0].slices
    region = GLOBAL_REGION if TECHNOLOGIES[technology].is_global else REGION
    synced = Synced(
        root,
        technology,
        item_path(region, technology, item_id),
        issue_path(region, technology, item_id),
        len(outcome.documents),
    )
    repo = synced.repo()
    assert (repo / synced.item_file).is_file(), f"the first sync did not record {synced.item_file}"
    assert (repo / synced.issue_file).is_file(), f"the first sync opened no issue on {item_id}"
    assert yaml.safe_load((repo / synced.issue_file).read_text(encoding="utf-8"))["issues"]
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == ""
    state.extras[technology] = synced
    proxy.clear()
    return synced


def _copy(synced: Synced, tmp_path: Path, endpoint: str, max_attempts: int) -> tuple[Path, Path]:
    """A copy of the synced repository and its config: (config path, repository)."""
    root = tmp_path / "copy"
    shutil.copytree(synced.root, root, symlinks=True)
    return _write_config(root, endpoint, synced.technology, max_attempts), synced.repo(root)


def _tree(repo: Path) -> dict[str, Any]:
    """HEAD, the status and every tracked file's bytes."""
    tracked = [name for name in git(repo, "ls-files", "-z").split("\0") if name]
    return {
        "head": git(repo, "rev-parse", "HEAD").strip(),
        "status": git(repo, "status", "--porcelain", "--untracked-files=all"),
        "files": {name: (repo / name).read_bytes() for name in tracked},
    }


def _assert_unchanged(synced: Synced, repo: Path, before: dict[str, Any]) -> None:
    after = _tree(repo)
    assert after["head"] == before["head"], "a commit was made: " + git(repo, "log", "-3", "--format=%s")
    assert after["status"] == "", f"the working tree changed:\n{after['status']}"
    names = set(before["files"]) | set(after["files"])
    changed = sorted(name for name in names if before["files"].get(name) != after["files"].get(name))
    assert not changed, f"files changed: {changed}"
    assert synced.item_file in after["files"], "the item file is gone"
    assert synced.issue_file in after["files"], "the issue file is gone: the issue was closed"


def _e2e_cases() -> list[Any]:
    return [
        pytest.param(technology, operation, shape, id=f"{technology}-{operation}-{shape}")
        for technology, case in END_TO_END.items()
        for operation in case.operations
        for shape in shapes_for(_protocol(operation))
    ]


@pytest.mark.parametrize(("technology", "operation", "shape"), _e2e_cases())
def test_a_sync_behind_a_garbling_proxy_fails_the_slice_and_keeps_its_files(
    moto, proxy, tmp_path_factory, tmp_path, technology, operation, shape
):
    synced = _synced(moto, proxy, tmp_path_factory, technology)
    config_path, repo = _copy(synced, tmp_path, proxy.url, max_attempts=1)
    before = _tree(repo)
    proxy.garble(operation, shape)

    report = _sync(config_path)

    assert proxy.garbled(operation), f"{operation} was never answered 2xx: nothing was garbled"
    account = report.accounts[0]
    (outcome,) = account.slices
    assert report.exit_code == 3, f"exit code {report.exit_code}, slice error: {outcome.error}"
    assert not outcome.ok
    assert account.commits == []
    assert (account.added, account.modified, account.deleted) == (0, 0, 0)
    _assert_unchanged(synced, repo, before)
    assert _name(operation) in (outcome.error or ""), f"the error does not name {operation}: {outcome.error}"


@pytest.mark.parametrize(
    ("technology", "operation", "shape"),
    [
        pytest.param("sqs.queue", "sqs:GetQueueAttributes", "html", id="json-html"),
        pytest.param("s3.bucket", "s3:ListBuckets", "cut", id="rest-xml-cut"),
    ],
)
def test_the_cli_exits_3_naming_the_operation(
    moto, proxy, tmp_path_factory, tmp_path, technology, operation, shape
):
    synced = _synced(moto, proxy, tmp_path_factory, technology)
    config_path, repo = _copy(synced, tmp_path, proxy.url, max_attempts=1)
    before = _tree(repo)
    proxy.garble(operation, shape)

    env = {key: value for key, value in os.environ.items() if not key.startswith("GITMONKEY_")}
    result = subprocess.run(
        [sys.executable, "-m", "gitmonkey", "sync", "--config", str(config_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )

    output = result.stdout + result.stderr
    assert proxy.garbled(operation), f"{operation} was never answered 2xx: nothing was garbled"
    assert result.returncode == 3, output
    failed = [line for line in output.splitlines() if technology in line and _name(operation) in line]
    assert failed, f"no line names the failed {technology} slice and {operation}:\n{output}"
    _assert_unchanged(synced, repo, before)


# --- a garbled first answer is retried -------------------------------------------------------


@pytest.mark.parametrize(
    ("technology", "operation", "shape"),
    [
        pytest.param("sqs.queue", "sqs:GetQueueAttributes", "cut", id="json"),
        pytest.param("sns.topic", "sns:ListTopics", "html", id="query"),
        pytest.param("s3.bucket", "s3:ListBuckets", "wrong", id="rest-xml"),
        pytest.param("lambda.function", "lambda:GetPolicy", "empty", id="rest-json"),
        pytest.param("ec2.security_group", "ec2:DescribeSecurityGroups", "cut", id="ec2"),
    ],
)
def test_a_garbled_first_answer_is_retried_within_max_attempts(
    moto, proxy, tmp_path_factory, tmp_path, technology, operation, shape
):
    synced = _synced(moto, proxy, tmp_path_factory, technology)
    config_path, repo = _copy(synced, tmp_path, proxy.url, max_attempts=2)
    before = _tree(repo)
    proxy.garble(operation, shape, times=1)

    report = _sync(config_path)

    (outcome,) = report.accounts[0].slices
    assert len(proxy.garbled(operation)) == 1, "the first answer was not garbled"
    answered = [s for s in proxy.served if s.name == operation and s.ok]
    assert len(answered) >= 2, f"{operation} was not called again after its garbled answer"
    assert report.exit_code == 0, f"with max_attempts 2: exit code {report.exit_code}, {outcome.error}"
    assert len(outcome.documents) == synced.items, "the retried read did not return every item"
    assert report.accounts[0].commits == [], "nothing changed in AWS, yet a commit was made"
    _assert_unchanged(synced, repo, before)

    proxy.clear()
    _write_config(config_path.parent, proxy.url, technology, max_attempts=1)
    proxy.garble(operation, shape, times=1)

    report = _sync(config_path)

    (outcome,) = report.accounts[0].slices
    assert len(proxy.garbled(operation)) == 1, "the first answer was not garbled"
    assert report.exit_code == 3, f"with max_attempts 1: exit code {report.exit_code}"
    assert _name(operation) in (outcome.error or ""), f"the error does not name {operation}: {outcome.error}"
    _assert_unchanged(synced, repo, before)
