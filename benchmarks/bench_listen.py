"""What `gitmonkey listen` costs per change, against a scheduled sync of the same account (moto).

The account: 300 security groups, 40 instances, 60 IAM roles, 30 buckets and 30 queues. A
producer thread changes one security group at a time in moto (a new ingress port) and puts the
matching CloudTrail event on the queue, 20 a second; a listener thread (the real loop, long-poll
of 1 s, batches of 10) records them.

- ``listen_event_to_commit``: seconds from a message being sent (visible on the queue) to its
  commit existing and the message deleted, median and p95 over the events; baseline: the wall
  time of one full sync of the account, the other way to learn of the change.
- ``listen_calls_per_event``: AWS API calls spent re-reading per event (the single-item read of
  the group) against the calls of one full sync (ratio: how many changes one sync's calls pay
  for), and the calls of re-listing the security-group slice, what an event would cost without
  a single-item read.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws

from gitmonkey.config import config_from_dict
from gitmonkey.listen.queue import EventQueue, Message
from gitmonkey.listen.run import Listener
from gitmonkey.read.aws import AccountSession
from gitmonkey.read.slices import read_slice
from gitmonkey.sync import run_sync
from gitmonkey.watchers import get_technology

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
GROUPS = 300
EVENTS = 300
RATE_PER_S = 20
TECHNOLOGIES = ["ec2.security_group", "ec2.instance", "iam.role", "s3.bucket", "sqs.queue"]


def _seed() -> list[str]:
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    groups = [
        ec2.create_security_group(GroupName=f"g{i}", Description="bench", VpcId=vpc)["GroupId"]
        for i in range(GROUPS)
    ]
    subnet = ec2.describe_subnets()["Subnets"][0]["SubnetId"]
    ec2.run_instances(ImageId="ami-12c6146b", MinCount=40, MaxCount=40, SubnetId=subnet)
    iam = boto3.client("iam")
    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
    for i in range(60):
        iam.create_role(RoleName=f"role{i}", AssumeRolePolicyDocument=trust)
    s3 = boto3.client("s3", region_name=REGION)
    for i in range(30):
        s3.create_bucket(Bucket=f"bench-bucket-{i}")
    sqs = boto3.client("sqs", region_name=REGION)
    for i in range(30):
        sqs.create_queue(QueueName=f"bench-q{i}")
    return groups


def _event(group: str, port: int) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    detail = {
        "eventVersion": "1.09", "eventTime": now, "eventSource": "ec2.amazonaws.com",
        "eventName": "AuthorizeSecurityGroupIngress", "awsRegion": REGION,
        "userIdentity": {"type": "IAMUser", "userName": "bench",
                         "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/bench"},
        "sourceIPAddress": "203.0.113.7", "userAgent": "bench", "eventID": f"bench-{port}",
        "requestParameters": {"groupId": group}, "responseElements": {"_return": True},
        "readOnly": False, "eventType": "AwsApiCall", "recipientAccountId": ACCOUNT_ID,
    }
    return json.dumps({"version": "0", "id": f"e-{port}", "detail-type": "AWS API Call via CloudTrail",
                       "source": "aws.ec2", "account": ACCOUNT_ID, "time": now, "region": REGION,
                       "resources": [], "detail": detail})


class _TimedListener(Listener):
    """The real listener, noting when each message is deleted (its commit exists by then)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.done_at: dict[str, float] = {}

    def _delete(self, messages: list[Message]) -> None:
        super()._delete(messages)
        now = time.perf_counter()
        for message in messages:
            self.done_at.setdefault(message.message_id, now)


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def run() -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp, mock_aws():
        groups = _seed()
        sqs = boto3.client("sqs", region_name=REGION)
        queue_url = sqs.create_queue(QueueName="bench-events")["QueueUrl"]
        config = config_from_dict({
            "repos_dir": "accounts", "max_attempts": 1, "technologies": TECHNOLOGIES,
            "accounts": [{"name": "bench", "id": ACCOUNT_ID, "regions": [REGION]}],
            "events": {"queue_url": queue_url, "region": REGION, "wait_seconds": 1,
                       "slice_debounce_seconds": 0},
        }, Path(tmp) / "gitmonkey.yaml")
        start = time.perf_counter()
        report = run_sync(config)
        sync_seconds = time.perf_counter() - start
        assert report.exit_code == 0, report.to_dict()
        sync_calls = sum(a.api_calls for a in report.accounts)
        slice_calls = read_slice(AccountSession(config.accounts[0]), config.accounts[0],
                                 get_technology("ec2.security_group"), REGION, secret_key=b"k").api_calls

        ec2 = boto3.client("ec2", region_name=REGION)
        listener = _TimedListener(config, queue=EventQueue(config.events, client=sqs))
        stop = threading.Event()
        thread = threading.Thread(target=listener.run, kwargs={"stop": stop})
        thread.start()
        sent_at: dict[str, float] = {}
        try:
            for n in range(EVENTS):
                group, port = groups[n % len(groups)], 1024 + n
                ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
                    {"IpProtocol": "tcp", "FromPort": port, "ToPort": port,
                     "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}])
                sent = sqs.send_message(QueueUrl=queue_url, MessageBody=_event(group, port))
                sent_at[sent["MessageId"]] = time.perf_counter()
                time.sleep(1 / RATE_PER_S)
            deadline = time.perf_counter() + 300
            while len(listener.done_at) < EVENTS and time.perf_counter() < deadline:
                time.sleep(0.2)
        finally:
            stop.set()
            thread.join()
        latencies = [listener.done_at[m] - sent for m, sent in sent_at.items() if m in listener.done_at]
        result = listener.report
        p50, p95 = statistics.median(latencies), _percentile(latencies, 0.95)
        per_event = result.api_calls / max(1, result.recorded)
        return [
            {
                "name": "listen_event_to_commit",
                "events": len(latencies),
                "commits": result.commits,
                "p50_s": round(p50, 3),
                "p95_s": round(p95, 3),
                "baseline_s": round(sync_seconds, 2),
                "baseline": f"one full sync of the account ({report.accounts[0].items} items)",
                "ratio_p50": round(p50 / sync_seconds, 3),
                "ratio_p95": round(p95 / sync_seconds, 3),
            },
            {
                "name": "listen_calls_per_event",
                "calls_per_event": round(per_event, 2),
                "baseline_calls": sync_calls,
                "baseline": "API calls of one full sync of the account",
                "ratio": round(sync_calls / per_event, 1) if per_event else None,
                "slice_relist_calls": slice_calls,
                "reads": result.reads,
            },
        ]
