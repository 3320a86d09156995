"""The outbox: never lost (outage, backoff, dead letters), never twice (keys, crash recovery)."""

from __future__ import annotations

import json
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from gitmonkey.notify import enqueue, flush, pending_count
from gitmonkey.notify.outbox import SENDING, Outbox
from tests.test_notify_channels import ACCOUNT, NOW, HttpRecorder, free_port, new_issue, notifications


def webhook_conf(url: str, **delivery: float) -> dict:
    conf = notifications({"type": "webhook", "url": url + "/hook"})
    conf["delivery"] = {"initial_backoff_seconds": 60, "max_backoff_seconds": 600, **delivery}
    return conf


def only_pending(state: Path) -> dict:
    [path] = (state / "outbox").glob("*.json")
    return json.loads(path.read_text())


def test_outage_then_recovery_delivers_exactly_once(tmp_path: Path) -> None:
    port = free_port()
    conf = webhook_conf(f"http://127.0.0.1:{port}")
    assert enqueue(tmp_path, ACCOUNT, [new_issue()], conf, now=NOW) == 1

    down = flush(tmp_path, conf, now=NOW)
    assert (down.delivered, down.pending) == (0, 1)
    assert "cannot reach 127.0.0.1" in down.errors[0]
    assert pending_count(tmp_path) == 1

    server = HttpRecorder(port)
    try:
        too_early = flush(tmp_path, conf, now=NOW + timedelta(seconds=59))
        assert (too_early.delivered, too_early.pending, len(server.requests)) == (0, 1, 0)
        back = flush(tmp_path, conf, now=NOW + timedelta(seconds=60))
        again = flush(tmp_path, conf, now=NOW + timedelta(hours=1))
        assert enqueue(tmp_path, ACCOUNT, [new_issue()], conf, now=NOW + timedelta(hours=1)) == 0
        flush(tmp_path, conf, now=NOW + timedelta(hours=2))
    finally:
        server.stop()
    assert (back.delivered, back.pending, again.delivered) == (1, 0, 0)
    assert len(server.requests) == 1
    assert pending_count(tmp_path) == 0


def test_backoff_doubles_up_to_the_cap_then_dies_after_max_age(tmp_path: Path) -> None:
    conf = webhook_conf(f"http://127.0.0.1:{free_port()}", max_age_hours=1)
    enqueue(tmp_path, ACCOUNT, [new_issue()], conf, now=NOW)
    waits = []
    when = NOW
    for _ in range(6):
        flush(tmp_path, conf, now=when)
        message = only_pending(tmp_path)
        next_attempt = message["next_attempt"]
        waits.append(int((NOW.fromisoformat(next_attempt.replace("Z", "+00:00")) - when).total_seconds()))
        when = NOW.fromisoformat(next_attempt.replace("Z", "+00:00"))
    assert waits == [60, 120, 240, 480, 600, 600]
    assert only_pending(tmp_path)["attempts"] == 6

    result = flush(tmp_path, conf, now=NOW + timedelta(hours=1, minutes=1))

    assert (result.dead, result.pending) == (1, 0)
    assert "gave up (undelivered after 1 h)" in result.errors[0]
    [dead] = (tmp_path / "outbox/dead").glob("*.json")
    assert json.loads(dead.read_text())["state"] == "dead"


def test_the_same_events_twice_make_one_message(tmp_path: Path) -> None:
    conf = webhook_conf("http://127.0.0.1:9")
    events = [new_issue(), new_issue(item_id="sg-2", details={"fingerprint": "fp2"})]
    assert enqueue(tmp_path, ACCOUNT, events, conf, now=NOW) == 1
    assert enqueue(tmp_path, ACCOUNT, list(reversed(events)), conf, now=NOW + timedelta(minutes=5)) == 0
    assert enqueue(tmp_path, ACCOUNT, events[:1], conf, now=NOW) == 0
    third = new_issue(item_id="sg-3", details={"fingerprint": "fp3"})
    assert enqueue(tmp_path, ACCOUNT, [*events, third], conf, now=NOW) == 1
    assert pending_count(tmp_path) == 2


def test_crash_while_sending_resends_with_the_same_key_where_receivers_dedupe(tmp_path: Path) -> None:
    server = HttpRecorder()
    try:
        conf = webhook_conf(server.url)
        enqueue(tmp_path, ACCOUNT, [new_issue()], conf, now=NOW)
        message = only_pending(tmp_path)
        Outbox(tmp_path).save({**message, "state": SENDING, "next_attempt": "2099-01-01T00:00:00Z"})

        result = flush(tmp_path, conf, now=NOW)
    finally:
        server.stop()
    assert result.delivered == 1
    assert server.requests[0]["headers"]["Idempotency-Key"] == message["key"]


def test_crash_while_sending_to_slack_is_not_resent_but_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = HttpRecorder()
    monkeypatch.setenv("SLACK_URL", server.url)
    try:
        conf = notifications({"type": "slack", "url_env": "SLACK_URL"})
        enqueue(tmp_path, ACCOUNT, [new_issue()], conf, now=NOW)
        Outbox(tmp_path).save({**only_pending(tmp_path), "state": SENDING})

        result = flush(tmp_path, conf, now=NOW)
    finally:
        server.stop()
    assert (result.delivered, result.dead, server.requests) == (0, 1, [])
    assert "may have been delivered" in result.errors[0]
    assert Outbox(tmp_path).requeue_dead(NOW) == 1
    assert pending_count(tmp_path) == 1


def test_crash_after_the_sent_record_finishes_the_move_without_resending(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = HttpRecorder()
    monkeypatch.setenv("SLACK_URL", server.url)
    try:
        conf = notifications({"type": "slack", "url_env": "SLACK_URL"})
        enqueue(tmp_path, ACCOUNT, [new_issue()], conf, now=NOW)
        message = {**only_pending(tmp_path), "state": SENDING}
        Outbox(tmp_path).save(message)
        sent = tmp_path / "outbox" / "sent" / f"{message['key']}.json"
        sent.parent.mkdir()
        sent.write_text(json.dumps({**message, "state": "sent", "sent_at": "2026-01-02T03:04:05Z"}))

        result = flush(tmp_path, conf, now=NOW)
    finally:
        server.stop()
    assert (result.delivered, result.dead, result.pending, result.errors) == (1, 0, 0, [])
    assert server.requests == []
    assert list((tmp_path / "outbox").glob("*.json")) == []
    assert not (tmp_path / "outbox" / "dead").exists()
    assert json.loads(sent.read_text())["state"] == "sent"
    assert enqueue(tmp_path, ACCOUNT, [new_issue()], conf, now=NOW) == 0


def test_a_permanent_http_error_goes_to_dead_at_once(tmp_path: Path) -> None:
    server = HttpRecorder()
    server.status = 404
    try:
        conf = webhook_conf(server.url)
        enqueue(tmp_path, ACCOUNT, [new_issue()], conf, now=NOW)
        result = flush(tmp_path, conf, now=NOW)
    finally:
        server.stop()
    assert (result.dead, result.pending) == (1, 0)
    assert "answered HTTP 404" in result.errors[0]


def test_a_server_error_is_retried(tmp_path: Path) -> None:
    server = HttpRecorder()
    server.status = 503
    try:
        conf = webhook_conf(server.url)
        enqueue(tmp_path, ACCOUNT, [new_issue()], conf, now=NOW)
        first = flush(tmp_path, conf, now=NOW)
        server.status = 200
        second = flush(tmp_path, conf, now=NOW + timedelta(minutes=1))
    finally:
        server.stop()
    assert (first.pending, second.delivered, len(server.requests)) == (1, 1, 2)


def test_a_running_flush_holds_the_lock(tmp_path: Path) -> None:
    conf = webhook_conf("http://127.0.0.1:9")
    enqueue(tmp_path, ACCOUNT, [new_issue()], conf, now=NOW)
    with Outbox(tmp_path).locked() as held:
        assert held
        result = flush(tmp_path, conf, now=NOW)
    assert (result.busy, result.pending, result.delivered) == (True, 1, 0)


def test_sent_records_are_pruned_after_keep_days(tmp_path: Path) -> None:
    server = HttpRecorder()
    try:
        conf = webhook_conf(server.url, keep_sent_days=1)
        enqueue(tmp_path, ACCOUNT, [new_issue()], conf, now=NOW)
        flush(tmp_path, conf, now=NOW)
        assert len(list((tmp_path / "outbox/sent").glob("*.json"))) == 1
        flush(tmp_path, conf, now=NOW + timedelta(days=2))
    finally:
        server.stop()
    assert list((tmp_path / "outbox/sent").glob("*.json")) == []


def test_an_unreadable_file_is_reported_and_kept(tmp_path: Path) -> None:
    conf = webhook_conf("http://127.0.0.1:9")
    (tmp_path / "outbox").mkdir()
    (tmp_path / "outbox" / "abc.json").write_text("{truncated")
    result = flush(tmp_path, conf, now=NOW)
    assert "abc.json: unreadable outbox file left in place" in result.errors
    assert (tmp_path / "outbox" / "abc.json").exists()


def test_messages_link_to_the_commit_on_github(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    remote = "git@github.com:acme/prod-aws.git"
    subprocess.run(["git", "-C", str(tmp_path), "remote", "add", "origin", remote], check=True)
    state = tmp_path / ".git" / "gitmonkey"
    conf = webhook_conf("http://127.0.0.1:9")
    enqueue(state, ACCOUNT, [new_issue()], conf, now=NOW)
    message = only_pending(state)
    url = f"https://github.com/acme/prod-aws/commit/{'a' * 40}"
    assert message["payload"]["events"][0]["commit_url"] == url
    assert url in message["text"] and url in message["html"] and "|aaaaaaa>" in message["slack"]
