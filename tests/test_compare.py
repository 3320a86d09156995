"""``gitmonkey compare``: the same item in two moto accounts (reached through AssumeRole, each in
its own repository after a real sync), side by side."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner
from moto import mock_aws

from gitmonkey import compare
from gitmonkey.cli import cli
from gitmonkey.forensics import ForensicsError, ItemNotFound
from gitmonkey.sync import run_sync
from tests.helpers import make_config

OTHER = "222233334444"
ROLE = f"arn:aws:iam::{OTHER}:role/gitmonkey-readonly"
TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def _other_session() -> boto3.Session:
    creds = boto3.client("sts").assume_role(RoleArn=ROLE, RoleSessionName="setup")["Credentials"]
    return boto3.Session(aws_access_key_id=creds["AccessKeyId"],
                         aws_secret_access_key=creds["SecretAccessKey"],
                         aws_session_token=creds["SessionToken"])


def _role(iam: Any, *, max_session: int, policy: str) -> None:
    iam.create_role(RoleName="deploy", AssumeRolePolicyDocument=json.dumps(TRUST),
                    MaxSessionDuration=max_session)
    iam.put_role_policy(RoleName="deploy", PolicyName="deploy", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": policy, "Resource": "*"}]}))


@pytest.fixture
def synced(tmp_path: Path, aws: None) -> Any:
    _role(boto3.client("iam"), max_session=3600, policy="s3:GetObject")
    _role(_other_session().client("iam"), max_session=7200, policy="s3:*")
    boto3.client("iam").create_policy(PolicyName="deploy-tools", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
    config = make_config(tmp_path, technologies=["iam.role", "iam.policy"], accounts=[
        {"name": "prod", "id": "123456789012", "regions": ["us-east-1"]},
        {"name": "staging", "id": OTHER, "regions": ["us-east-1"], "role_arn": ROLE},
    ])
    assert run_sync(config).exit_code == 0
    return config


def test_the_deploy_role_in_prod_and_staging(synced: Any) -> None:
    refs = compare.find(synced, "deploy")
    assert [r.account for r in refs] == ["prod", "staging"]
    result = compare.compare(synced, refs)
    differences = dict(result.differences)
    assert differences["MaxSessionDuration"] == [3600, 7200]
    assert differences["RolePolicyList[0].PolicyDocument.Statement[0].Action"] == ["s3:GetObject", "s3:*"]
    assert "RoleName" not in differences and "AssumeRolePolicyDocument.Statement[0].Effect" not in differences
    assert "Arn" not in differences  # arn:aws:iam::<account>:role/deploy in both
    assert result.same > 0


def test_accounts_narrow_the_comparison_and_globs_find_items(synced: Any) -> None:
    assert [r.account for r in compare.find(synced, "deploy", accounts=["stag*"])] == ["staging"]
    assert [r.id for r in compare.find(synced, "deploy-*")] == ["deploy-tools"]
    with pytest.raises(ItemNotFound):
        compare.find(synced, "deploy", regions=["eu-*"])


def test_items_of_several_technologies_are_refused(synced: Any) -> None:
    with pytest.raises(ForensicsError, match="several technologies"):
        compare.find(synced, "deploy*")


def test_the_command(synced: Any) -> None:
    runner = CliRunner()
    out = runner.invoke(cli, ["compare", "deploy", "--config", str(synced.path), "--format", "json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert {d["path"]: d["values"] for d in data["differences"]}["MaxSessionDuration"] == [3600, 7200]
    text = runner.invoke(cli, ["compare", "deploy", "--config", str(synced.path)])
    assert "prod/global/deploy" in text.output and "MaxSessionDuration" in text.output
    missing = runner.invoke(cli, ["compare", "nothing", "--config", str(synced.path)])
    assert missing.exit_code != 0 and "no item" in missing.output
