"""OpenSearch domain watcher against moto and stubs: every part, absent policy, batching, races,
failures, ephemeral status, the master password never written, audit."""

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
from gitmonkey.model import Item
from gitmonkey.normalize import normalize_item
from gitmonkey.read.aws import SliceContext
from gitmonkey.watchers import opensearch
from tests.helpers import slice_context

ACCOUNT = "123456789012"
REGION = "us-east-1"
PASSWORD = "Sup3r-Secret-master-pw"
KMS_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
(TECH,) = opensearch.TECHNOLOGIES


def _policy(domain: str, principal: str) -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": principal},
                "Action": "es:ESHttp*",
                "Resource": f"arn:aws:es:{REGION}:{ACCOUNT}:domain/{domain}/*",
            }
        ],
    }


def make_ctx(region: str = REGION) -> SliceContext:
    return slice_context(region)


@pytest.fixture
def aws():
    with mock_aws():
        yield boto3.client("opensearch", region_name=REGION)


LOG_GROUP = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/opensearch/logs/"


def _logs_domain(client, **overrides) -> None:
    params = {
        "DomainName": "logs",
        "EngineVersion": "OpenSearch_2.11",
        "AccessPolicies": json.dumps(_policy("logs", f"arn:aws:iam::{ACCOUNT}:role/app")),
        "EncryptionAtRestOptions": {"Enabled": True, "KmsKeyId": KMS_KEY},
        "NodeToNodeEncryptionOptions": {"Enabled": True},
        "DomainEndpointOptions": {"EnforceHTTPS": True, "TLSSecurityPolicy": "Policy-Min-TLS-1-2-2019-07"},
        "VPCOptions": {"SubnetIds": ["subnet-b", "subnet-a"], "SecurityGroupIds": ["sg-2", "sg-1"]},
        "AdvancedSecurityOptions": {
            "Enabled": True,
            "InternalUserDatabaseEnabled": True,
            "MasterUserOptions": {"MasterUserName": "admin", "MasterUserPassword": PASSWORD},
        },
        "TagList": [{"Key": "team", "Value": "observability"}],
    }
    client.create_domain(**{**params, **overrides})


def test_configured_domain_has_every_part(aws):
    _logs_domain(aws)

    (item,) = opensearch.list_domains(make_ctx())

    assert (item.technology, item.region, item.id, item.name) == ("opensearch.domain", REGION, "logs", "logs")
    assert item.arn == f"arn:aws:es:{REGION}:{ACCOUNT}:domain/logs"
    config = item.configuration
    assert config["AccessPolicies"] == _policy("logs", f"arn:aws:iam::{ACCOUNT}:role/app")
    assert config["EngineVersion"] == "OpenSearch_2.11"
    assert config["EncryptionAtRestOptions"] == {"Enabled": True, "KmsKeyId": KMS_KEY}
    assert config["NodeToNodeEncryptionOptions"] == {"Enabled": True}
    assert config["DomainEndpointOptions"]["EnforceHTTPS"] is True
    assert config["DomainEndpointOptions"]["TLSSecurityPolicy"] == "Policy-Min-TLS-1-2-2019-07"
    assert config["VPCOptions"]["SubnetIds"] == ["subnet-b", "subnet-a"]
    assert config["AdvancedSecurityOptions"]["Enabled"] is True
    assert config["AdvancedSecurityOptions"]["InternalUserDatabaseEnabled"] is True
    assert config["Tags"] == {"team": "observability"}


def test_domain_without_access_policy_or_tags(aws):
    aws.create_domain(DomainName="bare")

    (item,) = opensearch.list_domains(make_ctx())

    assert item.configuration["AccessPolicies"] is None
    assert item.configuration["Tags"] == {}
    assert item.configuration["DomainEndpointOptions"]["EnforceHTTPS"] is False


def test_legacy_elasticsearch_domains_are_listed_too(aws):
    boto3.client("es", region_name=REGION).create_elasticsearch_domain(DomainName="legacy")
    aws.create_domain(DomainName="modern")

    assert sorted(i.id for i in opensearch.list_domains(make_ctx())) == ["legacy", "modern"]


def test_master_password_never_reaches_the_document(aws):
    _logs_domain(aws)
    (item,) = opensearch.list_domains(make_ctx())

    content = normalize_item(item, TECH, account_id=ACCOUNT, secret_key=b"k").content

    assert PASSWORD.encode() not in content


def test_a_master_password_aws_would_return_is_hashed():
    status = {
        "DomainName": "logs",
        "ARN": f"arn:aws:es:{REGION}:{ACCOUNT}:domain/logs",
        "AccessPolicies": "",
        "AdvancedSecurityOptions": {
            "Enabled": True,
            "MasterUserOptions": {"MasterUserName": "admin", "MasterUserPassword": PASSWORD},
        },
    }
    item = Item("opensearch.domain", REGION, "logs", "logs", status["ARN"],
                opensearch.domain_configuration(status, None))

    normalized = normalize_item(item, TECH, account_id=ACCOUNT, secret_key=b"k")

    assert PASSWORD.encode() not in normalized.content
    master = normalized.document["configuration"]["AdvancedSecurityOptions"]["MasterUserOptions"]
    assert master["MasterUserName"] == "admin"
    assert master["MasterUserPassword"].startswith("<redacted hmac-sha256:")


def test_status_and_software_update_fields_are_ephemeral():
    def item(processing: bool, update: bool) -> Item:
        status = {
            "DomainName": "logs",
            "ARN": f"arn:aws:es:{REGION}:{ACCOUNT}:domain/logs",
            "Processing": processing,
            "UpgradeProcessing": processing,
            "DomainProcessingStatus": "Modifying" if processing else "Active",
            "VPCOptions": {"SubnetIds": ["subnet-b", "subnet-a"] if processing else ["subnet-a", "subnet-b"]},
            "ServiceSoftwareOptions": {
                "CurrentVersion": "OpenSearch_2_11_R20240502",
                "NewVersion": "OpenSearch_2_11_R20240901" if update else "",
                "UpdateAvailable": update,
                "Cancellable": False,
                "UpdateStatus": "ELIGIBLE" if update else "COMPLETED",
                "Description": "An update is available." if update else "No update is available.",
                "AutomatedUpdateDate": datetime.datetime(2024, 9, 1, tzinfo=datetime.UTC),
                "OptionalDeployment": True,
            },
        }
        return Item("opensearch.domain", REGION, "logs", "logs", status["ARN"],
                    opensearch.domain_configuration(status, [{"Key": "team", "Value": "x"}]))

    quiet = normalize_item(item(False, False), TECH, account_id=ACCOUNT, secret_key=b"k")
    busy = normalize_item(item(True, True), TECH, account_id=ACCOUNT, secret_key=b"k")

    assert quiet.content == busy.content
    assert quiet.document["configuration"]["ServiceSoftwareOptions"] == {
        "CurrentVersion": "OpenSearch_2_11_R20240502"
    }
    assert busy.ephemeral["configuration.ServiceSoftwareOptions.UpdateAvailable"] is True
    assert busy.ephemeral["configuration.Processing"] is True


def test_describe_is_batched_by_five_and_tags_read_per_domain(aws):
    names = [f"domain-{n}" for n in range(7)]
    for name in names:
        aws.create_domain(DomainName=name)
    ctx = make_ctx()

    items = opensearch.list_domains(ctx)

    assert sorted(i.id for i in items) == names
    assert ctx.calls["opensearch:ListDomainNames"] == 1
    assert ctx.calls["opensearch:DescribeDomains"] == 2
    assert ctx.calls["opensearch:ListTags"] == 7
    assert ctx.api_calls == 1 + 2 + 7


def test_no_domain_costs_one_call(aws):
    ctx = make_ctx()
    assert opensearch.list_domains(ctx) == []
    assert dict(ctx.calls) == {"opensearch:ListDomainNames": 1}


def test_only_the_slice_region_is_read(aws):
    boto3.client("opensearch", region_name="eu-west-1").create_domain(DomainName="elsewhere")
    assert opensearch.list_domains(make_ctx()) == []


def test_domain_deleted_between_list_and_describe_is_skipped(aws, monkeypatch):
    aws.create_domain(DomainName="keeper")
    aws.create_domain(DomainName="doomed")
    ctx = make_ctx()
    make_client = ctx.client

    def client_that_races_a_deletion(service, region=None):
        client = make_client(service, region)
        client.meta.events.register(
            "after-call.opensearch.ListDomainNames", lambda **_: aws.delete_domain(DomainName="doomed")
        )
        return client

    monkeypatch.setattr(ctx, "client", client_that_races_a_deletion)

    assert [i.id for i in opensearch.list_domains(ctx)] == ["keeper"]


def test_rules_on_moto_made_domains(aws):
    _logs_domain(
        aws,
        ClusterConfig={
            "InstanceCount": 3,
            "ZoneAwarenessEnabled": True,
            "DedicatedMasterEnabled": True,
            "DedicatedMasterType": "m6g.large.search",
            "DedicatedMasterCount": 3,
        },
        LogPublishingOptions={
            "ES_APPLICATION_LOGS": {"CloudWatchLogsLogGroupArn": LOG_GROUP + "errors", "Enabled": True},
            "AUDIT_LOGS": {"CloudWatchLogsLogGroupArn": LOG_GROUP + "audit", "Enabled": True},
        },
    )
    aws.create_domain(
        DomainName="public",
        AccessPolicies=json.dumps(_policy("public", "*")),
        DomainEndpointOptions={"EnforceHTTPS": False, "TLSSecurityPolicy": "Policy-Min-TLS-1-0-2019-07"},
    )
    rules = RuleSet.load({}, base_dir=Path.cwd())
    audit_ctx = AuditContext(ACCOUNT, "test", {}, (), datetime.datetime(2024, 6, 1, tzinfo=datetime.UTC))

    found = {}
    for item in opensearch.list_domains(make_ctx()):
        document = normalize_item(item, TECH, account_id=ACCOUNT, secret_key=b"k").document
        found[item.id] = {(f.rule_id, f.key) for f in rules.evaluate(document, None, audit_ctx)}

    assert found["public"] == {
        ("opensearch.domain.policy-internet", "*"),
        ("opensearch.domain.https-not-enforced", "enforce-https"),
        ("opensearch.domain.tls-policy-outdated", "tls-policy"),
        # FSBP Opensearch.1-7 and .11 on a domain created with moto's (and AWS's) defaults
        ("opensearch.domain.encryption-at-rest-disabled", "encryption-at-rest"),
        ("opensearch.domain.not-in-vpc", "vpc"),
        ("opensearch.domain.node-to-node-encryption-disabled", "node-to-node-encryption"),
        ("opensearch.domain.error-logging-disabled", "error-logs"),
        ("opensearch.domain.audit-logging-disabled", "audit-logs"),
        ("opensearch.domain.fewer-than-three-data-nodes", "data-nodes"),
        ("opensearch.domain.fewer-than-three-master-nodes", "master-nodes"),
        ("opensearch.domain.fine-grained-access-control-disabled", "fine-grained-access-control"),
    }
    assert found["logs"] == set()


# --- Stubber: races and failures moto does not produce ---

def _status(name: str) -> dict:
    return {
        "DomainId": f"{ACCOUNT}/{name}",
        "DomainName": name,
        "ARN": f"arn:aws:es:{REGION}:{ACCOUNT}:domain/{name}",
        "ClusterConfig": {},
        "AccessPolicies": "",
    }


def _stubbed(monkeypatch, *names: str) -> tuple[SliceContext, Stubber]:
    ctx = make_ctx()
    client = boto3.client("opensearch", region_name=REGION)
    stub = Stubber(client)
    stub.add_response("list_domain_names", {"DomainNames": [{"DomainName": n} for n in names]})
    stub.add_response("describe_domains", {"DomainStatusList": [_status(n) for n in names]},
                      {"DomainNames": sorted(names)})
    monkeypatch.setattr(ctx, "client", lambda service, region=None: client)
    monkeypatch.setattr(opensearch, "TAG_WORKERS", 1)  # the stub answers in order
    return ctx, stub


def test_domain_deleted_between_describe_and_tags_is_skipped(monkeypatch):
    ctx, stub = _stubbed(monkeypatch, "doomed", "keeper")
    stub.add_client_error("list_tags", service_error_code="ResourceNotFoundException", http_status_code=409)
    stub.add_response("list_tags", {"TagList": [{"Key": "k", "Value": "v"}]},
                      {"ARN": _status("keeper")["ARN"]})
    stub.activate()

    (item,) = opensearch.list_domains(ctx)

    assert (item.id, item.configuration["Tags"]) == ("keeper", {"k": "v"})


@pytest.mark.parametrize("code", ["AccessDeniedException", "ThrottlingException"])
def test_a_failed_tag_read_fails_the_whole_listing(monkeypatch, code):
    ctx, stub = _stubbed(monkeypatch, "logs")
    stub.add_client_error("list_tags", service_error_code=code, http_status_code=400)
    stub.activate()

    with pytest.raises(ClientError) as info:
        opensearch.list_domains(ctx)
    assert info.value.response["Error"]["Code"] == code


def test_a_failed_describe_raises(monkeypatch):
    ctx = make_ctx()
    client = boto3.client("opensearch", region_name=REGION)
    stub = Stubber(client)
    stub.add_response("list_domain_names", {"DomainNames": [{"DomainName": "logs"}]})
    stub.add_client_error("describe_domains", service_error_code="AccessDeniedException",
                          http_status_code=403)
    stub.activate()
    monkeypatch.setattr(ctx, "client", lambda service, region=None: client)

    with pytest.raises(ClientError, match="AccessDeniedException"):
        opensearch.list_domains(ctx)


def test_technology_metadata():
    assert not TECH.is_global
    ephemeral = set(TECH.ephemeral_paths)
    assert {"Processing", "UpgradeProcessing", "ServiceSoftwareOptions.UpdateAvailable"} <= ephemeral
    assert "ServiceSoftwareOptions.CurrentVersion" not in TECH.ephemeral_paths
    assert TECH.secret_paths == ("AdvancedSecurityOptions.MasterUserOptions.MasterUserPassword",)
    assert set(TECH.iam_actions) == {"es:ListDomainNames", "es:DescribeDomains", "es:ListTags"}


# --- the garbled-answer test's seeding -----------------------------------------------------------

def _seed_domain(client: Callable[..., Any]) -> None:
    """A public domain with moto's defaults and an open access policy (issues of score 10)."""
    client("opensearch").create_domain(
        DomainName="seed-domain",
        AccessPolicies=json.dumps(_policy("seed-domain", "*")),
        TagList=[{"Key": "team", "Value": "search"}],
    )


GARBLE_SEEDS: dict[str, Callable[[Callable[..., Any]], None]] = {"opensearch.domain": _seed_domain}


def test_garble_seeds_create_items(aws):
    for seed in GARBLE_SEEDS.values():
        seed(lambda service, region_name=REGION: boto3.client(service, region_name=region_name))
    assert [item.id for item in opensearch.list_domains(make_ctx())] == ["seed-domain"]
