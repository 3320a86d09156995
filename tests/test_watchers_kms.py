"""KMS key watcher against moto (and botocore Stubber where moto cannot say it): fields, absent
parts, AWS-managed keys, races, failures, paging, cost and the normalised document."""

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
from moto.kms.models import kms_backends

from gitmonkey.audit import AuditContext, RuleSet
from gitmonkey.config import AccountConfig
from gitmonkey.normalize import normalize_item
from gitmonkey.read.aws import AccountSession, SliceContext
from gitmonkey.watchers import kms
from gitmonkey.watchers._common import TruncatedListError, collect
from tests.helpers import slice_context

ACCOUNT = "123456789012"
REGION = "us-east-1"
PARTNER_ROLE = "arn:aws:iam::111111111111:role/reader"
POLICY = {
    "Version": "2012-10-17",
    "Id": "app-key",
    "Statement": [
        {
            "Sid": "Root",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "Partner",
            "Effect": "Allow",
            "Principal": {"AWS": PARTNER_ROLE},
            "Action": ["kms:Decrypt"],
            "Resource": "*",
        },
    ],
}
PER_KEY_CALLS = ("DescribeKey", "GetKeyPolicy", "GetKeyRotationStatus", "ListGrants", "ListResourceTags")


def make_ctx(region: str = REGION) -> SliceContext:
    return slice_context(region)


@pytest.fixture
def aws():
    with mock_aws():
        yield boto3.client("kms", region_name=REGION)


def _app_key(client) -> str:
    key_id = client.create_key(
        Description="application data",
        Policy=json.dumps(POLICY),
        Tags=[{"TagKey": "owner", "TagValue": "app"}, {"TagKey": "env", "TagValue": "prod"}],
    )["KeyMetadata"]["KeyId"]
    client.create_alias(AliasName="alias/zeta", TargetKeyId=key_id)
    client.create_alias(AliasName="alias/app", TargetKeyId=key_id)
    client.enable_key_rotation(KeyId=key_id)
    client.create_grant(
        KeyId=key_id,
        Name="worker",
        GranteePrincipal=f"arn:aws:iam::{ACCOUNT}:role/worker",
        Operations=["GenerateDataKey", "Decrypt", "Encrypt"],
        Constraints={"EncryptionContextSubset": {"app": "billing"}},
    )
    return key_id


def test_configured_key_has_every_part(aws):
    key_id = _app_key(aws)

    (item,) = kms.list_keys(make_ctx())

    assert (item.technology, item.region, item.id, item.name) == ("kms.key", REGION, key_id, "alias/app")
    assert item.arn == f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key_id}"
    config = item.configuration
    assert set(config) == {
        *kms._METADATA_FIELDS,
        "KeyPolicy",
        "KeyRotationEnabled",
        "RotationPeriodInDays",
        "NextRotationDate",
        "OnDemandRotationStartDate",
        "Aliases",
        "Grants",
        "ServiceGrantCount",
        "Tags",
    }
    assert {k: config[k] for k in ("KeyId", "Description", "Enabled", "KeyState", "KeyManager")} == {
        "KeyId": key_id,
        "Description": "application data",
        "Enabled": True,
        "KeyState": "Enabled",
        "KeyManager": "CUSTOMER",
    }
    assert (config["KeySpec"], config["Origin"]) == ("SYMMETRIC_DEFAULT", "AWS_KMS")
    assert config["DeletionDate"] is None
    assert config["EncryptionAlgorithms"] == ["SYMMETRIC_DEFAULT"]
    assert isinstance(config["CreationDate"], datetime.datetime)
    assert config["KeyPolicy"] == POLICY
    assert config["KeyRotationEnabled"] is True
    assert config["Aliases"] == ["alias/app", "alias/zeta"]
    assert config["Tags"] == {"owner": "app", "env": "prod"}
    (grant,) = config["Grants"]
    assert "KeyId" not in grant
    assert grant["Name"] == "worker"
    assert grant["GranteePrincipal"] == f"arn:aws:iam::{ACCOUNT}:role/worker"
    assert sorted(grant["Operations"]) == ["Decrypt", "Encrypt", "GenerateDataKey"]
    assert grant["Constraints"] == {"EncryptionContextSubset": {"app": "billing"}}
    assert grant["GrantId"]


def test_bare_key_has_default_policy_and_absent_parts(aws):
    key_id = aws.create_key()["KeyMetadata"]["KeyId"]

    (item,) = kms.list_keys(make_ctx())

    assert item.name == key_id
    config = item.configuration
    assert config["KeyPolicy"]["Statement"][0]["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    assert config["KeyRotationEnabled"] is False
    assert (config["Aliases"], config["Grants"], config["Tags"]) == ([], [], {})
    assert config["Description"] == ""
    assert config["MultiRegionConfiguration"] is None


def test_pending_deletion_key_records_its_deletion_date(aws):
    key_id = aws.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    aws.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)

    (item,) = kms.list_keys(make_ctx())

    config = item.configuration
    assert (config["KeyState"], config["Enabled"]) == ("PendingDeletion", False)
    assert config["KeySpec"] == "RSA_2048"
    assert isinstance(config["DeletionDate"], datetime.datetime)
    assert "RSASSA_PSS_SHA_256" in config["SigningAlgorithms"]


def test_aws_managed_alias_targets_cost_no_call(aws):
    customer = aws.create_key()["KeyMetadata"]["KeyId"]
    managed = aws.create_key()["KeyMetadata"]["KeyId"]
    # AWS reserves alias/aws/ for its own keys; moto lets a test use a new name under it.
    aws.create_alias(AliasName="alias/aws/testservice", TargetKeyId=managed)
    ctx = make_ctx()

    items = kms.list_keys(ctx)

    assert [i.id for i in items] == [customer]
    assert ctx.calls["kms:DescribeKey"] == 1
    assert ctx.api_calls == 2 + len(PER_KEY_CALLS)


def test_api_calls_per_key(aws):
    ids = {aws.create_key()["KeyMetadata"]["KeyId"] for _ in range(3)}
    ctx = make_ctx()

    items = kms.list_keys(ctx)

    assert {i.id for i in items} == ids
    assert ctx.calls["kms:ListKeys"] == ctx.calls["kms:ListAliases"] == 1
    for call in PER_KEY_CALLS:
        assert ctx.calls[f"kms:{call}"] == 3
    assert ctx.api_calls == 2 + 3 * len(PER_KEY_CALLS)


def test_keys_of_another_region_are_not_listed(aws):
    aws.create_key()
    assert kms.list_keys(make_ctx("eu-west-1")) == []


def test_key_deleted_between_list_and_describe_is_skipped(aws, monkeypatch):
    keeper = aws.create_key()["KeyMetadata"]["KeyId"]
    doomed = aws.create_key()["KeyMetadata"]["KeyId"]
    ctx = make_ctx()
    make_client = ctx.client

    def client_that_races_a_deletion(service, region=None):
        client = make_client(service, region)
        client.meta.events.register(
            "after-call.kms.ListAliases",
            lambda **_: kms_backends[ACCOUNT][REGION].keys.pop(doomed, None),
        )
        return client

    monkeypatch.setattr(ctx, "client", client_that_races_a_deletion)

    items = kms.list_keys(ctx)

    assert [i.id for i in items] == [keeper]


def test_normalised_document(aws):
    _app_key(aws)
    (tech,) = kms.TECHNOLOGIES
    (item,) = kms.list_keys(make_ctx())
    configuration = {
        **item.configuration,
        "NextRotationDate": datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC),
        "CurrentKeyMaterialId": "material-1",
    }
    item = dataclasses.replace(item, configuration=configuration)

    normalized = normalize_item(item, tech, account_id=ACCOUNT, secret_key=b"k")

    config = normalized.document["configuration"]
    assert "NextRotationDate" not in config and "CurrentKeyMaterialId" not in config
    assert normalized.ephemeral["configuration.NextRotationDate"] == "2025-01-01T00:00:00Z"
    assert normalized.ephemeral["configuration.CurrentKeyMaterialId"] == "material-1"
    assert config["Grants"][0]["Operations"] == ["Decrypt", "Encrypt", "GenerateDataKey"]
    assert config["Aliases"] == ["alias/app", "alias/zeta"]
    assert config["KeyPolicy"] == POLICY


def test_rules_on_moto_made_keys(aws):
    stranger = "arn:aws:iam::999999999999:role/x"
    open_policy = {
        **POLICY,
        "Statement": [
            *POLICY["Statement"],
            {
                "Sid": "Stranger",
                "Effect": "Allow",
                "Principal": {"AWS": stranger},
                "Action": "kms:Decrypt",
                "Resource": "*",
            },
        ],
    }
    unrotated = aws.create_key(Policy=json.dumps(open_policy))["KeyMetadata"]["KeyId"]
    rotated = _app_key(aws)
    (tech,) = kms.TECHNOLOGIES
    rules = RuleSet.load({}, base_dir=Path.cwd())
    ctx = AuditContext(
        ACCOUNT,
        "test",
        {"111111111111": {"name": "partner", "type": "friendly"}},
        (),
        datetime.datetime(2024, 6, 1, tzinfo=datetime.UTC),
    )

    found = {}
    for item in kms.list_keys(make_ctx()):
        document = normalize_item(item, tech, account_id=ACCOUNT, secret_key=b"k").document
        found[item.id] = {(f.rule_id, f.key) for f in rules.evaluate(document, None, ctx)}

    assert found[unrotated] == {
        ("kms.key.rotation-disabled", "rotation"),
        ("kms.key.policy-friendly-account", PARTNER_ROLE),
        ("kms.key.policy-unknown-account", stranger),
    }
    assert found[rotated] == {("kms.key.policy-friendly-account", PARTNER_ROLE)}


# --- Stubber: what moto does not emulate (AWS-managed keys, rotation errors, paging, failures) ---

KEY_A = "aaaaaaaa-1111-2222-3333-444444444444"
KEY_B = "bbbbbbbb-1111-2222-3333-444444444444"


def _arn(key_id: str) -> str:
    return f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key_id}"


def _metadata(key_id: str, manager: str = "CUSTOMER", **extra) -> dict:
    return {
        "KeyMetadata": {
            "AWSAccountId": ACCOUNT,
            "KeyId": key_id,
            "Arn": _arn(key_id),
            "Enabled": True,
            "KeyState": "Enabled",
            "KeyManager": manager,
            "KeyUsage": "ENCRYPT_DECRYPT",
            "KeySpec": "SYMMETRIC_DEFAULT",
            "Origin": "AWS_KMS",
            "MultiRegion": False,
            **extra,
        }
    }


def _stubbed(monkeypatch, keys: list[str] | None = None, aliases: list[dict] | None = None):
    """A Stubber-backed KMS client already primed with the two listings; one worker keeps order."""
    ctx = make_ctx()
    client = boto3.client("kms", region_name=REGION)
    stub = Stubber(client)
    keys = [KEY_A] if keys is None else keys
    stub.add_response(
        "list_keys", {"Keys": [{"KeyId": k, "KeyArn": _arn(k)} for k in keys], "Truncated": False}
    )
    stub.add_response("list_aliases", {"Aliases": aliases or [], "Truncated": False})
    monkeypatch.setattr(ctx, "client", lambda service, region=None: client)
    monkeypatch.setattr(kms, "KEY_WORKERS", 1)
    return ctx, stub


def _stub_rest_of_key(stub, key_id: str, rotation: dict | None = None) -> None:
    stub.add_response(
        "get_key_policy", {"Policy": json.dumps(POLICY)}, {"KeyId": key_id, "PolicyName": "default"}
    )
    if rotation is not None:
        stub.add_response("get_key_rotation_status", rotation, {"KeyId": key_id})
    stub.add_response("list_grants", {"Grants": [], "Truncated": False}, {"KeyId": key_id})
    stub.add_response("list_resource_tags", {"Tags": [], "Truncated": False}, {"KeyId": key_id})


def test_aws_managed_key_without_alias_is_skipped_after_describe(monkeypatch):
    ctx, stub = _stubbed(monkeypatch, keys=[KEY_A, KEY_B])
    stub.add_response("describe_key", _metadata(KEY_A, manager="AWS"), {"KeyId": KEY_A})
    stub.add_response("describe_key", _metadata(KEY_B), {"KeyId": KEY_B})
    _stub_rest_of_key(stub, KEY_B, {"KeyRotationEnabled": True, "RotationPeriodInDays": 365})
    stub.activate()

    (item,) = kms.list_keys(ctx)

    stub.assert_no_pending_responses()
    assert item.id == KEY_B
    assert item.configuration["RotationPeriodInDays"] == 365
    assert item.configuration["KeyUsage"] == "ENCRYPT_DECRYPT"


@pytest.mark.parametrize("code", ["UnsupportedOperationException", "KMSInvalidStateException"])
def test_rotation_not_applicable_is_absent(monkeypatch, code):
    ctx, stub = _stubbed(monkeypatch)
    stub.add_response("describe_key", _metadata(KEY_A, KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC"))
    stub.add_response("get_key_policy", {"Policy": json.dumps(POLICY)})
    stub.add_client_error("get_key_rotation_status", service_error_code=code, http_status_code=400)
    stub.add_response("list_grants", {"Grants": [], "Truncated": False})
    stub.add_response("list_resource_tags", {"Tags": [], "Truncated": False})
    stub.activate()

    (item,) = kms.list_keys(ctx)

    assert item.configuration["KeyRotationEnabled"] is None
    assert item.configuration["RotationPeriodInDays"] is None


@pytest.mark.parametrize("code", ["AccessDeniedException", "ThrottlingException"])
def test_a_failed_describe_fails_the_whole_listing(monkeypatch, code):
    ctx, stub = _stubbed(monkeypatch)
    stub.add_response("describe_key", _metadata(KEY_A))
    stub.add_client_error("get_key_policy", service_error_code=code, http_status_code=400)
    stub.activate()

    with pytest.raises(ClientError) as info:
        kms.list_keys(ctx)
    assert info.value.response["Error"]["Code"] == code


def test_access_denied_on_listing_raises(monkeypatch):
    ctx = make_ctx()
    client = boto3.client("kms", region_name=REGION)
    stub = Stubber(client)
    stub.add_client_error("list_keys", service_error_code="AccessDeniedException", http_status_code=400)
    stub.activate()
    monkeypatch.setattr(ctx, "client", lambda service, region=None: client)

    with pytest.raises(ClientError, match="AccessDeniedException"):
        kms.list_keys(ctx)


def test_listings_follow_markers_and_refuse_a_truncation_without_one():
    client = boto3.client("kms", region_name=REGION)
    stub = Stubber(client)
    stub.add_response(
        "list_keys",
        {"Keys": [{"KeyId": KEY_A, "KeyArn": _arn(KEY_A)}], "Truncated": True, "NextMarker": "m1"},
    )
    stub.add_response(
        "list_keys", {"Keys": [{"KeyId": KEY_B, "KeyArn": _arn(KEY_B)}], "Truncated": False}, {"Marker": "m1"}
    )
    stub.add_response("list_keys", {"Keys": [], "Truncated": True})
    stub.activate()

    assert [k["KeyId"] for k in collect(client, "list_keys", "Keys")] == [KEY_A, KEY_B]
    with pytest.raises(TruncatedListError, match="list_keys"):
        collect(client, "list_keys", "Keys")


def test_grants_across_pages_are_all_recorded(monkeypatch):
    ctx, stub = _stubbed(monkeypatch, aliases=[{"AliasName": "alias/app", "TargetKeyId": KEY_A}])
    stub.add_response("describe_key", _metadata(KEY_A))
    stub.add_response("get_key_policy", {"Policy": json.dumps(POLICY)})
    stub.add_response("get_key_rotation_status", {"KeyRotationEnabled": False})
    grant = {
        "GrantId": "g1",
        "GranteePrincipal": "arn:aws:iam::111111111111:root",
        "Operations": ["Decrypt"],
        "IssuingAccount": f"arn:aws:iam::{ACCOUNT}:root",
        "KeyId": _arn(KEY_A),
    }
    stub.add_response("list_grants", {"Grants": [grant], "Truncated": True, "NextMarker": "g"})
    stub.add_response(
        "list_grants",
        {"Grants": [{**grant, "GrantId": "g2"}], "Truncated": False},
        {"KeyId": KEY_A, "Marker": "g"},
    )
    stub.add_response("list_resource_tags", {"Tags": [{"TagKey": "a", "TagValue": "b"}], "Truncated": False})
    stub.activate()

    (item,) = kms.list_keys(ctx)

    assert item.name == "alias/app"
    assert [g["GrantId"] for g in item.configuration["Grants"]] == ["g1", "g2"]
    assert item.configuration["Grants"][0]["IssuingAccount"] == f"arn:aws:iam::{ACCOUNT}:root"
    assert item.configuration["Tags"] == {"a": "b"}


def test_technology_metadata():
    (tech,) = kms.TECHNOLOGIES
    assert tech.name == "kms.key" and not tech.is_global
    assert {"Grants", "Grants.*.Operations", "Aliases"} <= set(tech.unordered_paths)
    assert "NextRotationDate" in tech.ephemeral_paths
    assert {"kms:ListKeys", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:ListGrants"} <= set(
        tech.iam_actions
    )


def test_grants_aws_services_make_and_retire_are_counted_not_recorded(aws):
    """EC2 creates a grant per attached encrypted volume and retires it on detach: recording
    them would commit on every scaling event."""
    client = boto3.client("kms", region_name=REGION)
    key_id = client.create_key(Description="ebs")["KeyMetadata"]["KeyId"]
    ctx = SliceContext(AccountSession(AccountConfig(name="test", id=ACCOUNT)), REGION)
    technology = kms.TECHNOLOGIES[0]

    def content() -> bytes:
        (item,) = kms.list_keys(ctx)
        return normalize_item(item, technology, account_id=ACCOUNT, secret_key=b"k").content

    before = content()
    grant = client.create_grant(
        KeyId=key_id,
        GranteePrincipal="arn:aws:sts::123456789012:assumed-role/aws:ec2-infrastructure/i-0abc",
        Operations=["Decrypt"],
        Constraints={"EncryptionContextSubset": {"aws:ebs:id": "vol-0abc"}},
    )
    (item,) = kms.list_keys(ctx)
    assert item.configuration["Grants"] == [] and item.configuration["ServiceGrantCount"] == 1
    assert content() == before, "a service's grant must not make a commit"
    client.revoke_grant(KeyId=key_id, GrantId=grant["GrantId"])
    assert content() == before


def test_key_scheduled_for_deletion_is_an_issue_of_score_10(aws):
    """FSBP KMS.3 on a key moto schedules for deletion (and rotation is not reported on it)."""
    doomed = aws.create_key(Description="old data")["KeyMetadata"]["KeyId"]
    aws.schedule_key_deletion(KeyId=doomed, PendingWindowInDays=7)
    (tech,) = kms.TECHNOLOGIES
    rules = RuleSet.load({}, base_dir=Path.cwd())
    ctx = AuditContext(ACCOUNT, "test", {}, (), datetime.datetime(2024, 6, 1, tzinfo=datetime.UTC))

    (item,) = kms.list_keys(make_ctx())
    document = normalize_item(item, tech, account_id=ACCOUNT, secret_key=b"k").document
    found = {(f.rule_id, f.key, f.score) for f in rules.evaluate(document, None, ctx)}

    assert found == {("kms.key.pending-deletion", "pending-deletion", 10)}


# --- the garbled-answer test's seeding -----------------------------------------------------------

def _seed_key(client: Callable[..., Any]) -> None:
    """A customer-managed key with a cross-account policy, an alias, a grant and tags."""
    _app_key(client("kms"))


GARBLE_SEEDS: dict[str, Callable[[Callable[..., Any]], None]] = {"kms.key": _seed_key}


def test_garble_seeds_create_items(aws):
    for seed in GARBLE_SEEDS.values():
        seed(lambda service, region_name=REGION: boto3.client(service, region_name=region_name))
    (item,) = kms.list_keys(make_ctx())
    assert item.name == "alias/app"
