"""IAM watchers against moto: users, roles, groups, policies; shared reads, failures, API cost."""

from __future__ import annotations

import copy
import json
import urllib.parse
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from gitmonkey.config import AccountConfig
from gitmonkey.read.aws import AccountSession, SliceContext
from gitmonkey.read.aws_responses import UnreadableResponseError
from gitmonkey.sync import run_sync
from gitmonkey.watchers import iam
from gitmonkey.watchers._common import PolicyDecodeError, TruncatedListError, decode_policy, tags_dict
from tests.helpers import _Raw, builtin_findings, error_response, git, inject, make_config, normalized

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
    (device,) = config["MFADevices"]
    assert device["SerialNumber"] == ids["mfa"]
    assert device["EnableDate"] is not None
    assert set(device) == {"SerialNumber", "EnableDate"}  # never the seed or QR code moto lists
    # From the credential report: a console password, and when it was last set (ephemeral).
    assert set(config["LoginProfile"]) == {"PasswordLastChanged"}
    assert config["LoginProfile"]["PasswordLastChanged"] is not None

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
    assert ctx.calls["iam:ListVirtualMFADevices"] == 1
    assert ctx.calls["iam:ListAccessKeys"] == 2
    assert ctx.calls["iam:ListMFADevices"] == 0
    assert ctx.calls["iam:GetLoginProfile"] == 0
    assert ctx.calls["iam:GetAccessKeyLastUsed"] == 0
    assert ctx.api_calls == 1 + 3 + 1 + 1 * 2


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
    monkeypatch.setattr(iam, "credential_report", lambda ctx: {})  # carol is newer than the report
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
    assert "LoginProfile.PasswordLastChanged" in techs["iam.user"].ephemeral_paths
    assert techs["iam.role"].ephemeral_paths == ("RoleLastUsed",)
    assert "Users" in techs["iam.group"].unordered_paths
    assert all(t.is_global for t in techs.values())


# --- users cost one call each: the credential report and ListVirtualMFADevices (issue 7) ---------

HARDWARE_SERIAL = "GAHT12345678"


def _console_user(client, name: str, *, virtual: bool = False, hardware: bool = False, key: bool = False):
    """A user with a console password and, optionally, a virtual or hardware MFA device and an
    active access key."""
    client.create_user(UserName=name)
    client.create_login_profile(UserName=name, Password="Secr3t!pass")
    serial = None
    if virtual:
        serial = client.create_virtual_mfa_device(VirtualMFADeviceName=f"{name}-mfa")["VirtualMFADevice"][
            "SerialNumber"
        ]
    elif hardware:
        serial = f"{HARDWARE_SERIAL}-{name}"
    if serial:
        client.enable_mfa_device(
            UserName=name, SerialNumber=serial, AuthenticationCode1="123456", AuthenticationCode2="654321"
        )
    if key:
        client.create_access_key(UserName=name)
    return serial


def _mixed_users(client) -> dict[str, str | None]:
    """One user of each kind the user read distinguishes; returns name -> MFA serial."""
    serials = {
        "virt": _console_user(client, "virt", virtual=True, key=True),
        "hard": _console_user(client, "hard", hardware=True),
        "pwonly": _console_user(client, "pwonly", key=True),
    }
    client.create_user(UserName="bare")
    serials["bare"] = None
    client.create_user(UserName="keyed")
    _used_key(client, "keyed")
    serials["keyed"] = None
    return serials


class _PerUserCalls:
    """IAM calls per ``UserName`` (``None`` for account-wide calls), counted by a botocore
    ``before-parameter-build`` handler on the slice's shared IAM client (all worker threads)."""

    def __init__(self, ctx: SliceContext) -> None:
        self.calls: dict[str | None, Counter[str]] = {}
        ctx.client("iam").meta.events.register("before-parameter-build.iam", self._count)

    def _count(self, params, model, **_) -> None:
        self.calls.setdefault(params.get("UserName"), Counter())[model.name] += 1

    def of(self, user: str | None) -> dict[str, int]:
        return dict(self.calls.get(user, {}))


def _report_snapshot(monkeypatch) -> dict[str, dict[str, str]]:
    """The credential report as of now, served to every later read (AWS keeps a report up to
    four hours; moto's is always current)."""
    snapshot = copy.deepcopy(iam.credential_report(make_ctx()))
    monkeypatch.setattr(iam, "credential_report", lambda ctx: snapshot)
    return snapshot


def _documents(ctx: SliceContext) -> dict[str, str]:
    return {item.id: normalized(item).content for item in iam.list_users(ctx)}


def test_a_user_in_the_report_costs_one_call(client):
    _mixed_users(client)
    ctx = make_ctx()
    counter = _PerUserCalls(ctx)

    users = {item.id: item.configuration for item in iam.list_users(ctx)}

    for name in ("virt", "pwonly", "bare", "keyed"):
        assert counter.of(name) == {"ListAccessKeys": 1}, name
    # Hardware (or FIDO) MFA is not in the virtual device list: the report's mfa_active sends it on.
    assert counter.of("hard") == {"ListAccessKeys": 1, "ListMFADevices": 1}
    assert counter.of(None) == {
        "GetAccountAuthorizationDetails": 1,
        "GenerateCredentialReport": 2,
        "GetCredentialReport": 1,
        "ListVirtualMFADevices": 1,
    }
    assert ctx.calls["iam:ListVirtualMFADevices"] == 1
    assert users["hard"]["MFADevices"][0]["SerialNumber"] == f"{HARDWARE_SERIAL}-hard"
    assert users["virt"]["MFADevices"][0]["SerialNumber"].endswith(":mfa/virt-mfa")


def test_the_account_wide_cost_does_not_grow_with_users(client):
    def cost(users: int) -> int:
        for n in range(users):
            if f"u{n}" not in {u["UserName"] for u in client.list_users()["Users"]}:
                _console_user(client, f"u{n}", virtual=True, key=True)
        ctx = make_ctx()
        assert len(iam.list_users(ctx)) == users
        # moto answers STARTED to the account's first GenerateCredentialReport only.
        return ctx.api_calls - ctx.calls["iam:GenerateCredentialReport"]

    fewer = cost(3)
    assert cost(8) - fewer == 5  # one ListAccessKeys per user, nothing else


def test_recorded_mfa_and_password_mean_what_the_per_user_calls_say(client):
    """The fields read from account-wide sources equal, in meaning, what ListMFADevices and
    GetLoginProfile (the calls made per user before) answer for the same users."""
    serials = _mixed_users(client)

    users = {item.id: item.configuration for item in iam.list_users(make_ctx())}

    for name, serial in serials.items():
        config = users[name]
        listed = client.list_mfa_devices(UserName=name)["MFADevices"]
        assert [d["SerialNumber"] for d in config["MFADevices"]] == [d["SerialNumber"] for d in listed]
        assert [d["SerialNumber"] for d in config["MFADevices"]] == ([serial] if serial else [])
        for recorded, answered in zip(config["MFADevices"], listed, strict=True):
            assert abs((recorded["EnableDate"] - answered["EnableDate"]).total_seconds()) < 1
        try:
            client.get_login_profile(UserName=name)
            has_password = True
        except ClientError:
            has_password = False
        assert (config["LoginProfile"] is not None) is has_password, name


def test_a_user_newer_than_the_report_is_read_per_user(client, monkeypatch):
    _console_user(client, "old", virtual=True)
    snapshot = _report_snapshot(monkeypatch)
    assert set(snapshot) == {"old"}
    _console_user(client, "new-virt", virtual=True)
    _console_user(client, "new-plain")
    ctx = make_ctx()
    counter = _PerUserCalls(ctx)

    users = {item.id: item.configuration for item in iam.list_users(ctx)}

    assert counter.of("old") == {"ListAccessKeys": 1}
    # Its virtual device is in the account-wide list; only the password needs asking.
    assert counter.of("new-virt") == {"ListAccessKeys": 1, "GetLoginProfile": 1}
    assert counter.of("new-plain") == {"ListAccessKeys": 1, "GetLoginProfile": 1, "ListMFADevices": 1}
    created = client.get_login_profile(UserName="new-plain")["LoginProfile"]["CreateDate"]
    assert users["new-plain"]["LoginProfile"] == {"PasswordLastChanged": created}
    assert users["new-plain"]["MFADevices"] == []
    assert [d["SerialNumber"] for d in users["new-virt"]["MFADevices"]] == [
        f"arn:aws:iam::{ACCOUNT}:mfa/new-virt-mfa"
    ]


def test_report_and_per_user_reads_record_the_same_documents(client, monkeypatch):
    """No flap: a user read from the report and the same user read per user (newer than the
    report) give the same committed document, and an unchanged resync gives it again."""
    _mixed_users(client)
    from_report = _documents(make_ctx())
    monkeypatch.setattr(iam, "credential_report", lambda ctx: {})
    per_user = _documents(make_ctx())
    monkeypatch.undo()
    again = _documents(make_ctx())

    assert from_report == per_user == again
    assert len(from_report) == 5
    virt = json.loads(from_report["virt"])["configuration"]
    assert virt["LoginProfile"] == {}  # PasswordLastChanged is ephemeral
    assert json.loads(from_report["bare"])["configuration"]["LoginProfile"] is None


def test_password_last_changed_and_use_are_ephemeral(client):
    _console_user(client, "carol", virtual=True)
    (carol,) = iam.list_users(make_ctx())

    stored = normalized(carol)

    assert b"PasswordLastChanged" not in stored.content
    assert "configuration.LoginProfile.PasswordLastChanged" in stored.ephemeral
    assert json.loads(stored.content)["configuration"]["LoginProfile"] == {}


def test_mfa_removed_after_the_report_is_checked_live(client, monkeypatch):
    """The report still says mfa_active=true; ListMFADevices (live) says the device is gone."""
    serial = _console_user(client, "dora", hardware=True)
    snapshot = _report_snapshot(monkeypatch)
    assert snapshot["dora"]["mfa_active"] == "true"
    client.deactivate_mfa_device(UserName="dora", SerialNumber=serial)

    (dora,) = iam.list_users(make_ctx())

    assert dora.configuration["MFADevices"] == []
    assert ("iam.user.console-without-mfa", "console password and no MFA device") in builtin_findings(dora)


def test_virtual_mfa_enabled_after_the_report_is_seen_without_a_per_user_call(client, monkeypatch):
    client.create_user(UserName="eve")
    client.create_login_profile(UserName="eve", Password="Secr3t!pass")
    snapshot = _report_snapshot(monkeypatch)
    assert snapshot["eve"]["mfa_active"] == "false"
    device = client.create_virtual_mfa_device(VirtualMFADeviceName="eve-mfa")["VirtualMFADevice"]
    serial = device["SerialNumber"]
    client.enable_mfa_device(
        UserName="eve", SerialNumber=serial, AuthenticationCode1="123456", AuthenticationCode2="654321"
    )
    ctx = make_ctx()

    (eve,) = iam.list_users(ctx)

    assert [d["SerialNumber"] for d in eve.configuration["MFADevices"]] == [serial]
    assert ctx.calls["iam:ListMFADevices"] == 0
    assert not [f for f in builtin_findings(eve) if f[0] == "iam.user.console-without-mfa"]


def test_a_password_change_after_the_report_is_recorded_once_the_report_is_regenerated(client, monkeypatch):
    """What only the report says (the console password; hardware MFA of a user without a
    virtual device) lags by at most the report's age: recorded at the first read of a newer
    report, as one ordinary change."""
    client.create_user(UserName="fay")
    _report_snapshot(monkeypatch)
    client.create_login_profile(UserName="fay", Password="Secr3t!pass")
    client.enable_mfa_device(
        UserName="fay",
        SerialNumber=HARDWARE_SERIAL,
        AuthenticationCode1="123456",
        AuthenticationCode2="654321",
    )

    (stale,) = iam.list_users(make_ctx())
    monkeypatch.undo()  # IAM generates a new report
    (fresh,) = iam.list_users(make_ctx())

    assert stale.configuration["LoginProfile"] is None
    assert stale.configuration["MFADevices"] == []
    assert fresh.configuration["LoginProfile"] is not None
    assert [d["SerialNumber"] for d in fresh.configuration["MFADevices"]] == [HARDWARE_SERIAL]


def test_a_password_removed_after_the_report_is_dropped_once_the_report_is_regenerated(client, monkeypatch):
    _console_user(client, "gus", virtual=True)
    _report_snapshot(monkeypatch)
    client.delete_login_profile(UserName="gus")

    (stale,) = iam.list_users(make_ctx())
    monkeypatch.undo()
    (fresh,) = iam.list_users(make_ctx())

    assert stale.configuration["LoginProfile"] == {
        "PasswordLastChanged": stale.configuration["LoginProfile"]["PasswordLastChanged"]
    }
    assert fresh.configuration["LoginProfile"] is None


@pytest.mark.parametrize("value", ["", "unknown", "not_supported"])
def test_an_unreadable_report_value_is_asked_per_user(client, monkeypatch, value):
    _console_user(client, "hal")
    real = iam.credential_report

    def garbled(ctx):
        rows = copy.deepcopy(real(ctx))
        rows["hal"].update(mfa_active=value, password_enabled=value)
        return rows

    monkeypatch.setattr(iam, "credential_report", garbled)
    ctx = make_ctx()
    counter = _PerUserCalls(ctx)

    (hal,) = iam.list_users(ctx)

    assert counter.of("hal") == {"ListAccessKeys": 1, "ListMFADevices": 1, "GetLoginProfile": 1}
    assert hal.configuration["LoginProfile"] is not None
    assert hal.configuration["MFADevices"] == []


def test_a_virtual_device_without_its_user_sends_every_user_to_list_mfa_devices(client, monkeypatch):
    _console_user(client, "ivy")
    _console_user(client, "jay", virtual=True)
    real = iam.assigned_virtual_mfa

    def with_orphan(ctx):
        virtual = real(ctx)
        virtual.unattributed = True
        return virtual

    monkeypatch.setattr(iam, "assigned_virtual_mfa", with_orphan)
    ctx = make_ctx()
    counter = _PerUserCalls(ctx)

    users = {item.id: item.configuration for item in iam.list_users(ctx)}

    assert counter.of("ivy") == {"ListAccessKeys": 1, "ListMFADevices": 1}
    assert counter.of("jay") == {"ListAccessKeys": 1}
    assert users["ivy"]["MFADevices"] == []
    assert iam.VirtualMFA([{"SerialNumber": "arn:aws:iam::1:mfa/x"}]).unattributed


def test_root_virtual_mfa_device_is_not_a_user_device():
    virtual = iam.VirtualMFA(
        [
            {"SerialNumber": f"arn:aws:iam::{ACCOUNT}:mfa/root-account-mfa-device",
             "User": {"Arn": f"arn:aws:iam::{ACCOUNT}:root", "UserName": "", "UserId": ACCOUNT, "Path": "/",
                      "CreateDate": "2020-01-01T00:00:00Z"}},
        ]
    )
    assert list(virtual.by_user) == [f"arn:aws:iam::{ACCOUNT}:root"]
    assert not virtual.unattributed


def _virtual_device(n: int) -> dict:
    return {
        "SerialNumber": f"arn:aws:iam::{ACCOUNT}:mfa/d{n}",
        "EnableDate": datetime(2024, 1, n, tzinfo=UTC),
        "User": {
            "Path": "/",
            "UserName": f"u{n}",
            "UserId": f"AIDA{n:016d}",
            "Arn": f"arn:aws:iam::{ACCOUNT}:user/u{n}",
            "CreateDate": datetime(2023, 1, 1, tzinfo=UTC),
        },
    }


def test_virtual_mfa_devices_are_paged(monkeypatch):
    ctx, stub = _stubbed(monkeypatch)
    stub.add_response(
        "list_virtual_mfa_devices",
        {"VirtualMFADevices": [_virtual_device(1)], "IsTruncated": True, "Marker": "m1"},
        {"AssignmentStatus": "Assigned"},
    )
    stub.add_response(
        "list_virtual_mfa_devices",
        {"VirtualMFADevices": [_virtual_device(2)], "IsTruncated": False},
        {"AssignmentStatus": "Assigned", "Marker": "m1"},
    )
    stub.activate()

    virtual = iam.assigned_virtual_mfa(ctx)

    assert sorted(virtual.by_user) == [f"arn:aws:iam::{ACCOUNT}:user/u1", f"arn:aws:iam::{ACCOUNT}:user/u2"]
    assert virtual.by_user[f"arn:aws:iam::{ACCOUNT}:user/u2"] == [
        {"SerialNumber": f"arn:aws:iam::{ACCOUNT}:mfa/d2", "EnableDate": datetime(2024, 1, 2, tzinfo=UTC)}
    ]
    stub.assert_no_pending_responses()


def test_a_truncated_virtual_mfa_page_without_marker_raises(monkeypatch):
    ctx, stub = _stubbed(monkeypatch)
    page = {"VirtualMFADevices": [_virtual_device(1)], "IsTruncated": True}
    stub.add_response("list_virtual_mfa_devices", page)
    stub.activate()

    with pytest.raises(TruncatedListError, match="list_virtual_mfa_devices"):
        iam.assigned_virtual_mfa(ctx)


@pytest.mark.parametrize(
    ("operation", "code"),
    [
        ("ListVirtualMFADevices", "AccessDenied"),
        ("ListVirtualMFADevices", "Throttling"),
        ("ListAccessKeys", "Throttling"),
        ("ListMFADevices", "AccessDenied"),
        ("GetLoginProfile", "AccessDenied"),
    ],
)
def test_a_failed_user_read_raises(client, monkeypatch, operation, code):
    """Account-wide or per user (on the worker pool), a failure fails the read: never a partial
    list, which would be recorded as deletions."""
    _console_user(client, "kim")
    monkeypatch.setattr(iam, "credential_report", lambda ctx: {})  # every per-user call is made
    ctx = SliceContext(AccountSession(AccountConfig(name="test", id=ACCOUNT), max_attempts=1), "global")

    failing = inject(monkeypatch, f"before-send.iam.{operation}", lambda **_: error_response(400, code))
    with failing as fired, pytest.raises(ClientError, match=code):
        iam.list_users(ctx)

    assert fired


def test_the_per_user_fallback_skips_a_user_deleted_after_the_account_wide_read(client, monkeypatch):
    _console_user(client, "stays")
    _console_user(client, "leaves")
    monkeypatch.setattr(iam, "credential_report", lambda ctx: {})
    ctx = make_ctx()
    iam.authorization_details(ctx)
    client.delete_login_profile(UserName="leaves")
    client.delete_user(UserName="leaves")

    assert [item.id for item in iam.list_users(ctx)] == ["stays"]


def test_user_rules_on_moto_output(client):
    _mixed_users(client)

    findings = {item.id: {rule for rule, _ in builtin_findings(item)} for item in iam.list_users(make_ctx())}

    assert "iam.user.console-without-mfa" in findings["pwonly"]
    assert "iam.user.console-plus-keys" in findings["pwonly"]
    assert "iam.user.console-plus-keys" in findings["virt"]
    for name in ("virt", "hard", "bare", "keyed"):
        assert "iam.user.console-without-mfa" not in findings[name], name
    for name in ("hard", "bare", "keyed"):
        assert "iam.user.console-plus-keys" not in findings[name], name


def _seed_users(client: Callable[..., Any]) -> None:
    """For the garbling proxy: a user with a key, a console password and a virtual MFA device
    (ListVirtualMFADevices and ListAccessKeys answer 2xx), and one with a hardware device (so
    ListMFADevices runs and answers 2xx)."""
    iam_client = client("iam", region_name="us-east-1")
    _console_user(iam_client, "seed-user", virtual=True, key=True)
    _console_user(iam_client, "seed-hardware", hardware=True)


GARBLE_SEEDS: dict[str, Callable[[Callable[..., Any]], None]] = {"iam.user": _seed_users}


def _answer_without_result(operation: str) -> AWSResponse:
    body = (
        f'<{operation}Response xmlns="https://iam.amazonaws.com/doc/2010-05-08/">'
        f"<{operation}Result></{operation}Result>"
        f"<ResponseMetadata><RequestId>x</RequestId></ResponseMetadata></{operation}Response>"
    ).encode()
    return AWSResponse("https://example.invalid", 200, {}, _Raw(body))


@pytest.mark.parametrize("operation", ["ListVirtualMFADevices", "ListMFADevices", "GetLoginProfile"])
def test_an_answer_without_its_always_returned_member_is_unreadable_not_empty(client, monkeypatch, operation):
    """A 2xx answer without the device list (or login profile) must not read as "no MFA" (or
    "no password"): it fails the read. moto's report is always current, so the garbling proxy
    never sees the per-user GetLoginProfile: this test covers it."""
    _console_user(client, "lee")
    monkeypatch.setattr(iam, "credential_report", lambda ctx: {})
    tech = next(t for t in iam.TECHNOLOGIES if t.name == "iam.user")
    session = AccountSession(
        AccountConfig(name="test", id=ACCOUNT), max_attempts=1, always_returned=tech.always_returned
    )
    ctx = SliceContext(session, "global")

    with (
        inject(monkeypatch, f"before-send.iam.{operation}", lambda **_: _answer_without_result(operation)),
        pytest.raises(UnreadableResponseError, match=operation),
    ):
        iam.list_users(ctx)


def test_resyncs_from_the_report_or_per_user_make_no_commit(tmp_path, client, monkeypatch):
    """End to end: a sync, then a resync whose users are all newer than the report (every
    per-user fallback), then a plain one: one baseline commit, nothing after."""
    _mixed_users(client)
    config = make_config(tmp_path, technologies=["iam.user"])
    assert run_sync(config).exit_code == 0
    repo = config.repo_path(config.accounts[0])
    head = git(repo, "rev-parse", "HEAD")
    stored = json.loads((repo / "items/global/iam/user/virt.json").read_text())

    monkeypatch.setattr(iam, "credential_report", lambda ctx: {})
    per_user = run_sync(config)
    monkeypatch.undo()
    again = run_sync(config)

    assert (per_user.exit_code, again.exit_code) == (0, 0)
    assert git(repo, "rev-parse", "HEAD") == head
    assert per_user.accounts[0].commits == again.accounts[0].commits == []
    assert stored["configuration"]["LoginProfile"] == {}
    assert [d["SerialNumber"] for d in stored["configuration"]["MFADevices"]] == [
        f"arn:aws:iam::{ACCOUNT}:mfa/virt-mfa"
    ]
