"""The audit report and the notify/report commands, over real repositories and a real HTTP server."""

from __future__ import annotations

import json
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from gitmonkey.audit.issues import Issue, IssueFile, ItemRef
from gitmonkey.cli import cli
from gitmonkey.config import AccountConfig
from gitmonkey.notify import enqueue, flush
from gitmonkey.notify.report import build_report, enqueue_report, filtered, render_report
from tests.test_notify_channels import ACCOUNT, NOW, HttpRecorder, new_issue

BARE_LIST = b"- {fingerprint: d, rule: public_bucket, score: 7, title: x}\n"
IDENTITY = ["-c", "user.name=gitmonkey", "-c", "user.email=gitmonkey@localhost"]


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *IDENTITY, *args], capture_output=True, check=True)


def issue(fp: str, score: int, justification: dict | None = None) -> Issue:
    return Issue(
        fingerprint=fp,
        rule=f"rule_{fp}",
        score=score,
        title=f"title {fp}",
        details="detail",
        path="Ingress",
        key=fp,
        first_seen_commit="a" * 40,
        first_seen_date="2026-01-01",
        justified=bool(justification and not justification.get("expired")),
        justification=justification,
    )


def account_repo(repo: Path) -> Path:
    """An account repository whose HEAD holds issue files in the auditor's format, a bare list and junk."""
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    files = {
        "issues/us-east-1/ec2/security_group/sg-1.yaml": IssueFile(
            ItemRef(
                "ec2.security_group",
                "us-east-1",
                "sg-1",
                "web",
                "items/us-east-1/ec2/security_group/sg-1.json",
            ),
            (issue("a", 10), issue("b", 3, {"reason": "approved", "by": "ann"})),
        ).dump(),
        "issues/global/iam/role/admin.yaml": IssueFile(
            ItemRef("iam.role", "global", "admin", "admin", "items/global/iam/role/admin.json"),
            (issue("c", 5, {"reason": "old", "expired": True}),),
        ).dump(),
        "issues/eu-west-1/s3/bucket/logs.yaml": BARE_LIST,
        "issues/eu-west-1/s3/bucket/broken.yaml": b"item: [unclosed\n",
    }
    for path, content in files.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_bytes(content)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "audit")
    return repo


def test_report_by_score_without_justified_issues(tmp_path: Path) -> None:
    report = build_report(account_repo(tmp_path / "prod"), ACCOUNT, now=NOW)
    assert [(i.id, i.score) for i in report.items] == [("sg-1", 10), ("logs", 7), ("admin", 5)]
    assert report.score == 22
    assert report.errors == ["issues/eu-west-1/s3/bucket/broken.yaml: unreadable issue file (invalid YAML)"]

    shown = filtered(report, None)
    text = render_report(shown).text
    assert text.startswith("AUDIT REPORT - [prod] score 22 in 3 items (2026-01-02)")
    assert "[10] rule_a  title a: detail" in text and "rule_b" not in text
    assert "[ 7] public_bucket  x" in text
    assert "rule_b" in render_report(filtered(report, None, include_justified=True)).text


def test_report_without_a_repository_says_so(tmp_path: Path) -> None:
    report = build_report(tmp_path / "missing", ACCOUNT, now=NOW)
    assert report.items == [] and "no account repository" in report.errors[0]


def test_report_is_sent_once_a_day_to_report_recipients(tmp_path: Path) -> None:
    repo = account_repo(tmp_path / "prod")
    state = repo / ".git" / "gitmonkey"
    server = HttpRecorder()
    conf = {
        "channels": {"hook": {"type": "webhook", "url": server.url}},
        "recipients": [
            {"name": "daily", "channel": "hook", "report": True, "technologies": ["ec2.*", "s3.*"]},
            {"name": "changes-only", "channel": "hook"},
        ],
    }
    try:
        report = build_report(repo, ACCOUNT, now=NOW)
        assert enqueue_report(state, report, conf, now=NOW) == 1
        assert enqueue_report(state, report, conf, now=NOW + timedelta(hours=1)) == 0
        assert flush(state, conf, now=NOW).delivered == 1
        tomorrow = build_report(repo, ACCOUNT, now=NOW + timedelta(days=1))
        assert enqueue_report(state, tomorrow, conf, now=NOW + timedelta(days=1)) == 1
    finally:
        server.stop()
    payload = json.loads(server.requests[0]["body"])
    assert payload["kind"] == "audit.report" and payload["score"] == 17
    assert [i["id"] for i in payload["items"]] == ["sg-1", "logs"]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    account_repo(tmp_path / "accounts" / "prod")
    server = HttpRecorder()
    (tmp_path / "gitmonkey.yaml").write_text(
        "accounts:\n  - {name: prod, id: '123456789012'}\n"
        "notifications:\n"
        "  channels:\n"
        f"    hook: {{type: webhook, url: '{server.url}/hook'}}\n"
        "    down: {type: webhook, url: 'http://127.0.0.1:9/hook'}\n"
        "  recipients:\n"
        "    - {name: ops, channel: hook, report: true}\n"
        "    - {name: pager, channel: down, events: ['issue.*']}\n"
    )
    monkeypatch.setenv("GITMONKEY_CONFIG", str(tmp_path / "gitmonkey.yaml"))
    yield tmp_path
    server.stop()


def test_report_command_prints_and_sends(project: Path) -> None:
    runner = CliRunner()
    printed = runner.invoke(cli, ["report"], catch_exceptions=False)
    assert printed.exit_code == 0
    assert "AUDIT REPORT - [prod] score 22 in 3 items" in printed.output

    as_json = runner.invoke(cli, ["report", "--format", "json"], catch_exceptions=False)
    assert json.loads(as_json.output)[0]["score"] == 22

    sent = runner.invoke(cli, ["report", "--send"], catch_exceptions=False)
    assert sent.exit_code == 0, sent.output
    assert "1 report message(s) queued; 1 delivered, 0 pending" in sent.output


def test_notify_commands_flush_status_retry_and_test(project: Path) -> None:
    runner = CliRunner()
    state = project / "accounts" / "prod" / ".git" / "gitmonkey"
    conf = {
        "channels": {"down": {"type": "webhook", "url": "http://127.0.0.1:9/hook"}},
        "recipients": [{"name": "pager", "channel": "down", "events": ["issue.*"]}],
    }
    enqueue(state, AccountConfig("prod", "123456789012"), [new_issue()], conf)

    flushed = runner.invoke(cli, ["notify", "flush"], catch_exceptions=False)
    assert flushed.exit_code == 3
    assert "prod: 0 delivered, 1 pending, 0 given up" in flushed.output

    status = runner.invoke(cli, ["notify", "status", "--format", "json"], catch_exceptions=False)
    [row] = json.loads(status.output)
    assert row["pending"][0]["recipient"] == "pager" and "cannot reach" in row["pending"][0]["last_error"]

    assert runner.invoke(cli, ["notify", "retry"]).output == "prod: 0 messages back in the outbox\n"

    ok = runner.invoke(cli, ["notify", "test", "ops"], catch_exceptions=False)
    assert (ok.exit_code, ok.output) == (0, "sent test message to ops via hook\n")
    down = runner.invoke(cli, ["notify", "test", "pager"], catch_exceptions=False)
    assert down.exit_code == 1 and "test message to pager failed: cannot reach 127.0.0.1:9" in down.output
    unknown = runner.invoke(cli, ["notify", "test", "nobody"], catch_exceptions=False)
    assert unknown.exit_code == 2 and "no recipient named 'nobody'" in unknown.output
