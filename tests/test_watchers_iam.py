"""IAM watchers against moto: users, roles, groups, policies; shared reads, failures, API cost."""

from __future__ import annotations

import json
import urllib.parse

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from gitmonkey.aws import AccountSession, SliceContext
from gitmonkey.config import AccountConfig
from gitmonkey.watchers import iam
from gitmonkey.watchers._common import PolicyDecodeError, TruncatedListError, decode_policy, tags_dict

ACCOUNT = "123456789012"
S3_READ = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}]}
ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


def new_session() -> AccountSession:
    return AccountSession(AccountConfig(name="test", id=ACCOUNT))


def make_ctx(session: AccountSession | None = None) -> SliceContext:
    return SliceContext(session or new_session(), "global")


@pytest.fixture
def client():
    with mock_aws():
        yield boto3.client("iam", region_name="us-east-1")


def _policy(client, name: str, document: dict, path: str = "/") -> str:
    return client.create_policy(PolicyName=name, Path=path, PolicyDocument=json.dumps(document))["Policy"][
        "Arn"
    ]


def _alice(client) -> dict:
    """A user with everything a user can have; returns the ids tests need."""
    managed = _policy(client, "s3-read", S3_READ)
    client.create_group(GroupName="readers")
    client.create_group(GroupName="admins")
    client.create_user(
        UserName="alice",
        Path="/staff/",
        Tags=[{"Key": "team", "Value": "sec"}, {"Key": "cost", "Value": "42"}],
    )
    for group in ("readers", "admins"):
        client.add_user_to_group(GroupName=group, UserName="alice")
    client.put_user_policy(UserName="alice", PolicyName="inline-all", PolicyDocument=json.dumps(ALL))
    client.attach_user_policy(UserName="alice", PolicyArn=managed)
    used_key = _used_key(client, "alice")
    idle_key = client.create_access_key(UserName="alice")["AccessKey"]["AccessKeyId"]
    client.update_access_key(UserName="alice", AccessKeyId=idle_key, Status="Inactive")
    serial = client.create_virtual_mfa_device(VirtualMFADeviceName="alice-mfa")["VirtualMFADevice"][
        "SerialNumber"
    ]
    client.enable_mfa_device(
        UserName="alice", SerialNumber=serial, AuthenticationCode1="123456", AuthenticationCode2="654321"
    )
    client.create_login_profile(UserName="alice", Password="Secr3t!pass")
    client.update_login_profile(
        UserName="alice", Password="Secr3t!pass", PasswordResetRequired=True
    )  # moto ignores it on create
    return {"managed": managed, "used": used_key, "idle": idle_key, "mfa": serial}


def test_user_configuration(client):
    ids = _alice(client)
    client.create_user(UserName="bob")
    ctx = make_ctx()

    items = {item.id: item for item in iam.list_users(ctx)}

    alice = items["alice"]
    assert (alice.technology, alice.region, alice.name) == ("iam.user", "global", "alice")
    assert alice.arn == f"arn:aws:iam::{ACCOUNT}:user/staff/alice"
    config = alice.configuration
    assert config["Path"] == "/staff/"
    assert config["UserName"] == "alice"
    assert config["UserId"]
    assert config["Tags"] == {"team": "sec", "cost": "42"}
    assert config["GroupList"] == ["admins", "readers"]
    assert config["UserPolicyList"] == [{"PolicyName": "inline-all", "PolicyDocument": ALL}]
    assert config["AttachedManagedPolicies"] == [{"PolicyName": "s3-read", "PolicyArn": ids["managed"]}]
    keys = {k["AccessKeyId"]: k for k in config["AccessKeys"]}
    assert {k: v["Status"] for k, v in keys.items()} == {ids["used"]: "Active", ids["idle"]: "Inactive"}
    assert "LastUsedDate" in keys[ids["used"]]
    assert "LastUsedDate" not in keys[ids["idle"]]
    assert [d["SerialNumber"] for d in config["MFADevices"]] == [ids["mfa"]]
    assert config["LoginProfile"]["PasswordResetRequired"] is True
    assert config["LoginProfile"]["CreateDate"] is not None

    bob = items["bob"].configuration
    assert bob["AccessKeys"] == []
    assert bob["MFADevices"] == []
    assert bob["LoginProfile"] is None
    assert bob["PermissionsBoundary"] is None
    assert "PasswordLastUsed" not in bob


def _used_key(client, user: str) -> str:
    key = client.create_access_key(UserName=user)["AccessKey"]
    boto3.client(
        "sts",
        region_name="us-east-1",
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    ).get_caller_identity()
    return key["AccessKeyId"]


def test_user_api_cost_uses_the_credential_report_for_last_use(client):
    client.create_user(UserName="carol")
    key_id = _used_key(client, "carol")
    client.create_user(UserName="bob")
    ctx = make_ctx()

    users = {item.id: item.configuration for item in iam.list_users(ctx)}

    (key,) = users["carol"]["AccessKeys"]
    last_used = client.get_access_key_last_used(AccessKeyId=key_id)["AccessKeyLastUsed"]["LastUsedDate"]
    assert int(key["LastUsedDate"].timestamp()) == int(last_used.timestamp())
    assert ctx.calls["iam:GetAccountAuthorizationDetails"] == 1
    assert ctx.calls["iam:GetCredentialReport"] == 1
    assert ctx.calls["iam:GenerateCredentialReport"] == 2  # moto answers STARTED, then COMPLETE
    assert ctx.calls["iam:ListAccessKeys"] == 2
    assert ctx.calls["iam:ListMFADevices"] == 2
    assert ctx.calls["iam:GetLoginProfile"] == 2
    assert ctx.calls["iam:GetAccessKeyLastUsed"] == 0
    assert ctx.api_calls == 1 + 3 + 3 * 2


def test_keys_missing_from_the_report_fall_back_to_per_key_calls(client, monkeypatch):
    ids = _alice(client)
    monkeypatch.setattr(iam, "credential_report", lambda ctx: {})
    ctx = make_ctx()

    (alice,) = iam.list_users(ctx)

    keys = {k["AccessKeyId"]: k for k in alice.configuration["AccessKeys"]}
    assert ctx.calls["iam:GetAccessKeyLastUsed"] == 2
    assert "LastUsedDate" in keys[ids["used"]]
    assert "LastUsedDate" not in keys[ids["idle"]]


def test_report_row_of_an_earlier_user_with_the_same_name_is_ignored(client, monkeypatch):
    client.create_user(UserName="erin")
    _used_key(client, "erin")
    real = iam.credential_report

    def stale_report(ctx):
        rows = real(ctx)
        rows["erin"] = {
            **rows["erin"],
            "user_creation_time": "2015-01-01T00:00:00+00:00",
            "password_last_used": "2015-02-01T00:00:00+00:00",
        }
        return rows

    monkeypatch.setattr(iam, "credential_report", stale_report)
    ctx = make_ctx()

    (erin,) = iam.list_users(ctx)

    assert "PasswordLastUsed" not in erin.configuration
    assert ctx.calls["iam:GetAccessKeyLastUsed"] == 1
    assert "LastUsedDate" in erin.configuration["AccessKeys"][0]


def test_no_users_costs_no_credential_report(client):
    ctx = make_ctx()
    assert iam.list_users(ctx) == []
    assert ctx.calls == {"iam:GetAccountAuthorizationDetails": 1}


def test_user_permissions_boundary_comes_from_authorization_details(client, monkeypatch):
    """moto drops users' permissions boundaries, so add one to its real GAAD answer, as AWS sends it."""
    client.create_user(UserName="dave")
    boundary = {
        "PermissionsBoundaryType": "Policy",
        "PermissionsBoundaryArn": f"arn:aws:iam::{ACCOUNT}:policy/b",
    }
    real = iam.authorization_details

    def with_boundary(ctx):
        details = real(ctx)
        details["UserDetailList"][0]["PermissionsBoundary"] = boundary
        return details

    monkeypatch.setattr(iam, "authorization_details", with_boundary)

    (dave,) = iam.list_users(make_ctx())

    assert dave.configuration["PermissionsBoundary"] == boundary


def test_user_deleted_after_the_account_wide_read_is_skipped(client):
    client.create_user(UserName="stays")
    client.create_user(UserName="leaves")
    ctx = make_ctx()
    iam.authorization_details(ctx)
    client.delete_user(UserName="leaves")

    assert [item.id for item in iam.list_users(ctx)] == ["stays"]


def test_role_configuration(client):
    boundary = _policy(client, "boundary", ALL)
    managed = _policy(client, "s3-read", S3_READ)
    client.create_role(
        RoleName="app",
        Path="/svc/",
        AssumeRolePolicyDocument=json.dumps(TRUST),
        Description="application role",
        MaxSessionDuration=7200,
        PermissionsBoundary=boundary,
        Tags=[{"Key": "app", "Value": "web"}],
    )
    client.put_role_policy(RoleName="app", PolicyName="inline", PolicyDocument=json.dumps(S3_READ))
    client.attach_role_policy(RoleName="app", PolicyArn=managed)
    client.create_instance_profile(InstanceProfileName="app-profile")
    client.add_role_to_instance_profile(InstanceProfileName="app-profile", RoleName="app")
    ctx = make_ctx()

    (role,) = iam.list_roles(ctx)

    assert (role.id, role.name, role.arn) == ("app", "app", f"arn:aws:iam::{ACCOUNT}:role/svc/app")
    config = role.configuration
    assert config["AssumeRolePolicyDocument"] == TRUST
    assert config["Description"] == "application role"
    assert config["MaxSessionDuration"] == 7200
    assert config["Path"] == "/svc/"
    assert config["Tags"] == {"app": "web"}
    assert config["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary
    assert config["RolePolicyList"] == [{"PolicyName": "inline", "PolicyDocument": S3_READ}]
    assert config["AttachedManagedPolicies"] == [{"PolicyName": "s3-read", "PolicyArn": managed}]
    assert [p["InstanceProfileName"] for p in config["InstanceProfileList"]] == ["app-profile"]
    assert set(config["InstanceProfileList"][0]) == {
        "InstanceProfileName",
        "InstanceProfileId",
        "Arn",
        "Path",
    }
    assert "RoleLastUsed" in config
    assert ctx.calls == {"iam:GetAccountAuthorizationDetails": 1, "iam:ListRoles": 1}


def test_group_members_and_policies(client):
    managed = _policy(client, "s3-read", S3_READ)
    client.create_group(GroupName="ops", Path="/teams/")
    client.create_group(GroupName="empty")
    client.put_group_policy(GroupName="ops", PolicyName="all", PolicyDocument=json.dumps(ALL))
    client.attach_group_policy(GroupName="ops", PolicyArn=managed)
    for user in ("zoe", "adam"):
        client.create_user(UserName=user)
        client.add_user_to_group(GroupName="ops", UserName=user)
    ctx = make_ctx()

    groups = {item.id: item for item in iam.list_groups(ctx)}

    ops = groups["ops"].configuration
    assert ops["Users"] == ["adam", "zoe"]
    assert ops["Path"] == "/teams/"
    assert ops["GroupPolicyList"] == [{"PolicyName": "all", "PolicyDocument": ALL}]
    assert ops["AttachedManagedPolicies"] == [{"PolicyName": "s3-read", "PolicyArn": managed}]
    assert groups["empty"].configuration["Users"] == []
    assert ctx.calls == {"iam:GetAccountAuthorizationDetails": 1}


def test_customer_managed_policy_uses_its_default_version(client):
    arn = _policy(client, "deploy", S3_READ, path="/ci/")
    client.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(ALL), SetAsDefault=True)
    client.create_role(RoleName="r", AssumeRolePolicyDocument=json.dumps(TRUST))
    client.attach_role_policy(RoleName="r", PolicyArn=arn)
    ctx = make_ctx()

    (policy,) = iam.list_policies(ctx)

    assert (policy.id, policy.name, policy.arn) == ("deploy", "deploy", arn)
    config = policy.configuration
    assert config["PolicyName"] == "deploy"
    assert config["Path"] == "/ci/"
    assert config["DefaultVersionId"] == "v2"
    assert config["Document"] == ALL
    assert config["VersionIds"] == ["v1", "v2"]
    assert config["AttachmentCount"] == 1
    assert config["IsAttachable"] is True
    assert ctx.calls == {"iam:GetAccountAuthorizationDetails": 1}


def test_four_technologies_share_one_authorization_details_read(client):
    _alice(client)
    client.create_role(RoleName="r", AssumeRolePolicyDocument=json.dumps(TRUST))
    session = new_session()
    sharing = [t for t in iam.TECHNOLOGIES if "iam:GetAccountAuthorizationDetails" in t.iam_actions]
    assert len(sharing) == 4
    contexts = [make_ctx(session) for _ in sharing]

    for tech, ctx in zip(sharing, contexts, strict=True):
        assert list(tech.list_items(ctx))

    assert sum(ctx.calls["iam:GetAccountAuthorizationDetails"] for ctx in contexts) == 1


def _stubbed(monkeypatch, session: AccountSession | None = None) -> tuple[SliceContext, Stubber]:
    ctx = make_ctx(session)
    stubbed_client = boto3.client("iam", region_name="us-east-1")
    stub = Stubber(stubbed_client)
    monkeypatch.setattr(ctx, "client", lambda service, region=None: stubbed_client)
    return ctx, stub


@pytest.mark.parametrize("code", ["AccessDenied", "Throttling"])
def test_a_failed_account_read_fails_every_iam_technology(monkeypatch, code):
    session = new_session()
    ctx, stub = _stubbed(monkeypatch, session)
    stub.add_client_error("get_account_authorization_details", service_error_code=code, http_status_code=400)
    stub.activate()

    with pytest.raises(ClientError, match=code):
        iam.list_users(ctx)
    with pytest.raises(ClientError, match=code):
        iam.list_roles(make_ctx(session))


def test_a_truncated_page_without_marker_raises(monkeypatch):
    ctx, stub = _stubbed(monkeypatch)
    stub.add_response("get_account_authorization_details", {"UserDetailList": [], "IsTruncated": True})
    stub.activate()

    with pytest.raises(TruncatedListError, match="get_account_authorization_details"):
        iam.list_groups(ctx)


def test_credential_report_polling_is_bounded(monkeypatch):
    ctx, stub = _stubbed(monkeypatch)
    for _ in range(len(iam.REPORT_POLL_DELAYS) + 1):
        stub.add_response("generate_credential_report", {"State": "INPROGRESS"})
    stub.activate()
    waits: list[float] = []
    monkeypatch.setattr(iam, "_sleep", waits.append)

    with pytest.raises(iam.CredentialReportNotReady):
        iam.credential_report(ctx)

    assert waits == [d for d in iam.REPORT_POLL_DELAYS if d]
    stub.assert_no_pending_responses()


def test_login_profile_access_denied_is_not_mistaken_for_absence(client, monkeypatch):
    client.create_user(UserName="carol")
    ctx = make_ctx()
    make_client = ctx.client

    def deny_login_profile(service, region=None):
        real = make_client(service, region)

        def deny(**_):
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "GetLoginProfile")

        real.meta.events.register("before-call.iam.GetLoginProfile", deny)
        return real

    monkeypatch.setattr(ctx, "client", deny_login_profile)
    with pytest.raises(ClientError, match="AccessDenied"):
        iam.list_users(ctx)


def test_decode_policy_accepts_objects_json_and_url_encoded_json():
    assert decode_policy(ALL) is ALL
    assert decode_policy(json.dumps(ALL)) == ALL
    assert decode_policy(urllib.parse.quote(json.dumps(ALL))) == ALL
    assert decode_policy(None) is None
    with pytest.raises(PolicyDecodeError, match="not valid JSON"):
        decode_policy("%7Bnot json")


def test_tags_dict():
    assert tags_dict([{"Key": "a", "Value": "1"}, {"Key": "b", "Value": ""}]) == {"a": "1", "b": ""}
    assert tags_dict(None) == {}


def test_ephemeral_and_unordered_paths():
    techs = {t.name: t for t in iam.TECHNOLOGIES}
    assert "AccessKeys.*.LastUsedDate" in techs["iam.user"].ephemeral_paths
    assert "PasswordLastUsed" in techs["iam.user"].ephemeral_paths
    assert techs["iam.role"].ephemeral_paths == ("RoleLastUsed",)
    assert "Users" in techs["iam.group"].unordered_paths
    assert all(t.is_global for t in techs.values())
