"""``get_item`` of the core watchers (IAM, S3, KMS, Lambda, SNS, SQS, Secrets Manager, ECR) against
moto: for every listed item it gives what ``list_items`` gives, ``None`` for an id that does not
exist or whose item was deleted, and it raises on AccessDenied and throttling (a failed read must
never read as a deletion). Each getter costs a bounded number of calls, all of them declared."""

from __future__ import annotations

import datetime
import importlib
import io
import json
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from moto import mock_aws
from moto.iam.models import ManagedPolicy

from gitmonkey.config import AccountConfig
from gitmonkey.model import GLOBAL_REGION
from gitmonkey.read.aws import AccountSession, SliceContext
from gitmonkey.watchers import always_returned, get_technology, iam
from tests.helpers import ACCOUNT_ID, assert_get_item_matches_listing, error_response, inject, slice_context

lambda_watcher = importlib.import_module("gitmonkey.watchers.lambda")

REGION = "eu-west-1"
HOME = "us-east-1"
POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:List*", "Resource": "*"}]}
POLICY_V2 = {**POLICY, "Statement": [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}]}
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
LAMBDA_ROLE = "arn:aws:iam::aws:policy/service-role/AWSLambdaRole"
METADATA = (
    '<?xml version="1.0"?>\n<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
    "entityID='https://idp.example.com/saml'><md:IDPSSODescriptor protocolSupportEnumeration="
    '"urn:oasis:names:tc:SAML:2.0:protocol"/></md:EntityDescriptor>\n<!-- ' + "padding " * 130 + "-->"
)  # botocore wants at least 1,000 characters


@pytest.fixture
def aws(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto; AWS managed policies (seconds to load) only for the tests of ``iam.aws_policy``."""
    callspec = getattr(request.node, "callspec", None)
    case = callspec.params.get("case") if callspec else None
    managed = isinstance(case, Case) and case.technology == "iam.aws_policy"
    monkeypatch.setattr(iam, "_sleep", lambda _: None)  # the credential report's polling
    # moto's GetAccountAuthorizationDetails leaves out each managed policy's PolicyId, which AWS's
    # ManagedPolicyDetail carries (and GetPolicy, in moto too): give moto's policies the attribute
    # its answer is built from.
    monkeypatch.setattr(ManagedPolicy, "policy_id", property(lambda policy: policy.id), raising=False)
    with mock_aws(config={"iam": {"load_aws_managed_policies": managed}}):
        yield


def _client(service: str, region: str = HOME) -> Any:
    return boto3.client(service, region_name=region)


# --- seeding: several items per technology, with the awkward parts, and ids sharing a prefix --------


def _pem_certificate(common_name: str) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(0x2024)
        .not_valid_before(datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC))
        .not_valid_after(datetime.datetime(2031, 1, 1, tzinfo=datetime.UTC))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem.decode()


def _aws_managed_policies_loaded(client: Any) -> bool:
    try:
        client.get_policy(PolicyArn=READ_ONLY)
    except client.exceptions.NoSuchEntityException:
        return False
    return True


def seed_iam() -> None:
    client = _client("iam")
    document = json.dumps(POLICY)
    boundary = client.create_policy(PolicyName="boundary", PolicyDocument=document)["Policy"]["Arn"]
    team = client.create_policy(
        PolicyName="team-read", Path="/team/", PolicyDocument=document, Description="the team's reads"
    )["Policy"]["Arn"]
    client.create_policy_version(PolicyArn=team, PolicyDocument=json.dumps(POLICY_V2), SetAsDefault=True)
    client.create_policy(PolicyName="spare", PolicyDocument=document)

    client.create_group(GroupName="admins")
    client.create_group(GroupName="admins-2", Path="/ops/")
    client.put_group_policy(GroupName="admins", PolicyName="inline", PolicyDocument=document)
    client.attach_group_policy(GroupName="admins", PolicyArn=team)

    client.create_user(UserName="alice", Path="/staff/", Tags=[{"Key": "team", "Value": "web"}],
                       PermissionsBoundary=boundary)
    client.put_user_policy(UserName="alice", PolicyName="inline", PolicyDocument=document)
    client.attach_user_policy(UserName="alice", PolicyArn=boundary)
    client.add_user_to_group(GroupName="admins", UserName="alice")
    client.create_access_key(UserName="alice")
    client.create_login_profile(UserName="alice", Password="correct-horse-battery-9!")
    device = client.create_virtual_mfa_device(VirtualMFADeviceName="alice-mfa")["VirtualMFADevice"]
    serial = device["SerialNumber"]
    client.enable_mfa_device(UserName="alice", SerialNumber=serial, AuthenticationCode1="123456",
                             AuthenticationCode2="654321")
    client.create_user(UserName="bob")
    client.add_user_to_group(GroupName="admins", UserName="bob")
    client.create_user(UserName="alice2")

    client.create_role(RoleName="app", Path="/svc/", AssumeRolePolicyDocument=json.dumps(TRUST),
                       Description="the app", MaxSessionDuration=7200,
                       Tags=[{"Key": "env", "Value": "prod"}], PermissionsBoundary=boundary)
    client.put_role_policy(RoleName="app", PolicyName="inline", PolicyDocument=document)
    client.attach_role_policy(RoleName="app", PolicyArn=team)
    if _aws_managed_policies_loaded(client):
        client.attach_user_policy(UserName="alice", PolicyArn=READ_ONLY)
        client.attach_role_policy(RoleName="app", PolicyArn=LAMBDA_ROLE)
    client.create_role(RoleName="app2", AssumeRolePolicyDocument=json.dumps(TRUST))
    client.create_instance_profile(InstanceProfileName="app-profile")
    client.add_role_to_instance_profile(InstanceProfileName="app-profile", RoleName="app")
    client.create_instance_profile(InstanceProfileName="app-profile-2", Path="/x/")

    for name, path in (("web", "/cloudfront/"), ("web-2", "/")):
        body, key = _pem_certificate(f"{name}.example.com")
        client.upload_server_certificate(ServerCertificateName=name, Path=path, CertificateBody=body,
                                         PrivateKey=key, Tags=[{"Key": "site", "Value": name}])
    for name in ("okta", "okta-2"):
        client.create_saml_provider(Name=name, SAMLMetadataDocument=METADATA,
                                    Tags=[{"Key": "idp", "Value": name}])


def delete_iam(technology: str) -> str:
    client = _client("iam")
    if technology == "iam.user":
        client.remove_user_from_group(GroupName="admins", UserName="bob")
        client.delete_user(UserName="bob")
        return "bob"
    if technology == "iam.role":
        client.delete_role(RoleName="app2")
        return "app2"
    if technology == "iam.group":
        client.delete_group(GroupName="admins-2")
        return "admins-2"
    if technology == "iam.policy":
        client.delete_policy(PolicyArn=f"arn:aws:iam::{ACCOUNT_ID}:policy/spare")
        return "spare"
    if technology == "iam.aws_policy":  # no longer attached anywhere: no longer an item
        client.detach_role_policy(RoleName="app", PolicyArn=LAMBDA_ROLE)
        return "AWSLambdaRole"
    if technology == "iam.instance_profile":
        client.delete_instance_profile(InstanceProfileName="app-profile-2")
        return "app-profile-2"
    if technology == "iam.server_certificate":
        client.delete_server_certificate(ServerCertificateName="web-2")
        return "web-2"
    client.delete_saml_provider(SAMLProviderArn=f"arn:aws:iam::{ACCOUNT_ID}:saml-provider/okta-2")
    return "okta-2"


def seed_s3() -> None:
    client = _client("s3")
    client.create_bucket(Bucket="site-bucket")
    client.put_bucket_policy(Bucket="site-bucket", Policy=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                       "Resource": "arn:aws:s3:::site-bucket/*"}],
    }))
    client.put_bucket_tagging(Bucket="site-bucket", Tagging={"TagSet": [{"Key": "site", "Value": "www"}]})
    client.put_bucket_versioning(Bucket="site-bucket", VersioningConfiguration={"Status": "Enabled"})
    client.create_bucket(Bucket="site-bucket-copy")
    _client("s3", REGION).create_bucket(
        Bucket="site-bucket-eu", CreateBucketConfiguration={"LocationConstraint": REGION}
    )


def delete_s3(_: str) -> str:
    _client("s3").delete_bucket(Bucket="site-bucket-copy")
    return "site-bucket-copy"


KMS_KEYS: dict[str, str] = {}


def seed_kms() -> None:
    client = _client("kms", REGION)
    app = client.create_key(Description="app", Tags=[{"TagKey": "team", "TagValue": "web"}])["KeyMetadata"]
    client.create_alias(AliasName="alias/app", TargetKeyId=app["KeyId"])
    client.create_alias(AliasName="alias/app-old", TargetKeyId=app["KeyId"])
    client.enable_key_rotation(KeyId=app["KeyId"])
    client.create_grant(KeyId=app["KeyId"], GranteePrincipal=f"arn:aws:iam::{ACCOUNT_ID}:role/app",
                        Operations=["Decrypt"])
    plain = client.create_key(Description="plain")["KeyMetadata"]
    KMS_KEYS.update(app=app["KeyId"], plain=plain["KeyId"])


def delete_kms(_: str) -> str:
    from moto.kms.models import kms_backends

    kms_backends[ACCOUNT_ID][REGION].delete_key(KMS_KEYS["plain"])  # the end of the waiting period
    return KMS_KEYS["plain"]


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


def seed_lambda() -> None:
    role = _client("iam").create_role(RoleName="fn-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    client = _client("lambda", REGION)
    for name in ("api", "api-worker", "cron"):
        client.create_function(
            FunctionName=name, Runtime="python3.12", Role=role, Handler="app.handler",
            Code={"ZipFile": _zip()}, Environment={"Variables": {"DB_PASSWORD": "hunter2", "STAGE": name}},
            Tags={"team": "web"},
        )
    client.add_permission(FunctionName="api", StatementId="public", Action="lambda:InvokeFunction",
                          Principal="*")
    client.create_function_url_config(FunctionName="api", AuthType="NONE")
    version = client.publish_version(FunctionName="api")["Version"]
    alias = client.create_alias(FunctionName="api", Name="live", FunctionVersion=version)["AliasArn"]
    sqs = _client("sqs", REGION)
    queue = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]
    for function, size in (("api-worker", 5), (alias, 7)):
        client.create_event_source_mapping(EventSourceArn=attributes["QueueArn"], FunctionName=function,
                                           BatchSize=size)


def delete_lambda(_: str) -> str:
    _client("lambda", REGION).delete_function(FunctionName="cron")
    return "cron"


def seed_sns() -> None:
    client = _client("sns", REGION)
    orders = client.create_topic(Name="orders", Tags=[{"Key": "team", "Value": "shop"}])["TopicArn"]
    client.set_topic_attributes(TopicArn=orders, AttributeName="DisplayName", AttributeValue="Orders")
    client.subscribe(TopicArn=orders, Protocol="https", Endpoint="https://hooks.example.com/secret/token")
    client.subscribe(TopicArn=orders, Protocol="email", Endpoint="ops@example.com")
    client.create_topic(Name="orders-audit")
    client.create_topic(Name="billing.fifo", Attributes={"FifoTopic": "true"})


def delete_sns(_: str) -> str:
    _client("sns", REGION).delete_topic(TopicArn=f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:orders-audit")
    return "orders-audit"


def seed_sqs() -> None:
    client = _client("sqs", REGION)
    dlq = client.create_queue(QueueName="orders-dlq")["QueueUrl"]
    dlq_arn = client.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"})
    client.create_queue(QueueName="orders", Attributes={"RedrivePolicy": redrive}, tags={"team": "shop"})
    client.create_queue(QueueName="refunds", Attributes={"RedrivePolicy": redrive})
    client.create_queue(QueueName="audit.fifo", Attributes={"FifoQueue": "true"})


def delete_sqs(_: str) -> str:
    client = _client("sqs", REGION)
    client.delete_queue(QueueUrl=client.get_queue_url(QueueName="refunds")["QueueUrl"])
    return "refunds"


def seed_secretsmanager() -> None:
    client = _client("secretsmanager", REGION)
    client.create_secret(Name="prod/db", SecretString="s3cr3t", Description="the database",
                         Tags=[{"Key": "team", "Value": "data"}])
    client.put_resource_policy(SecretId="prod/db", ResourcePolicy=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
                       "Action": "secretsmanager:GetSecretValue", "Resource": "*"}],
    }))
    client.create_secret(Name="prod/db-replica", SecretString="x")
    client.create_secret(Name="other", SecretString="y")


def delete_secretsmanager(_: str) -> str:
    _client("secretsmanager", REGION).delete_secret(SecretId="prod/db-replica")  # pending deletion
    return "prod/db-replica"


def seed_ecr() -> None:
    client = _client("ecr", REGION)
    client.create_repository(repositoryName="team/app", tags=[{"Key": "team", "Value": "web"}],
                             imageScanningConfiguration={"scanOnPush": True})
    client.set_repository_policy(repositoryName="team/app", policyText=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
                       "Action": "ecr:BatchGetImage"}],
    }))
    client.put_lifecycle_policy(repositoryName="team/app", lifecyclePolicyText=json.dumps({
        "rules": [{"rulePriority": 1, "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed",
                                                    "countUnit": "days", "countNumber": 14},
                   "action": {"type": "expire"}}],
    }))
    client.create_repository(repositoryName="team/app-cache")
    client.create_repository(repositoryName="tools")


def delete_ecr(_: str) -> str:
    _client("ecr", REGION).delete_repository(repositoryName="tools")
    return "tools"


@dataclass(frozen=True)
class Case:
    """One technology: how to seed and delete its items, an id of the right shape that does not
    exist, one that does, the getter's first call and a later one ("service.Operation"), and the
    calls one read may cost."""

    technology: str
    region: str
    seed: Callable[[], None]
    delete: Callable[[str], str]
    present: str | Callable[[], str]
    missing: str
    first_call: str
    later_call: str
    max_calls: int

    def present_id(self) -> str:
        return self.present() if callable(self.present) else self.present


CASES = [
    Case("iam.user", GLOBAL_REGION, seed_iam, delete_iam, "alice", "alic", "iam.GetUser",
         "iam.ListAccessKeys", 14),
    Case("iam.role", GLOBAL_REGION, seed_iam, delete_iam, "app", "ap", "iam.GetRole",
         "iam.ListInstanceProfilesForRole", 5),
    Case("iam.group", GLOBAL_REGION, seed_iam, delete_iam, "admins", "admin", "iam.GetGroup",
         "iam.ListAttachedGroupPolicies", 4),
    # "team-read" is under /team/: the root-path GetPolicy misses, ListPolicies finds its ARN.
    Case("iam.policy", GLOBAL_REGION, seed_iam, delete_iam, "team-read", "team", "iam.GetPolicy",
         "iam.ListPolicyVersions", 5),
    # AdministratorAccess exists, but is attached nowhere: not an item.
    Case("iam.aws_policy", GLOBAL_REGION, seed_iam, delete_iam, "ReadOnlyAccess", "AdministratorAccess",
         "iam.ListPolicies", "iam.GetPolicyVersion", 2),
    Case("iam.instance_profile", GLOBAL_REGION, seed_iam, delete_iam, "app-profile", "app-prof",
         "iam.GetInstanceProfile", "iam.GetInstanceProfile", 1),
    Case("iam.server_certificate", GLOBAL_REGION, seed_iam, delete_iam, "web", "we",
         "iam.GetServerCertificate", "iam.GetServerCertificate", 1),
    Case("iam.saml_provider", GLOBAL_REGION, seed_iam, delete_iam, "okta", "okt", "iam.GetSAMLProvider",
         "iam.GetSAMLProvider", 1),
    # ListBuckets (+ GetBucketLocation: moto sends no BucketRegion), the ACL and eleven parts.
    Case("s3.bucket", GLOBAL_REGION, seed_s3, delete_s3, "site-bucket", "site-buck", "s3.ListBuckets",
         "s3.GetBucketPolicy", 14),
    Case("kms.key", REGION, seed_kms, delete_kms, lambda: KMS_KEYS["app"],
         "00000000-0000-4000-8000-000000000000", "kms.DescribeKey", "kms.ListGrants", 6),
    Case("lambda.function", REGION, seed_lambda, delete_lambda, "api", "ap",
         "lambda.GetFunctionConfiguration", "lambda.ListEventSourceMappings", 6),
    Case("sns.topic", REGION, seed_sns, delete_sns, "orders", "order", "sns.GetTopicAttributes",
         "sns.ListSubscriptionsByTopic", 3),
    Case("sqs.queue", REGION, seed_sqs, delete_sqs, "orders-dlq", "order", "sqs.ListQueues",
         "sqs.ListDeadLetterSourceQueues", 4),
    Case("secretsmanager.secret", REGION, seed_secretsmanager, delete_secretsmanager, "prod/db", "prod/d",
         "secretsmanager.ListSecrets", "secretsmanager.GetResourcePolicy", 2),
    Case("ecr.repository", REGION, seed_ecr, delete_ecr, "team/app", "team/ap", "ecr.DescribeRepositories",
         "ecr.ListTagsForResource", 4),
]
BY_NAME = {case.technology: case for case in CASES}
ids = [case.technology for case in CASES]


def _session(**options: Any) -> AccountSession:
    return AccountSession(AccountConfig(name="test", id=ACCOUNT_ID), **options)


def _ctx(region: str, **options: Any) -> SliceContext:
    return SliceContext(_session(**options), region)


# --- the getter gives what the listing gives ------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_get_item_matches_the_listing(aws, case: Case):
    case.seed()
    calls = assert_get_item_matches_listing(case.technology, case.region, missing=case.missing)
    assert len(calls) >= 2, "seed several items, so that a wrong item's answer would show"
    assert max(calls) <= case.max_calls, calls


# IAM action of each call whose name differs from its botocore operation.
_S3_ACTIONS = {
    "ListBuckets": "ListAllMyBuckets",
    "GetBucketEncryption": "GetEncryptionConfiguration",
    "GetBucketLifecycleConfiguration": "GetLifecycleConfiguration",
    "GetBucketCors": "GetBucketCORS",
    "GetPublicAccessBlock": "GetBucketPublicAccessBlock",
    "GetObjectLockConfiguration": "GetBucketObjectLockConfiguration",
}


def _action(call: str) -> str:
    service, operation = call.split(":")
    return f"s3:{_S3_ACTIONS.get(operation, operation)}" if service == "s3" else call


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_the_getter_makes_only_declared_calls_and_reads_checked_answers(aws, case: Case):
    """Every call is in the technology's IAM actions, and moto's answers carry every member the
    technology declares always returned (the session checks them, as a sync's does)."""
    case.seed()
    tech = get_technology(case.technology)
    ctx = _ctx(case.region, max_attempts=1, always_returned=always_returned())
    assert tech.get_item is not None
    item = tech.get_item(ctx, case.present_id())
    assert item is not None and item.id == case.present_id()
    assert {_action(call) for call in ctx.calls} <= set(tech.iam_actions), sorted(ctx.calls)


# --- not there: None; failed: raises --------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_a_deleted_item_reads_as_none(aws, case: Case):
    case.seed()
    tech = get_technology(case.technology)
    assert tech.get_item is not None
    gone = case.delete(case.technology)
    assert gone not in {item.id for item in tech.list_items(slice_context(case.region))}
    assert tech.get_item(slice_context(case.region), gone) is None


def _protocol(service: str) -> str:
    return botocore.session.get_session().get_service_model(service).metadata["protocol"]


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def _failure(service: str, status: int, code: str) -> Callable[..., AWSResponse]:
    """An error answer to a call of ``service`` in its protocol's spelling."""
    protocol = _protocol(service)
    if protocol == "query":
        return lambda **_: error_response(status, code)
    if protocol == "rest-xml":
        body = f"<Error><Code>{code}</Code><Message>injected</Message></Error>".encode()
        headers: dict[str, str] = {}
    else:
        body = json.dumps({"__type": code, "message": "injected"}).encode()
        headers = {"x-amzn-ErrorType": code, "x-amzn-query-error": f"{code};Sender",
                   "Content-Type": "application/x-amz-json-1.0"}
    return lambda **_: AWSResponse("https://example.invalid", status, headers, _Raw(body))


_EVENT_SERVICE = {"secretsmanager": "secrets-manager"}
# (HTTP status, code) of an AccessDenied and of a throttling answer, by protocol.
_DENIED = {"query": (403, "AccessDenied"), "rest-xml": (403, "AccessDenied")}
_THROTTLED = {"query": (400, "Throttling"), "rest-xml": (503, "SlowDown")}


@pytest.mark.parametrize(("kind", "which"), [("denied", "first_call"), ("denied", "later_call"),
                                             ("throttled", "first_call")])
@pytest.mark.parametrize("case", CASES, ids=ids)
def test_a_failed_call_raises_instead_of_reading_as_none(aws, monkeypatch, case: Case, kind: str, which: str):
    case.seed()
    tech = get_technology(case.technology)
    assert tech.get_item is not None
    service, operation = getattr(case, which).split(".")
    table = _DENIED if kind == "denied" else _THROTTLED
    default = (400, "AccessDeniedException") if kind == "denied" else (400, "ThrottlingException")
    status, code = table.get(_protocol(service), default)
    event = f"before-send.{_EVENT_SERVICE.get(service, service)}.{operation}"
    failure = _failure(service, status, code)
    with inject(monkeypatch, event, failure) as fired, pytest.raises(ClientError) as raised:
        tech.get_item(_ctx(case.region, max_attempts=1), case.present_id())
    assert fired, f"{event} was never sent"
    assert raised.value.response["Error"]["Code"] == code


# --- technology-specific cases -------------------------------------------------------------------


def test_a_user_deleted_during_the_read_is_none(aws, monkeypatch):
    """NoSuchEntity from a later call, and GetUser says NoSuchEntity too: the user is gone."""
    seed_iam()
    tech = get_technology("iam.user")
    assert tech.get_item is not None

    def delete_first(**_: Any) -> None:
        _client("iam").delete_user(UserName="alice2")

    with inject(monkeypatch, "before-send.iam.ListAccessKeys", delete_first) as fired:
        assert tech.get_item(_ctx(GLOBAL_REGION), "alice2") is None
    assert fired


def test_no_such_entity_for_a_part_of_an_existing_user_raises(aws, monkeypatch):
    """An inline policy deleted between ListUserPolicies and GetUserPolicy is no deleted user."""
    seed_iam()
    tech = get_technology("iam.user")
    assert tech.get_item is not None
    failure = _failure("iam", 404, "NoSuchEntity")
    event = "before-send.iam.GetUserPolicy"
    with inject(monkeypatch, event, failure), pytest.raises(ClientError, match="NoSuchEntity"):
        tech.get_item(_ctx(GLOBAL_REGION, max_attempts=1), "alice")


def test_an_answer_for_another_user_is_not_taken(aws):
    """IAM names are unique without regard to case: GetUser("ALICE") may answer for "alice"."""
    ctx = _ctx(GLOBAL_REGION)
    with Stubber(ctx.client("iam")) as stub:
        user = {"Path": "/", "UserName": "alice", "UserId": "AIDAEXAMPLE000000000",
                "CreateDate": datetime.datetime(2024, 1, 1), "Arn": f"arn:aws:iam::{ACCOUNT_ID}:user/alice"}
        stub.add_response("get_user", {"User": user}, {"UserName": "ALICE"})
        assert iam.get_user(ctx, "ALICE") is None


def test_a_key_is_read_by_its_id_only(aws):
    """DescribeKey also resolves an alias or an ARN to a key: those are no key ids."""
    seed_kms()
    tech = get_technology("kms.key")
    assert tech.get_item is not None
    key_arn = f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/{KMS_KEYS['app']}"
    for other in ("alias/app", key_arn):
        assert tech.get_item(slice_context(REGION), other) is None
    item = tech.get_item(slice_context(REGION), KMS_KEYS["app"])
    assert item is not None and item.name == "alias/app"
    assert item.configuration["Aliases"] == ["alias/app", "alias/app-old"]


def test_a_qualified_function_name_is_not_the_function(aws):
    seed_lambda()
    tech = get_technology("lambda.function")
    assert tech.get_item is not None
    assert tech.get_item(slice_context(REGION), "api:live") is None


def test_mappings_of_a_functions_alias_are_its_own(aws):
    seed_lambda()
    tech = get_technology("lambda.function")
    assert tech.get_item is not None
    item = tech.get_item(slice_context(REGION), "api")
    assert item is not None
    assert [m["BatchSize"] for m in item.configuration["EventSourceMappings"]] == [7]
    assert not lambda_watcher.GET_ONLY_FIELDS & set(item.configuration)


def test_dead_letter_sources_come_from_the_queue_itself(aws):
    seed_sqs()
    tech = get_technology("sqs.queue")
    assert tech.get_item is not None
    item = tech.get_item(slice_context(REGION), "orders-dlq")
    assert item is not None
    assert item.configuration["DeadLetterSourceQueues"] == [
        f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:orders", f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:refunds",
    ]


def test_a_bucket_of_another_region_is_read_there(aws):
    seed_s3()
    tech = get_technology("s3.bucket")
    assert tech.get_item is not None
    ctx = slice_context(GLOBAL_REGION)
    item = tech.get_item(ctx, "site-bucket-eu")
    assert item is not None and item.region == GLOBAL_REGION
    assert item.configuration["Region"] == REGION


def test_the_policy_getter_lists_no_policies_at_the_root_path(aws):
    """GetPolicy, ListPolicyVersions and (on AWS, whose ListPolicyVersions has no documents; moto's
    has) GetPolicyVersion; ListPolicies only for a policy under another path."""
    seed_iam()
    tech = get_technology("iam.policy")
    assert tech.get_item is not None
    ctx = slice_context(GLOBAL_REGION)
    assert tech.get_item(ctx, "boundary") is not None
    assert set(ctx.calls) <= {"iam:GetPolicy", "iam:ListPolicyVersions", "iam:GetPolicyVersion"}
    assert ctx.calls["iam:GetPolicy"] == 1 and ctx.calls["iam:ListPolicyVersions"] == 1


def test_getter_cost_does_not_grow_with_the_slice(aws):
    """Ten more queues, topics and repositories: one read costs what it cost before."""
    for seed in (seed_sqs, seed_sns, seed_ecr):
        seed()
    before = {}
    for name, item_id in (("sqs.queue", "orders"), ("sns.topic", "orders"), ("ecr.repository", "team/app")):
        ctx = slice_context(REGION)
        get_item = get_technology(name).get_item
        assert get_item is not None and get_item(ctx, item_id) is not None
        before[name] = ctx.api_calls
    for n in range(10):
        _client("sqs", REGION).create_queue(QueueName=f"extra-{n}")
        _client("sns", REGION).create_topic(Name=f"extra-{n}")
        _client("ecr", REGION).create_repository(repositoryName=f"extra-{n}")
    for name, item_id in (("sqs.queue", "orders"), ("sns.topic", "orders"), ("ecr.repository", "team/app")):
        ctx = slice_context(REGION)
        get_item = get_technology(name).get_item
        assert get_item is not None and get_item(ctx, item_id) is not None
        assert ctx.api_calls == before[name], name


def test_posture_technologies_have_no_getter():
    for name in ("iam.root", "iam.password_policy", "s3.account_public_access_block"):
        assert get_technology(name).get_item is None
