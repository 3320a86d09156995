"""Secrets Manager watcher against moto and stubs: metadata, resource policy, rotation settings, the
value never read nor written, rotation noise ephemeral, paging, races, failures, cost, audit."""

from __future__ import annotations

import dataclasses
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
from gitmonkey.watchers import secretsmanager
from tests.helpers import slice_context

ACCOUNT = "123456789012"
REGION = "us-east-1"
VALUE = "hunter2-the-database-password"
KMS_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
PARTNER = "arn:aws:iam::111111111111:role/reader"
POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": PARTNER},
            "Action": "secretsmanager:GetSecretValue",
            "Resource": "*",
        }
    ],
}
VERSION_1, VERSION_2, VERSION_3 = (f"0000000{n}-1111-2222-3333-444444444444" for n in (1, 2, 3))
(TECH,) = secretsmanager.TECHNOLOGIES


def make_ctx(region: str = REGION) -> SliceContext:
    return slice_context(region)


@pytest.fixture
def aws():
    with mock_aws():
        yield boto3.client("secretsmanager", region_name=REGION)


def _db_secret(client) -> str:
    arn = client.create_secret(
        Name="db/password",
        Description="orders database",
        SecretString=VALUE,
        KmsKeyId=KMS_KEY,
        Tags=[{"Key": "team", "Value": "orders"}],
    )["ARN"]
    client.put_resource_policy(SecretId=arn, ResourcePolicy=json.dumps(POLICY))
    return arn


def test_configured_secret_has_every_part(aws):
    arn = _db_secret(aws)

    (item,) = secretsmanager.list_secrets(make_ctx())

    assert (item.technology, item.region, item.id, item.name) == (
        "secretsmanager.secret", REGION, "db/password", "db/password")
    assert item.arn == arn
    config = item.configuration
    assert config["ResourcePolicy"] == POLICY
    assert config["Description"] == "orders database"
    assert config["KmsKeyId"] == KMS_KEY
    assert config["Tags"] == {"team": "orders"}
    assert config["RotationEnabled"] is False
    assert (config["RotationLambdaARN"], config["RotationRules"]) == (None, None)
    assert isinstance(config["CreatedDate"], datetime.datetime)


def test_secret_without_policy_or_tags(aws):
    aws.create_secret(Name="bare", SecretString="x")

    (item,) = secretsmanager.list_secrets(make_ctx())

    config = item.configuration
    assert (config["ResourcePolicy"], config["Tags"], config["KmsKeyId"]) == (None, {}, None)


def test_the_value_is_never_read_nor_written(aws):
    _db_secret(aws)
    ctx = make_ctx()

    (item,) = secretsmanager.list_secrets(ctx)
    content = normalize_item(item, TECH, account_id=ACCOUNT, secret_key=b"k").content

    assert VALUE.encode() not in content
    assert not any("GetSecretValue" in call for call in ctx.calls)
    assert "secretsmanager:GetSecretValue" not in TECH.iam_actions


def test_a_new_value_changes_nothing_in_the_document(aws):
    arn = _db_secret(aws)
    (before,) = secretsmanager.list_secrets(make_ctx())
    aws.put_secret_value(SecretId=arn, SecretString="a-brand-new-value")
    (after,) = secretsmanager.list_secrets(make_ctx())

    old = normalize_item(before, TECH, account_id=ACCOUNT, secret_key=b"k")
    new = normalize_item(after, TECH, account_id=ACCOUNT, secret_key=b"k")

    assert after.configuration["SecretVersionsToStages"] != before.configuration["SecretVersionsToStages"]
    assert old.content == new.content
    assert "configuration.SecretVersionsToStages" in new.ephemeral
    assert "configuration.LastChangedDate" in new.ephemeral


def test_api_calls_per_secret(aws):
    for name in ("one", "two", "three"):
        aws.create_secret(Name=name, SecretString="x")
    ctx = make_ctx()

    items = secretsmanager.list_secrets(ctx)

    assert sorted(i.id for i in items) == ["one", "three", "two"]
    assert dict(ctx.calls) == {"secretsmanager:ListSecrets": 1, "secretsmanager:GetResourcePolicy": 3}


def test_only_the_slice_region_is_read(aws):
    boto3.client("secretsmanager", region_name="eu-west-1").create_secret(Name="elsewhere", SecretString="x")
    assert secretsmanager.list_secrets(make_ctx()) == []


def test_secret_deleted_between_list_and_policy_is_skipped(aws, monkeypatch):
    aws.create_secret(Name="keeper", SecretString="x")
    aws.create_secret(Name="doomed", SecretString="x")
    ctx = make_ctx()
    make_client = ctx.client

    def client_that_races_a_deletion(service, region=None):
        client = make_client(service, region)
        client.meta.events.register(
            "after-call.secrets-manager.ListSecrets",
            lambda **_: aws.delete_secret(SecretId="doomed", ForceDeleteWithoutRecovery=True),
        )
        return client

    monkeypatch.setattr(ctx, "client", client_that_races_a_deletion)

    assert [i.id for i in secretsmanager.list_secrets(ctx)] == ["keeper"]


def test_rules_on_moto_made_secrets(aws):
    _db_secret(aws)
    public = aws.create_secret(Name="public", SecretString="x")["ARN"]
    aws.put_resource_policy(SecretId=public, ResourcePolicy=json.dumps(
        {**POLICY, "Statement": [{**POLICY["Statement"][0], "Principal": "*"}]}))
    rules = RuleSet.load({}, base_dir=Path.cwd())
    audit_ctx = AuditContext(ACCOUNT, "test", {"111111111111": {"name": "partner", "type": "friendly"}}, (),
                             datetime.datetime(2024, 6, 1, tzinfo=datetime.UTC))

    found = {}
    for item in secretsmanager.list_secrets(make_ctx()):
        document = normalize_item(item, TECH, account_id=ACCOUNT, secret_key=b"k").document
        found[item.id] = {(f.rule_id, f.key) for f in rules.evaluate(document, None, audit_ctx)}

    assert found["db/password"] == {
        ("secretsmanager.secret.policy-friendly-account", PARTNER),
        ("secretsmanager.secret.rotation-disabled", "rotation"),
    }
    assert found["public"] == {
        ("secretsmanager.secret.policy-internet", "*"),
        ("secretsmanager.secret.rotation-disabled", "rotation"),
    }


# --- Stubber: rotation (moto's RotateSecret would start a Lambda container), paging, failures ---

def _entry(name: str, **extra) -> dict:
    return {"ARN": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}-AbCdEf", "Name": name, **extra}


def _stubbed(monkeypatch) -> tuple[SliceContext, Stubber]:
    ctx = make_ctx()
    client = boto3.client("secretsmanager", region_name=REGION)
    stub = Stubber(client)
    monkeypatch.setattr(ctx, "client", lambda service, region=None: client)
    monkeypatch.setattr(secretsmanager, "SECRET_WORKERS", 1)  # the stub answers in order
    return ctx, stub


def test_rotation_settings_are_recorded_and_rotation_dates_are_ephemeral(monkeypatch):
    ctx, stub = _stubbed(monkeypatch)
    rotated = datetime.datetime(2024, 5, 1, tzinfo=datetime.UTC)
    entry = _entry(
        "db",
        RotationEnabled=True,
        RotationLambdaARN=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:rotate",
        RotationRules={"AutomaticallyAfterDays": 30},
        LastRotatedDate=rotated,
        LastChangedDate=rotated,
        LastAccessedDate=rotated,
        NextRotationDate=rotated + datetime.timedelta(days=30),
        SecretVersionsToStages={VERSION_2: ["AWSCURRENT"], VERSION_1: ["AWSPREVIOUS"]},
    )
    stub.add_response("list_secrets", {"SecretList": [entry]})
    stub.add_response("get_resource_policy", {"ARN": entry["ARN"], "Name": "db"}, {"SecretId": entry["ARN"]})
    stub.activate()

    (item,) = secretsmanager.list_secrets(ctx)
    normalized = normalize_item(item, TECH, account_id=ACCOUNT, secret_key=b"k")

    config = normalized.document["configuration"]
    assert config["RotationEnabled"] is True
    assert config["RotationRules"] == {"AutomaticallyAfterDays": 30}
    assert config["RotationLambdaARN"].endswith(":function:rotate")
    assert config["ResourcePolicy"] is None
    assert not {"LastRotatedDate", "LastChangedDate", "LastAccessedDate", "NextRotationDate",
                "SecretVersionsToStages"} & set(config)
    assert normalized.ephemeral["configuration.LastRotatedDate"] == "2024-05-01T00:00:00Z"
    later = dataclasses.replace(item, configuration={
        **item.configuration, "LastRotatedDate": rotated + datetime.timedelta(days=30),
        "SecretVersionsToStages": {VERSION_3: ["AWSCURRENT"], VERSION_2: ["AWSPREVIOUS"]}})
    assert normalize_item(later, TECH, account_id=ACCOUNT, secret_key=b"k").content == normalized.content


def test_listing_follows_every_token(monkeypatch):
    ctx, stub = _stubbed(monkeypatch)
    first, second = _entry("first"), _entry("second")
    stub.add_response("list_secrets", {"SecretList": [first], "NextToken": "t1"})
    stub.add_response("list_secrets", {"SecretList": [second]}, {"NextToken": "t1"})
    for entry in (first, second):
        stub.add_response("get_resource_policy", {"ARN": entry["ARN"]}, {"SecretId": entry["ARN"]})
    stub.activate()

    assert [i.id for i in secretsmanager.list_secrets(ctx)] == ["first", "second"]
    stub.assert_no_pending_responses()


@pytest.mark.parametrize("code", ["AccessDeniedException", "ThrottlingException"])
def test_a_failed_policy_read_fails_the_whole_listing(monkeypatch, code):
    ctx, stub = _stubbed(monkeypatch)
    stub.add_response("list_secrets", {"SecretList": [_entry("db")]})
    stub.add_client_error("get_resource_policy", service_error_code=code, http_status_code=400)
    stub.activate()

    with pytest.raises(ClientError) as info:
        secretsmanager.list_secrets(ctx)
    assert info.value.response["Error"]["Code"] == code


def test_a_failed_listing_raises(monkeypatch):
    ctx, stub = _stubbed(monkeypatch)
    stub.add_client_error("list_secrets", service_error_code="AccessDeniedException", http_status_code=400)
    stub.activate()

    with pytest.raises(ClientError, match="AccessDeniedException"):
        secretsmanager.list_secrets(ctx)


def test_technology_metadata():
    assert not TECH.is_global
    assert set(TECH.iam_actions) == {"secretsmanager:ListSecrets", "secretsmanager:GetResourcePolicy"}
    assert {"LastAccessedDate", "LastChangedDate", "LastRotatedDate", "NextRotationDate",
            "SecretVersionsToStages"} == set(TECH.ephemeral_paths)


# --- the garbled-answer test's seeding -----------------------------------------------------------

def _seed_secret(client: Callable[..., Any]) -> None:
    """A secret with a resource policy and tags, never rotated (an issue of score 1)."""
    _db_secret(client("secretsmanager"))


GARBLE_SEEDS: dict[str, Callable[[Callable[..., Any]], None]] = {"secretsmanager.secret": _seed_secret}


def test_garble_seeds_create_items(aws):
    for seed in GARBLE_SEEDS.values():
        seed(lambda service, region_name=REGION: boto3.client(service, region_name=region_name))
    assert [item.id for item in secretsmanager.list_secrets(make_ctx())] == ["db/password"]
