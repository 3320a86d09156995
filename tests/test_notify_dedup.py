"""Per-event, per-recipient deduplication: an event already queued or sent is never queued again."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from gitmonkey import events as ev
from gitmonkey import hooks
from gitmonkey.notify import enqueue, flush, pending_count
from gitmonkey.notify.dedup import MAX_EVENTS, EventRecords, event_identity
from gitmonkey.notify.outbox import Outbox
from gitmonkey.sync import run_sync
from tests.test_notify_channels import ACCOUNT, NOW, HttpRecorder, new_issue
from tests.test_sync_notify import _payloads, notifying_config, receiver  # noqa: F401 (fixtures)


def item_added(item_id: str = "sg-1", commit: str = "b" * 40, diff: str = "+{}\n") -> ev.Event:
    return ev.Event(
        kind=ev.ITEM_ADDED, account="prod", account_id=ACCOUNT.id, title=f"{item_id} added",
        technology="ec2.security_group", region="us-east-1", item_id=item_id, commit=commit,
        details={"path": f"items/us-east-1/ec2/security_group/{item_id}.json", "diff": diff},
    )


def summary(sync: str, added: int = 1) -> ev.Event:
    return ev.Event(
        kind=ev.SYNC_SUMMARY, account="prod", account_id=ACCOUNT.id, title=f"sync {sync}",
        details={"sync": sync, "added": added, "modified": 0, "deleted": 0, "failed_slices": []},
    )


def conf(url: str = "http://127.0.0.1:9", *names: str, **delivery: float) -> dict[str, Any]:
    return {
        "channels": {"hook": {"type": "webhook", "url": url + "/hook"}},
        "recipients": [{"name": n, "channel": "hook"} for n in names or ("sec",)],
        "delivery": {"initial_backoff_seconds": 60, **delivery},
    }


def pending_events(state: Path) -> list[list[str]]:
    """The event kinds of each pending message, per recipient name."""
    return sorted(
        [m["recipient"], *sorted(e["kind"] for e in m["payload"]["events"])] for m in Outbox(state).pending()
    )


def test_a_rebuilt_digest_queues_only_the_new_event(tmp_path: Path) -> None:
    a, b = item_added(), new_issue()
    assert enqueue(tmp_path, ACCOUNT, [a, b, summary("s1")], conf(), now=NOW) == 1
    assert enqueue(tmp_path, ACCOUNT, [a, b, summary("s2")], conf(), now=NOW + timedelta(minutes=15)) == 1
    assert pending_events(tmp_path) == [
        ["sec", "issue.new", "item.added", "sync.summary"],
        ["sec", "sync.summary"],
    ]
    newest = max(Outbox(tmp_path).pending(), key=lambda m: m["created"])
    assert [e["details"]["sync"] for e in newest["payload"]["events"]] == ["s2"]


def test_a_digest_with_nothing_new_is_not_written(tmp_path: Path) -> None:
    a, b = item_added(), new_issue()
    enqueue(tmp_path, ACCOUNT, [a, b], conf(), now=NOW)
    rebuilt = [b, item_added(diff="+{ }\n"), summary("s2", added=0)]
    assert enqueue(tmp_path, ACCOUNT, rebuilt, conf(), now=NOW) == 0
    assert pending_count(tmp_path) == 1


def test_the_message_key_is_deterministic(tmp_path: Path) -> None:
    events = [item_added(), new_issue(), summary("s1")]
    enqueue(tmp_path / "one", ACCOUNT, events, conf(), now=NOW)
    enqueue(tmp_path / "two", ACCOUNT, list(reversed(events)), conf(), now=NOW + timedelta(hours=1))
    [one], [two] = Outbox(tmp_path / "one").pending(), Outbox(tmp_path / "two").pending()
    assert one["key"] == two["key"] == one["payload"]["idempotency_key"]


def test_identities_follow_the_real_world_event() -> None:
    assert event_identity(item_added(diff="x")) == event_identity(item_added(diff="y"))
    assert event_identity(item_added()) != event_identity(item_added(commit="c" * 40))
    assert event_identity(new_issue(title="one")) == event_identity(new_issue(title="two", score=3))
    assert event_identity(new_issue()) != event_identity(new_issue(commit="c" * 40))
    assert event_identity(new_issue()) != event_identity(new_issue(details={"fingerprint": "fp2"}))
    assert event_identity(new_issue()) != event_identity(new_issue(kind=ev.ISSUE_FIXED))
    failed = ev.Event(kind=ev.SLICE_FAILED, account="prod", account_id=ACCOUNT.id, title="t",
                      region="us-east-1", technology="ec2.sg", details={"error": "e", "sync": "s1"})
    again = ev.Event(**{**failed.to_dict(), "details": {"error": "e", "sync": "s2"}})
    assert event_identity(failed) != event_identity(again)
    assert event_identity(summary("s1", added=1)) == event_identity(summary("s1", added=2))


def test_an_event_sent_10_days_ago_is_not_resent_one_older_than_keep_days_may_be(tmp_path: Path) -> None:
    server = HttpRecorder()
    try:
        settings = conf(server.url, keep_sent_days=30)
        a = item_added()
        assert enqueue(tmp_path, ACCOUNT, [a, summary("s1")], settings, now=NOW) == 1
        assert flush(tmp_path, settings, now=NOW).delivered == 1
        ten_days = NOW + timedelta(days=10)
        flush(tmp_path, settings, now=ten_days)
        assert enqueue(tmp_path, ACCOUNT, [a], settings, now=ten_days) == 0
        later = NOW + timedelta(days=31)
        flush(tmp_path, settings, now=later)
        assert enqueue(tmp_path, ACCOUNT, [a], settings, now=later) == 1
        flush(tmp_path, settings, now=later)
    finally:
        server.stop()
    kinds = [[e["kind"] for e in json.loads(r["body"])["events"]] for r in server.requests]
    assert kinds == [["item.added", "sync.summary"], ["item.added"]]


def test_dedup_is_per_recipient(tmp_path: Path) -> None:
    a, b = item_added(), new_issue()
    assert enqueue(tmp_path, ACCOUNT, [a], conf("http://127.0.0.1:9", "sec"), now=NOW) == 1
    assert enqueue(tmp_path, ACCOUNT, [a, b], conf("http://127.0.0.1:9", "sec", "ops"), now=NOW) == 2
    assert pending_events(tmp_path) == [
        ["ops", "issue.new", "item.added"], ["sec", "issue.new"], ["sec", "item.added"],
    ]


def test_records_whose_message_is_gone_do_not_count(tmp_path: Path) -> None:
    """The record is written before the message: a crash between them must not lose the events."""
    a = item_added()
    enqueue(tmp_path, ACCOUNT, [a], conf(), now=NOW)
    [message] = Outbox(tmp_path).pending()
    (tmp_path / "outbox" / f"{message['key']}.json").unlink()
    assert enqueue(tmp_path, ACCOUNT, [a], conf(), now=NOW) == 1


def test_lost_or_unreadable_records_are_rebuilt_from_the_outbox(tmp_path: Path) -> None:
    a, b = item_added(), new_issue()
    enqueue(tmp_path, ACCOUNT, [a, b], conf(), now=NOW)
    [records] = (tmp_path / "outbox" / "events").glob("*.json")
    records.write_text("{truncated")
    assert enqueue(tmp_path, ACCOUNT, [a, b, summary("s2")], conf(), now=NOW) == 1
    assert pending_events(tmp_path) == [["sec", "issue.new", "item.added"], ["sec", "sync.summary"]]
    assert json.loads(records.read_text())["version"] == 1


def test_records_are_bounded(tmp_path: Path) -> None:
    records = EventRecords(Outbox(tmp_path), json.dumps(["sec", "hook", []]))
    keys = [f"{i:064x}" for i in range(3)]
    for key in keys:
        (tmp_path / "outbox").mkdir(exist_ok=True)
        (tmp_path / "outbox" / f"{key}.json").write_text("{}")
    big = MAX_EVENTS // 2 + 1
    for i, key in enumerate(keys):
        records.record(key, [f"{i}-{n}" for n in range(big)], NOW + timedelta(minutes=i))
    known = records.known()
    assert {f"2-{n}" for n in range(big)} <= known and "0-0" not in known
    stored = json.loads(records.path.read_text())["messages"]
    assert sum(len(m["events"]) for m in stored.values()) <= MAX_EVENTS + big


def test_a_sync_killed_after_enqueue_delivers_every_event_once(
    notifying_config, receiver, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    real_mark = hooks.mark_audited
    calls: list[str] = []

    def die_once(repo: Any, sha: str) -> None:
        calls.append(sha)
        if len(calls) == 1:
            raise KeyboardInterrupt
        real_mark(repo, sha)

    monkeypatch.setattr(hooks, "mark_audited", die_once)
    with mock_aws():
        ec2 = boto3.client("ec2", region_name="us-east-1")
        web = ec2.create_security_group(GroupName="web", Description="web")["GroupId"]
        ec2.authorize_security_group_ingress(GroupId=web, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
        with pytest.raises(KeyboardInterrupt):
            run_sync(notifying_config)
        assert receiver.received == []
        db = ec2.create_security_group(GroupName="db", Description="db")["GroupId"]
        assert run_sync(notifying_config).exit_code == 0
    assert len(calls) == 2
    events = [e for p in _payloads(receiver) for e in p["events"]]
    seen = [(e["kind"], e["technology"], e["region"], e["item_id"], e["commit"],
             e["details"].get("fingerprint"), e["details"].get("sync")) for e in events]
    assert len(seen) == len(set(seen)), "an event was delivered twice"
    added = [e["item_id"] for e in events if e["kind"] == "item.added"]
    assert added.count(web) == 1 and added.count(db) == 1
    assert [e for e in events if e["kind"] == "issue.new" and e["item_id"] == web]
    syncs = [e["details"]["sync"] for e in events if e["kind"] == "sync.summary"]
    assert len(syncs) == 2 and len(set(syncs)) == 2
