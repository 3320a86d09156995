"""AWS Config rule watcher (config.rule) against moto, and a botocore Stubber for what moto cannot
make (custom Lambda and Guard rules, service-linked rules, transient states, failures on a later
page): the fields recorded, every region, paging, ephemeral state, failures and call counts.

There is no per-rule call, so no rule can vanish between a listing and a describe."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from gitmonkey.audit import AuditContext, RuleSet
from gitmonkey.read.aws import SliceContext
from gitmonkey.watchers import config as config_watcher
from gitmonkey.watchers import get_technology
from tests.helpers import normalized, slice_context

ACCOUNT = "123456789012"
REGION = "us-east-1"
TECH = get_technology("config.rule")
LAMBDA = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:check-tags"


def make_ctx(region: str = REGION) -> SliceContext:
    return slice_context(region)



@pytest.fixture
def aws():
    with mock_aws():
        yield boto3.client("config", region_name=REGION)


def _keys_rotated(client, name: str = "access-keys-rotated", max_age: str = "90") -> None:
    client.put_config_rule(
        ConfigRule={
            "ConfigRuleName": name,
            "Description": "access keys rotated within the period",
            "Scope": {"ComplianceResourceTypes": ["AWS::IAM::User"]},
            "Source": {"Owner": "AWS", "SourceIdentifier": "ACCESS_KEYS_ROTATED"},
            "InputParameters": json.dumps({"maxAccessKeyAge": max_age}),
            "MaximumExecutionFrequency": "TwentyFour_Hours",
        }
    )


def _password_policy(client, name: str) -> None:
    client.put_config_rule(
        ConfigRule={
            "ConfigRuleName": name,
            "Source": {"Owner": "AWS", "SourceIdentifier": "IAM_PASSWORD_POLICY"},
        }
    )


# --- moto ---------------------------------------------------------------------------------------


def test_managed_rule_is_recorded_with_decoded_parameters(aws):
    _keys_rotated(aws)
    ctx = make_ctx()

    (item,) = config_watcher.list_rules(ctx)

    described = aws.describe_config_rules()["ConfigRules"][0]
    assert (item.technology, item.region, item.id, item.name) == (
        "config.rule", REGION, "access-keys-rotated", "access-keys-rotated",
    )
    assert item.arn == described["ConfigRuleArn"]
    assert item.arn.startswith(f"arn:aws:config:{REGION}:{ACCOUNT}:config-rule/config-rule-")
    config = item.configuration
    assert config == {
        "ConfigRuleName": "access-keys-rotated",
        "ConfigRuleId": described["ConfigRuleId"],
        "Description": "access keys rotated within the period",
        "Scope": {"ComplianceResourceTypes": ["AWS::IAM::User"]},
        "Source": {"Owner": "AWS", "SourceIdentifier": "ACCESS_KEYS_ROTATED"},
        "InputParameters": {"maxAccessKeyAge": "90"},
        "MaximumExecutionFrequency": "TwentyFour_Hours",
        "ConfigRuleState": "ACTIVE",
    }
    assert dict(ctx.calls) == {"config:DescribeConfigRules": 1}

    document = normalized(item)
    assert "ConfigRuleState" not in document.document["configuration"]
    assert document.ephemeral == {"configuration.ConfigRuleState": "ACTIVE"}


def test_every_region_is_read_not_only_us_east_1(aws):
    _keys_rotated(boto3.client("config", region_name="eu-west-1"), name="eu-only")

    assert config_watcher.list_rules(make_ctx()) == []
    (item,) = config_watcher.list_rules(make_ctx("eu-west-1"))
    assert (item.id, item.region) == ("eu-only", "eu-west-1")
    assert item.arn.startswith(f"arn:aws:config:eu-west-1:{ACCOUNT}:config-rule/")


def test_region_without_rules_costs_one_call(aws):
    ctx = make_ctx()
    assert config_watcher.list_rules(ctx) == []
    assert dict(ctx.calls) == {"config:DescribeConfigRules": 1}


def test_pages_are_followed(aws):
    """moto pages DescribeConfigRules by 25, as AWS does."""
    for n in range(30):
        _password_policy(aws, f"rule-{n:02d}")
    ctx = make_ctx()

    items = config_watcher.list_rules(ctx)

    assert sorted(item.id for item in items) == [f"rule-{n:02d}" for n in range(30)]
    assert dict(ctx.calls) == {"config:DescribeConfigRules": 2}


def test_unchanged_resync_is_identical_and_a_parameter_change_is_not(aws):
    _keys_rotated(aws)
    first = normalized(config_watcher.list_rules(make_ctx())[0])
    again = normalized(config_watcher.list_rules(make_ctx())[0])
    assert again.content == first.content

    _keys_rotated(aws, max_age="30")  # PutConfigRule on an existing name updates it
    changed = normalized(config_watcher.list_rules(make_ctx())[0])
    assert changed.content != first.content
    assert changed.document["configuration"]["InputParameters"] == {"maxAccessKeyAge": "30"}


def test_no_builtin_rule_audits_config_rules(aws):
    """Security Monkey had no check for Config rules, and none is decidable from the rule alone:
    a rule being deleted is its deletion, recorded as such."""
    _keys_rotated(aws)
    rules = RuleSet.load({}, base_dir=Path.cwd())
    audit = AuditContext.from_config(
        {}, account_id=ACCOUNT, account_name="t", now=datetime(2030, 1, 1, tzinfo=UTC)
    )
    (item,) = config_watcher.list_rules(make_ctx())

    assert list(rules.evaluate(normalized(item).document, None, audit)) == []
    assert not [rule.id for rule in rules.rules if rule.technology == "config.rule"]


# --- Stubber: what moto cannot make --------------------------------------------------------------


def _stubbed(monkeypatch) -> tuple[SliceContext, Stubber]:
    """A slice context whose counted config client answers from a Stubber."""
    ctx = make_ctx()
    client = ctx.client("config")
    monkeypatch.setattr(ctx, "client", lambda service, region=None: client)
    return ctx, Stubber(client)


CUSTOM_LAMBDA = {
    "ConfigRuleName": "required-tags",
    "ConfigRuleArn": f"arn:aws:config:{REGION}:{ACCOUNT}:config-rule/config-rule-a1b2c3",
    "ConfigRuleId": "config-rule-a1b2c3",
    "Scope": {"ComplianceResourceTypes": ["AWS::S3::Bucket", "AWS::EC2::Instance"]},
    "Source": {
        "Owner": "CUSTOM_LAMBDA",
        "SourceIdentifier": LAMBDA,
        "SourceDetails": [
            {"EventSource": "aws.config", "MessageType": "ScheduledNotification",
             "MaximumExecutionFrequency": "One_Hour"},
            {"EventSource": "aws.config", "MessageType": "ConfigurationItemChangeNotification"},
        ],
    },
    "InputParameters": '{"tag1Key": "team", "tag2Key": "cost-center"}',
    "ConfigRuleState": "ACTIVE",
    "EvaluationModes": [{"Mode": "PROACTIVE"}, {"Mode": "DETECTIVE"}],
}
GUARD = {
    "ConfigRuleName": "securityhub-s3-bucket-ssl-requests-only-abc123",
    "ConfigRuleArn": (
        f"arn:aws:config:{REGION}:{ACCOUNT}:config-rule/aws-service-rule/"
        "securityhub.amazonaws.com/config-rule-d4e5f6"
    ),
    "ConfigRuleId": "config-rule-d4e5f6",
    "Scope": {"ComplianceResourceTypes": ["AWS::S3::Bucket"]},
    "Source": {
        "Owner": "CUSTOM_POLICY",
        "SourceDetails": [
            {"EventSource": "aws.config", "MessageType": "ConfigurationItemChangeNotification"},
        ],
        "CustomPolicyDetails": {
            "PolicyRuntime": "guard-2.x.x",
            "PolicyText": "rule ssl_only { configuration.BucketPolicy exists }",
            "EnableDebugLogDelivery": False,
        },
    },
    "InputParameters": "{}",
    "ConfigRuleState": "EVALUATING",
    "CreatedBy": "securityhub.amazonaws.com",
}


def test_custom_lambda_guard_and_service_linked_rules(monkeypatch):
    ctx, stub = _stubbed(monkeypatch)
    stub.add_response("describe_config_rules", {"ConfigRules": [CUSTOM_LAMBDA, GUARD]})
    with stub:
        items = {item.id: item for item in config_watcher.list_rules(ctx)}

    custom = items["required-tags"]
    assert custom.arn == CUSTOM_LAMBDA["ConfigRuleArn"]
    assert custom.configuration["Source"]["SourceIdentifier"] == LAMBDA
    assert custom.configuration["InputParameters"] == {"tag1Key": "team", "tag2Key": "cost-center"}
    guard = items[GUARD["ConfigRuleName"]]
    assert guard.configuration["CreatedBy"] == "securityhub.amazonaws.com"
    assert guard.configuration["Source"]["CustomPolicyDetails"]["PolicyText"].startswith("rule ssl_only")
    assert guard.configuration["InputParameters"] == {}
    assert "ConfigRuleArn" not in guard.configuration
    assert dict(ctx.calls) == {"config:DescribeConfigRules": 1}

    document = normalized(custom)
    configuration = document.document["configuration"]
    assert configuration["Scope"]["ComplianceResourceTypes"] == ["AWS::EC2::Instance", "AWS::S3::Bucket"]
    assert configuration["EvaluationModes"] == [{"Mode": "DETECTIVE"}, {"Mode": "PROACTIVE"}]
    source = custom.configuration["Source"]
    reordered = dataclasses.replace(custom, configuration=dict(
        custom.configuration,
        Source=dict(source, SourceDetails=list(reversed(source["SourceDetails"]))),
        Scope={"ComplianceResourceTypes": ["AWS::EC2::Instance", "AWS::S3::Bucket"]},
        EvaluationModes=[{"Mode": "DETECTIVE"}, {"Mode": "PROACTIVE"}],
    ))
    assert normalized(reordered).content == document.content


@pytest.mark.parametrize("state", ["EVALUATING", "DELETING_RESULTS", "DELETING"])
def test_transient_states_make_no_change(monkeypatch, state):
    ctx, stub = _stubbed(monkeypatch)
    stub.add_response("describe_config_rules", {"ConfigRules": [CUSTOM_LAMBDA]})
    stub.add_response("describe_config_rules", {"ConfigRules": [dict(CUSTOM_LAMBDA, ConfigRuleState=state)]})
    with stub:
        (active,) = config_watcher.list_rules(ctx)
        (moving,) = config_watcher.list_rules(ctx)

    assert normalized(moving).content == normalized(active).content
    assert normalized(moving).ephemeral == {"configuration.ConfigRuleState": state}


def test_parameters_that_are_not_json_are_kept_as_given(monkeypatch):
    ctx, stub = _stubbed(monkeypatch)
    odd = dict(CUSTOM_LAMBDA, InputParameters="not json")
    stub.add_response("describe_config_rules", {"ConfigRules": [odd]})
    with stub:
        (item,) = config_watcher.list_rules(ctx)
    assert item.configuration["InputParameters"] == "not json"


def test_arn_is_built_from_the_rule_id_when_absent(monkeypatch):
    ctx, stub = _stubbed(monkeypatch)
    rule = {k: v for k, v in CUSTOM_LAMBDA.items() if k != "ConfigRuleArn"}
    stub.add_response("describe_config_rules", {"ConfigRules": [rule]})
    with stub:
        (item,) = config_watcher.list_rules(ctx)
    assert item.arn == f"arn:aws:config:{REGION}:{ACCOUNT}:config-rule/config-rule-a1b2c3"


@pytest.mark.parametrize("code", ["AccessDeniedException", "ThrottlingException"])
def test_a_failed_first_page_raises(monkeypatch, code):
    ctx, stub = _stubbed(monkeypatch)
    stub.add_client_error("describe_config_rules", service_error_code=code, http_status_code=400)
    with stub, pytest.raises(ClientError, match=code):
        config_watcher.list_rules(ctx)


def test_a_failed_later_page_raises_instead_of_returning_the_first(monkeypatch):
    ctx, stub = _stubbed(monkeypatch)
    stub.add_response("describe_config_rules", {"ConfigRules": [CUSTOM_LAMBDA], "NextToken": "t1"})
    stub.add_client_error("describe_config_rules", service_error_code="ThrottlingException",
                          http_status_code=400, expected_params={"NextToken": "t1"})
    with stub, pytest.raises(ClientError, match="ThrottlingException"):
        config_watcher.list_rules(ctx)


def test_technology_declaration():
    assert TECH.is_global is False
    assert TECH.iam_actions == ("config:DescribeConfigRules",)
    assert TECH.ephemeral_paths == ("ConfigRuleState",)
    assert not TECH.secret_paths
    assert dict(TECH.always_returned) == {"config:DescribeConfigRules": ("ConfigRules",)}
    names = [t.name for t in config_watcher.TECHNOLOGIES]
    assert names == ["config.recorder", "config.rule", "config.status"]


# --- the garbled-answer test's seeding -----------------------------------------------------------


def _seed_config_rule(client: Callable[..., Any]) -> None:
    _keys_rotated(client("config"))


GARBLE_SEEDS: dict[str, Callable[[Callable[..., Any]], None]] = {
    "config.rule": _seed_config_rule,
}


def test_garble_seed_makes_an_item(aws):
    _seed_config_rule(lambda service, region_name=REGION: boto3.client(service, region_name=region_name))
    assert [item.id for item in config_watcher.list_rules(make_ctx())] == ["access-keys-rotated"]


def test_replaced_rule_is_a_change(aws):
    """A rule deleted and put again under the same name has a new id and ARN: a change."""
    _keys_rotated(aws)
    (before,) = config_watcher.list_rules(make_ctx())
    aws.delete_config_rule(ConfigRuleName="access-keys-rotated")
    _keys_rotated(aws)
    (after,) = config_watcher.list_rules(make_ctx())
    assert after.configuration["ConfigRuleId"] != before.configuration["ConfigRuleId"]
    assert normalized(after).content != normalized(before).content
