"""Account posture on moto and Stubber: the IAM password policy, the root user, and the account's
S3 public access block (one item each, id ``account``, always present)."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws
from moto.server import ThreadedMotoServer

from gitmonkey.audit import AuditContext, RuleSet
from gitmonkey.config import AccountConfig
from gitmonkey.normalize import merge_ephemeral
from gitmonkey.read.aws import AccountSession, SliceContext
from gitmonkey.read.aws_responses import UnreadableResponseError
from gitmonkey.watchers import get_technology, iam, s3
from tests.helpers import normalized

ACCOUNT = "123456789012"
REGION = "us-east-1"
RULES = RuleSet.load({}, base_dir=Path.cwd())
AUDIT = AuditContext(ACCOUNT, "test", {}, (), datetime(2024, 6, 1, tzinfo=UTC))
STRONG_POLICY = {
    "MinimumPasswordLength": 14,
    "RequireSymbols": True,
    "RequireNumbers": True,
    "RequireUppercaseCharacters": True,
    "RequireLowercaseCharacters": True,
    "AllowUsersToChangePassword": True,
    "PasswordReusePrevention": 24,
}
ALL_BLOCKED = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
REPORT_HEADER = (
    "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,"
    "password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,"
    "access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,"
    "access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,"
    "access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,"
    "cert_2_active,cert_2_last_rotated"
)


def root_row(*, signed_in: str = "no_information", mfa: str = "false", key1: str = "false",
             key1_used: str = "N/A") -> str:
    """The credential report's root row, as AWS writes it (moto's report has none)."""
    return (
        f"<root_account>,arn:aws:iam::{ACCOUNT}:root,2020-01-01T00:00:00+00:00,not_supported,"
        f"{signed_in},not_supported,not_supported,{mfa},{key1},2021-01-01T00:00:00+00:00,"
        f"{key1_used},us-east-1,s3,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A"
    )


def summary(mfa: int = 0, keys: int = 0) -> dict[str, Any]:
    return {
        "SummaryMap": {
            "AccountMFAEnabled": mfa,
            "AccountAccessKeysPresent": keys,
            "AccountSigningCertificatesPresent": 0,
            "Users": 3,
            "UsersQuota": 5000,
        }
    }


def new_ctx(session: AccountSession | None = None) -> SliceContext:
    return SliceContext(session or AccountSession(AccountConfig(name="test", id=ACCOUNT)), "global")


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def stubbed(monkeypatch: pytest.MonkeyPatch, service: str) -> tuple[SliceContext, Stubber]:
    ctx = new_ctx()
    client = boto3.client(service, region_name=REGION, aws_access_key_id="a", aws_secret_access_key="b")
    stub = Stubber(client)
    monkeypatch.setattr(ctx, "client", lambda name, region=None: client)
    return ctx, stub


def findings(document: dict[str, Any]) -> dict[str, int]:
    """The item's findings, but iam.root.no-support-role: it judges the account's other IAM items,
    none here (tests/rule_cases/iam.root.no-support-role.yaml and the sync test below)."""
    return {f.rule_id: f.score for f in RULES.evaluate(document, None, AUDIT)
            if f.rule_id != "iam.root.no-support-role"}


def audited(item: Any) -> dict[str, Any]:
    """The document the audit sees: the stored one with its ephemeral values merged back."""
    stored = normalized(item)
    return merge_ephemeral(stored.document, stored.ephemeral)


# --- iam.password_policy ---------------------------------------------------------------------------


def test_no_password_policy_is_recorded_as_null(aws: None) -> None:
    ctx = new_ctx()

    (item,) = iam.list_password_policy(ctx)

    assert (item.technology, item.region, item.id, item.name, item.arn) == (
        "iam.password_policy", "global", "account", "account", ""
    )
    assert item.configuration == {"PasswordPolicy": None}
    assert ctx.calls == {"iam:GetAccountPasswordPolicy": 1}
    assert findings(audited(item)) == {"iam.password_policy.missing": 3}  # one finding, not four


def test_password_policy_fields_and_rules_on_moto(aws: None) -> None:
    client = boto3.client("iam", region_name=REGION)
    client.update_account_password_policy(
        MinimumPasswordLength=8, RequireNumbers=True, MaxPasswordAge=90, PasswordReusePrevention=5
    )

    (item,) = iam.list_password_policy(new_ctx())

    policy = item.configuration["PasswordPolicy"]
    assert policy["MinimumPasswordLength"] == 8
    assert policy["RequireNumbers"] is True and policy["RequireSymbols"] is False
    assert policy["MaxPasswordAge"] == 90 and policy["ExpirePasswords"] is True
    assert policy["PasswordReusePrevention"] == 5
    assert findings(audited(item)) == {
        "iam.password_policy.min-length-under-14": 3,
        "iam.password_policy.reuse-prevention-under-24": 1,
        "iam.password_policy.weak-complexity": 1,
    }

    client.update_account_password_policy(**STRONG_POLICY)
    (strong,) = iam.list_password_policy(new_ctx())
    assert findings(audited(strong)) == {}
    (again,) = iam.list_password_policy(new_ctx())
    assert normalized(again).content == normalized(strong).content


@pytest.mark.parametrize("code", ["AccessDenied", "Throttling"])
def test_password_policy_failure_raises(monkeypatch: pytest.MonkeyPatch, code: str) -> None:
    ctx, stub = stubbed(monkeypatch, "iam")
    stub.add_client_error("get_account_password_policy", service_error_code=code, http_status_code=400)
    with stub, pytest.raises(ClientError, match=code):
        iam.list_password_policy(ctx)


# --- iam.root ----------------------------------------------------------------------------------------


def test_root_on_moto_keeps_the_root_flags_and_shares_the_credential_report(aws: None) -> None:
    boto3.client("iam", region_name=REGION).create_user(UserName="alice")
    session = AccountSession(AccountConfig(name="test", id=ACCOUNT))
    users_ctx, root_ctx = new_ctx(session), new_ctx(session)

    assert [u.id for u in iam.list_users(users_ctx)] == ["alice"]
    (item,) = iam.list_root(root_ctx)

    assert (item.technology, item.id, item.name, item.arn) == (
        "iam.root", "account", "account", f"arn:aws:iam::{ACCOUNT}:root"
    )
    # moto's report has no <root_account> row; counts and quotas are not configuration.
    assert item.configuration == {
        "AccountMFAEnabled": 0,
        "AccountAccessKeysPresent": 0,
        "AccountSigningCertificatesPresent": 0,
        "CredentialReport": None,
        "VirtualMFA": None,  # no MFA at all: ListVirtualMFADevices is not asked
    }
    assert root_ctx.calls == {"iam:GetAccountSummary": 1}  # the report was read once, for iam.user
    assert users_ctx.calls["iam:GetCredentialReport"] == 1
    # A new account: the root user has no MFA (5, below the fresh-account bar of 6), nothing else.
    assert findings(audited(item)) == {"iam.root.no-mfa": 5}


def test_root_alone_reads_the_report_itself(aws: None) -> None:
    ctx = new_ctx()
    iam.list_root(ctx)
    assert ctx.calls["iam:GetAccountSummary"] == 1
    assert ctx.calls["iam:GetCredentialReport"] == 1
    assert ctx.calls["iam:GenerateCredentialReport"] == 2  # moto answers STARTED, then COMPLETE


def stub_root(stub: Stubber, row: str, *, mfa: int = 0, keys: int = 0, virtual: bool = False) -> None:
    stub.add_response("get_account_summary", summary(mfa, keys))
    stub.add_response("generate_credential_report", {"State": "COMPLETE"})
    stub.add_response("get_credential_report", {"Content": f"{REPORT_HEADER}\n{row}\n".encode()})
    if mfa:
        devices = [{"SerialNumber": f"arn:aws:iam::{ACCOUNT}:mfa/root-account-mfa-device",
                    "User": {"Arn": f"arn:aws:iam::{ACCOUNT}:root", "UserName": "root",
                             "UserId": ACCOUNT + "0000", "Path": "/",
                             "CreateDate": datetime(2020, 1, 1, tzinfo=UTC)},
                    "EnableDate": datetime(2020, 1, 1, tzinfo=UTC)}] if virtual else []
        stub.add_response("list_virtual_mfa_devices", {"VirtualMFADevices": devices, "IsTruncated": False},
                          {"AssignmentStatus": "Assigned"})


def test_root_row_of_the_report(monkeypatch: pytest.MonkeyPatch) -> None:
    ctx, stub = stubbed(monkeypatch, "iam")
    stub_root(stub, root_row(signed_in="2024-05-30T10:00:00+00:00"))
    with stub:
        (item,) = iam.list_root(ctx)

    report = item.configuration["CredentialReport"]
    assert report == {
        "Arn": f"arn:aws:iam::{ACCOUNT}:root",
        "MfaActive": False,
        "AccessKey1Active": False,
        "AccessKey2Active": False,
        "Cert1Active": False,
        "Cert2Active": False,
        "PasswordLastUsed": datetime(2024, 5, 30, 10, tzinfo=UTC),
    }
    stored = normalized(item)
    assert "PasswordLastUsed" not in stored.document["configuration"]["CredentialReport"]
    assert stored.ephemeral == {"configuration.CredentialReport.PasswordLastUsed": "2024-05-30T10:00:00Z"}
    assert findings(audited(item)) == {"iam.root.no-mfa": 5, "iam.root.used-without-mfa": 10}


def test_root_last_use_is_ephemeral(monkeypatch: pytest.MonkeyPatch) -> None:
    contents = []
    for used in ("2024-05-30T10:00:00+00:00", "2024-05-31T11:00:00+00:00"):
        ctx, stub = stubbed(monkeypatch, "iam")
        stub_root(stub, root_row(mfa="true", key1="true", signed_in=used, key1_used=used), mfa=1, keys=1)
        with stub:
            (item,) = iam.list_root(ctx)
        contents.append(normalized(item).content)
    assert contents[0] == contents[1]


def test_root_access_key_without_mfa(monkeypatch: pytest.MonkeyPatch) -> None:
    ctx, stub = stubbed(monkeypatch, "iam")
    stub_root(stub, root_row(key1="true", key1_used="2024-05-31T09:00:00+00:00"), keys=1)
    with stub:
        (item,) = iam.list_root(ctx)

    assert item.configuration["CredentialReport"]["AccessKey1Active"] is True
    assert findings(audited(item)) == {
        "iam.root.access-keys": 10,
        "iam.root.no-mfa": 5,
        "iam.root.used-without-mfa": 10,
    }


def test_root_with_mfa_used_by_password_raises_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    ctx, stub = stubbed(monkeypatch, "iam")
    stub_root(stub, root_row(mfa="true", signed_in="2024-05-30T10:00:00+00:00"), mfa=1)
    with stub:
        (item,) = iam.list_root(ctx)
    assert item.configuration["VirtualMFA"] is False  # a hardware key or passkey
    assert findings(audited(item)) == {}


def test_root_with_a_virtual_mfa_device_is_cis_1_6(monkeypatch: pytest.MonkeyPatch) -> None:
    ctx, stub = stubbed(monkeypatch, "iam")
    stub_root(stub, root_row(mfa="true"), mfa=1, virtual=True)
    with stub:
        (item,) = iam.list_root(ctx)
    assert item.configuration["VirtualMFA"] is True
    assert findings(audited(item)) == {"iam.root.virtual-mfa": 2}


def test_summary_without_the_root_flags_fails_the_read(monkeypatch: pytest.MonkeyPatch) -> None:
    ctx, stub = stubbed(monkeypatch, "iam")
    stub.add_response("get_account_summary", {"SummaryMap": {"Users": 1}})
    with stub, pytest.raises(UnreadableResponseError, match="AccountMFAEnabled"):
        iam.list_root(ctx)


def test_a_root_row_with_an_unreadable_flag_fails_the_read(monkeypatch: pytest.MonkeyPatch) -> None:
    ctx, stub = stubbed(monkeypatch, "iam")
    stub_root(stub, root_row(mfa="maybe"))
    with stub, pytest.raises(UnreadableResponseError, match="mfa_active"):
        iam.list_root(ctx)


@pytest.mark.parametrize("operation", ["get_account_summary", "get_credential_report"])
def test_root_failure_raises(monkeypatch: pytest.MonkeyPatch, operation: str) -> None:
    ctx, stub = stubbed(monkeypatch, "iam")
    if operation == "get_account_summary":
        stub.add_client_error(operation, service_error_code="AccessDenied", http_status_code=403)
    else:
        stub.add_response("get_account_summary", summary())
        stub.add_response("generate_credential_report", {"State": "COMPLETE"})
        stub.add_client_error(operation, service_error_code="AccessDenied", http_status_code=403)
    with stub, pytest.raises(ClientError, match="AccessDenied"):
        iam.list_root(ctx)


# --- s3.account_public_access_block ------------------------------------------------------------------


def test_no_account_public_access_block_is_recorded_as_null(aws: None) -> None:
    ctx = new_ctx()

    (item,) = s3.list_account_public_access_block(ctx)

    assert (item.technology, item.region, item.id, item.name, item.arn) == (
        "s3.account_public_access_block", "global", "account", "account", ""
    )
    assert item.configuration == {"PublicAccessBlockConfiguration": None}
    assert ctx.calls == {"s3control:GetPublicAccessBlock": 1}
    assert findings(audited(item)) == {"s3.account_public_access_block.not-enabled": 3}


def test_account_public_access_block_on_moto(aws: None) -> None:
    control = boto3.client("s3control", region_name=REGION)
    control.put_public_access_block(
        AccountId=ACCOUNT, PublicAccessBlockConfiguration={**ALL_BLOCKED, "BlockPublicPolicy": False}
    )
    (partial,) = s3.list_account_public_access_block(new_ctx())
    assert partial.configuration == {
        "PublicAccessBlockConfiguration": {**ALL_BLOCKED, "BlockPublicPolicy": False}
    }
    assert findings(audited(partial)) == {"s3.account_public_access_block.not-enabled": 3}

    control.put_public_access_block(AccountId=ACCOUNT, PublicAccessBlockConfiguration=ALL_BLOCKED)
    (full,) = s3.list_account_public_access_block(new_ctx())
    assert full.configuration == {"PublicAccessBlockConfiguration": ALL_BLOCKED}
    assert findings(audited(full)) == {}
    (again,) = s3.list_account_public_access_block(new_ctx())
    assert normalized(again).content == normalized(full).content


@pytest.mark.parametrize("code", ["AccessDenied", "NoSuchPublicAccessBlock", "Throttling"])
def test_account_public_access_block_failure_raises(monkeypatch: pytest.MonkeyPatch, code: str) -> None:
    ctx, stub = stubbed(monkeypatch, "s3control")
    stub.add_client_error("get_public_access_block", service_error_code=code, http_status_code=403)
    with stub, pytest.raises(ClientError, match=code):
        s3.list_account_public_access_block(ctx)


def test_account_public_access_block_through_a_custom_endpoint() -> None:
    """botocore puts the account id in front of a custom endpoint's host too; the watcher (and the
    seeding, through the same helper) still reaches a moto server on 127.0.0.1."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        account = AccountConfig(name="lab", id=ACCOUNT, endpoint_url=url)
        ctx = SliceContext(AccountSession(account), "global")
        seed_account_public_access_block(lambda service, region_name=REGION: _server_client(url, service))
        (item,) = s3.list_account_public_access_block(ctx)
        assert item.configuration == {"PublicAccessBlockConfiguration": ALL_BLOCKED}
        s3.list_account_public_access_block(ctx)  # the handler is registered once per client
        assert ctx.calls == {"s3control:GetPublicAccessBlock": 2}
    finally:
        server.stop()


def _server_client(url: str, service: str) -> Any:
    return boto3.client(
        service, region_name=REGION, endpoint_url=url, aws_access_key_id="a", aws_secret_access_key="b"
    )


def test_declarations() -> None:
    policy, root, block = (
        get_technology(name) for name in ("iam.password_policy", "iam.root", "s3.account_public_access_block")
    )
    assert all(t.is_global for t in (policy, root, block))
    assert policy.iam_actions == ("iam:GetAccountPasswordPolicy",)
    assert root.iam_actions == (
        "iam:GetAccountSummary", "iam:GenerateCredentialReport", "iam:GetCredentialReport",
        "iam:ListVirtualMFADevices",
    )
    assert block.iam_actions == ("s3:GetAccountPublicAccessBlock",)
    assert root.ephemeral_paths == (
        "CredentialReport.PasswordLastUsed",
        "CredentialReport.AccessKey1LastUsedDate",
        "CredentialReport.AccessKey2LastUsedDate",
    )
    assert block.always_returned == {"s3control:GetPublicAccessBlock": ("PublicAccessBlockConfiguration",)}


# --- seeds for the garbling meta-test ----------------------------------------------------------------


def seed_password_policy(client: Callable[..., Any]) -> None:
    client("iam").update_account_password_policy(MinimumPasswordLength=8)


def seed_root(client: Callable[..., Any]) -> None:
    """Nothing to create: the root item always exists (moto's report has no root row)."""
    client("iam").get_account_summary()


def seed_account_public_access_block(client: Callable[..., Any]) -> None:
    control = client("s3control", region_name=REGION)
    if not urllib.parse.urlsplit(control.meta.endpoint_url).netloc.endswith(".amazonaws.com"):
        s3.use_custom_endpoint_as_is(control, ACCOUNT, control.meta.endpoint_url)  # a moto server
    control.put_public_access_block(AccountId=ACCOUNT, PublicAccessBlockConfiguration=ALL_BLOCKED)


GARBLE_SEEDS: dict[str, Callable[[Callable[..., Any]], None]] = {
    "iam.password_policy": seed_password_policy,
    "iam.root": seed_root,
    "s3.account_public_access_block": seed_account_public_access_block,
}


@pytest.mark.parametrize("name", sorted(GARBLE_SEEDS))
def test_garble_seeds_create_an_item(aws: None, name: str) -> None:
    GARBLE_SEEDS[name](lambda service, region_name=REGION: boto3.client(service, region_name=region_name))
    (item,) = get_technology(name).list_items(new_ctx())
    assert item.id == "account"
    assert json.dumps(item.configuration, default=str) != json.dumps({"PasswordPolicy": None})


def test_a_support_role_is_seen_by_the_root_item_in_the_same_sync(tmp_path: Path) -> None:
    """CIS 1.17: attaching AWSSupportAccess to a role changes only the role item, and fixes the
    account's no-support-role issue in the same sync (related.DEPENDENCIES)."""
    from gitmonkey.audit import issues as iss
    from gitmonkey.normalize.paths import item_path
    from gitmonkey.sync import run_sync
    from tests.helpers import make_config

    config = make_config(tmp_path, audit={"overrides": [
        {"rule": "*", "disabled": True}, {"rule": "iam.root.no-support-role", "disabled": False}]},
        accounts=[{"name": "prod", "id": ACCOUNT, "regions": [REGION]}])
    issue_file = config.repo_path(config.accounts[0]) / iss.issue_path_for(
        item_path("global", "iam.root", "account"))

    def sync() -> None:
        assert run_sync(config, technologies=["iam.root", "iam.role"]).exit_code == 0

    with mock_aws(config={"iam": {"load_aws_managed_policies": True}}):
        client = boto3.client("iam", region_name=REGION)
        client.create_role(RoleName="support", AssumeRolePolicyDocument=json.dumps({"Statement": []}))
        sync()
        assert "no-support-role" in issue_file.read_text()
        client.attach_role_policy(RoleName="support", PolicyArn="arn:aws:iam::aws:policy/AWSSupportAccess")
        sync()
        assert not issue_file.exists()
