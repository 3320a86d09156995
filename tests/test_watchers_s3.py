"""S3 bucket watcher against moto: every configuration part, absent parts, races, failures, cost."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from gitmonkey.audit import AuditContext, RuleSet
from gitmonkey.normalize import normalize_item
from gitmonkey.read.aws import SliceContext
from gitmonkey.watchers import s3
from tests.helpers import slice_context

ACCOUNT = "123456789012"
POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::site-bucket/*",
        }
    ],
}
PARTS = (
    "Policy",
    "PublicAccessBlockConfiguration",
    "ServerSideEncryptionConfiguration",
    "Logging",
    "LifecycleRules",
    "CORSRules",
    "Website",
    "OwnershipControls",
    "ObjectLockConfiguration",
)


def make_ctx() -> SliceContext:
    return slice_context("global")


@pytest.fixture
def aws():
    with mock_aws():
        yield


def _configure_site_bucket(client) -> None:
    client.create_bucket(Bucket="site-bucket")
    client.create_bucket(Bucket="log-bucket")
    client.put_bucket_acl(Bucket="log-bucket", ACL="log-delivery-write")
    client.put_bucket_policy(Bucket="site-bucket", Policy=json.dumps(POLICY))
    client.put_public_access_block(
        Bucket="site-bucket",
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": False,
            "RestrictPublicBuckets": False,
        },
    )
    client.put_bucket_encryption(
        Bucket="site-bucket",
        ServerSideEncryptionConfiguration={
            "Rules": [
                {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "k1"}}
            ]
        },
    )
    client.put_bucket_versioning(Bucket="site-bucket", VersioningConfiguration={"Status": "Enabled"})
    client.put_bucket_logging(
        Bucket="site-bucket",
        BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": "log-bucket", "TargetPrefix": "site/"}},
    )
    client.put_bucket_lifecycle_configuration(
        Bucket="site-bucket",
        LifecycleConfiguration={
            "Rules": [
                {"ID": "expire", "Status": "Enabled", "Filter": {"Prefix": "tmp/"}, "Expiration": {"Days": 7}}
            ]
        },
    )
    client.put_bucket_cors(
        Bucket="site-bucket",
        CORSConfiguration={"CORSRules": [{"AllowedMethods": ["GET"], "AllowedOrigins": ["*"]}]},
    )
    client.put_bucket_website(
        Bucket="site-bucket", WebsiteConfiguration={"IndexDocument": {"Suffix": "index.html"}}
    )
    client.put_bucket_tagging(
        Bucket="site-bucket",
        Tagging={"TagSet": [{"Key": "owner", "Value": "web"}, {"Key": "env", "Value": "prod"}]},
    )
    client.put_bucket_ownership_controls(
        Bucket="site-bucket", OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]}
    )


def test_configured_bucket_has_every_part(aws):
    _configure_site_bucket(boto3.client("s3", region_name="us-east-1"))

    items = {item.id: item for item in s3.list_buckets(make_ctx())}

    item = items["site-bucket"]
    assert (item.technology, item.region, item.name) == ("s3.bucket", "global", "site-bucket")
    assert item.arn == "arn:aws:s3:::site-bucket"
    config = item.configuration
    assert config["Region"] == "us-east-1"
    assert isinstance(config["CreationDate"], datetime.datetime)
    assert config["Policy"] == POLICY
    assert config["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": False,
        "RestrictPublicBuckets": False,
    }
    rule = config["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "k1"}
    assert config["Versioning"]["Status"] == "Enabled"
    assert config["Logging"] == {"TargetBucket": "log-bucket", "TargetPrefix": "site/"}
    assert [(r["ID"], r["Expiration"]) for r in config["LifecycleRules"]] == [("expire", {"Days": 7})]
    assert [(r["AllowedMethods"], r["AllowedOrigins"]) for r in config["CORSRules"]] == [(["GET"], ["*"])]
    assert config["Website"]["IndexDocument"] == {"Suffix": "index.html"}
    assert config["Tags"] == {"owner": "web", "env": "prod"}
    assert config["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]}
    assert config["Acl"]["Owner"]["ID"]
    assert [g["Permission"] for g in config["Acl"]["Grants"]] == ["FULL_CONTROL"]
    log_grants = items["log-bucket"].configuration["Acl"]["Grants"]
    assert {g["Grantee"].get("URI") for g in log_grants} >= {"http://acs.amazonaws.com/groups/s3/LogDelivery"}


def test_unconfigured_parts_are_absent_not_errors(aws):
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="bare-bucket")

    (item,) = s3.list_buckets(make_ctx())

    config = item.configuration
    assert {part: config[part] for part in PARTS} == dict.fromkeys(PARTS)
    assert config["Tags"] == {}
    assert config["Versioning"] == {}


def test_bucket_in_another_region_is_read_there_and_recorded_globally(aws):
    boto3.client("s3", region_name="eu-west-1").create_bucket(
        Bucket="eu-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    ctx = make_ctx()

    (item,) = s3.list_buckets(ctx)

    assert item.region == "global"
    assert item.configuration["Region"] == "eu-west-1"
    per_bucket = 1 + 1 + len(s3._PARTS)  # location, ACL, the parts
    assert ctx.calls["s3:ListBuckets"] == 1
    assert ctx.calls["s3:GetBucketLocation"] == 1
    assert ctx.api_calls == 1 + per_bucket


def test_api_calls_per_bucket(aws):
    client = boto3.client("s3", region_name="us-east-1")
    for name in ("bucket-aaa", "bucket-bbb", "bucket-ccc"):
        client.create_bucket(Bucket=name)
    ctx = make_ctx()

    items = s3.list_buckets(ctx)

    assert sorted(i.id for i in items) == ["bucket-aaa", "bucket-bbb", "bucket-ccc"]
    assert ctx.api_calls == 1 + 3 * (2 + len(s3._PARTS))
    assert ctx.calls["s3:GetBucketPolicy"] == 3


def test_bucket_deleted_between_list_and_describe_is_skipped(aws, monkeypatch):
    admin = boto3.client("s3", region_name="us-east-1")
    admin.create_bucket(Bucket="keeper-bucket")
    admin.create_bucket(Bucket="doomed-bucket")
    ctx = make_ctx()
    make_client = ctx.client

    def client_that_races_a_delete(service, region=None):
        client = make_client(service, region)
        client.meta.events.register(
            "after-call.s3.ListBuckets", lambda **_: admin.delete_bucket(Bucket="doomed-bucket")
        )
        return client

    monkeypatch.setattr(ctx, "client", client_that_races_a_delete)

    items = s3.list_buckets(ctx)

    assert [i.id for i in items] == ["keeper-bucket"]


def _stub_one_bucket(monkeypatch, error_code: str) -> SliceContext:
    ctx = make_ctx()
    client = boto3.client("s3", region_name="us-east-1")
    stub = Stubber(client)
    stub.add_response(
        "list_buckets",
        {
            "Buckets": [{"Name": "secret-bucket", "CreationDate": datetime.datetime(2024, 1, 1)}],
            "Owner": {"ID": "o"},
        },
    )
    stub.add_response("get_bucket_location", {"LocationConstraint": "us-east-1"}, {"Bucket": "secret-bucket"})
    stub.add_response("get_bucket_acl", {"Owner": {"ID": "o"}, "Grants": []}, {"Bucket": "secret-bucket"})
    stub.add_client_error("get_bucket_policy", service_error_code=error_code, http_status_code=403)
    stub.activate()
    monkeypatch.setattr(ctx, "client", lambda service, region=None: client)
    return ctx


@pytest.mark.parametrize("code", ["AccessDenied", "SlowDown"])
def test_a_failed_describe_fails_the_whole_listing(monkeypatch, code):
    ctx = _stub_one_bucket(monkeypatch, code)
    with pytest.raises(ClientError) as info:
        s3.list_buckets(ctx)
    assert info.value.response["Error"]["Code"] == code


def test_access_denied_on_listing_raises(aws, monkeypatch):
    ctx = make_ctx()
    client = boto3.client("s3", region_name="us-east-1")
    stub = Stubber(client)
    stub.add_client_error("list_buckets", service_error_code="AccessDenied", http_status_code=403)
    stub.activate()
    monkeypatch.setattr(ctx, "client", lambda service, region=None: client)
    with pytest.raises(ClientError, match="AccessDenied"):
        s3.list_buckets(ctx)


def test_technology_metadata():
    tech = s3.TECHNOLOGIES[0]
    assert tech.is_global
    assert "Acl.Grants" in tech.unordered_paths
    assert {"s3:ListAllMyBuckets", "s3:GetBucketPolicy", "s3:GetBucketAcl"} <= set(tech.iam_actions)


# --- FSBP / CIS rules on real moto output -----------------------------------------------------------

SSL_ONLY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": ["arn:aws:s3:::vault-bucket", "arn:aws:s3:::vault-bucket/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    ],
}


def test_object_lock_is_recorded(aws):
    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket="vault-bucket", ObjectLockEnabledForBucket=True)
    client.put_object_lock_configuration(
        Bucket="vault-bucket",
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 30}},
        },
    )
    ctx = make_ctx()

    (item,) = s3.list_buckets(ctx)

    lock = item.configuration["ObjectLockConfiguration"]
    assert lock["ObjectLockEnabled"] == "Enabled"
    assert lock["Rule"]["DefaultRetention"]["Mode"] == "GOVERNANCE"
    assert lock["Rule"]["DefaultRetention"]["Days"] == 30
    assert ctx.calls["s3:GetObjectLockConfiguration"] == 1
    tech = s3.TECHNOLOGIES[0]
    again = s3.list_buckets(make_ctx())
    assert [normalize_item(i, tech, account_id=ACCOUNT, secret_key=b"k").document for i in again] == [
        normalize_item(item, tech, account_id=ACCOUNT, secret_key=b"k").document
    ]  # an unchanged resync writes the same document
    assert "s3:GetBucketObjectLockConfiguration" in s3.TECHNOLOGIES[0].iam_actions


def _findings(items: list, audit: dict | None = None) -> dict[str, set[tuple[str, str, int]]]:
    tech = s3.TECHNOLOGIES[0]
    rules = RuleSet.load(audit or {}, base_dir=Path.cwd())
    ctx = AuditContext(ACCOUNT, "test", {}, (), datetime.datetime(2024, 6, 1, tzinfo=datetime.UTC))
    found = {}
    for item in items:
        document = normalize_item(item, tech, account_id=ACCOUNT, secret_key=b"k").document
        found[item.id] = {(f.rule_id, f.key, f.score) for f in rules.evaluate(document, None, ctx)}
    return found


def test_compliance_rules_on_moto_made_buckets(aws):
    """A bare bucket fails the FSBP/CIS bucket recommendations; a hardened one passes every one
    moto can set (moto does not keep MFADelete, so mfa-delete-disabled stays on both)."""
    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket="bare-bucket")
    client.create_bucket(Bucket="log-bucket")
    client.put_bucket_acl(Bucket="log-bucket", ACL="log-delivery-write")
    client.create_bucket(Bucket="vault-bucket", ObjectLockEnabledForBucket=True)
    client.put_bucket_policy(Bucket="vault-bucket", Policy=json.dumps(SSL_ONLY))
    client.put_public_access_block(
        Bucket="vault-bucket",
        PublicAccessBlockConfiguration=dict.fromkeys(
            ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True
        ),
    )
    client.put_bucket_encryption(
        Bucket="vault-bucket",
        ServerSideEncryptionConfiguration={
            "Rules": [
                {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "k1"}}
            ]
        },
    )
    client.put_bucket_logging(
        Bucket="vault-bucket",
        BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": "log-bucket", "TargetPrefix": "vault/"}},
    )
    client.put_bucket_lifecycle_configuration(
        Bucket="vault-bucket",
        LifecycleConfiguration={
            "Rules": [{"ID": "old-versions", "Status": "Enabled", "Filter": {"Prefix": ""},
                       "NoncurrentVersionExpiration": {"NoncurrentDays": 90}}]
        },
    )

    # Object Lock and KMS-only encryption (Security Hub S3.15, S3.17: NIST, not FSBP) are off by default.
    optional = {"s3.bucket.object-lock-disabled", "s3.bucket.not-encrypted-with-kms"}
    found = _findings(s3.list_buckets(make_ctx()),
                      {"overrides": [{"rule": r, "disabled": False} for r in sorted(optional)]})
    assert not any(rule in optional for rule, _, _ in _findings(s3.list_buckets(make_ctx()))["bare-bucket"])

    recommendations = {
        ("s3.bucket.ssl-not-required", "ssl-required", 5),
        ("s3.bucket.access-logging-disabled", "access-logging", 5),
        ("s3.bucket.versioning-disabled", "versioning", 2),
        ("s3.bucket.mfa-delete-disabled", "mfa-delete", 2),
        ("s3.bucket.lifecycle-not-configured", "lifecycle", 2),
        ("s3.bucket.object-lock-disabled", "object-lock", 5),
        ("s3.bucket.not-encrypted-with-kms", "kms-encryption", 5),
    }
    assert recommendations <= found["bare-bucket"]
    assert found["vault-bucket"] & recommendations == {("s3.bucket.mfa-delete-disabled", "mfa-delete", 2)}
    assert not any(rule == "s3.bucket.no-public-access-block" for rule, _, _ in found["vault-bucket"])


# --- the garbled-answer test's seeding -----------------------------------------------------------

def _seed_bucket(client: Callable[..., Any]) -> None:
    """A bucket with a public-read policy, versioning, a lifecycle rule and tags (issues of score 10)."""
    s3_client = client("s3")
    s3_client.create_bucket(Bucket="seed-bucket")
    s3_client.put_bucket_policy(
        Bucket="seed-bucket",
        Policy=json.dumps({**POLICY, "Statement": [{**POLICY["Statement"][0],
                                                     "Resource": "arn:aws:s3:::seed-bucket/*"}]}),
    )
    s3_client.put_bucket_versioning(Bucket="seed-bucket", VersioningConfiguration={"Status": "Enabled"})
    s3_client.put_bucket_tagging(Bucket="seed-bucket", Tagging={"TagSet": [{"Key": "team", "Value": "web"}]})


GARBLE_SEEDS: dict[str, Callable[[Callable[..., Any]], None]] = {"s3.bucket": _seed_bucket}


def test_garble_seeds_create_items(aws):
    for seed in GARBLE_SEEDS.values():
        seed(lambda service, region_name="us-east-1": boto3.client(service, region_name=region_name))
    (item,) = s3.list_buckets(make_ctx())
    assert item.id == "seed-bucket"
    assert item.configuration["Versioning"]["Status"] == "Enabled"
