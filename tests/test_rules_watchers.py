"""The built-in rules on documents made by the real watchers (moto), so key names stay aligned."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from gitmonkey.audit import AuditContext, RuleSet
from gitmonkey.config import AccountConfig
from gitmonkey.normalize import normalize_item
from gitmonkey.read.aws import AccountSession, SliceContext
from gitmonkey.watchers import all_technologies

ACCOUNT = "123456789012"
RULES = RuleSet.load({"known_accounts": {"111111111111": {"name": "partner"}}}, base_dir=Path.cwd())
CTX = AuditContext(
    ACCOUNT, "test", {"111111111111": {"name": "partner", "type": "friendly"}}, (), datetime.now(UTC)
)


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def documents(technology: str, region: str) -> dict[str, dict[str, Any]]:
    tech = all_technologies()[technology]
    ctx = SliceContext(AccountSession(AccountConfig(name="test", id=ACCOUNT)), region)
    out = {}
    for item in tech.list_items(ctx):
        normalized = normalize_item(item, tech, account_id=ACCOUNT, secret_key=b"k")
        out[item.id] = json.loads(normalized.content)
    return out


def rule_keys(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {(f.rule_id, f.key) for f in RULES.evaluate(document, None, CTX)}


def test_security_group_rules(aws: None) -> None:
    ec2 = boto3.client("ec2", region_name="us-east-1")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    group = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=group,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
            {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "8.8.8.0/24"}]},
        ],
    )
    keys = rule_keys(documents("ec2.security_group", "us-east-1")[group])
    assert ("ec2.security_group.ingress-internet", "ingress:tcp:22:0.0.0.0/0") in keys
    assert ("ec2.security_group.ingress-unknown-account", "ingress:tcp:443:8.8.8.0/24") in keys


def test_s3_bucket_rules(aws: None) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="site")
    s3.delete_public_access_block(Bucket="site")
    s3.put_bucket_policy(
        Bucket="site",
        Policy=json.dumps(
            {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "s3:GetObject",
                        "Resource": "arn:aws:s3:::site/*",
                    },
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
                        "Action": "s3:ListBucket",
                        "Resource": "arn:aws:s3:::site",
                    },
                ]
            }
        ),
    )
    s3.put_bucket_acl(Bucket="site", ACL="public-read")
    keys = rule_keys(documents("s3.bucket", "global")["site"])
    assert ("s3.bucket.policy-internet", "*") in keys
    assert ("s3.bucket.policy-friendly-account", "arn:aws:iam::111111111111:root") in keys
    assert ("s3.bucket.policy-cross-account-root", "arn:aws:iam::111111111111:root") in keys
    assert ("s3.bucket.acl-internet", "http://acs.amazonaws.com/groups/global/AllUsers:READ") in keys
    assert ("s3.bucket.no-public-access-block", "public-access-block") in keys


def test_iam_rules(aws: None) -> None:
    iam = boto3.client("iam", region_name="us-east-1")
    iam.create_user(UserName="alice")
    iam.create_login_profile(UserName="alice", Password="Secret-Passw0rd!")
    key_id = iam.create_access_key(UserName="alice")["AccessKey"]["AccessKeyId"]
    iam.put_user_policy(
        UserName="alice",
        PolicyName="all",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Sid": "Everything", "Effect": "Allow", "Action": "*", "Resource": "*"}],
            }
        ),
    )
    iam.create_role(
        RoleName="etl",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": "arn:aws:iam::999999999999:role/x"},
                        "Action": "sts:AssumeRole",
                    }
                ]
            }
        ),
    )
    iam.create_policy(
        PolicyName="passer",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"}],
            }
        ),
    )
    user = rule_keys(documents("iam.user", "global")["alice"])
    assert {
        ("iam.user.active-access-key", key_id),
        ("iam.user.console-without-mfa", "console-mfa"),
        ("iam.user.console-plus-keys", "console-plus-keys"),
        ("iam.user.policy-admin", "all/Everything"),
    } <= user
    role = rule_keys(documents("iam.role", "global")["etl"])
    assert ("iam.role.trust-unknown-account", "arn:aws:iam::999999999999:role/x") in role
    managed = rule_keys(documents("iam.policy", "global")["passer"])
    assert ("iam.policy.policy-passrole", "passer/0") in managed


def test_rules_added_for_parity_on_watcher_documents(aws: None) -> None:
    ec2 = boto3.client("ec2", region_name="us-east-1")
    group = ec2.create_security_group(GroupName="out", Description="egress")["GroupId"]
    ec2.authorize_security_group_egress(
        GroupId=group,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "8.8.8.0/24"}]}
        ],
    )
    egress = {rule for rule, _ in rule_keys(documents("ec2.security_group", "us-east-1")[group])}
    assert "ec2.security_group.egress-unknown-account" in egress

    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="access-logs-target")
    owner = s3.get_bucket_acl(Bucket="access-logs-target")["Owner"]
    s3.put_bucket_acl(
        Bucket="access-logs-target",
        AccessControlPolicy={
            "Owner": owner,
            "Grants": [
                {"Grantee": {"Type": "CanonicalUser", "ID": owner["ID"]}, "Permission": "FULL_CONTROL"},
                {
                    "Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/s3/LogDelivery"},
                    "Permission": "WRITE",
                },
            ],
        },
    )
    bucket = {rule for rule, _ in rule_keys(documents("s3.bucket", "global")["access-logs-target"])}
    assert {"s3.bucket.acl-log-delivery", "s3.bucket.no-policy"} <= bucket

    iam = boto3.client("iam")
    iam.create_user(UserName="netops")
    iam.put_user_policy(
        UserName="netops",
        PolicyName="sg",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "ec2:AuthorizeSecurityGroup*", "Resource": "*"}],
            }
        ),
    )
    user = {rule for rule, _ in rule_keys(documents("iam.user", "global")["netops"])}
    assert "iam.user.policy-security-group-permissions" in user
