"""A moto account wired for `gitmonkey listen` as `gitmonkey events template` sets it up: a queue
with a dead-letter queue, the `gitmonkey` bus and a rule with the template's pattern routing to the
queue, an account repository synced once; and CloudTrail records shaped like AWS's samples.

Tests make the change in moto, then deliver the record moto does not emit themselves, through
EventBridge's put_events (rule -> queue) or straight into the queue.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3

from gitmonkey.config import Config
from gitmonkey.listen.queue import EventQueue
from gitmonkey.listen.run import Listener, ListenReport
from gitmonkey.listen.templates import central_template, eventbridge_source
from gitmonkey.sync import run_sync
from tests.helpers import ACCOUNT_ID, make_config

REGION = "us-east-1"
ALICE = {
    "type": "AssumedRole",
    "principalId": "AROAEXAMPLEID:alice@example.com",
    "arn": f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/Admin/alice@example.com",
    "accountId": ACCOUNT_ID,
    "accessKeyId": "ASIAEXAMPLE",
    "sessionContext": {
        "sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLEID",
                          "arn": f"arn:aws:iam::{ACCOUNT_ID}:role/Admin", "accountId": ACCOUNT_ID,
                          "userName": "Admin"},
        "attributes": {"creationDate": "2026-12-03T09:00:00Z", "mfaAuthenticated": "false"},
    },
}
BOB = {
    "type": "IAMUser",
    "principalId": "AIDAEXAMPLEBOB",
    "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/bob",
    "accountId": ACCOUNT_ID,
    "accessKeyId": "AKIAEXAMPLEBOB",
    "userName": "bob",
}
_ids = itertools.count(1)


def cloudtrail_record(
    source: str,
    name: str,
    request: dict[str, Any] | None = None,
    response: dict[str, Any] | None = None,
    *,
    identity: dict[str, Any] | None = None,
    when: datetime | None = None,
    region: str = REGION,
    account: str = ACCOUNT_ID,
    event_id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A CloudTrail management event record as EventBridge puts it in ``detail``."""
    when = when or datetime.now(UTC).replace(microsecond=0)
    return {
        "eventVersion": "1.09",
        "userIdentity": identity or ALICE,
        "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": "203.0.113.7",
        "userAgent": "aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64.amzn.2023",
        "requestParameters": request,
        "responseElements": response,
        "requestID": f"req-{next(_ids)}",
        "eventID": event_id or f"00000000-0000-4000-8000-{next(_ids):012d}",
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account,
        "eventCategory": "Management",
        **extra,
    }


class ListenWorld:
    """The moto side (queue, bus, rule) and the gitmonkey side (config, repository) of a test."""

    def __init__(self, tmp_path: Path, technologies: Sequence[str], *, visibility: int = 30,
                 max_receive_count: int = 3, **events: Any) -> None:
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.bridge = boto3.client("events", region_name=REGION)
        dead = self.sqs.create_queue(QueueName="gitmonkey-events-dlq")["QueueUrl"]
        dead_arn = self._arn(dead)
        self.queue_url = self.sqs.create_queue(
            QueueName="gitmonkey-events",
            Attributes={
                "VisibilityTimeout": str(visibility),
                "RedrivePolicy": json.dumps({"deadLetterTargetArn": dead_arn,
                                             "maxReceiveCount": str(max_receive_count)}),
            },
        )["QueueUrl"]
        self.dead_url = dead
        self.bridge.create_event_bus(Name="gitmonkey")
        pattern = central_template()["Resources"]["EventsToQueueRule"]["Properties"]["EventPattern"]
        self.bridge.put_rule(Name="to-queue", EventBusName="gitmonkey", EventPattern=json.dumps(pattern),
                             State="ENABLED")
        self.bridge.put_targets(Rule="to-queue", EventBusName="gitmonkey",
                                Targets=[{"Id": "queue", "Arn": self._arn(self.queue_url)}])
        settings = {"queue_url": self.queue_url, "region": REGION, "wait_seconds": 0,
                    "slice_debounce_seconds": 0, "retry_seconds": 1, **events}
        self.technologies = list(technologies)
        self.config: Config = make_config(
            tmp_path,
            accounts=[{"name": "prod", "id": ACCOUNT_ID, "regions": [REGION]}],
            technologies=self.technologies,
            events=settings,
        )
        self.repo = self.config.repo_path(self.config.accounts[0])

    def _arn(self, url: str) -> str:
        return self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]

    def sync(self) -> None:
        report = run_sync(self.config)
        assert report.exit_code == 0, [s.error for a in report.accounts for s in a.failed_slices]

    def publish(self, *records: dict[str, Any]) -> None:
        """Through EventBridge: the bus's rule (the template's pattern) routes them to the queue."""
        for record in records:
            answer = self.bridge.put_events(Entries=[{
                "Source": eventbridge_source(record["eventSource"]),
                "DetailType": "AWS API Call via CloudTrail",
                "Detail": json.dumps(record),
                "EventBusName": "gitmonkey",
            }])
            assert answer["FailedEntryCount"] == 0, answer

    def send(self, *bodies: str | dict[str, Any]) -> None:
        """Straight into the queue: an EventBridge envelope around each record, or a raw body."""
        for body in bodies:
            if isinstance(body, dict):
                body = json.dumps({
                    "version": "0", "id": f"env-{next(_ids)}", "detail-type": "AWS API Call via CloudTrail",
                    "source": eventbridge_source(body["eventSource"]), "account": body["recipientAccountId"],
                    "time": body["eventTime"], "region": body["awsRegion"], "resources": [], "detail": body,
                })
            self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=body)

    def listener(self, **kwargs: Any) -> Listener:
        return Listener(self.config, queue=EventQueue(self.config.events, client=self.sqs), **kwargs)

    def listen(self, **kwargs: Any) -> ListenReport:
        return self.listener().run(once=True, **kwargs)

    def after_retry_delay(self) -> None:
        """Wait until messages kept for a retry are visible again (``retry_seconds``)."""
        time.sleep(float(self.config.events["retry_seconds"]) + 0.2)

    def depth(self, url: str | None = None) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=url or self.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )


def minutes_ago(minutes: int) -> datetime:
    return (datetime.now(UTC) - timedelta(minutes=minutes)).replace(microsecond=0)
