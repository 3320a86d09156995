"""SNS topic watcher against moto: exact configuration, absent values, secrets, races, failures, cost."""

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

from gitmonkey.audit import RuleSet
from gitmonkey.audit.context import AuditContext
from gitmonkey.normalize import REDACTED_PREFIX, normalize_item
from gitmonkey.read.aws import SliceContext
from gitmonkey.watchers import sns
from tests.helpers import slice_context

ACCOUNT = "123456789012"
REGION = "us-east-1"
PUBLIC_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "Anyone",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": "SNS:Publish",
            "Resource": f"arn:aws:sns:{REGION}:{ACCOUNT}:alerts",
        }
    ],
}
DELIVERY_POLICY = {"http": {"defaultHealthyRetryPolicy": {"numRetries": 5}}}
HOOK_URL = "https://ops:hunter2@hooks.example.com:8443/integration/KEY-1234/enqueue?token=tok-5678"


def make_ctx(region: str = REGION) -> SliceContext:
    return slice_context(region)


@pytest.fixture
def aws():
    with mock_aws():
        yield


def _queue_arn(name: str, region: str = REGION) -> str:
    sqs = boto3.client("sqs", region_name=region)
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def _alerts_topic() -> tuple[str, str]:
    client = boto3.client("sns", region_name=REGION)
    arn = client.create_topic(
        Name="alerts",
        Attributes={"DisplayName": "Alerts", "KmsMasterKeyId": "alias/aws/sns"},
        Tags=[{"Key": "team", "Value": "ops"}, {"Key": "env", "Value": "prod"}],
    )["TopicArn"]
    client.set_topic_attributes(
        TopicArn=arn, AttributeName="Policy", AttributeValue=json.dumps(PUBLIC_POLICY)
    )
    client.set_topic_attributes(
        TopicArn=arn, AttributeName="DeliveryPolicy", AttributeValue=json.dumps(DELIVERY_POLICY)
    )
    queue = _queue_arn("alerts-queue")
    client.subscribe(TopicArn=arn, Protocol="email", Endpoint="oncall@example.com")
    client.subscribe(TopicArn=arn, Protocol="https", Endpoint=HOOK_URL)
    client.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue)
    return arn, queue


def _by_id(items):
    return {item.id: item for item in items}


def test_topic_configuration(aws):
    arn, queue = _alerts_topic()
    ctx = make_ctx()

    (item,) = sns.list_topics(ctx)

    assert (item.technology, item.region, item.id, item.name) == ("sns.topic", REGION, "alerts", "alerts")
    assert item.arn == arn == f"arn:aws:sns:{REGION}:{ACCOUNT}:alerts"
    config = dict(item.configuration)
    effective = config.pop("EffectiveDeliveryPolicy")
    assert isinstance(effective, dict) and "defaultHealthyRetryPolicy" in effective
    subscriptions = sorted(config.pop("Subscriptions"), key=lambda s: s["Protocol"])
    assert subscriptions == [
        {"Protocol": "email", "Endpoint": "oncall@example.com", "Owner": ACCOUNT},
        {
            "Protocol": "https",
            "Endpoint": "https://hooks.example.com:8443",
            "EndpointUrl": HOOK_URL,
            "Owner": ACCOUNT,
        },
        {"Protocol": "sqs", "Endpoint": queue, "Owner": ACCOUNT},
    ]
    assert config == {
        "Name": "alerts",
        "Owner": ACCOUNT,
        "DisplayName": "Alerts",
        "Policy": PUBLIC_POLICY,
        "DeliveryPolicy": DELIVERY_POLICY,
        "KmsMasterKeyId": "alias/aws/sns",
        "FifoTopic": False,
        "ContentBasedDeduplication": False,
        "SubscriptionsConfirmed": 0,
        "SubscriptionsPending": 0,
        "SubscriptionsDeleted": 0,
        "Tags": {"team": "ops", "env": "prod"},
    }
    assert ctx.calls == {
        "sns:ListTopics": 1,
        "sns:GetTopicAttributes": 1,
        "sns:ListSubscriptionsByTopic": 1,
        "sns:ListTagsForResource": 1,
    }


def test_unset_values_are_absent_and_fifo_flags_are_booleans(aws):
    client = boto3.client("sns", region_name=REGION)
    client.create_topic(Name="bare")
    client.create_topic(
        Name="orders.fifo", Attributes={"FifoTopic": "true", "ContentBasedDeduplication": "true"}
    )

    items = _by_id(sns.list_topics(make_ctx()))

    bare = items["bare"].configuration
    assert {key: bare[key] for key in ("DisplayName", "DeliveryPolicy", "KmsMasterKeyId")} == dict.fromkeys(
        ("DisplayName", "DeliveryPolicy", "KmsMasterKeyId")
    )
    assert (bare["FifoTopic"], bare["ContentBasedDeduplication"]) == (False, False)
    assert (bare["Subscriptions"], bare["Tags"]) == ([], {})
    (statement,) = bare["Policy"]["Statement"]  # AWS gives every topic a default policy
    assert statement["Condition"] == {"StringEquals": {"AWS:SourceOwner": ACCOUNT}}
    fifo = items["orders.fifo"]
    assert (fifo.configuration["FifoTopic"], fifo.configuration["ContentBasedDeduplication"]) == (True, True)
    assert fifo.arn.endswith(":orders.fifo")


def test_attributes_mapping_without_moto():
    raw = {
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:t",
        "Owner": ACCOUNT,
        "DisplayName": "",
        "Policy": json.dumps(PUBLIC_POLICY),
        "ArchivePolicy": '{"MessageRetentionPeriod": "30"}',
        "SignatureVersion": "2",
        "LambdaFailureFeedbackRoleArn": "arn:aws:iam::123456789012:role/sns-log",
        "SubscriptionsConfirmed": "3",
    }

    attributes = sns._attributes(raw)

    assert "TopicArn" not in attributes
    assert attributes["DisplayName"] is None
    assert attributes["Policy"] == PUBLIC_POLICY
    assert attributes["ArchivePolicy"] == {"MessageRetentionPeriod": "30"}
    assert attributes["SignatureVersion"] == "2"
    assert attributes["LambdaFailureFeedbackRoleArn"] == "arn:aws:iam::123456789012:role/sns-log"
    assert (attributes["SubscriptionsConfirmed"], attributes["SubscriptionsPending"]) == (3, None)
    assert (attributes["DeliveryPolicy"], attributes["KmsMasterKeyId"]) == (None, None)


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://user:pw@Example.com/a/b?c=d#e", "https://example.com"),
        ("http://example.com:8080/x", "http://example.com:8080"),
        ("https://[2001:db8::1]:443/x", "https://[2001:db8::1]:443"),
        ("https://example.com:99999/x", None),
        ("not a url", None),
    ],
)
def test_url_origin(url, origin):
    assert sns._url_origin(url) == origin


def test_endpoint_secrets_never_reach_the_document(aws):
    _alerts_topic()
    (item,) = sns.list_topics(make_ctx())
    (tech,) = sns.TECHNOLOGIES

    normalized = normalize_item(item, tech, account_id=ACCOUNT, secret_key=b"k")

    text = normalized.content.decode()
    for secret in ("hunter2", "KEY-1234", "tok-5678", "/integration/", "ops:"):
        assert secret not in text
    subscriptions = normalized.document["configuration"]["Subscriptions"]
    (https,) = [s for s in subscriptions if s["Protocol"] == "https"]
    assert https["Endpoint"] == "https://hooks.example.com:8443"
    assert https["EndpointUrl"].startswith(REDACTED_PREFIX)
    assert [s["Protocol"] for s in subscriptions] == ["sqs", "https", "email"]  # by canonical JSON
    assert "oncall@example.com" in text
    assert normalized.ephemeral == {
        "configuration.SubscriptionsConfirmed": 0,
        "configuration.SubscriptionsDeleted": 0,
        "configuration.SubscriptionsPending": 0,
    }
    assert "SubscriptionsConfirmed" not in normalized.document["configuration"]


def test_changed_endpoint_url_changes_the_hash(aws):
    (tech,) = sns.TECHNOLOGIES
    client = boto3.client("sns", region_name=REGION)
    arn = client.create_topic(Name="hooks")["TopicArn"]
    client.subscribe(TopicArn=arn, Protocol="https", Endpoint="https://h.example.com/a?token=one")
    before = normalize_item(sns.list_topics(make_ctx())[0], tech, account_id=ACCOUNT, secret_key=b"k")
    (subscription,) = client.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
    client.unsubscribe(SubscriptionArn=subscription["SubscriptionArn"])
    client.subscribe(TopicArn=arn, Protocol="https", Endpoint="https://h.example.com/a?token=two")

    after = normalize_item(sns.list_topics(make_ctx())[0], tech, account_id=ACCOUNT, secret_key=b"k")

    assert before.content != after.content
    old_sub, new_sub = (n.document["configuration"]["Subscriptions"][0] for n in (before, after))
    assert old_sub["Endpoint"] == new_sub["Endpoint"] == "https://h.example.com"
    assert old_sub["EndpointUrl"] != new_sub["EndpointUrl"]


def test_audit_reads_the_watcher_output(aws):
    """The built-in rules find the public policy of a real topic; a default topic has only the two
    FSBP recommendations (no KMS key, no delivery status logging), which moto can produce."""
    _alerts_topic()
    boto3.client("sns", region_name=REGION).create_topic(Name="quiet")
    (tech,) = sns.TECHNOLOGIES
    documents = {
        item.id: normalize_item(item, tech, account_id=ACCOUNT, secret_key=b"k").document
        for item in sns.list_topics(make_ctx())
    }
    ruleset = RuleSet.load({}, base_dir=Path.cwd())
    ctx = AuditContext.from_config(
        {}, account_id=ACCOUNT, account_name="test", now=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    )

    alerts = {(f.rule_id, f.key) for f in ruleset.evaluate(documents["alerts"], None, ctx)}
    quiet = ruleset.evaluate(documents["quiet"], None, ctx)

    assert ("sns.topic.policy-internet", "*") in alerts
    assert ("sns.topic.not-encrypted", "kms-encryption") not in alerts  # alias/aws/sns
    assert {(f.rule_id, f.key, f.score) for f in quiet} == {
        ("sns.topic.not-encrypted", "kms-encryption", 5),
        ("sns.topic.delivery-status-logging-disabled", "delivery-status-logging", 5),
    }


def test_each_region_reads_only_its_own_topics(aws):
    boto3.client("sns", region_name="eu-west-1").create_topic(Name="west")
    boto3.client("sns", region_name=REGION).create_topic(Name="east")

    west = sns.list_topics(make_ctx("eu-west-1"))

    assert [(i.id, i.region) for i in west] == [("west", "eu-west-1")]
    assert west[0].arn == f"arn:aws:sns:eu-west-1:{ACCOUNT}:west"


def test_every_page_of_topics_is_read(aws):
    client = boto3.client("sns", region_name=REGION)
    for index in range(105):
        client.create_topic(Name=f"topic-{index:03d}")
    ctx = make_ctx()

    items = sns.list_topics(ctx)

    assert sorted(i.id for i in items) == [f"topic-{index:03d}" for index in range(105)]
    assert ctx.calls["sns:ListTopics"] == 2
    assert ctx.calls["sns:GetTopicAttributes"] == 105
    assert ctx.api_calls == 2 + 3 * 105


def test_topic_deleted_between_list_and_describe_is_skipped(aws, monkeypatch):
    admin = boto3.client("sns", region_name=REGION)
    admin.create_topic(Name="keeper")
    doomed = admin.create_topic(Name="doomed")["TopicArn"]
    ctx = make_ctx()
    make_client = ctx.client

    def client_that_races_a_delete(service, region=None):
        client = make_client(service, region)
        client.meta.events.register(
            "after-call.sns.ListTopics", lambda **_: admin.delete_topic(TopicArn=doomed)
        )
        return client

    monkeypatch.setattr(ctx, "client", client_that_races_a_delete)

    assert [i.id for i in sns.list_topics(ctx)] == ["keeper"]


TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:solo"


def _stubbed_ctx(monkeypatch, build) -> SliceContext:
    ctx = make_ctx()
    client = boto3.client("sns", region_name=REGION)
    stub = Stubber(client)
    build(stub)
    stub.activate()
    monkeypatch.setattr(ctx, "client", lambda service, region=None: client)
    return ctx


def _list_and_describe(stub: Stubber) -> None:
    stub.add_response("list_topics", {"Topics": [{"TopicArn": TOPIC}]})
    stub.add_response("get_topic_attributes", {"Attributes": {"TopicArn": TOPIC}}, {"TopicArn": TOPIC})
    stub.add_response("list_subscriptions_by_topic", {"Subscriptions": []}, {"TopicArn": TOPIC})


def test_topic_deleted_before_its_tags_were_read_is_skipped(monkeypatch):
    def build(stub):
        _list_and_describe(stub)
        stub.add_client_error(
            "list_tags_for_resource", service_error_code="ResourceNotFound", http_status_code=404
        )

    assert sns.list_topics(_stubbed_ctx(monkeypatch, build)) == []


@pytest.mark.parametrize("code", ["AuthorizationError", "Throttling"])
def test_a_failed_describe_fails_the_whole_listing(monkeypatch, code):
    def build(stub):
        _list_and_describe(stub)
        stub.add_client_error("list_tags_for_resource", service_error_code=code, http_status_code=403)

    with pytest.raises(ClientError) as info:
        sns.list_topics(_stubbed_ctx(monkeypatch, build))
    assert info.value.response["Error"]["Code"] == code


def test_a_failed_listing_raises(monkeypatch):
    def build(stub):
        stub.add_client_error("list_topics", service_error_code="AuthorizationError", http_status_code=403)

    with pytest.raises(ClientError, match="AuthorizationError"):
        sns.list_topics(_stubbed_ctx(monkeypatch, build))


def test_one_failing_topic_among_many_fails_the_listing(aws, monkeypatch):
    client = boto3.client("sns", region_name=REGION)
    for name in ("a", "b", "c", "d"):
        client.create_topic(Name=name)
    ctx = make_ctx()
    make_client = ctx.client

    def deny_topic_c(params, **_):
        if params.get("TopicArn", "").endswith(":c"):
            raise ClientError(
                {"Error": {"Code": "AuthorizationError", "Message": "no"}}, "GetTopicAttributes"
            )

    def client_denying_one_topic(service, region=None):
        client = make_client(service, region)
        client.meta.events.register(
            "provide-client-params.sns.GetTopicAttributes", deny_topic_c, unique_id="deny-c"
        )
        return client

    monkeypatch.setattr(ctx, "client", client_denying_one_topic)

    with pytest.raises(ClientError, match="AuthorizationError"):
        sns.list_topics(ctx)


def test_technology_metadata():
    (tech,) = sns.TECHNOLOGIES
    assert not tech.is_global
    assert tech.secret_paths == ("Subscriptions.*.EndpointUrl",)
    assert set(tech.ephemeral_paths) == {
        "SubscriptionsConfirmed",
        "SubscriptionsPending",
        "SubscriptionsDeleted",
    }
    assert "Subscriptions" in tech.unordered_paths
    assert set(tech.iam_actions) == {
        "sns:ListTopics",
        "sns:GetTopicAttributes",
        "sns:ListSubscriptionsByTopic",
        "sns:ListTagsForResource",
    }


def test_an_uppercase_protocol_does_not_bypass_the_url_redaction(aws):
    client = boto3.client("sns", region_name=REGION)
    arn = client.create_topic(Name="upper")["TopicArn"]
    client.subscribe(TopicArn=arn, Protocol="HTTPS", Endpoint="https://hooks.example.com/path/SECRET-TOKEN")
    (item,) = sns.list_topics(make_ctx())
    (tech,) = sns.TECHNOLOGIES
    content = normalize_item(item, tech, account_id=ACCOUNT, secret_key=b"k").content.decode()
    assert "SECRET-TOKEN" not in content


# --- the garbled-answer test's seeding -----------------------------------------------------------

def _seed_topic(client: Callable[..., Any]) -> None:
    """A topic with a tag, a subscription and no KMS key (issues of score 5)."""
    sns_client = client("sns")
    arn = sns_client.create_topic(Name="seed-topic", Tags=[{"Key": "team", "Value": "ops"}])["TopicArn"]
    sns_client.subscribe(TopicArn=arn, Protocol="email", Endpoint="oncall@example.com")


GARBLE_SEEDS: dict[str, Callable[[Callable[..., Any]], None]] = {"sns.topic": _seed_topic}


def test_garble_seeds_create_items(aws):
    for seed in GARBLE_SEEDS.values():
        seed(lambda service, region_name=REGION: boto3.client(service, region_name=region_name))
    assert [item.id for item in sns.list_topics(make_ctx())] == ["seed-topic"]
