"""ECR repository watcher against moto and stubs: every part, absent parts, races, failures, cost, audit."""

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
from gitmonkey.watchers import ecr
from tests.helpers import slice_context

ACCOUNT = "123456789012"
REGION = "us-east-1"
STRANGER = "arn:aws:iam::999999999999:root"
POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "pull",
            "Effect": "Allow",
            "Principal": {"AWS": STRANGER},
            "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
        }
    ],
}
LIFECYCLE = {
    "rules": [
        {
            "rulePriority": 1,
            "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days",
                          "countNumber": 14},
            "action": {"type": "expire"},
        }
    ]
}
KMS_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
(TECH,) = ecr.TECHNOLOGIES


def make_ctx(region: str = REGION) -> SliceContext:
    return slice_context(region)


@pytest.fixture
def aws():
    with mock_aws():
        yield boto3.client("ecr", region_name=REGION)


def _web_repository(client) -> None:
    client.create_repository(
        repositoryName="app/web",
        imageTagMutability="IMMUTABLE",
        imageScanningConfiguration={"scanOnPush": True},
        encryptionConfiguration={"encryptionType": "KMS", "kmsKey": KMS_KEY},
        tags=[{"Key": "team", "Value": "web"}, {"Key": "env", "Value": "prod"}],
    )
    client.set_repository_policy(repositoryName="app/web", policyText=json.dumps(POLICY))
    client.put_lifecycle_policy(repositoryName="app/web", lifecyclePolicyText=json.dumps(LIFECYCLE))


def test_configured_repository_has_every_part(aws):
    _web_repository(aws)

    (item,) = ecr.list_repositories(make_ctx())

    assert (item.technology, item.region, item.id) == ("ecr.repository", REGION, "app/web")
    assert item.name == "app/web"
    assert item.arn == f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/app/web"
    config = item.configuration
    assert config["Policy"] == POLICY
    assert config["LifecyclePolicy"] == LIFECYCLE
    assert config["Tags"] == {"team": "web", "env": "prod"}
    assert config["imageTagMutability"] == "IMMUTABLE"
    assert config["imageScanningConfiguration"] == {"scanOnPush": True}
    assert config["encryptionConfiguration"] == {"encryptionType": "KMS", "kmsKey": KMS_KEY}
    assert config["repositoryUri"] == f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/app/web"
    assert config["registryId"] == ACCOUNT
    assert isinstance(config["createdAt"], datetime.datetime)
    assert "lastEvaluatedAt" not in json.dumps(config, default=str)


def test_unconfigured_parts_are_absent_not_errors(aws):
    aws.create_repository(repositoryName="bare")

    (item,) = ecr.list_repositories(make_ctx())

    config = item.configuration
    assert (config["Policy"], config["LifecyclePolicy"], config["Tags"]) == (None, None, {})
    assert config["imageTagMutability"] == "MUTABLE"
    assert config["imageScanningConfiguration"] == {"scanOnPush": False}
    assert config["encryptionConfiguration"] == {"encryptionType": "AES256"}


def test_api_calls_per_repository(aws):
    for name in ("one", "two", "three"):
        aws.create_repository(repositoryName=name)
    ctx = make_ctx()

    items = ecr.list_repositories(ctx)

    assert sorted(i.id for i in items) == ["one", "three", "two"]
    assert ctx.calls["ecr:DescribeRepositories"] == 1
    for call in ("GetRepositoryPolicy", "GetLifecyclePolicy", "ListTagsForResource"):
        assert ctx.calls[f"ecr:{call}"] == 3
    assert ctx.api_calls == 1 + 3 * 3


def test_only_the_slice_region_is_read(aws):
    boto3.client("ecr", region_name="eu-west-1").create_repository(repositoryName="elsewhere")
    assert ecr.list_repositories(make_ctx()) == []
    assert [i.id for i in ecr.list_repositories(make_ctx("eu-west-1"))] == ["elsewhere"]


def test_repository_deleted_between_list_and_describe_is_skipped(aws, monkeypatch):
    aws.create_repository(repositoryName="keeper")
    aws.create_repository(repositoryName="doomed")
    ctx = make_ctx()
    make_client = ctx.client

    def client_that_races_a_deletion(service, region=None):
        client = make_client(service, region)
        client.meta.events.register(
            "after-call.ecr.DescribeRepositories", lambda **_: aws.delete_repository(repositoryName="doomed")
        )
        return client

    monkeypatch.setattr(ctx, "client", client_that_races_a_deletion)

    assert [i.id for i in ecr.list_repositories(ctx)] == ["keeper"]


def test_normalised_document_and_rules_on_a_moto_made_repository(aws):
    _web_repository(aws)
    aws.create_repository(repositoryName="private")
    aws.create_repository(
        repositoryName="hardened",
        imageTagMutability="IMMUTABLE",
        imageScanningConfiguration={"scanOnPush": True},
    )
    aws.put_lifecycle_policy(repositoryName="hardened", lifecyclePolicyText=json.dumps(LIFECYCLE))
    rules = RuleSet.load({}, base_dir=Path.cwd())
    audit_ctx = AuditContext(ACCOUNT, "test", {}, (), datetime.datetime(2024, 6, 1, tzinfo=datetime.UTC))

    found = {}
    for item in ecr.list_repositories(make_ctx()):
        normalized = normalize_item(item, TECH, account_id=ACCOUNT, secret_key=b"k")
        assert normalized.ephemeral == {}
        found[item.id] = {(f.rule_id, f.key) for f in rules.evaluate(normalized.document, None, audit_ctx)}
        if item.id == "app/web":
            assert normalized.document["configuration"]["Policy"] == POLICY

    defaults = {  # FSBP ECR.1-3 on a repository created with moto's (and AWS's) defaults
        ("ecr.repository.scan-on-push-disabled", "scan-on-push"),
        ("ecr.repository.tag-mutable", "tag-mutability"),
        ("ecr.repository.no-lifecycle-policy", "lifecycle-policy"),
    }
    assert found["app/web"] == {
        ("ecr.repository.policy-unknown-account", STRANGER),
        ("ecr.repository.policy-cross-account-root", STRANGER),
    }
    assert found["private"] == defaults
    assert found["hardened"] == set()


# --- Stubber: failures ---

REPO = {
    "repositoryArn": f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/locked",
    "registryId": ACCOUNT,
    "repositoryName": "locked",
    "repositoryUri": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/locked",
}


def _stubbed(monkeypatch) -> tuple[SliceContext, Stubber]:
    ctx = make_ctx()
    client = boto3.client("ecr", region_name=REGION)
    stub = Stubber(client)
    monkeypatch.setattr(ctx, "client", lambda service, region=None: client)
    return ctx, stub


@pytest.mark.parametrize("code", ["AccessDeniedException", "ThrottlingException"])
def test_a_failed_describe_fails_the_whole_listing(monkeypatch, code):
    ctx, stub = _stubbed(monkeypatch)
    stub.add_response("describe_repositories", {"repositories": [REPO]})
    stub.add_client_error("get_repository_policy", service_error_code=code, http_status_code=400)
    stub.activate()

    with pytest.raises(ClientError) as info:
        ecr.list_repositories(ctx)
    assert info.value.response["Error"]["Code"] == code


def test_a_failed_listing_raises(monkeypatch):
    ctx, stub = _stubbed(monkeypatch)
    stub.add_client_error("describe_repositories", service_error_code="AccessDeniedException",
                          http_status_code=400)
    stub.activate()

    with pytest.raises(ClientError, match="AccessDeniedException"):
        ecr.list_repositories(ctx)


def test_listing_follows_every_token(monkeypatch):
    ctx, stub = _stubbed(monkeypatch)
    second = {**REPO, "repositoryName": "second", "repositoryArn": REPO["repositoryArn"] + "2"}
    stub.add_response("describe_repositories", {"repositories": [REPO], "nextToken": "t1"})
    stub.add_response("describe_repositories", {"repositories": [second]}, {"nextToken": "t1"})
    for repo in (REPO, second):
        stub.add_client_error("get_repository_policy", service_error_code="RepositoryPolicyNotFoundException")
        stub.add_client_error("get_lifecycle_policy", service_error_code="LifecyclePolicyNotFoundException")
        stub.add_response("list_tags_for_resource", {"tags": []}, {"resourceArn": repo["repositoryArn"]})
    stub.activate()
    monkeypatch.setattr(ecr, "REPOSITORY_WORKERS", 1)  # the stub answers in order

    items = ecr.list_repositories(ctx)

    assert [i.id for i in items] == ["locked", "second"]
    stub.assert_no_pending_responses()


def test_technology_metadata():
    assert not TECH.is_global
    assert TECH.secret_paths == ()
    assert set(TECH.iam_actions) == {
        "ecr:DescribeRepositories",
        "ecr:GetRepositoryPolicy",
        "ecr:GetLifecyclePolicy",
        "ecr:ListTagsForResource",
    }


# --- the garbled-answer test's seeding -----------------------------------------------------------

def _seed_repository(client: Callable[..., Any]) -> None:
    """A repository with a cross-account policy, a lifecycle policy and a tag (issues of score 10)."""
    ecr_client = client("ecr")
    ecr_client.create_repository(repositoryName="seed/app", tags=[{"Key": "team", "Value": "web"}])
    ecr_client.set_repository_policy(repositoryName="seed/app", policyText=json.dumps(POLICY))
    ecr_client.put_lifecycle_policy(repositoryName="seed/app", lifecyclePolicyText=json.dumps(LIFECYCLE))


GARBLE_SEEDS: dict[str, Callable[[Callable[..., Any]], None]] = {"ecr.repository": _seed_repository}


def test_garble_seeds_create_items(aws):
    for seed in GARBLE_SEEDS.values():
        seed(lambda service, region_name=REGION: boto3.client(service, region_name=region_name))
    assert [item.id for item in ecr.list_repositories(make_ctx())] == ["seed/app"]
