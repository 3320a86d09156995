"""SQS queue watcher against moto: every attribute, absent parts, races, failures, paging, cost."""

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
from gitmonkey.watchers import sqs
from tests.helpers import slice_context

ACCOUNT = "123456789012"
REGION = "eu-west-1"
ARN_PREFIX = f"arn:aws:sqs:{REGION}:{ACCOUNT}"
POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "Partner",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
            "Action": "sqs:SendMessage",
            "Resource": f"{ARN_PREFIX}:orders",
        }
    ],
}
(TECH,) = sqs.TECHNOLOGIES


def make_ctx(region: str = REGION) -> SliceContext:
    return slice_context(region)


@pytest.fixture
def aws():
    with mock_aws():
        yield boto3.client("sqs", region_name=REGION)


def _by_id(items) -> dict:
    return {item.id: item for item in items}


def _create_orders_with_dead_letter_queue(client) -> None:
    client.create_queue(QueueName="orders-dlq")
    client.create_queue(
        QueueName="orders",
        Attributes={
            "Policy": json.dumps(POLICY),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": f"{ARN_PREFIX}:orders-dlq", "maxReceiveCount": "5"}
            ),
            "KmsMasterKeyId": "alias/orders",
            "KmsDataKeyReusePeriodSeconds": "600",
            "VisibilityTimeout": "45",
            "MessageRetentionPeriod": "86400",
            "DelaySeconds": "3",
            "ReceiveMessageWaitTimeSeconds": "10",
            "MaximumMessageSize": "65536",
        },
        tags={"team": "shop", "env": "prod"},
    )


def test_configured_queue_has_every_attribute(aws):
    _create_orders_with_dead_letter_queue(aws)

    items = _by_id(sqs.list_queues(make_ctx()))

    item = items["orders"]
    assert (item.technology, item.region, item.name) == ("sqs.queue", REGION, "orders")
    assert item.arn == f"{ARN_PREFIX}:orders"
    config = item.configuration
    assert config["Policy"] == POLICY
    assert config["RedrivePolicy"] == {
        "deadLetterTargetArn": f"{ARN_PREFIX}:orders-dlq",
        "maxReceiveCount": 5,
    }
    assert config["RedriveAllowPolicy"] is None
    assert (config["KmsMasterKeyId"], config["KmsDataKeyReusePeriodSeconds"]) == ("alias/orders", 600)
    assert config["VisibilityTimeout"] == 45
    assert config["MessageRetentionPeriod"] == 86400
    assert config["DelaySeconds"] == 3
    assert config["ReceiveMessageWaitTimeSeconds"] == 10
    assert config["MaximumMessageSize"] == 65536
    assert config["FifoQueue"] is False
    assert config["Tags"] == {"team": "shop", "env": "prod"}
    assert config["QueueArn"] == item.arn
    assert config["QueueName"] == "orders"
    assert config["QueueUrl"].endswith(f"/{ACCOUNT}/orders")
    assert isinstance(config["CreatedTimestamp"], datetime.datetime)
    assert config["CreatedTimestamp"].tzinfo is datetime.UTC
    assert config["DeadLetterSourceQueues"] == []

    assert items["orders-dlq"].configuration["DeadLetterSourceQueues"] == [f"{ARN_PREFIX}:orders"]


def test_fifo_queue_settings(aws):
    aws.create_queue(
        QueueName="jobs.fifo",
        Attributes={
            "FifoQueue": "true",
            "ContentBasedDeduplication": "true",
            "DeduplicationScope": "messageGroup",
            "FifoThroughputLimit": "perMessageGroupId",
        },
    )

    (item,) = sqs.list_queues(make_ctx())

    config = item.configuration
    assert item.id == "jobs.fifo"
    assert config["FifoQueue"] is True
    assert config["ContentBasedDeduplication"] is True
    assert config["DeduplicationScope"] == "messageGroup"
    assert config["FifoThroughputLimit"] == "perMessageGroupId"


def test_unconfigured_parts_are_absent_not_errors(aws):
    aws.create_queue(QueueName="bare")

    (item,) = sqs.list_queues(make_ctx())

    config = item.configuration
    absent = ("Policy", "RedrivePolicy", "RedriveAllowPolicy", "KmsMasterKeyId",
              "KmsDataKeyReusePeriodSeconds")
    assert {key: config[key] for key in absent} == dict.fromkeys(absent)
    assert config["Tags"] == {}
    assert config["DeadLetterSourceQueues"] == []


def test_add_permission_shows_in_the_policy(aws):
    url = aws.create_queue(QueueName="shared")["QueueUrl"]
    aws.add_permission(QueueUrl=url, Label="partner", AWSAccountIds=["222222222222"], Actions=["SendMessage"])

    (item,) = sqs.list_queues(make_ctx())

    (statement,) = item.configuration["Policy"]["Statement"]
    assert statement["Sid"] == "partner"
    assert statement["Effect"] == "Allow"
    assert "222222222222" in json.dumps(statement["Principal"])


def test_message_counts_are_ephemeral_and_never_change_the_document(aws):
    url = aws.create_queue(QueueName="busy")["QueueUrl"]
    (before,) = sqs.list_queues(make_ctx())
    aws.send_message(QueueUrl=url, MessageBody="hello")
    aws.send_message(QueueUrl=url, MessageBody="again", DelaySeconds=60)
    (after,) = sqs.list_queues(make_ctx())

    old = normalize_item(before, TECH, account_id=ACCOUNT, secret_key=b"k")
    new = normalize_item(after, TECH, account_id=ACCOUNT, secret_key=b"k")

    assert new.content == old.content
    assert new.ephemeral["configuration.ApproximateNumberOfMessages"] == 1
    assert new.ephemeral["configuration.ApproximateNumberOfMessagesDelayed"] == 1
    assert old.ephemeral["configuration.ApproximateNumberOfMessages"] == 0
    assert "configuration.LastModifiedTimestamp" in new.ephemeral
    assert "LastModifiedTimestamp" not in new.document["configuration"]
    assert new.document["configuration"]["CreatedTimestamp"].endswith("Z")


def test_api_calls_per_queue(aws):
    for name in ("q-a", "q-b", "q-c"):
        aws.create_queue(QueueName=name)
    ctx = make_ctx()

    items = sqs.list_queues(ctx)

    assert sorted(item.id for item in items) == ["q-a", "q-b", "q-c"]
    assert ctx.calls == {"sqs:ListQueues": 1, "sqs:GetQueueAttributes": 3, "sqs:ListQueueTags": 3}


def test_only_the_slice_region_is_read(aws):
    aws.create_queue(QueueName="here")
    boto3.client("sqs", region_name="us-east-1").create_queue(QueueName="elsewhere")

    items = sqs.list_queues(make_ctx())

    assert [item.id for item in items] == ["here"]


def test_queue_deleted_between_list_and_describe_is_skipped(aws, monkeypatch):
    aws.create_queue(QueueName="keeper")
    doomed = aws.create_queue(QueueName="doomed")["QueueUrl"]
    ctx = make_ctx()
    make_client = ctx.client

    def client_that_races_a_delete(service, region=None):
        client = make_client(service, region)
        client.meta.events.register(
            "after-call.sqs.ListQueues", lambda **_: aws.delete_queue(QueueUrl=doomed)
        )
        return client

    monkeypatch.setattr(ctx, "client", client_that_races_a_delete)

    items = sqs.list_queues(ctx)

    assert [item.id for item in items] == ["keeper"]


URL = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/stubbed"


def _stubbed_ctx(monkeypatch) -> tuple[SliceContext, Stubber]:
    ctx = make_ctx()
    client = boto3.client("sqs", region_name=REGION)
    stub = Stubber(client)
    monkeypatch.setattr(ctx, "client", lambda service, region=None: client)
    return ctx, stub


@pytest.mark.parametrize("code", ["AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"])
def test_queue_deleted_between_attributes_and_tags_is_skipped(monkeypatch, code):
    ctx, stub = _stubbed_ctx(monkeypatch)
    stub.add_response("list_queues", {"QueueUrls": [URL]})
    stub.add_response("get_queue_attributes", {"Attributes": {"QueueArn": f"{ARN_PREFIX}:stubbed"}})
    stub.add_client_error("list_queue_tags", service_error_code=code, http_status_code=400)
    with stub:
        assert sqs.list_queues(ctx) == []
    stub.assert_no_pending_responses()


@pytest.mark.parametrize("code", ["AccessDenied", "ThrottlingException"])
def test_a_failed_describe_fails_the_whole_listing(monkeypatch, code):
    ctx, stub = _stubbed_ctx(monkeypatch)
    stub.add_response("list_queues", {"QueueUrls": [URL]})
    stub.add_client_error("get_queue_attributes", service_error_code=code, http_status_code=403)
    with stub, pytest.raises(ClientError) as info:
        sqs.list_queues(ctx)
    assert info.value.response["Error"]["Code"] == code


def test_a_failed_listing_raises(monkeypatch):
    ctx, stub = _stubbed_ctx(monkeypatch)
    stub.add_client_error("list_queues", service_error_code="AccessDenied", http_status_code=403)
    with stub, pytest.raises(ClientError, match="AccessDenied"):
        sqs.list_queues(ctx)


def test_listing_asks_for_pages_and_follows_every_token(monkeypatch):
    """Without MaxResults AWS stops at 1,000 queues and gives no token, so the watcher must send it."""
    ctx, stub = _stubbed_ctx(monkeypatch)
    second = URL.replace("stubbed", "second")
    stub.add_response("list_queues", {"QueueUrls": [URL], "NextToken": "t1"}, {"MaxResults": 1000})
    stub.add_response("list_queues", {"QueueUrls": [second]}, {"MaxResults": 1000, "NextToken": "t1"})
    for name in ("stubbed", "second"):
        stub.add_response("get_queue_attributes", {"Attributes": {"QueueArn": f"{ARN_PREFIX}:{name}"}})
        stub.add_response("list_queue_tags", {})
    monkeypatch.setattr(sqs, "QUEUE_WORKERS", 1)  # the stub answers in order
    with stub:
        items = sqs.list_queues(ctx)
    assert [item.id for item in items] == ["stubbed", "second"]
    assert items[1].configuration["Tags"] == {}


def test_attribute_values_aws_spells_unexpectedly_are_kept_as_strings(monkeypatch):
    ctx, stub = _stubbed_ctx(monkeypatch)
    stub.add_response("list_queues", {"QueueUrls": [URL]})
    stub.add_response(
        "get_queue_attributes",
        {"Attributes": {"VisibilityTimeout": "soon", "FifoQueue": "maybe", "CreatedTimestamp": "1700000000"}},
    )
    stub.add_response("list_queue_tags", {"Tags": {"k": "v"}})
    with stub:
        (item,) = sqs.list_queues(ctx)
    config = item.configuration
    assert (config["VisibilityTimeout"], config["FifoQueue"]) == ("soon", "maybe")
    assert config["CreatedTimestamp"] == datetime.datetime(2023, 11, 14, 22, 13, 20, tzinfo=datetime.UTC)
    assert item.arn == f"{ARN_PREFIX}:stubbed"


def test_redrive_allow_policy_is_decoded_and_its_sources_sorted(monkeypatch):
    """moto 5.2 rejects RedriveAllowPolicy, so AWS's answer is stubbed."""
    ctx, stub = _stubbed_ctx(monkeypatch)
    sources = [f"{ARN_PREFIX}:zeta", f"{ARN_PREFIX}:alpha"]
    stub.add_response("list_queues", {"QueueUrls": [URL]})
    stub.add_response(
        "get_queue_attributes",
        {"Attributes": {
            "QueueArn": f"{ARN_PREFIX}:stubbed",
            "RedriveAllowPolicy": json.dumps({"redrivePermission": "byQueue", "sourceQueueArns": sources}),
        }},
    )
    stub.add_response("list_queue_tags", {"Tags": {}})
    with stub:
        (item,) = sqs.list_queues(ctx)

    expected = {"redrivePermission": "byQueue", "sourceQueueArns": sources}
    assert item.configuration["RedriveAllowPolicy"] == expected
    document = normalize_item(item, TECH, account_id=ACCOUNT, secret_key=b"k").document
    assert document["configuration"]["RedriveAllowPolicy"]["sourceQueueArns"] == sorted(sources)


def test_resource_policy_rules_read_the_watchers_policy(aws):
    """The built-in sqs.queue.policy-* rules find the policy where this watcher writes it."""
    public = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage", "Resource": "*"},
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:role/x"},
             "Action": "sqs:ReceiveMessage", "Resource": "*"},
        ],
    }
    aws.create_queue(QueueName="open", Attributes={"Policy": json.dumps(public)})
    (item,) = sqs.list_queues(make_ctx())
    document = json.loads(normalize_item(item, TECH, account_id=ACCOUNT, secret_key=b"k").content)
    rules = RuleSet.load({}, base_dir=Path.cwd())
    ctx = AuditContext(ACCOUNT, "test", {}, (), datetime.datetime(2024, 6, 1, tzinfo=datetime.UTC))

    found = {(f.rule_id, f.key) for f in rules.evaluate(document, None, ctx)}

    assert ("sqs.queue.policy-internet", "*") in found
    assert ("sqs.queue.policy-unknown-account", "arn:aws:iam::999999999999:role/x") in found


def test_technology_metadata():
    assert not TECH.is_global
    assert TECH.name == "sqs.queue"
    assert {"ApproximateNumberOfMessages", "LastModifiedTimestamp"} <= set(TECH.ephemeral_paths)
    assert "CreatedTimestamp" not in TECH.ephemeral_paths
    # ListDeadLetterSourceQueues: the single-item read's dead-letter sources (the listing derives them)
    assert set(TECH.iam_actions) == {
        "sqs:ListQueues", "sqs:GetQueueAttributes", "sqs:ListQueueTags", "sqs:ListDeadLetterSourceQueues"
    }


def test_unencrypted_queue_is_found_on_moto_output(aws):
    """FSBP SQS.1: moto's default (SSE-SQS on, as on AWS since 2022) passes; SSE turned off fires."""
    aws.create_queue(QueueName="plain", Attributes={"SqsManagedSseEnabled": "false"})
    aws.create_queue(QueueName="default")
    aws.create_queue(
        QueueName="kms", Attributes={"SqsManagedSseEnabled": "false", "KmsMasterKeyId": "alias/orders"}
    )
    rules = RuleSet.load({}, base_dir=Path.cwd())
    ctx = AuditContext(ACCOUNT, "test", {}, (), datetime.datetime(2024, 6, 1, tzinfo=datetime.UTC))

    found = {}
    for item in sqs.list_queues(make_ctx()):
        document = normalize_item(item, TECH, account_id=ACCOUNT, secret_key=b"k").document
        found[item.id] = {(f.rule_id, f.key, f.score) for f in rules.evaluate(document, None, ctx)}

    assert found == {"plain": {("sqs.queue.not-encrypted", "encryption", 5)}, "default": set(), "kms": set()}


# --- the garbled-answer test's seeding -----------------------------------------------------------

def _seed_queue(client: Callable[..., Any]) -> None:
    """A queue with a dead-letter queue, a public policy and a tag (issues of score 10)."""
    sqs_client = client("sqs")
    dead = sqs_client.create_queue(QueueName="seed-dead")["QueueUrl"]
    attributes = sqs_client.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])["Attributes"]
    dead_arn = attributes["QueueArn"]
    statement = {"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage", "Resource": "*"}
    policy = {"Version": "2012-10-17", "Statement": [statement]}
    sqs_client.create_queue(
        QueueName="seed-queue",
        Attributes={"Policy": json.dumps(policy),
                    "RedrivePolicy": json.dumps({"deadLetterTargetArn": dead_arn, "maxReceiveCount": "5"})},
        tags={"team": "orders"},
    )


GARBLE_SEEDS: dict[str, Callable[[Callable[..., Any]], None]] = {"sqs.queue": _seed_queue}


def test_garble_seeds_create_items(aws):
    for seed in GARBLE_SEEDS.values():
        seed(lambda service, region_name="us-east-1": boto3.client(service, region_name=region_name))
    assert sorted(item.id for item in sqs.list_queues(make_ctx("us-east-1"))) == ["seed-dead", "seed-queue"]
