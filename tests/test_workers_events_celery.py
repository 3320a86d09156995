"""`gitmonkey listen` handing its work to real Celery workers (``events.record_on: workers``).

A moto server on 127.0.0.1 is the organization's AWS (assumed roles map to the member accounts),
the events queue, and the workers' broker (an SQS FIFO queue, the account id as message group);
bare git repositories are the remotes; two ``gitmonkey worker`` processes take the tasks.

A CloudTrail record of alice creating a user in a member account is delivered to the events
queue; the listener (in this process, with its own organization discovery) hands it over as one
``record_events`` task in the account's group, and a scheduled round is enqueued right after, so
both tasks of the account are queued at once with two idle workers. The event's task runs first
and pushes a commit authored by alice; the account's sync task waits for it (the FIFO group) and
finds nothing left to record.
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

pytest.importorskip("celery")
pytest.importorskip("pycurl")

from gitmonkey.config import load_config
from gitmonkey.listen.run import Listener
from tests.helpers import git
from tests.listen_world import ALICE, cloudtrail_record
from tests.test_workers_celery import item_subjects, world

__all__ = ["world"]  # the fixture


def events_of(records: list[dict[str, Any]], account_id: str) -> list[dict[str, Any]]:
    return [r for r in records if r["event"] == "done" and r.get("task") == "events"
            and r["account_id"] == account_id]


def test_listen_hands_events_to_the_workers_in_the_accounts_group(world, tmp_path: Path) -> None:
    cluster, organization, proxy = world
    alpha = organization.add_account("alpha")
    for account_id in organization.ids:
        cluster.remote(account_id)
    organization.add_user_everywhere("user-1")
    cluster.start("w1")
    cluster.start("w2")
    first = cluster.enqueue(datetime(2030, 1, 1, 1, tzinfo=UTC))
    cluster.wait_for("round 1", lambda r: sum(x["event"] == "done" and x.get("round") == first
                                              for x in r) == 2)

    sqs = boto3.client("sqs", endpoint_url=organization.endpoint, region_name="us-east-1")
    events_url = sqs.create_queue(QueueName="gitmonkey-events")["QueueUrl"]
    raw = {**cluster.raw, "repos_dir": "listener",
           "events": {"queue_url": events_url, "endpoint_url": organization.endpoint, "region": "us-east-1",
                      "wait_seconds": 0, "slice_debounce_seconds": 0, "record_on": "workers"}}
    path = tmp_path / "listener.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")

    organization.iam(alpha).create_user(UserName="bob")
    identity = {**ALICE, "accountId": alpha,
                "arn": f"arn:aws:sts::{alpha}:assumed-role/Admin/alice@example.com"}
    record = cloudtrail_record("iam.amazonaws.com", "CreateUser", {"userName": "bob"}, identity=identity,
                               account=alpha)
    sqs.send_message(QueueUrl=events_url, MessageBody=json.dumps({
        "version": "0", "id": "env-1", "detail-type": "AWS API Call via CloudTrail", "source": "aws.iam",
        "account": alpha, "time": record["eventTime"], "region": "us-east-1", "resources": [],
        "detail": record,
    }))
    proxy.delay = 0.2  # every AWS call slower: two tasks of the account at once would overlap
    report = Listener(load_config(path)).run(once=True)
    second = cluster.enqueue(datetime(2030, 1, 1, 2, tzinfo=UTC), accounts=[alpha])

    assert (report.received, report.recorded, report.tasks, report.commits, report.errors) == (1, 1, 1, 0, [])
    assert json.loads((tmp_path / "listener" / ".gitmonkey-organization.json").read_text())["accounts"], (
        "the listener's discovery is kept for the other commands")
    records = cluster.wait_for(
        "the events task and the sync", lambda r: bool(events_of(r, alpha)) and any(
            x["event"] == "done" and x.get("round") == second for x in r))
    [done] = events_of(records, alpha)
    assert (done["commits"], done["unrecorded"], done["tries"]) == (1, {}, 1)
    remote = cluster.remote(alpha)
    assert item_subjects(remote)[0] == "iam.user global bob: added"
    author = git(remote, "log", "-1", "--format=%an|%(trailers:key=Gitmonkey-Event,valueonly,separator=)",
                 "main", "--", "items/").strip()
    assert author == "Admin/alice@example.com|CreateUser"
    sync = next(x for x in records if x["event"] == "done" and x.get("round") == second)
    assert sync["commits"] == 0, "the sync found the event's change already recorded"

    # The account's two tasks ran one after the other, in the order they were queued.
    spans = sorted(
        (start["at"], end["at"], start["task"])
        for start, end in itertools.product(records, records)
        if start["event"] == "start" and end["event"] == "done" and start["account_id"] == alpha
        and end["account_id"] == alpha and start["worker"] == end["worker"] and start["log"] == end["log"]
        and start.get("task") == end.get("task") and start.get("round") == end.get("round")
        and end["at"] >= start["at"]
    )
    assert [task for _, _, task in spans] == ["sync", "events", "sync"], spans
    for (_, end, _), (start, _, _) in itertools.pairwise(spans):
        assert start >= end, f"two tasks of {alpha} overlapped: {spans}"
    assert git(remote, "fsck", "--strict").strip() == ""
