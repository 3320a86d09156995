"""Lambda function watcher against moto: configuration, absent parts, secrets, races, failures, cost."""

from __future__ import annotations

import importlib
import io
import json
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from gitmonkey.audit import RuleSet
from gitmonkey.audit.context import AuditContext
from gitmonkey.normalize import normalize_item
from gitmonkey.read.aws import SliceContext
from tests.helpers import slice_context

watcher = importlib.import_module("gitmonkey.watchers.lambda")  # "lambda" is a keyword: no import statement

ACCOUNT = "123456789012"
REGION = "eu-west-1"
SECRET = "hunter2-do-not-commit"
KMS_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
(TECH,) = watcher.TECHNOLOGIES


def make_ctx(region: str = REGION) -> SliceContext:
    return slice_context(region)


@pytest.fixture
def aws():
    with mock_aws():
        yield


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


def _role() -> str:
    iam = boto3.client("iam", region_name="us-east-1")
    return iam.create_role(RoleName="fn-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]


def _create(client, name: str, role: str, **extra) -> dict:
    return client.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": _zip()},
        **extra,
    )


def _configure_api_function(client) -> dict:
    role = _role()
    function = _create(
        client,
        "api",
        role,
        Environment={"Variables": {"DB_PASSWORD": SECRET, "STAGE": "prod"}},
        Tags={"team": "web", "env": "prod"},
        Timeout=30,
        MemorySize=256,
        TracingConfig={"Mode": "Active"},
        Architectures=["arm64"],
        KMSKeyArn=KMS_KEY,
        Publish=True,
    )
    client.add_permission(
        FunctionName="api", StatementId="public", Action="lambda:InvokeFunction", Principal="*"
    )
    client.create_function_url_config(FunctionName="api", AuthType="NONE")
    client.create_alias(FunctionName="api", Name="live", FunctionVersion="1")
    sqs = boto3.client("sqs", region_name=REGION)
    queue_url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]
    queue_arn = attributes["QueueArn"]
    client.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName="api", BatchSize=5)
    _create(client, "bare", role)
    return function


def test_configured_function_has_every_part(aws):
    client = boto3.client("lambda", region_name=REGION)
    created = _configure_api_function(client)

    items = {item.id: item for item in watcher.list_functions(make_ctx())}

    assert sorted(items) == ["api", "bare"]
    item = items["api"]
    assert (item.technology, item.region, item.name) == ("lambda.function", REGION, "api")
    assert item.arn == created["FunctionArn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:api"
    config = item.configuration
    assert {key: config[key] for key in ("Runtime", "Handler", "Role", "Timeout", "MemorySize")} == {
        "Runtime": "python3.12",
        "Handler": "app.handler",
        "Role": f"arn:aws:iam::{ACCOUNT}:role/fn-role",
        "Timeout": 30,
        "MemorySize": 256,
    }
    assert config["Architectures"] == ["arm64"]
    assert config["TracingConfig"] == {"Mode": "Active"}
    assert config["KMSKeyArn"] == KMS_KEY
    assert config["Layers"] == []
    assert config["CodeSha256"] == created["CodeSha256"]
    assert config["Environment"] == {"Variables": {"DB_PASSWORD": SECRET, "STAGE": "prod"}}
    assert config["Tags"] == {"team": "web", "env": "prod"}
    assert config["Policy"]["Statement"] == [
        {
            "Sid": "public",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "lambda:InvokeFunction",
            "Resource": item.arn,
        }
    ]
    url = config["FunctionUrlConfig"]
    assert url["AuthType"] == "NONE"
    assert url["FunctionUrl"].startswith("https://")
    assert set(url) <= set(watcher._URL_FIELDS)
    assert [(a["Name"], a["FunctionVersion"]) for a in config["Aliases"]] == [("live", "1")]
    (mapping,) = config["EventSourceMappings"]
    assert (mapping["EventSourceArn"], mapping["BatchSize"]) == (f"arn:aws:sqs:{REGION}:{ACCOUNT}:jobs", 5)
    assert items["bare"].configuration["EventSourceMappings"] == []


def test_unconfigured_parts_are_absent_not_errors(aws):
    client = boto3.client("lambda", region_name=REGION)
    _create(client, "bare", _role())

    (item,) = watcher.list_functions(make_ctx())

    config = item.configuration
    assert (config["Policy"], config["FunctionUrlConfig"]) == (None, None)
    assert (config["Aliases"], config["EventSourceMappings"], config["Tags"]) == ([], [], {})
    assert "Environment" not in config or not config["Environment"].get("Variables")


def test_each_region_reads_only_its_own_functions(aws):
    role = _role()
    _create(boto3.client("lambda", region_name=REGION), "here", role)
    _create(boto3.client("lambda", region_name="us-east-1"), "there", role)

    assert [item.id for item in watcher.list_functions(make_ctx())] == ["here"]
    assert [item.id for item in watcher.list_functions(make_ctx("us-east-1"))] == ["there"]


def test_environment_values_never_reach_the_document_and_deploy_noise_is_ephemeral(aws):
    _configure_api_function(boto3.client("lambda", region_name=REGION))
    item = next(i for i in watcher.list_functions(make_ctx()) if i.id == "api")

    normalized = normalize_item(item, TECH, account_id=ACCOUNT, secret_key=b"k")

    assert SECRET.encode() not in normalized.content
    assert b"prod" in normalized.content  # the tag is kept; only environment values are hashed
    variables = normalized.document["configuration"]["Environment"]["Variables"]
    assert set(variables) == {"DB_PASSWORD", "STAGE"}
    assert all(value.startswith("<redacted hmac-sha256:") for value in variables.values())
    assert variables["DB_PASSWORD"] != variables["STAGE"]
    configuration = normalized.document["configuration"]
    assert "LastModified" not in configuration and "RevisionId" not in configuration
    assert "LastModifiedTime" not in configuration["FunctionUrlConfig"]
    assert "configuration.LastModified" in normalized.ephemeral
    assert configuration["CodeSha256"] == item.configuration["CodeSha256"]  # a deploy is a change


def test_new_environment_value_changes_the_hash(aws):
    client = boto3.client("lambda", region_name=REGION)
    _create(client, "api", _role(), Environment={"Variables": {"TOKEN": "token-value-first"}})
    ctx = make_ctx()
    before = normalize_item(watcher.list_functions(ctx)[0], TECH, account_id=ACCOUNT, secret_key=b"k")
    client.update_function_configuration(
        FunctionName="api", Environment={"Variables": {"TOKEN": "token-value-second"}}
    )

    after = normalize_item(watcher.list_functions(ctx)[0], TECH, account_id=ACCOUNT, secret_key=b"k")

    old, new = (n.document["configuration"]["Environment"]["Variables"]["TOKEN"] for n in (before, after))
    assert old != new
    assert b"token-value-first" not in before.content
    assert b"token-value-second" not in after.content


def test_public_function_is_audited_by_the_policy_and_url_rules(aws):
    _configure_api_function(boto3.client("lambda", region_name=REGION))
    item = next(i for i in watcher.list_functions(make_ctx()) if i.id == "api")
    document = normalize_item(item, TECH, account_id=ACCOUNT, secret_key=b"k").document
    ruleset = RuleSet.load({}, base_dir=Path("."))
    now = datetime(2026, 1, 1, tzinfo=UTC)
    ctx = AuditContext.from_config({}, account_id=ACCOUNT, account_name="prod", now=now)

    fired = {finding.rule_id for finding in ruleset.evaluate(document, None, ctx)}

    assert {"lambda.function.policy-internet", "lambda.function.url-auth-none"} <= fired


def test_function_deleted_between_list_and_describe_is_skipped(aws, monkeypatch):
    admin = boto3.client("lambda", region_name=REGION)
    role = _role()
    _create(admin, "keeper", role)
    _create(admin, "doomed", role)
    ctx = make_ctx()
    make_client = ctx.client

    def client_that_races_a_delete(service, region=None):
        client = make_client(service, region)
        client.meta.events.register(
            "after-call.lambda.ListFunctions", lambda **_: admin.delete_function(FunctionName="doomed")
        )
        return client

    monkeypatch.setattr(ctx, "client", client_that_races_a_delete)

    assert [item.id for item in watcher.list_functions(ctx)] == ["keeper"]


def test_api_calls(aws):
    client = boto3.client("lambda", region_name=REGION)
    role = _role()
    for name in ("fn-a", "fn-b", "fn-c"):
        _create(client, name, role)
    ctx = make_ctx()

    watcher.list_functions(ctx)

    per_function = ("GetPolicy", "GetFunctionUrlConfig", "ListAliases", "ListTags")
    assert dict(ctx.calls) == {
        "lambda:ListFunctions": 1,
        "lambda:ListEventSourceMappings": 1,
        **{f"lambda:{op}": 3 for op in per_function},
    }
    assert ctx.api_calls == 2 + 3 * len(per_function)


def test_an_empty_region_costs_one_call(aws):
    ctx = make_ctx()
    assert watcher.list_functions(ctx) == []
    assert dict(ctx.calls) == {"lambda:ListFunctions": 1}


def _stubbed_ctx(monkeypatch, fail: str, code: str) -> SliceContext:
    """One function whose ``fail`` call answers ``code``; every call before it succeeds."""
    ctx = make_ctx()
    client = boto3.client("lambda", region_name=REGION)
    stub = Stubber(client)
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fn"
    steps = [
        ("list_functions", {"Functions": [{"FunctionName": "fn", "FunctionArn": arn}]}),
        ("list_event_source_mappings", {"EventSourceMappings": []}),
        ("get_policy", {"Policy": json.dumps({"Version": "2012-10-17", "Statement": []})}),
        (
            "get_function_url_config",
            {
                "FunctionUrl": "https://abc.lambda-url.eu-west-1.on.aws/",
                "FunctionArn": arn,
                "AuthType": "AWS_IAM",
                "CreationTime": "2024-01-01T00:00:00.000+0000",
                "LastModifiedTime": "2024-01-01T00:00:00.000+0000",
            },
        ),
        ("list_aliases", {"Aliases": []}),
        ("list_tags", {"Tags": {}}),
    ]
    for operation, response in steps:
        if operation == fail:
            stub.add_client_error(operation, service_error_code=code, http_status_code=403)
            break
        stub.add_response(operation, response)
    stub.activate()
    monkeypatch.setattr(ctx, "client", lambda service, region=None: client)
    return ctx


@pytest.mark.parametrize(
    ("fail", "code"),
    [
        ("list_functions", "AccessDeniedException"),
        ("list_event_source_mappings", "TooManyRequestsException"),
        ("get_policy", "AccessDeniedException"),
        ("get_function_url_config", "AccessDeniedException"),
        ("list_aliases", "ThrottlingException"),
        ("list_tags", "ServiceException"),
    ],
)
def test_a_failed_call_fails_the_whole_listing(monkeypatch, fail, code):
    ctx = _stubbed_ctx(monkeypatch, fail, code)
    with pytest.raises(ClientError) as info:
        watcher.list_functions(ctx)
    assert info.value.response["Error"]["Code"] == code


def test_mappings_of_an_alias_belong_to_their_function():
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:api"
    assert watcher._unqualified(f"{arn}:live") == watcher._unqualified(arn) == arn


def test_technology_metadata():
    assert TECH.name == "lambda.function" and not TECH.is_global
    assert TECH.secret_paths == ("Environment.Variables.*",)
    assert {"LastModified", "RevisionId", "State", "LastUpdateStatus"} <= set(TECH.ephemeral_paths)
    assert not {"CodeSha256", "CodeSize", "Version"} & set(TECH.ephemeral_paths)
    needed = {"lambda:ListFunctions", "lambda:GetPolicy", "lambda:GetFunctionUrlConfig", "lambda:ListTags"}
    assert needed <= set(TECH.iam_actions)


def _rule_findings(function_id: str) -> set[tuple[str, str, int]]:
    item = next(i for i in watcher.list_functions(make_ctx()) if i.id == function_id)
    document = normalize_item(item, TECH, account_id=ACCOUNT, secret_key=b"k").document
    ruleset = RuleSet.load({}, base_dir=Path("."))
    now = datetime(2026, 1, 1, tzinfo=UTC)
    ctx = AuditContext.from_config({}, account_id=ACCOUNT, account_name="prod", now=now)
    return {(f.rule_id, f.key, f.score) for f in ruleset.evaluate(document, None, ctx)}


def test_deprecated_runtime_vpc_and_secret_names_on_moto_output(aws):
    """FSBP Lambda.2 and Lambda.3 and the secret-by-name rule on functions moto makes: the rule
    sees the variable names, the values stay hashed."""
    client = boto3.client("lambda", region_name=REGION)
    role = _role()
    variables = {"DB_PASSWORD": SECRET, "DB_PASSWORD_SECRET_ARN": "arn:x", "STAGE": "prod"}
    _create(client, "legacy", role, Environment={"Variables": variables})
    client.update_function_configuration(FunctionName="legacy", Runtime="python3.8")
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=f"{REGION}{zone}")["Subnet"]["SubnetId"]
        for cidr, zone in (("10.9.1.0/24", "a"), ("10.9.2.0/24", "b"))
    ]
    group = ec2.create_security_group(GroupName="fn", Description="fn", VpcId=vpc)["GroupId"]
    _create(client, "modern", role, VpcConfig={"SubnetIds": subnets, "SecurityGroupIds": [group]},
            Environment={"Variables": {"TABLE_NAME": "orders", "API_KEY_PARAM": "/orders/api-key"}})

    assert _rule_findings("legacy") == {
        ("lambda.function.runtime-deprecated", "runtime:python3.8", 5),
        ("lambda.function.not-in-vpc", "vpc", 2),
        ("lambda.function.secret-in-environment", "env:DB_PASSWORD", 3),
    }
    assert _rule_findings("modern") == set()


# --- the garbled-answer test's seeding -----------------------------------------------------------

def _seed_function(client: Callable[..., Any]) -> None:
    """A function with an environment, a public resource policy, a URL without auth and tags
    (issues of score 10)."""
    role = client("iam").create_role(RoleName="seed-fn-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    functions = client("lambda")
    _create(functions, "seed-fn", role, Environment={"Variables": {"API_TOKEN": SECRET}}, Tags={"t": "web"})
    functions.add_permission(
        FunctionName="seed-fn", StatementId="public", Action="lambda:InvokeFunction", Principal="*"
    )
    functions.create_function_url_config(FunctionName="seed-fn", AuthType="NONE")


GARBLE_SEEDS: dict[str, Callable[[Callable[..., Any]], None]] = {"lambda.function": _seed_function}


def test_garble_seeds_create_items(aws):
    for seed in GARBLE_SEEDS.values():
        seed(lambda service, region_name=REGION: boto3.client(service, region_name=region_name))
    (item,) = watcher.list_functions(make_ctx())
    assert item.id == "seed-fn"
    assert item.configuration["FunctionUrlConfig"]["AuthType"] == "NONE"
