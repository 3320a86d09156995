"""`gitmonkey listen` as a separate process against a moto server on 127.0.0.1: an event published
on EventBridge becomes a commit by its principal, SIGTERM ends the listener cleanly, and `status`
and `events status` report the queue and its dead-letter queue."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from gitmonkey.listen.templates import central_template, eventbridge_source
from tests.helpers import ACCOUNT_ID, git, moto_server
from tests.listen_world import BOB, cloudtrail_record
from tests.test_cli_e2e import run_cli

REGION = "us-east-1"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_server() as url:
        yield url


def client(service: str, endpoint: str) -> object:
    return boto3.client(service, region_name=REGION, endpoint_url=endpoint)


def test_listen_records_an_event_and_stops_cleanly_on_sigterm(tmp_path: Path, endpoint: str) -> None:
    sqs, events, ec2 = client("sqs", endpoint), client("events", endpoint), client("ec2", endpoint)
    dead = sqs.create_queue(QueueName="cli-events-dlq")["QueueUrl"]
    dead_arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue = sqs.create_queue(QueueName="cli-events", Attributes={
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dead_arn, "maxReceiveCount": "5"}),
    })["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.create_event_bus(Name="gitmonkey")
    pattern = central_template()["Resources"]["EventsToQueueRule"]["Properties"]["EventPattern"]
    events.put_rule(Name="q", EventBusName="gitmonkey", EventPattern=json.dumps(pattern), State="ENABLED")
    events.put_targets(Rule="q", EventBusName="gitmonkey", Targets=[{"Id": "q", "Arn": queue_arn}])
    group = ec2.create_security_group(GroupName="cli-listen", Description="x")["GroupId"]
    (tmp_path / "gitmonkey.yaml").write_text(
        "repos_dir: repos\nmax_attempts: 1\ntechnologies: [ec2.security_group]\n"
        f"accounts:\n  - name: lab\n    id: '{ACCOUNT_ID}'\n    regions: [us-east-1]\n"
        f"    endpoint_url: {endpoint}\n"
        f"events:\n  queue_url: {queue}\n  region: us-east-1\n  endpoint_url: {endpoint}\n"
        "  wait_seconds: 1\n"
    )
    assert run_cli("sync", cwd=tmp_path).returncode == 0
    repo = tmp_path / "repos" / "lab"
    path = f"items/us-east-1/ec2/security_group/{group}.json"

    env = {k: v for k, v in os.environ.items() if not k.startswith("GITMONKEY_")}
    listener = subprocess.Popen(
        [sys.executable, "-m", "gitmonkey", "listen", "--progress"], cwd=tmp_path, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 3389, "ToPort": 3389, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
        ])
        record = cloudtrail_record("ec2.amazonaws.com", "AuthorizeSecurityGroupIngress", {"groupId": group},
                                   {"_return": True}, identity=BOB)
        published = events.put_events(Entries=[{
            "Source": eventbridge_source(record["eventSource"]), "DetailType": "AWS API Call via CloudTrail",
            "Detail": json.dumps(record), "EventBusName": "gitmonkey",
        }])
        assert published["FailedEntryCount"] == 0
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and "bob" not in git(repo, "log", "--format=%an", "--", path):
            assert listener.poll() is None, listener.communicate()
            time.sleep(0.3)
        assert git(repo, "log", "-1", "--format=%an", "--", path).strip() == "bob"
    finally:
        listener.send_signal(signal.SIGTERM)
        out, err = listener.communicate(timeout=60)
    assert listener.returncode == 0, err
    assert "1 recorded" in out and "1 commits" in out, out
    assert "Traceback" not in err

    status = run_cli("status", cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    assert f"events  {queue}" in status.stdout
    assert "queue 0 waiting" in status.stdout
    assert "last listen" in status.stdout

    sqs.send_message(QueueUrl=dead, MessageBody="an unreadable message moved here by the redrive")
    report = run_cli("events", "status", "--format", "json", cwd=tmp_path)
    assert report.returncode == 1, "a dead-letter queue holding messages is a failure to look at"
    health = json.loads(report.stdout)
    assert health["dead_letter"]["messages"] == 1
    assert health["last_run"]["commits"] == 1


def test_listen_without_an_events_section_says_what_is_missing(tmp_path: Path) -> None:
    (tmp_path / "gitmonkey.yaml").write_text(f"accounts:\n  - name: lab\n    id: '{ACCOUNT_ID}'\n")
    result = run_cli("listen", "--once", cwd=tmp_path)
    assert result.returncode == 2
    assert "events: expected a section with queue_url" in result.stderr


def test_a_bad_events_key_is_named(tmp_path: Path) -> None:
    (tmp_path / "gitmonkey.yaml").write_text(
        f"accounts:\n  - name: lab\n    id: '{ACCOUNT_ID}'\n"
        "events:\n  queue_url: https://sqs.us-east-1.amazonaws.com/1/q\n  wait_seconds: 60\n"
    )
    result = run_cli("listen", "--once", cwd=tmp_path)
    assert result.returncode == 2
    assert "events.wait_seconds" in result.stderr and "0 to 20" in result.stderr
