"""`gitmonkey demo`: the whole loop on an in-process moto account, as `make demo` runs it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gitmonkey.demo import DEMO_DB_PASSWORD, DEMO_MARKER, prepare_directory, run_demo
from tests.helpers import assert_clean, git, subjects


def test_demo_records_the_baseline_the_risky_changes_and_their_issues(tmp_path):
    out: list[str] = []
    repo = run_demo(tmp_path / "demo", echo=out.append)
    items = subjects(repo)
    assert items[-1].startswith("baseline: ")
    changes = items[:-1]
    assert any(
        s.startswith("ec2.security_group us-east-1 ") and s.endswith("(web): modified") for s in changes
    )
    assert "s3.bucket global demo-data: modified" in changes
    assert "iam.user global bob: deleted" in changes
    assert "iam.group global developers: modified" in changes
    assert "sqs.queue us-east-1 orders: modified" in changes
    assert "lambda.function us-east-1 orders-api: modified" in changes
    history = subprocess.run(
        ["git", "-C", str(repo), "log", "-p", "--all"], capture_output=True, text=True, check=True
    ).stdout
    assert DEMO_DB_PASSWORD not in history, "the function's password reached git"
    assert "issues/us-east-1/sqs/queue/orders.yaml" in git(repo, "ls-files", "issues/")
    issues = git(repo, "grep", "-l", "0.0.0.0/0", "HEAD", "--", "issues/")
    assert "issues/us-east-1/ec2/security_group/" in issues
    assert "tcp 22 from 0.0.0.0/0" in "\n".join(out)
    # then alice closes the port and gitmonkey listen records it from the event, authored by her
    groups = "items/us-east-1/ec2/security_group/"
    last = git(repo, "log", "-1", "--format=%an|%cn|%B", "--", groups)
    assert last.startswith("Admin/alice@example.com|gitmonkey|ec2.security_group us-east-1 ")
    assert "Gitmonkey-Event: RevokeSecurityGroupIngress" in last
    web_issues = git(repo, "grep", "-h", "details", "HEAD", "--", "issues/us-east-1/ec2/security_group/")
    assert "ingress tcp 22 from 0.0.0.0/0" not in web_issues, "closing the port fixed its issues"
    assert "ingress tcp 80 from 0.0.0.0/0" in web_issues
    assert_clean(repo)


def test_demo_refuses_a_directory_that_is_not_a_demo(tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(SystemExit, match="not a gitmonkey demo directory"):
        prepare_directory(tmp_path)
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_demo_can_be_run_again_in_the_same_directory(tmp_path):
    (tmp_path / "accounts").mkdir()
    (tmp_path / "gitmonkey.yaml").write_text(DEMO_MARKER + "\n")
    (tmp_path / "accounts" / "stale").write_text("old run")
    prepare_directory(tmp_path)
    assert not (tmp_path / "accounts").exists()
    assert (tmp_path / "gitmonkey.yaml").read_text().startswith(DEMO_MARKER)


def test_demo_command_runs_without_aws_credentials(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "GIT_CONFIG_GLOBAL": "/dev/null"}
    result = subprocess.run(
        [sys.executable, "-m", "gitmonkey", "demo", str(tmp_path / "d")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "baseline" in result.stdout and "Look further" in result.stdout
