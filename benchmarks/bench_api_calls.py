"""API calls per item per technology: gitmonkey's sync against per-item reads, on one moto account.

Figure ``api_calls_per_item``, one line per technology plus ``iam.*`` (the four IAM technologies
together). gitmonkey's numbers come from a real ``run_sync`` (its own per-slice call counts); the
baseline is a reader written here that reads item by item, the way Security Monkey's watchers
do, counted with a botocore ``before-call`` handler. Both read the same synthetic account in
the same run. S3 and EC2 have no account-wide read, so their baseline makes the calls gitmonkey
makes (ratio about 1): those lines say so in ``baseline``.

Figure ``iam_user_calls`` breaks ``iam.user`` down: the account-wide calls (the shared read, the
credential report, ListVirtualMFADevices) and the calls per user by operation, from a direct read
of the same account. Since issue 7 a user costs one call (ListAccessKeys); ListMFADevices only
for a user with a hardware or FIDO device and no virtual one, GetLoginProfile only for a user
newer than the credential report (never on moto, whose report is always current). Before, every
user cost three (ListAccessKeys, ListMFADevices, GetLoginProfile). The synthetic users mix those
cases: half have a console password, half of those a virtual MFA device, one in ten a hardware one.

IAM calls that several technologies share (GetAccountAuthorizationDetails pages) are counted
by gitmonkey in whichever IAM slice ran them first, so ``iam.*`` is the fair IAM comparison.
moto answers GetAccountAuthorizationDetails in one page whatever ``MaxItems`` says; AWS pages it
(100 entries a page by default), so on AWS gitmonkey's IAM count is higher by about one call per
100 IAM entities: the IAM lines carry that caveat in ``note``.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws

from gitmonkey.config import AccountConfig, config_from_dict
from gitmonkey.demo import simulated_environment
from gitmonkey.read.aws import AccountSession, SliceContext
from gitmonkey.sync import run_sync
from gitmonkey.watchers import iam as iam_watcher
from gitmonkey.watchers._common import call_or_absent

ACCOUNT_ID = "123456789012"
REGIONS = ("us-east-1", "eu-west-1")
USERS, ROLES, GROUPS, POLICIES, BUCKETS, SECURITY_GROUPS = 100, 100, 20, 30, 50, 200
TECHNOLOGIES = ("iam.user", "iam.role", "iam.group", "iam.policy", "s3.bucket", "ec2.security_group")
PER_ITEM = "per-item reads (Security Monkey style)"
SAME_CALLS = "the same calls gitmonkey makes (no account-wide read exists for this technology)"
GAAD_NOTE = ("moto returns GetAccountAuthorizationDetails in one page; on AWS add about one call per "
             "100 IAM entities; shared IAM calls count in the first IAM slice read, compare iam.*")

_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


def _policy(action: str, resource: str = "*") -> str:
    return json.dumps({"Version": "2012-10-17",
                       "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}]})


def seed_account() -> dict[str, int]:
    """Create the synthetic account in the active moto backend; return the items created per kind."""
    iam = boto3.client("iam", region_name="us-east-1")
    policy_arns = []
    for n in range(POLICIES):
        created = iam.create_policy(PolicyName=f"managed-{n:02d}", PolicyDocument=_policy(f"s3:Get{n}*"))
        policy_arns.append(created["Policy"]["Arn"])
    for n in range(GROUPS):
        group = f"group-{n:02d}"
        iam.create_group(GroupName=group)
        iam.put_group_policy(GroupName=group, PolicyName="inline", PolicyDocument=_policy("ec2:Describe*"))
        iam.attach_group_policy(GroupName=group, PolicyArn=policy_arns[n % POLICIES])
    for n in range(USERS):
        user = f"user-{n:03d}"
        iam.create_user(UserName=user, Tags=[{"Key": "team", "Value": f"team-{n % 7}"}])
        iam.create_access_key(UserName=user)
        iam.put_user_policy(UserName=user, PolicyName="inline", PolicyDocument=_policy("sqs:SendMessage"))
        iam.add_user_to_group(GroupName=f"group-{n % GROUPS:02d}", UserName=user)
        _user_credentials(iam, n, user)
    for n in range(ROLES):
        role = f"role-{n:03d}"
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=_TRUST, Tags=[{"Key": "app", "Value": role}])
        iam.put_role_policy(RoleName=role, PolicyName="inline", PolicyDocument=_policy("dynamodb:GetItem"))
        for arn in (policy_arns[n % POLICIES], policy_arns[(n + 1) % POLICIES]):
            iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    s3 = boto3.client("s3", region_name="us-east-1")
    for n in range(BUCKETS):
        bucket = f"bench-bucket-{n:03d}"
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": f"arn:aws:s3:::{bucket}/*",
             "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}))
        s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "owner", "Value": f"team-{n % 7}"}]})
    per_region = SECURITY_GROUPS // len(REGIONS)
    for region in REGIONS:
        ec2 = boto3.client("ec2", region_name=region)
        for n in range(per_region):
            group_id = ec2.create_security_group(GroupName=f"sg-{n:03d}", Description=f"bench {n}")["GroupId"]
            ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                 "IpRanges": [{"CidrIp": f"10.{n}.0.0/16"}]}])
    return {"iam.user": USERS, "iam.role": ROLES, "iam.group": GROUPS, "iam.policy": POLICIES,
            "s3.bucket": BUCKETS, "ec2.security_group": SECURITY_GROUPS}


def _user_credentials(iam: Any, n: int, user: str) -> None:
    """Half the users have a console password, a quarter a virtual MFA device, one in ten (among
    those without a virtual one) a hardware MFA device."""
    if n % 2 == 0:
        iam.create_login_profile(UserName=user, Password="Bench-Passw0rd!")  # noqa: S106 - moto only
    serial = None
    if n % 4 == 0:
        serial = iam.create_virtual_mfa_device(VirtualMFADeviceName=f"{user}-mfa")["VirtualMFADevice"][
            "SerialNumber"]
    elif n % 10 == 5:
        serial = f"GAHT{n:08d}"
    if serial:
        iam.enable_mfa_device(UserName=user, SerialNumber=serial, AuthenticationCode1="123456",
                              AuthenticationCode2="654321")


# Calls an iam.user read makes once for the account, whatever the number of users.
IAM_ACCOUNT_WIDE = ("iam:GetAccountAuthorizationDetails", "iam:GenerateCredentialReport",
                    "iam:GetCredentialReport", "iam:ListVirtualMFADevices")
CALLS_PER_USER_BEFORE_ISSUE_7 = 3  # ListAccessKeys, ListMFADevices, GetLoginProfile


def iam_user_calls() -> dict[str, Any]:
    """The calls of one direct iam.user read of the seeded account, account-wide and per user."""
    ctx = SliceContext(AccountSession(AccountConfig(name="bench", id=ACCOUNT_ID)), "global")
    users = len(iam_watcher.list_users(ctx))
    per_user = {op: n for op, n in sorted(ctx.calls.items()) if op not in IAM_ACCOUNT_WIDE}
    return {
        "name": "iam_user_calls", "technology": "iam.user", "items": users,
        "account_wide_calls": {op: ctx.calls[op] for op in IAM_ACCOUNT_WIDE if ctx.calls[op]},
        "per_user_calls_by_operation": per_user,
        "calls_per_user": round(sum(per_user.values()) / users, 3),
        "calls_per_user_before_issue_7": CALLS_PER_USER_BEFORE_ISSUE_7,
    }


def _counted(service: str, calls: Counter[str], tech: str, region: str = "us-east-1") -> Any:
    client = boto3.client(service, region_name=region)

    def count(**_: Any) -> None:
        calls[tech] += 1

    client.meta.events.register("before-call.*.*", count)
    return client


def _all(client: Any, operation: str, key: str, **params: Any) -> list[Any]:
    return [x for page in client.get_paginator(operation).paginate(**params) for x in page.get(key, [])]


def _naive_users(iam: Any) -> int:
    users = _all(iam, "list_users", "Users")
    for user in users:
        name = user["UserName"]
        iam.get_user(UserName=name)
        for policy in _all(iam, "list_user_policies", "PolicyNames", UserName=name):
            iam.get_user_policy(UserName=name, PolicyName=policy)
        _all(iam, "list_attached_user_policies", "AttachedPolicies", UserName=name)
        _all(iam, "list_groups_for_user", "Groups", UserName=name)
        for key in _all(iam, "list_access_keys", "AccessKeyMetadata", UserName=name):
            iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])
        _all(iam, "list_mfa_devices", "MFADevices", UserName=name)
        call_or_absent(iam.get_login_profile, ("NoSuchEntity",), UserName=name)
        iam.list_user_tags(UserName=name)
    return len(users)


def _naive_roles(iam: Any) -> int:
    roles = _all(iam, "list_roles", "Roles")
    for role in roles:
        name = role["RoleName"]
        iam.get_role(RoleName=name)
        for policy in _all(iam, "list_role_policies", "PolicyNames", RoleName=name):
            iam.get_role_policy(RoleName=name, PolicyName=policy)
        _all(iam, "list_attached_role_policies", "AttachedPolicies", RoleName=name)
        _all(iam, "list_instance_profiles_for_role", "InstanceProfiles", RoleName=name)
        iam.list_role_tags(RoleName=name)
    return len(roles)


def _naive_groups(iam: Any) -> int:
    groups = _all(iam, "list_groups", "Groups")
    for group in groups:
        name = group["GroupName"]
        _all(iam, "get_group", "Users", GroupName=name)
        for policy in _all(iam, "list_group_policies", "PolicyNames", GroupName=name):
            iam.get_group_policy(GroupName=name, PolicyName=policy)
        _all(iam, "list_attached_group_policies", "AttachedPolicies", GroupName=name)
    return len(groups)


def _naive_policies(iam: Any) -> int:
    policies = _all(iam, "list_policies", "Policies", Scope="Local")
    for policy in policies:
        arn = policy["Arn"]
        detail = iam.get_policy(PolicyArn=arn)["Policy"]
        iam.get_policy_version(PolicyArn=arn, VersionId=detail["DefaultVersionId"])
        _all(iam, "list_entities_for_policy", "PolicyGroups", PolicyArn=arn)
    return len(policies)


_S3_PARTS = (
    ("get_bucket_policy", ("NoSuchBucketPolicy",)),
    ("get_public_access_block", ("NoSuchPublicAccessBlockConfiguration",)),
    ("get_bucket_encryption", ("ServerSideEncryptionConfigurationNotFoundError",)),
    ("get_bucket_versioning", ()),
    ("get_bucket_logging", ()),
    ("get_bucket_lifecycle_configuration", ("NoSuchLifecycleConfiguration",)),
    ("get_bucket_cors", ("NoSuchCORSConfiguration",)),
    ("get_bucket_website", ("NoSuchWebsiteConfiguration",)),
    ("get_bucket_tagging", ("NoSuchTagSet",)),
    ("get_bucket_ownership_controls", ("OwnershipControlsNotFoundError",)),
)


def _naive_buckets(s3: Any) -> int:
    buckets = _all(s3, "list_buckets", "Buckets")
    for bucket in buckets:
        name = bucket["Name"]
        if not bucket.get("BucketRegion"):
            s3.get_bucket_location(Bucket=name)
        s3.get_bucket_acl(Bucket=name)
        for method, absent in _S3_PARTS:
            call_or_absent(getattr(s3, method), absent, Bucket=name)
    return len(buckets)


def naive_read() -> tuple[dict[str, int], Counter[str]]:
    """Read every item one by one; return items and API calls per technology."""
    calls: Counter[str] = Counter()
    items = {
        "iam.user": _naive_users(_counted("iam", calls, "iam.user")),
        "iam.role": _naive_roles(_counted("iam", calls, "iam.role")),
        "iam.group": _naive_groups(_counted("iam", calls, "iam.group")),
        "iam.policy": _naive_policies(_counted("iam", calls, "iam.policy")),
        "s3.bucket": _naive_buckets(_counted("s3", calls, "s3.bucket")),
        "ec2.security_group": sum(
            len(_all(_counted("ec2", calls, "ec2.security_group", region), "describe_security_groups",
                     "SecurityGroups"))
            for region in REGIONS
        ),
    }
    return items, calls


def gitmonkey_read(root: Path) -> dict[str, dict[str, Any]]:
    """One real first sync of the account; its per-technology items and API calls."""
    raw = {
        "repos_dir": "accounts",
        "accounts": [{"name": "bench", "id": ACCOUNT_ID, "regions": list(REGIONS)}],
        "technologies": list(TECHNOLOGIES),
        "max_attempts": 1,
    }
    report = run_sync(config_from_dict(raw, root / "gitmonkey.yaml"))
    failed = [f"{s.key}: {s.error}" for a in report.accounts for s in a.failed_slices]
    errors = [a.error for a in report.accounts if a.error]
    if failed or errors:
        raise RuntimeError(f"the benchmark sync failed: {'; '.join(errors + failed)}")
    return report.to_dict()["technologies"]


def _figure(tech: str, items: int, calls: int, base_items: int, base_calls: int, baseline: str
            ) -> dict[str, Any]:
    per_item = calls / items
    base_per_item = base_calls / base_items
    figure = {"name": "api_calls_per_item", "technology": tech, "items": items, "api_calls": calls,
            "calls_per_item": round(per_item, 3), "baseline_items": base_items,
            "baseline_api_calls": base_calls, "baseline_calls_per_item": round(base_per_item, 3),
            "baseline": baseline, "ratio": round(per_item / base_per_item, 3)}
    if tech.startswith("iam."):
        figure["note"] = GAAD_NOTE
    return figure


def run() -> list[dict[str, Any]]:
    simulated_environment()  # fake credentials and a lean moto, never a real account
    with mock_aws(), tempfile.TemporaryDirectory(prefix="gitmonkey-bench-") as tmp:
        seed_account()
        synced = gitmonkey_read(Path(tmp))
        user_calls = iam_user_calls()
        base_items, base_calls = naive_read()
    for tech in TECHNOLOGIES:
        if synced[tech]["items"] != base_items[tech]:
            raise RuntimeError(f"{tech}: gitmonkey read {synced[tech]['items']} items, "
                               f"the per-item reader {base_items[tech]}")
    figures = [
        _figure(tech, synced[tech]["items"], synced[tech]["api_calls"], base_items[tech], base_calls[tech],
                PER_ITEM if tech.startswith("iam.") else SAME_CALLS)
        for tech in TECHNOLOGIES
    ]
    iam = [t for t in TECHNOLOGIES if t.startswith("iam.")]
    figures.append(_figure(
        "iam.*", sum(synced[t]["items"] for t in iam), sum(synced[t]["api_calls"] for t in iam),
        sum(base_items[t] for t in iam), sum(base_calls[t] for t in iam), PER_ITEM))
    figures.append(user_calls)
    return figures
