"""Events recorded on workers, without Celery: ``run_events`` in worker clones (moto in process, a
bare git repository as the account's remote), the changes a listener hands over, and the
listener's side (``events.record_on: workers``) with a Celery app whose broker is in memory.

``tests/test_workers_events_celery.py`` runs the same path through real worker processes on
moto's SQS.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from gitmonkey.config import ConfigError, config_from_dict, config_problems
from gitmonkey.distributed.handoff import EventsHandoff, events_deduplication_id, task_chunks
from gitmonkey.distributed.worker_events import changes_payload, run_events
from gitmonkey.distributed.worker_sync import WorkerError, run_account
from gitmonkey.listen.health import health_lines
from gitmonkey.listen.messages import Change, Principal
from gitmonkey.listen.queue import EventQueue
from gitmonkey.listen.run import Listener, status_path
from tests.helpers import git
from tests.test_workers import (
    ACCOUNT_ID,
    aws,
    bare,
    clone_of,
    item_subjects,
    seed,
    shared_secret,
    worker_config,
)

__all__ = ["aws", "bare", "shared_secret"]  # fixtures

ALICE = Principal("Admin/alice@example.com",
                  f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/Admin/alice@example.com", "AssumedRole")
BY_ALICE = "Admin/alice@example.com <Admin-alice-example.com@assumedrole.aws>"
WHEN = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)


def change(item_id: str | None, name: str = "CreateUser", message: str = "m-1", **fields: Any) -> Change:
    return Change(message_id=message, account="prod", region="global", technology="iam.user",
                  item_id=item_id, principal=ALICE, event_id=f"ev-{message}", event_name=name,
                  event_time=WHEN, source_ip="203.0.113.7", user_agent="aws-cli/2.15.0", **fields)


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def synced_worker(tmp_path: Path, bare: Path, worker: str = "w1", **workers: Any):
    seed()
    config = worker_config(tmp_path, worker, bare, **workers)
    run_account(config, ACCOUNT_ID, "r1")
    return config


def test_a_change_is_to_dict_and_back_and_bad_data_is_refused() -> None:
    original = change("bob")
    data = json.loads(json.dumps(changes_payload([original])))
    assert [Change.from_dict(d) for d in data] == [original]
    assert Change.from_dict({**data[0], "item_id": None}).item_id is None
    # Off a queue: text is cleaned again, a missing field or a naive time is refused.
    hostile = {**data[0], "principal": {"name": "eve\x1b[31m\u202e", "arn": "", "type": "IAMUser"}}
    assert Change.from_dict(hostile).principal.name == "eve[31m"
    for bad in ({k: v for k, v in data[0].items() if k != "event_time"},
                {**data[0], "event_time": "2026-12-03T09:30:00"},
                {**data[0], "principal": "alice"}):
        with pytest.raises(ValueError, match=r"not a change written by Change\.to_dict"):
            Change.from_dict(bad)


def test_events_on_a_worker_are_committed_authored_by_who_made_them_and_pushed(
    aws: None, tmp_path: Path, bare: Path
) -> None:
    config = synced_worker(tmp_path, bare)
    iam = boto3.client("iam")
    iam.create_user(UserName="bob")
    iam.tag_user(UserName="alice", Tags=[{"Key": "team", "Value": "security"}])
    payload = changes_payload([change("bob"), change("alice", "TagUser", "m-2")])

    outcome = run_events(config, ACCOUNT_ID, payload, sleep=Sleeps())

    assert (len(outcome.commits), outcome.tries, outcome.unrecorded, outcome.messages) == (2, 1, {}, 2)
    assert outcome.head == git(bare, "rev-parse", "main").strip(), "pushed"
    log = git(bare, "log", "--format=%an <%ae>|%s|%(trailers:key=Gitmonkey-Event,valueonly,separator=)",
              "-2", "main", "--", "items/").splitlines()
    assert sorted(log) == sorted([
        f"{BY_ALICE}|iam.user global bob: added|CreateUser",
        f"{BY_ALICE}|iam.user global alice: modified|TagUser",
    ])
    # The same events again (a redelivered task): the state is already recorded, no commit.
    again = run_events(config, ACCOUNT_ID, payload, sleep=Sleeps())
    assert again.commits == [] and again.head == outcome.head


def test_a_worker_with_a_stale_clone_aligns_first_and_records_no_duplicate(
    aws: None, tmp_path: Path, bare: Path
) -> None:
    first = synced_worker(tmp_path, bare, "w1")
    second = worker_config(tmp_path, "w2", bare)
    iam = boto3.client("iam")
    iam.create_user(UserName="carol")
    # w2's scheduled sync records carol (unattributed) and pushes; w1's clone is now behind.
    run_account(second, ACCOUNT_ID, "r2")
    iam.create_user(UserName="dave")

    outcome = run_events(first, ACCOUNT_ID, changes_payload([change("carol"), change("dave", message="m-2")]),
                         sleep=Sleeps())

    assert len(outcome.commits) == 1, "carol is already on the remote"
    subjects = item_subjects(bare)
    assert subjects[:2] == ["iam.user global dave: added", "iam.user global carol: added"]
    assert git(clone_of(first), "rev-parse", "main") == git(bare, "rev-parse", "main")


def test_an_item_not_readable_yet_is_tried_again_in_the_task_then_given_up(
    aws: None, tmp_path: Path, bare: Path
) -> None:
    config = synced_worker(tmp_path, bare)
    head = git(bare, "rev-parse", "main")
    sleeps = Sleeps()
    outcome = run_events(config, ACCOUNT_ID, changes_payload([change("ghost")]), sleep=sleeps)
    # create_retries (3) more tries after the first, waiting 2, 4, 8 seconds; then the create is
    # taken to have been undone (nothing to record) rather than left unrecorded.
    assert (outcome.tries, sleeps, outcome.commits, outcome.unrecorded) == (4, [2.0, 4.0, 8.0], [], {})
    assert git(bare, "rev-parse", "main") == head


def test_a_failed_read_is_retried_then_reported_unrecorded_and_history_kept(
    aws: None, tmp_path: Path, bare: Path
) -> None:
    config = synced_worker(tmp_path, bare)
    boto3.client("iam").delete_user(UserName="alice")
    head = git(bare, "rev-parse", "main")
    # The account's AWS endpoint is down for this task (nothing listens on port 9).
    down = dataclasses.replace(config, accounts=tuple(
        dataclasses.replace(a, endpoint_url="http://127.0.0.1:9") for a in config.accounts),
        events={"create_retries": 1, "retry_seconds": 5}, connect_timeout=1, read_timeout=1)
    sleeps = Sleeps()
    outcome = run_events(down, ACCOUNT_ID, changes_payload([change("alice", "DeleteUser")]), sleep=sleeps)
    assert outcome.tries == 2 and sleeps == [2.0]
    assert list(outcome.unrecorded) == ["m-1"]
    assert "reading iam.user in global failed" in outcome.unrecorded["m-1"]
    assert git(bare, "rev-parse", "main") == head, "a failed read deletes nothing"
    assert "alice" in git(bare, "ls-tree", "-r", "--name-only", "main", "items/")


def test_an_account_unknown_to_the_worker_or_without_a_remote_fails_the_task(
    aws: None, tmp_path: Path, bare: Path
) -> None:
    config = synced_worker(tmp_path, bare)
    with pytest.raises(WorkerError, match="no account with id 999999999999"):
        run_events(config, "999999999999", changes_payload([change("bob")]))
    lonely = worker_config(tmp_path, "w3", None)
    with pytest.raises(WorkerError, match="has no remote"):
        run_events(lonely, ACCOUNT_ID, changes_payload([change("bob")]))
    with pytest.raises(ValueError, match="not a change"):
        run_events(config, ACCOUNT_ID, [{"message_id": "m-1"}])


def test_the_deduplication_id_names_the_account_and_the_messages_whatever_their_order() -> None:
    one = [change("a", message="m-1"), change("b", message="m-2"), change("c", message="m-2")]
    dedup = events_deduplication_id(ACCOUNT_ID, one)
    assert dedup == events_deduplication_id(ACCOUNT_ID, list(reversed(one)))
    assert dedup != events_deduplication_id(ACCOUNT_ID, one[:1])
    assert dedup.startswith(f"events-{ACCOUNT_ID}-") and len(dedup) <= 128


def test_a_batch_call_of_hundreds_of_items_is_split_into_tasks_that_fit_a_message() -> None:
    launch = [change(f"i-{n:04d}", "RunInstances", "m-run") for n in range(250)]
    small = [change("bob", message="m-1"), change("carol", message="m-2")]
    chunks = task_chunks(small + launch)
    assert [len(c) for c in chunks] == [100, 100, 52]
    assert [c for chunk in chunks for c in chunk] == small + launch
    ids = {events_deduplication_id(ACCOUNT_ID, c) for c in chunks}
    assert len(ids) == 3, "the parts of one message are three tasks, none dropped as a duplicate"
    size = len(json.dumps(changes_payload(chunks[0])).encode())
    assert size * 4 / 3 < 200_000, size  # base64 by Celery's SQS transport, under SQS's 256 KB
    assert task_chunks(small) == [small]


def test_record_on_is_checked_and_needs_a_workers_section(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    problems = config_problems({"accounts": [{"name": "prod", "id": ACCOUNT_ID}],
                                "events": {"queue_url": "https://sqs.us-east-1.amazonaws.com/1/q",
                                           "record_on": "celery"}})
    assert any("events.record_on" in p and "listener" in p and "workers" in p for p in problems), problems
    raw = {"accounts": [{"name": "prod", "id": ACCOUNT_ID}],
           "events": {"queue_url": "https://sqs.us-east-1.amazonaws.com/1/q", "record_on": "workers"}}
    config = config_from_dict(raw, tmp_path / "gitmonkey.yaml")
    with pytest.raises(ConfigError, match=r"events\.record_on is workers.*workers: set broker_url"):
        Listener(config)
    with_workers = dataclasses.replace(config, workers={"broker_url": "memory://"})
    with monkeypatch.context() as patch:
        patch.setitem(sys.modules, "celery", None)  # not installed
        with pytest.raises(ConfigError, match=r"Celery is not installed here.*gitmonkey\[workers\]"):
            Listener(with_workers)
    assert Listener(with_workers).handoff is not None


class Producer:
    """A Celery app whose ``send_task`` records what would go to the broker."""

    def __init__(self, fail: bool = False) -> None:
        self.sent: list[dict[str, Any]] = []
        self.fail = fail

    def send_task(self, name: str, **options: Any) -> None:
        if self.fail:
            raise ConnectionError("broker down")
        self.sent.append({"name": name, **options})


def test_a_listener_handing_to_workers_sends_one_task_per_account_then_deletes(
    aws: None, tmp_path: Path
) -> None:
    from tests.listen_world import ListenWorld, cloudtrail_record

    world = ListenWorld(tmp_path, ["iam.user"], record_on="workers")
    config = dataclasses.replace(world.config, workers={"broker_url": "memory://"})
    producer = Producer()
    handoff = EventsHandoff(config, app=producer)  # type: ignore[arg-type]
    listener = Listener(config, queue=EventQueue(config.events, client=world.sqs))
    listener.handoff = handoff
    for name in ("bob", "carol"):
        world.publish(cloudtrail_record("iam.amazonaws.com", "CreateUser", {"userName": name}))
    report = listener.run(once=True)

    assert (report.received, report.recorded, report.tasks, report.commits) == (2, 2, 1, 0)
    [task] = producer.sent
    assert task["name"] == "gitmonkey.record_events"
    assert task["MessageGroupId"] == ACCOUNT_ID and task["MessageDeduplicationId"] == task["task_id"]
    account_id, payload = task["args"]
    assert account_id == ACCOUNT_ID
    assert sorted(Change.from_dict(c).item_id for c in payload) == ["bob", "carol"]
    assert world.depth() == 0, "the event messages were deleted"
    status = json.loads(status_path(config).read_text())
    assert (status["tasks"], status["recorded"]) == (1, 2)
    assert "1 tasks handed to the workers" in " ".join(health_lines({"last_run": status}))

    # The broker down: the messages stay for a retry, nothing is lost.
    listener.handoff = EventsHandoff(config, app=Producer(fail=True))  # type: ignore[arg-type]
    world.publish(cloudtrail_record("iam.amazonaws.com", "CreateUser", {"userName": "dave"}))
    report = listener.run(once=True)
    assert report.retried == 1 and any("broker down" in e for e in report.errors)
    assert world.depth() == 1
