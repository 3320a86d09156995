"""The account repository's remote: a bare repository on disk, a person's clone, pull requests merged."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from gitmonkey import hooks
from gitmonkey.audit.justify import write_justification
from gitmonkey.config import load_config
from gitmonkey.remote import RemoteError, pull_before_sync, push_after_sync, redact_text, redact_url
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


def account_with_remote(tmp_path: Path, bare: Path, url: str | None = None) -> tuple[Account, Path]:
    remote = [{"name": "prod", "id": "123456789012", "remote": url or str(bare)}]
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


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://bob:TOKEN@git.example.com/acme/prod.git", "https://git.example.com/acme/prod.git"),
        ("https://TOKEN@git.example.com:8443/prod.git", "https://git.example.com:8443/prod.git"),
        ("http://bob:TOKEN@[::1]:8080/prod.git", "http://[::1]:8080/prod.git"),
        ("ssh://git@git.example.com/acme/prod.git", "ssh://git.example.com/acme/prod.git"),
        ("git@github.com:acme/prod.git", "git@github.com:acme/prod.git"),
        ("https://git.example.com/prod.git", "https://git.example.com/prod.git"),
        ("/srv/git/prod.git", "/srv/git/prod.git"),
    ],
)
def test_redact_url_strips_userinfo(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_redact_text_strips_userinfo_from_git_output() -> None:
    text = "fatal: unable to access 'https://bob:TO@KEN@git.example.com/prod.git/': 403; ask bob@example.com"
    shown = "fatal: unable to access 'https://git.example.com/prod.git/': 403; ask bob@example.com"
    assert redact_text(text) == shown


def test_credentials_in_the_remote_url_reach_no_commit_and_no_message(
    tmp_path: Path, bare: Path, identity: None
) -> None:
    url = f"file://bob:TOKEN@localhost{bare}"
    acct, _ = account_with_remote(tmp_path, bare, url)
    acct.sync(web=bucket("web", PUBLIC))
    push_after_sync(acct.repo, acct.account)
    fp = acct.fingerprints("web")[0]
    clone = tmp_path / "clone"
    person(tmp_path, "clone", "-q", str(bare), str(clone))
    write_justification(clone, fp, "public website")
    person(clone, "push", "-q", "origin", "main")
    acct.sync(other=bucket("other", PUBLIC))

    with acct.repo.lock():
        assert pull_before_sync(acct.repo, acct.account).action == "merge"
    assert git(acct.path, "log", "-1", "--format=%B").strip() == "Merge origin/main before sync"
    assert "TOKEN" not in git(acct.path, "log", "--all", "--format=%B")
    assert "TOKEN" not in (acct.repo.state_dir / hooks.PENDING_FILE).read_text()

    person(clone, "commit", "-q", "--allow-empty", "-m", "diverge")
    person(clone, "push", "-q", "origin", "main")
    with pytest.raises(RemoteError) as refused:
        push_after_sync(acct.repo, acct.account)
    assert "refused" in str(refused.value) and "TOKEN" not in str(refused.value)

    gone = Account(tmp_path / "other", accounts=[{"name": "prod", "id": "123456789012",
                                                  "remote": f"file://bob:TOKEN@localhost{tmp_path}/missing.git"}])
    gone.sync(web=bucket("web", PUBLIC))
    with pytest.raises(RemoteError) as unreachable:
        pull_before_sync(gone.repo, gone.account)
    assert "cannot reach file://localhost/" in str(unreachable.value)
    assert "TOKEN" not in str(unreachable.value)
