"""AccountSession: assume-role with external id, counted clients, computing shared calls once."""

from __future__ import annotations

import threading

import boto3
import pytest
from moto import mock_aws

from gitmonkey.config import AccountConfig
from gitmonkey.read.aws import AccountSession, SliceContext


def test_assume_role_passes_the_external_id_and_uses_the_role_credentials(monkeypatch):
    seen: list[dict] = []
    original = boto3.session.Session.client

    def client(self, service, *args, **kwargs):
        made = original(self, service, *args, **kwargs)
        if service == "sts":
            made.meta.events.register(
                "before-parameter-build.sts.AssumeRole", lambda params, **_: seen.append(dict(params))
            )
        return made

    monkeypatch.setattr(boto3.session.Session, "client", client)
    account = AccountConfig(
        name="other",
        id="222233334444",
        role_arn="arn:aws:iam::222233334444:role/audit",
        external_id="ext-1234",
    )
    with mock_aws():
        session = AccountSession(account)
        identity = session.client("sts", "us-east-1").get_caller_identity()
    assert seen and seen[0]["ExternalId"] == "ext-1234"
    assert seen[0]["RoleArn"] == "arn:aws:iam::222233334444:role/audit"
    assert identity["Account"] == "222233334444"


def test_slice_clients_count_their_calls_and_global_slices_use_the_home_region():
    with mock_aws():
        ctx = SliceContext(AccountSession(AccountConfig(name="a", id="123456789012")), "global")
        iam = ctx.client("iam")
        iam.list_users()
        iam.list_roles()
        assert ctx.client("ec2").meta.region_name == "us-east-1"
    assert ctx.calls == {"iam:ListUsers": 1, "iam:ListRoles": 1}
    assert ctx.api_calls == 2


def test_shared_computes_once_for_concurrent_callers_and_shares_failures():
    session = AccountSession(AccountConfig(name="a", id="123456789012"))
    calls: list[int] = []
    gate = threading.Event()

    def compute() -> str:
        calls.append(1)
        gate.wait(5)
        return "result"

    results: list[str] = []
    threads = [
        threading.Thread(target=lambda: results.append(session.shared("k", compute))) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    gate.set()
    for thread in threads:
        thread.join(5)
    assert results == ["result"] * 4 and calls == [1]

    def broken() -> str:
        raise RuntimeError("AccessDenied")

    for _ in range(2):
        with pytest.raises(RuntimeError, match="AccessDenied"):
            session.shared("bad", broken)


def test_assumed_role_credentials_are_refreshed_before_they_expire(monkeypatch):
    from datetime import datetime, timedelta

    from dateutil.tz import tzlocal

    assumed: list[int] = []
    original = boto3.session.Session.client

    def client(self, service, *args, **kwargs):
        made = original(self, service, *args, **kwargs)
        if service == "sts":
            made.meta.events.register("before-call.sts.AssumeRole", lambda **_: assumed.append(1))
        return made

    monkeypatch.setattr(boto3.session.Session, "client", client)
    account = AccountConfig(name="other", id="222233334444", role_arn="arn:aws:iam::222233334444:role/audit")
    with mock_aws():
        session = AccountSession(account)
        sts = session.client("sts", "us-east-1")
        sts.get_caller_identity()
        assert len(assumed) == 1
        credentials = session._boto_session().get_credentials()
        # as if an hour had passed: the credentials and the fetcher's copy are about to expire
        credentials._expiry_time = datetime.now(tzlocal()) + timedelta(seconds=30)
        credentials._refresh_using.__self__._cache.clear()
        assert sts.get_caller_identity()["Account"] == "222233334444"
    assert len(assumed) == 2


def test_a_named_profile_supplies_the_credentials(tmp_path, monkeypatch):
    with mock_aws():
        iam = boto3.client("iam")
        iam.create_user(UserName="auditor")
        key = iam.create_access_key(UserName="auditor")["AccessKey"]
        credentials = tmp_path / "credentials"
        credentials.write_text(
            f"[auditor]\naws_access_key_id = {key['AccessKeyId']}\n"
            f"aws_secret_access_key = {key['SecretAccessKey']}\n"
        )
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
        monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
        session = AccountSession(AccountConfig(name="a", id="123456789012", profile="auditor"))
        identity = session.client("sts", "us-east-1").get_caller_identity()
    assert identity["Arn"].endswith(":user/auditor")
