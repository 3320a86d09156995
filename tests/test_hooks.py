"""The installed hooks, fired by real git commands, and the post-sync audit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gitmonkey import hooks
from gitmonkey.audit import issues as iss
from gitmonkey.config import load_config
from tests.helpers import ACCOUNT_ID, git
from tests.test_audit_issues import ONLY_POLICY_RULES, PUBLIC, Account, bucket, bucket_path

PERSON = ["-c", "user.name=Alice", "-c", "user.email=alice@example.com"]


def person(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A person's git command: the hooks fire; the test fails if git does."""
    proc = subprocess.run(["git", *PERSON, *args], cwd=repo, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc


def write_config(tmp_path: Path, **extra: object) -> Path:
    raw = {"repos_dir": "accounts", "audit": ONLY_POLICY_RULES,
           "accounts": [{"name": "prod", "id": ACCOUNT_ID}], **extra}
    path = tmp_path / "gitmonkey.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


@pytest.fixture
def installed(tmp_path: Path) -> Account:
    config_path = write_config(tmp_path)
    acct = Account(tmp_path)
    acct.sync(web=bucket("web", PUBLIC))
    hooks.install_hooks(acct.path, config_path)
    return acct


def justification(fp: str) -> str:
    entry = {"fingerprint": fp, "reason": "public website", "by": "alice", "date": "2024-05-01"}
    return yaml.safe_dump(entry)


def test_install_is_idempotent_and_bakes_interpreter_and_config(tmp_path: Path) -> None:
    config_path = write_config(tmp_path)
    acct = Account(tmp_path)
    first = hooks.install_hooks(acct.path, config_path)
    contents = [p.read_text() for p in first]
    second = hooks.install_hooks(acct.path, config_path)
    assert [p.read_text() for p in second] == contents
    hook_dir = acct.path / ".git" / "hooks"
    assert sorted(p.name for p in hook_dir.iterdir() if not p.name.endswith(".sample")) == [
        "post-commit", "post-merge"]
    for path in first:
        assert os.access(path, os.X_OK)
        assert sys.executable in path.read_text() and str(config_path.resolve()) in path.read_text()
    assert git(acct.path, "config", "--local", "gitmonkey.config").strip() == str(config_path.resolve())


def test_user_hook_is_kept_and_called_first(tmp_path: Path) -> None:
    config_path = write_config(tmp_path)
    acct = Account(tmp_path)
    acct.sync(web=bucket("web", PUBLIC))
    marker = tmp_path / "user-hook-ran"
    user_hook = acct.path / ".git" / "hooks" / "post-commit"
    user_hook.write_text(f"#!/bin/sh\ngit log -1 --format=%s > {marker}\n")
    user_hook.chmod(0o755)
    hooks.install_hooks(acct.path, config_path)
    hooks.install_hooks(acct.path, config_path)
    assert (user_hook.parent / "post-commit.user").read_text().startswith("#!/bin/sh\ngit log")
    assert hooks.MARKER in user_hook.read_text()
    fp = acct.fingerprints("web")[0]
    (acct.path / "justifications").mkdir()
    (acct.path / "justifications" / f"{fp}.yaml").write_text(justification(fp))
    person(acct.path, "add", "justifications")
    person(acct.path, "commit", "-q", "-m", "justify web")
    assert marker.read_text() == "justify web\n"
    assert git(acct.path, "log", "-1", "--format=%s").startswith("audit: ")


def test_refuses_to_lose_a_user_hook(tmp_path: Path) -> None:
    acct = Account(tmp_path)
    hook_dir = acct.path / ".git" / "hooks"
    (hook_dir / "post-commit").write_text("#!/bin/sh\necho mine\n")
    (hook_dir / "post-commit.user").write_text("#!/bin/sh\necho older\n")
    with pytest.raises(hooks.HookInstallError, match="merge them by hand"):
        hooks.install_hooks(acct.path, write_config(tmp_path))
    assert (hook_dir / "post-commit").read_text() == "#!/bin/sh\necho mine\n"


def test_people_commit_fires_post_commit_audit(installed: Account) -> None:
    acct = installed
    fp = acct.fingerprints("web")[0]
    (acct.path / "justifications").mkdir()
    (acct.path / "justifications" / f"{fp}.yaml").write_text(justification(fp))
    person(acct.path, "add", "justifications")
    person(acct.path, "commit", "-q", "-m", "justify the public website")
    assert git(acct.path, "log", "-2", "--format=%s").splitlines() == [
        "audit: 0 new, 0 fixed, 1 justified", "justify the public website"]
    issue = next(i for i in acct.issue_file("web")["issues"] if i["fingerprint"] == fp)
    assert issue["justified"] is True
    assert git(acct.path, "status", "--porcelain") == ""
    assert "audit " in (acct.repo.state_dir / "hook.log").read_text()


def test_hook_on_another_branch_audits_nothing(installed: Account) -> None:
    acct = installed
    person(acct.path, "switch", "-q", "-c", "topic")
    (acct.path / "notes.txt").write_text("x\n")
    person(acct.path, "add", "notes.txt")
    person(acct.path, "commit", "-q", "-m", "notes")
    assert git(acct.path, "log", "-1", "--format=%s").strip() == "notes"
    assert "nothing audited" in (acct.repo.state_dir / "hook.log").read_text()


def test_failing_hook_keeps_commit_and_next_run_audits(installed: Account, tmp_path: Path) -> None:
    acct = installed
    config_path = tmp_path / "gitmonkey.yaml"
    good = config_path.read_text()
    config_path.write_text("accounts: [unclosed\n")
    fp = acct.fingerprints("web")[0]
    (acct.path / "justifications").mkdir()
    (acct.path / "justifications" / f"{fp}.yaml").write_text(justification(fp))
    person(acct.path, "add", "justifications")
    proc = person(acct.path, "commit", "-q", "-m", "justify while broken")
    assert "audit failed, will be retried" in proc.stderr
    assert git(acct.path, "log", "-1", "--format=%s").strip() == "justify while broken"
    assert "failed" in (acct.repo.state_dir / "hook.log").read_text()
    head = acct.repo.head()
    assert hooks.load_pending(acct.repo.state_dir) == [(git(acct.path, "rev-parse", "HEAD^").strip(), head)]
    config_path.write_text(good)
    summary = hooks.run_after_sync(acct.path, load_config(config_path), acct.account, head, head)
    assert summary["counts"]["justified"] == 1
    assert hooks.load_pending(acct.repo.state_dir) == []
    assert next(i for i in acct.issue_file("web")["issues"] if i["fingerprint"] == fp)["justified"]


def test_locked_repository_leaves_the_range_pending(installed: Account) -> None:
    acct = installed
    with acct.repo.lock():
        (acct.path / "notes.txt").write_text("x\n")
        person(acct.path, "add", "notes.txt")
        person(acct.path, "commit", "-q", "-m", "notes")
    assert git(acct.path, "log", "-1", "--format=%s").strip() == "notes"
    assert hooks.load_pending(acct.repo.state_dir)[-1][1] == acct.repo.head()
    assert "busy" in (acct.repo.state_dir / "hook.log").read_text()


def test_run_after_sync_audits_the_whole_range_once(tmp_path: Path) -> None:
    config_path = write_config(tmp_path)
    acct = Account(tmp_path)
    old = acct.repo.head()
    acct.put(web=bucket("web", PUBLIC))
    acct.put(other=bucket("other", PUBLIC))
    new = acct.repo.head()
    with acct.repo.lock():
        summary = hooks.run_after_sync(acct.path, load_config(config_path), acct.account, old, new)
    assert summary["counts"]["new"] == 2 and summary["audited"] == 2
    assert git(acct.path, "log", "--format=%s", f"{new}..HEAD").splitlines() == ["audit: 2 new, 0 fixed"]
    assert json.loads(json.dumps(summary)) == summary


def test_hook_entry_scrubs_git_index_env(installed: Account, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_INDEX_FILE", str(installed.path / ".git" / "bogus-index"))
    monkeypatch.setenv(hooks.SKIP_ENV, "")
    monkeypatch.chdir(installed.path)
    assert hooks.run_hook("post-commit", installed.path) == 0
    assert "GIT_INDEX_FILE" not in os.environ
    assert not (installed.path / ".git" / "bogus-index").exists()


def test_issue_paths_mirror_item_paths() -> None:
    path = bucket_path("web")
    assert iss.issue_path_for(path) == "issues/us-east-1/s3/bucket/web.yaml"
    assert iss.item_path_for(iss.issue_path_for(path)) == path
    with pytest.raises(ValueError, match="not an item path"):
        iss.issue_path_for("justifications/x.yaml")


def test_gitmonkey_hook_command_audits_a_silenced_commit(
    installed: Account, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from gitmonkey.cli import cli

    acct = installed
    fp = acct.fingerprints("web")[0]
    (acct.path / "justifications").mkdir()
    (acct.path / "justifications" / f"{fp}.yaml").write_text(justification(fp))
    monkeypatch.setenv(hooks.SKIP_ENV, "1")
    person(acct.path, "add", "justifications")
    person(acct.path, "commit", "-q", "-m", "justify quietly")
    assert git(acct.path, "log", "-1", "--format=%s").strip() == "justify quietly"
    monkeypatch.delenv(hooks.SKIP_ENV)
    monkeypatch.chdir(acct.path)
    result = CliRunner().invoke(cli, ["hook", "post-commit", "--config", str(tmp_path / "gitmonkey.yaml")])
    assert result.exit_code == 0, result.output
    assert git(acct.path, "log", "-1", "--format=%s").strip() == "audit: 0 new, 0 fixed, 1 justified"
