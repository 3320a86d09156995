"""The SQS queue EventBridge delivers CloudTrail events to (``events:`` in the config).

Receiving long-polls in batches and asks for each message's receive count (a create event whose
item cannot be read yet is retried a few times, then given up). A message is deleted only after
what it asked for is recorded; one whose read failed is made visible again after
``retry_seconds``; an unreadable one is left alone, so the queue's redrive policy moves it to the
dead-letter queue after ``maxReceiveCount`` deliveries, where ``gitmonkey status`` reports it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config as BotoConfig

from gitmonkey.config import Config, ConfigError

DEFAULT_WAIT_SECONDS = 20
DEFAULT_BATCH_SIZE = 10
DEFAULT_RETRY_SECONDS = 60
_QUEUE_URL_REGION = re.compile(r"^https://sqs[.-]([a-z]{2}(?:-[a-z]+)+-\d+)\.")
_SQS_BATCH = 10


@dataclass(frozen=True)
class Message:
    message_id: str
    receipt: str
    body: str
    receive_count: int

    def as_mapping(self) -> dict[str, Any]:
        return {"MessageId": self.message_id, "Body": self.body}


def queue_region(settings: Mapping[str, Any]) -> str:
    """``events.region``, else the region in the queue's URL; a clear error when neither says."""
    if settings.get("region"):
        return str(settings["region"])
    found = _QUEUE_URL_REGION.match(str(settings.get("queue_url") or ""))
    if found:
        return found.group(1)
    raise ConfigError("events.region: expected an AWS region name; the queue URL does not name one")


class EventQueue:
    """One SQS queue: receive, delete, release for a retry, and the dead-letter queue's depth."""

    def __init__(self, settings: Mapping[str, Any], *, client: Any = None) -> None:
        if not settings.get("queue_url"):
            raise ConfigError("events.queue_url: expected the URL of the SQS queue that receives the events")
        self.url = str(settings["queue_url"])
        self.wait_seconds = int(settings.get("wait_seconds", DEFAULT_WAIT_SECONDS))
        self.batch_size = int(settings.get("batch_size", DEFAULT_BATCH_SIZE))
        self.retry_seconds = int(settings.get("retry_seconds", DEFAULT_RETRY_SECONDS))
        if client is None:
            session = boto3.Session(profile_name=settings.get("profile"))
            client = session.client(
                "sqs",
                region_name=queue_region(settings),
                endpoint_url=settings.get("endpoint_url"),
                # a long poll holds the connection for wait_seconds: the read timeout must outlast it
                config=BotoConfig(read_timeout=self.wait_seconds + 15, retries={"mode": "standard"}),
            )
        self.client = client

    @classmethod
    def from_config(cls, config: Config) -> EventQueue:
        if not config.events:
            raise ConfigError("events: expected a section with queue_url (see `gitmonkey events template`)")
        return cls(config.events)

    def receive(self, limit: int | None = None, wait_seconds: int | None = None) -> list[Message]:
        answer = self.client.receive_message(
            QueueUrl=self.url,
            MaxNumberOfMessages=max(1, min(limit or self.batch_size, self.batch_size)),
            WaitTimeSeconds=self.wait_seconds if wait_seconds is None else wait_seconds,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
        messages = []
        for raw in answer.get("Messages") or []:
            count = (raw.get("Attributes") or {}).get("ApproximateReceiveCount") or "1"
            messages.append(
                Message(
                    message_id=str(raw.get("MessageId") or ""),
                    receipt=str(raw.get("ReceiptHandle") or ""),
                    body=raw.get("Body") or "",
                    receive_count=int(count) if str(count).isdigit() else 1,
                )
            )
        return messages

    def delete(self, messages: Iterable[Message]) -> list[str]:
        """Delete ``messages``; the ids SQS did not delete (they will be delivered again)."""
        failed: list[str] = []
        for chunk in _chunks(list(messages)):
            answer = self.client.delete_message_batch(
                QueueUrl=self.url,
                Entries=[{"Id": str(i), "ReceiptHandle": m.receipt} for i, m in enumerate(chunk)],
            )
            failed += [chunk[int(f["Id"])].message_id for f in answer.get("Failed") or []]
        return failed

    def release(self, messages: Iterable[Message], seconds: int | None = None) -> None:
        """Make ``messages`` visible again after ``seconds`` (default ``retry_seconds``)."""
        delay = self.retry_seconds if seconds is None else seconds
        for chunk in _chunks(list(messages)):
            self.client.change_message_visibility_batch(
                QueueUrl=self.url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m.receipt, "VisibilityTimeout": delay}
                    for i, m in enumerate(chunk)
                ],
            )

    def depth(self) -> dict[str, Any]:
        """Messages waiting and in flight on the queue and on its dead-letter queue (if it has one)."""
        attributes = self.client.get_queue_attributes(
            QueueUrl=self.url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                            "RedrivePolicy"],
        ).get("Attributes") or {}
        result: dict[str, Any] = {
            "queue_url": self.url,
            "waiting": int(attributes.get("ApproximateNumberOfMessages") or 0),
            "in_flight": int(attributes.get("ApproximateNumberOfMessagesNotVisible") or 0),
            "dead_letter": None,
        }
        try:
            redrive = json.loads(attributes.get("RedrivePolicy") or "{}")
        except ValueError:
            redrive = {}
        target = str(redrive.get("deadLetterTargetArn") or "")
        if target.count(":") >= 5:
            _, _, _, _region, owner, name = target.split(":", 5)
            url = self.client.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=owner)["QueueUrl"]
            dead = self.client.get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
            ).get("Attributes") or {}
            result["dead_letter"] = {
                "queue_url": url,
                "messages": int(dead.get("ApproximateNumberOfMessages") or 0),
                "max_receive_count": redrive.get("maxReceiveCount"),
            }
        return result


def _chunks(messages: Sequence[Message]) -> list[Sequence[Message]]:
    return [messages[i : i + _SQS_BATCH] for i in range(0, len(messages), _SQS_BATCH)]
