"""The account repository's remote: a bare repository on disk, a person's clone, pull requests merged."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from gitmonkey import hooks
from gitmonkey.audit.justify import write_justification
from gitmonkey.config import load_config
from gitmonkey.remote import RemoteError, pull_before_sync, push_after_sync
from tests.helpers import git
from tests.test_audit_issues import PUBLIC, Account, bucket
from tests.test_hooks import person, write_config


@pytest.fixture
def identity(monkeypatch: pytest.MonkeyPatch) -> None:
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Alice")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "alice@example.com")


@pytest.fixture
def bare(tmp_path: Path) -> Path:
    path = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(path)], check=True)
    return path


def account_with_remote(tmp_path: Path, bare: Path) -> tuple[Account, Path]:
    remote = [{"name": "prod", "id": "123456789012", "remote": str(bare)}]
    config_path = write_config(tmp_path, accounts=remote)
    return Account(tmp_path, accounts=remote), config_path


def merge_pull_request(tmp_path: Path, bare: Path, branch: str) -> None:
    """What the forge does when a pull request is merged: main gets a merge commit."""
    forge = tmp_path / "forge"
    person(tmp_path, "clone", "-q", str(bare), str(forge))
    person(forge, "merge", "-q", "--no-ff", "-m", f"Merge pull request from {branch}", f"origin/{branch}")
    person(forge, "push", "-q", "origin", "main")


def test_first_push_creates_main_and_pull_of_empty_remote_is_a_no_op(tmp_path: Path, bare: Path) -> None:
    acct, _ = account_with_remote(tmp_path, bare)
    assert pull_before_sync(acct.repo, acct.account).action == "no-remote-branch"
    acct.sync(web=bucket("web", PUBLIC))
    push_after_sync(acct.repo, acct.account)
    assert git(bare, "rev-parse", "main").strip() == acct.repo.head()
    assert pull_before_sync(acct.repo, acct.account).action == "none"


def test_justification_round_trip_through_a_pull_request(tmp_path: Path, bare: Path, identity: None) -> None:
    acct, config_path = account_with_remote(tmp_path, bare)
    acct.sync(web=bucket("web", PUBLIC))
    hooks.install_hooks(acct.path, config_path)
    push_after_sync(acct.repo, acct.account)
    fp = acct.fingerprints("web")[0]

    clone = tmp_path / "clone"
    person(tmp_path, "clone", "-q", str(bare), str(clone))
    result = write_justification(clone, fp, "public website", branch=True)
    person(clone, "push", "-q", "origin", result.branch)
    merge_pull_request(tmp_path, bare, result.branch)

    before = acct.repo.head()
    person(acct.path, "pull", "-q", "--no-rebase", "origin", "main")
    assert git(acct.path, "log", "-1", "--format=%s").strip() == "audit: 0 new, 0 fixed, 1 justified"
    assert git(acct.path, "merge-base", "--is-ancestor", before, "HEAD") == ""
    issue = next(i for i in acct.issue_file("web")["issues"] if i["fingerprint"] == fp)
    assert issue["justified"] and issue["justification"]["by"] == "Alice"
    push_after_sync(acct.repo, acct.account)
    assert git(bare, "rev-parse", "main").strip() == acct.repo.head()


def test_diverged_pull_merges_keeping_local_commits(tmp_path: Path, bare: Path, identity: None) -> None:
    acct, config_path = account_with_remote(tmp_path, bare)
    acct.sync(web=bucket("web", PUBLIC))
    push_after_sync(acct.repo, acct.account)
    fp = acct.fingerprints("web")[0]
    clone = tmp_path / "clone"
    person(tmp_path, "clone", "-q", str(bare), str(clone))
    write_justification(clone, fp, "public website")
    person(clone, "push", "-q", "origin", "main")
    local = acct.sync(other=bucket("other", PUBLIC)).commit

    with acct.repo.lock():
        pulled = pull_before_sync(acct.repo, acct.account)
        assert pulled.action == "merge"
        assert git(acct.path, "merge-base", "--is-ancestor", local, "HEAD") == ""
        assert hooks.load_pending(acct.repo.state_dir) == [(pulled.old, pulled.new)]
        summary = hooks.run_after_sync(acct.path, load_config(config_path), acct.account, pulled.new,
                                       acct.repo.head())
    assert summary["counts"]["justified"] == 1
    push_after_sync(acct.repo, acct.account)
    assert git(bare, "rev-parse", "main").strip() == acct.repo.head()


def test_refused_push_and_bad_remote_keep_commits(tmp_path: Path, bare: Path, identity: None) -> None:
    acct, _ = account_with_remote(tmp_path, bare)
    acct.sync(web=bucket("web", PUBLIC))
    push_after_sync(acct.repo, acct.account)
    clone = tmp_path / "clone"
    person(tmp_path, "clone", "-q", str(bare), str(clone))
    (clone / "README").write_text("hello\n")
    person(clone, "add", "README")
    person(clone, "commit", "-q", "-m", "readme")
    person(clone, "push", "-q", "origin", "main")
    acct.sync(web=bucket("web"))
    head = acct.repo.head()
    with pytest.raises(RemoteError, match="refused; local commits kept"):
        push_after_sync(acct.repo, acct.account)
    assert acct.repo.head() == head

    gone = Account(tmp_path / "other", accounts=[{"name": "prod", "id": "123456789012",
                                                  "remote": str(tmp_path / "missing.git")}])
    gone.sync(web=bucket("web", PUBLIC))
    with pytest.raises(RemoteError, match="cannot reach"):
        pull_before_sync(gone.repo, gone.account)
    assert gone.repo.head() is not None
