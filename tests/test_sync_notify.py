"""A sync's changes, issues and failures reach people: one digest per recipient per sync."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
from moto import mock_aws

from gitmonkey.sync import run_sync
from tests.helpers import error_response, inject, make_config

SECRET = "webhook-test-secret"


class _Receiver(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append((dict(self.headers), body))  # type: ignore[attr-defined]
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_args) -> None:
        pass


@pytest.fixture
def receiver():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    server.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def notifying_config(tmp_path, receiver, monkeypatch):
    monkeypatch.setenv("GM_TEST_WEBHOOK_SECRET", SECRET)
    url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    return make_config(
        tmp_path,
        accounts=[{"name": "prod", "id": "123456789012", "regions": ["us-east-1"]}],
        notifications={
            "channels": {"siem": {"type": "webhook", "url": url, "secret_env": "GM_TEST_WEBHOOK_SECRET"}},
            "recipients": [{"name": "siem", "channel": "siem"}],
        },
    )


def _payloads(receiver) -> list[dict]:
    payloads = []
    for headers, body in receiver.received:
        timestamp = headers["X-Gitmonkey-Timestamp"]
        expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
        assert headers["X-Gitmonkey-Signature"] == f"sha256={expected}"
        payloads.append(json.loads(body))
    return payloads


def _kinds(payload: dict) -> list[str]:
    return sorted(event["kind"] for event in payload["events"])


def test_a_sync_sends_one_signed_digest_with_changes_and_issues(notifying_config, receiver):
    with mock_aws():
        ec2 = boto3.client("ec2", region_name="us-east-1")
        sg = ec2.create_security_group(GroupName="web", Description="web")["GroupId"]
        assert run_sync(notifying_config).exit_code == 0
        first = len(receiver.received)
        ec2.authorize_security_group_ingress(
            GroupId=sg,
            IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
            ],
        )
        report = run_sync(notifying_config)
    assert report.exit_code == 0
    assert len(receiver.received) == first + 1, "one message per recipient per sync"
    digest = _payloads(receiver)[-1]
    kinds = _kinds(digest)
    assert "item.modified" in kinds and "issue.new" in kinds and "sync.summary" in kinds
    modified = next(e for e in digest["events"] if e["kind"] == "item.modified")
    assert modified["item_id"] == sg
    assert "0.0.0.0/0" in modified["details"]["diff"]
    issue = next(
        e for e in digest["events"] if e["kind"] == "issue.new" and "22" in e["details"].get("details", "")
    )
    # Nothing uses the group: the internet-ingress finding is weighed down to 1 (see test_exposure).
    assert issue["score"] == 1
    assert "no network interface or resource uses this group" in issue["details"]["details"]


def test_an_unchanged_sync_sends_nothing(notifying_config, receiver):
    with mock_aws():
        boto3.client("ec2", region_name="us-east-1").create_security_group(GroupName="web", Description="web")
        run_sync(notifying_config)
        before = len(receiver.received)
        run_sync(notifying_config)
    assert len(receiver.received) == before


def test_failed_and_stale_slices_are_notified(notifying_config, receiver, monkeypatch):
    start = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    with mock_aws():
        boto3.client("ec2", region_name="us-east-1").create_security_group(GroupName="web", Description="web")
        run_sync(notifying_config, now=start)
        before = len(receiver.received)
        with inject(
            monkeypatch,
            "before-send.ec2.DescribeSecurityGroups",
            lambda **_: error_response(403, "UnauthorizedOperation"),
        ):
            report = run_sync(notifying_config, now=start + timedelta(hours=25))
    assert report.exit_code == 3
    assert report.accounts[0].stale == ["us-east-1/ec2.security_group"]
    assert len(receiver.received) == before + 1
    events = _payloads(receiver)[-1]["events"]
    failed = [e for e in events if e["kind"] == "slice.failed"]
    stale = [e for e in events if e["kind"] == "slice.stale"]
    assert failed and "UnauthorizedOperation" in failed[0]["details"]["error"]
    assert stale and stale[0]["technology"] == "ec2.security_group"


def test_a_failure_that_repeats_is_notified_by_each_sync(notifying_config, receiver, monkeypatch):
    with mock_aws():
        boto3.client("ec2", region_name="us-east-1").create_security_group(GroupName="web", Description="web")
        run_sync(notifying_config)
        before = len(receiver.received)
        with inject(
            monkeypatch,
            "before-send.ec2.DescribeSecurityGroups",
            lambda **_: error_response(403, "UnauthorizedOperation"),
        ):
            run_sync(notifying_config)
            run_sync(notifying_config)
    assert len(receiver.received) == before + 2
    for payload in _payloads(receiver)[-2:]:
        assert "slice.failed" in _kinds(payload)
