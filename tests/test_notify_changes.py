"""item_events over a real account repository built with real git commands."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from gitmonkey import events as ev
from gitmonkey.config import AccountConfig
from gitmonkey.notify.changes import GitError, item_events

ACCOUNT = AccountConfig(name="prod", id="123456789012")
IDENTITY = ["-c", "user.name=gitmonkey", "-c", "user.email=gitmonkey@localhost"]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *IDENTITY, *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def write_item(repo: Path, region: str, tech: str, item_id: str, config: dict, name: str = "") -> str:
    service, type_ = tech.split(".")
    path = f"items/{region}/{service}/{type_}/{item_id}.json"
    doc = {"account": ACCOUNT.id, "arn": f"arn:aws:{service}:::{item_id}", "configuration": config,
           "id": item_id, "name": name or item_id, "region": region, "technology": tech}
    (repo / path).parent.mkdir(parents=True, exist_ok=True)
    (repo / path).write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    return path


def commit(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    git(tmp_path, "init", "-q", "-b", "main")
    return tmp_path


def test_added_modified_deleted_with_commit_and_diff(repo: Path) -> None:
    write_item(repo, "us-east-1", "ec2.security_group", "sg-1", {"Ingress": []}, name="web")
    write_item(repo, "global", "iam.role", "admin", {"Policy": "a"})
    (repo / "README").write_text("not an item\n")
    first = commit(repo, "baseline")

    write_item(repo, "us-east-1", "ec2.security_group", "sg-1", {"Ingress": ["0.0.0.0/0"]}, name="web")
    modified_at = commit(repo, "open sg-1")
    (repo / "items/global/iam/role/admin.json").unlink()
    deleted_at = commit(repo, "delete admin")
    write_item(repo, "eu-west-1", "s3.bucket", "logs", {"Acl": "private"})
    added_at = commit(repo, "add logs")

    events = {e.item_id: e for e in item_events(repo, ACCOUNT, first, added_at)}

    assert set(events) == {"sg-1", "admin", "logs"}
    sg, admin, logs = events["sg-1"], events["admin"], events["logs"]
    assert (sg.kind, sg.commit, sg.item_name) == (ev.ITEM_MODIFIED, modified_at, "web")
    assert sg.region == "us-east-1"
    assert sg.technology == "ec2.security_group" and sg.account == "prod" and sg.account_id == ACCOUNT.id
    assert '+      "0.0.0.0/0"' in sg.details["diff"]
    assert sg.details["diff"].startswith("diff --git a/items/us-east-1/ec2/security_group/sg-1.json")
    assert (admin.kind, admin.commit, admin.technology) == (ev.ITEM_DELETED, deleted_at, "iam.role")
    assert '-  "id": "admin",' in admin.details["diff"]
    assert (logs.kind, logs.commit, logs.region) == (ev.ITEM_ADDED, added_at, "eu-west-1")
    assert "new file mode" in logs.details["diff"]


def test_from_the_beginning_and_net_change(repo: Path) -> None:
    write_item(repo, "us-east-1", "sqs.queue", "q1", {"v": 1})
    commit(repo, "one")
    write_item(repo, "us-east-1", "sqs.queue", "q1", {"v": 2})
    last = commit(repo, "two")

    events = item_events(repo, ACCOUNT, None, "HEAD")

    assert len(events) == 1
    assert (events[0].kind, events[0].commit) == (ev.ITEM_ADDED, last)
    assert '"v": 2' in events[0].details["diff"]
    assert item_events(repo, ACCOUNT, "0" * 40, last)[0].kind == ev.ITEM_ADDED


def test_no_item_change_gives_no_event(repo: Path) -> None:
    write_item(repo, "us-east-1", "sqs.queue", "q1", {"v": 1})
    first = commit(repo, "one")
    (repo / "issues").mkdir()
    (repo / "issues/x.yaml").write_text("[]\n")
    second = commit(repo, "issues only")

    assert item_events(repo, ACCOUNT, first, second) == []
    assert item_events(repo, ACCOUNT, second, second) == []


def test_unparseable_document_falls_back_to_the_path(repo: Path) -> None:
    path = repo / "items/us-east-1/lambda/function/fn.json"
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    sha = commit(repo, "broken")

    [event] = item_events(repo, ACCOUNT, None, sha)

    assert (event.technology, event.region, event.item_id) == ("lambda.function", "us-east-1", "fn")


def test_bad_revision_is_a_clear_error(repo: Path) -> None:
    write_item(repo, "us-east-1", "sqs.queue", "q1", {"v": 1})
    commit(repo, "one")
    with pytest.raises(GitError, match="rev-parse"):
        item_events(repo, ACCOUNT, None, "no-such-branch")
