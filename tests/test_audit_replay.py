"""Issue events of an audit commit survive a run that died before handing them to the notifier."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from moto import mock_aws

from gitmonkey import events as ev
from gitmonkey import hooks, notify
from gitmonkey.audit import issues as iss
from gitmonkey.audit import run
from gitmonkey.audit.replay import audit_commits, issue_events_from_commits
from gitmonkey.audit.run import audit_ranges
from gitmonkey.notify.outbox import Outbox
from gitmonkey.sync import run_sync
from tests.helpers import git
from tests.test_audit_issues import NOW, PUBLIC, Account, bucket
from tests.test_sync_notify import _payloads, notifying_config, receiver  # noqa: F401 (fixtures)

STDOUT = {"channels": {"out": {"type": "stdout"}}, "recipients": [{"name": "ops", "channel": "out"}]}


def replayed(acct: Account, result: Any) -> list[ev.Event]:
    return issue_events_from_commits(acct.repo, acct.account, f"{result.commit}^", result.commit)


def test_replay_equals_live_for_every_transition_kind(tmp_path: Path) -> None:
    acct = Account(tmp_path)
    seen: set[str] = set()

    def check(result: Any) -> None:
        assert result.commit is not None
        assert replayed(acct, result) == result.events
        seen.update(e.kind for e in result.events)

    new = acct.sync(web=bucket("web", PUBLIC), quiet=bucket("quiet"))
    check(new)
    [fp] = acct.fingerprints("web")
    check(acct.sync(web=bucket("web")))
    check(acct.sync(web=bucket("web", PUBLIC)))
    acct.justify(fp, expires="2024-07-01")
    head = acct.repo.head()
    check(audit_ranges(acct.repo, acct.config, acct.account, [(f"{head}^", head)], now=NOW))
    expired = datetime(2024, 8, 1, tzinfo=UTC)
    check(audit_ranges(acct.repo, acct.config, acct.account, [], recheck_justifications=True, now=expired))
    assert seen == {ev.ISSUE_NEW, ev.ISSUE_FIXED, ev.ISSUE_REGRESSED, ev.ISSUE_JUSTIFIED,
                    ev.JUSTIFICATION_EXPIRED}


def test_an_issue_justified_as_it_appears_replays_as_justified_only(tmp_path: Path) -> None:
    acct = Account(tmp_path)
    acct.sync(web=bucket("web", PUBLIC))
    [fp] = acct.fingerprints("web")
    acct.sync(web=bucket("web"))
    acct.justify(fp)
    back = acct.sync(web=bucket("web", PUBLIC))
    trailers = git(acct.path, "log", "-1", "--format=%(trailers:only,valueonly)").split()
    assert trailers == [fp, fp]
    assert [e.kind for e in back.events] == [ev.ISSUE_JUSTIFIED]
    assert replayed(acct, back) == back.events


def test_only_the_bots_audit_commits_are_replayed(tmp_path: Path) -> None:
    acct = Account(tmp_path)
    first = acct.sync(web=bucket("web", PUBLIC))
    [fp] = acct.fingerprints("web")
    (acct.path / "NOTE").write_text("note\n")
    git(acct.path, "add", "NOTE")
    git(acct.path, "-c", "user.name=Mallory", "-c", "user.email=m@example.com", "commit", "-q",
        "-m", f"audit: 1 new, 0 fixed\n\n{iss.TRAILER_NEW}: {fp}")
    commits = audit_commits(acct.repo, None, acct.repo.head())
    assert [c.sha for c in commits] == [first.commit]
    assert commits[0].trailers == ((iss.NEW, fp),)
    assert issue_events_from_commits(acct.repo, acct.account, None, acct.repo.head()) == first.events


def _crash_after_enqueue(monkeypatch: pytest.MonkeyPatch) -> None:
    real = notify.enqueue

    def enqueue_then_die(*args: Any, **kwargs: Any) -> int:
        real(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(notify, "enqueue", enqueue_then_die)


def test_events_already_enqueued_are_not_enqueued_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    acct = Account(tmp_path, notifications=STDOUT)
    old, new = acct.put(web=bucket("web", PUBLIC))
    with monkeypatch.context() as patch:
        _crash_after_enqueue(patch)
        with pytest.raises(KeyboardInterrupt):
            hooks.audit_and_notify(acct.repo, acct.config, acct.account, old, new, [], now=NOW)
    outbox = Outbox(acct.repo.state_dir)
    assert outbox.count() == 1
    audit = acct.repo.head()
    assert audit != new and hooks.audited_head(acct.repo, audit) is None

    summary = hooks.audit_and_notify(acct.repo, acct.config, acct.account, old, audit, [], now=NOW)
    assert summary["replayed"]["commits"] == [audit] and summary["replayed"]["events"] == 1
    assert summary["counts"]["new"] == 0 and summary["commit"] is None
    assert summary["notify"]["queued"] == 0
    assert outbox.count() + outbox.count(outbox.sent_dir) == 1
    assert hooks.audited_head(acct.repo, audit) == audit
    assert hooks.owed_audits(acct.repo) == ([], None)


def test_a_run_killed_before_recording_its_audit_commit_is_caught_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    acct = Account(tmp_path, notifications=STDOUT)
    old, new = acct.put(web=bucket("web", PUBLIC))
    real_audit = run.audit_ranges

    def audit_then_die(*args: Any, **kwargs: Any) -> Any:
        real_audit(*args, **kwargs)
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(run, "audit_ranges", audit_then_die)
        with pytest.raises(KeyboardInterrupt):
            hooks.audit_and_notify(acct.repo, acct.config, acct.account, old, new, [], now=NOW)
    audit = acct.repo.head()
    assert hooks.owed_audits(acct.repo) == ([audit], (old,))
    summary = hooks.audit_and_notify(acct.repo, acct.config, acct.account, old, audit, [], now=NOW)
    assert summary["replayed"]["events"] == 1 and summary["notify"]["queued"] == 1
    [message] = _sent(acct)
    assert "issue.new" in str(message["payload"])


def _sent(acct: Account) -> list[dict[str, Any]]:
    outbox = Outbox(acct.repo.state_dir)
    return list(outbox._read(outbox.sent_dir))


def test_audit_commits_handed_over_by_gitmonkey_audit_are_not_replayed(tmp_path: Path) -> None:
    acct = Account(tmp_path, notifications=STDOUT)
    old, new = acct.put(web=bucket("web", PUBLIC))
    hooks.audit_and_notify(acct.repo, acct.config, acct.account, old, new, [], now=NOW)
    [fp] = acct.fingerprints("web")
    acct.justify(fp, expires="2024-07-01")
    head = acct.repo.head()
    hooks.audit_and_notify(acct.repo, acct.config, acct.account, f"{head}^", head, [], now=NOW)
    later = datetime(2024, 8, 1, tzinfo=UTC)
    expiry = hooks.audit_and_notify(acct.repo, acct.config, acct.account, None, None, [], now=later,
                                    recheck_justifications=True)
    assert expiry["counts"]["expired"] == 1 and expiry["notify"]["queued"] == 1
    old, new = acct.put(other=bucket("other"))
    summary = hooks.audit_and_notify(acct.repo, acct.config, acct.account, old, new, [], now=later)
    assert "replayed" not in summary


def test_a_sync_killed_before_notifying_delivers_its_issues_once(
    notifying_config, receiver, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    def die(*_args: Any, **_kwargs: Any) -> None:
        raise KeyboardInterrupt

    with mock_aws():
        ec2 = boto3.client("ec2", region_name="us-east-1")
        sg = ec2.create_security_group(GroupName="web", Description="web")["GroupId"]
        ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
        with monkeypatch.context() as patch:
            patch.setattr(hooks, "hand_to_notifier", die)
            with pytest.raises(KeyboardInterrupt):
                run_sync(notifying_config)
        assert receiver.received == []
        repo = notifying_config.repo_path(notifying_config.accounts[0])
        assert git(repo, "log", "-1", "--format=%s").startswith("audit: ")
        assert run_sync(notifying_config).exit_code == 0
        assert run_sync(notifying_config).exit_code == 0
    events = [e for p in _payloads(receiver) for e in p["events"] if e["kind"] == "issue.new"]
    ingress = "ec2.security_group.ingress-internet"
    ssh = [e for e in events if e["item_id"] == sg
           and e["details"]["rule"] == ingress and "22" in e["details"]["details"]]
    assert len(ssh) == 1
    fingerprints = [e["details"]["fingerprint"] for e in events]
    assert len(fingerprints) == len(set(fingerprints))
    issues = yaml.safe_load(git(repo, "show", f"HEAD:{iss.issue_path_for(_item_path(repo, sg))}"))
    assert ssh[0]["details"]["fingerprint"] in {i["fingerprint"] for i in issues["issues"]}


def _item_path(repo: Path, item_id: str) -> str:
    return next(p for p in git(repo, "ls-files", "items/").split() if p.endswith(f"/{item_id}.json"))
