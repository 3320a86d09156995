"""Crash safety: a kill at any point leaves the repository consistent or recoverable by recover()."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime

import pytest

from gitmonkey.store import AccountRepository, FileChange, PlannedCommit, RepositoryError

WHEN = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
ITEMS = 400
COMMITS = 300


def git(path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=path, check=True, capture_output=True, text=True).stdout


def assert_consistent(path) -> None:
    assert git(path, "status", "--porcelain", "--untracked-files=all", "--", "items", "issues") == ""
    git(path, "fsck", "--strict", "--no-progress")


def item(i: int) -> str:
    return f"items/us-east-1/ec2/security_group/sg-{i:05d}.json"


@pytest.fixture
def repo(tmp_path):
    repo = AccountRepository.open(tmp_path / "acct")
    body = b'{"version": 0, "pad": "%s"}\n' % (b"x" * 900)
    changes = tuple(FileChange(item(i), body) for i in range(ITEMS))
    repo.commit([PlannedCommit("baseline", changes)], when=WHEN)
    return repo


# The child runs a large commit and parks at a chosen point, so the test can SIGKILL it (and the
# fast-import it started: same process group) exactly there, without sleeping.
CHILD = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime
    from pathlib import Path
    import gitmonkey.store.repository as store
    from gitmonkey.store import AccountRepository, FileChange, PlannedCommit

    path, point, items, commits = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])

    def park():
        print("parked", flush=True)
        sys.stdin.readline()

    if point == "fast-import":
        original = store._stream
        def stream(*args):
            for n, record in enumerate(original(*args)):
                if n == commits // 2:
                    park()
                yield record
        store._stream = stream
    else:
        original = AccountRepository._update_worktree
        def update(self, old, new):
            park()
            original(self, old, new)
        AccountRepository._update_worktree = update

    repo = AccountRepository.open(path)
    planned = [
        PlannedCommit(f"change {n}", (FileChange(
            f"items/us-east-1/ec2/security_group/sg-{n % items:05d}.json", b'{"version": %d}\\n' % n
        ),))
        for n in range(commits)
    ]
    repo.commit(planned, when=datetime(2024, 6, 1, tzinfo=UTC))
    print("finished", flush=True)
    """
)


def kill_child_at(repo: AccountRepository, point: str) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(repo.path), point, str(ITEMS), str(COMMITS)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True,
    )
    try:
        assert child.stdout.readline().strip() == "parked"
        if point == "fast-import" and shutil.which("pgrep"):
            running = subprocess.run(
                ["pgrep", "-g", str(child.pid), "-f", "git fast-import"], capture_output=True
            )
            assert running.returncode == 0, "fast-import should be running while the child is parked"
    finally:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        child.stdin.close()
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL


def test_kill_during_fast_import_leaves_the_ref_untouched(repo):
    before = repo.head()
    kill_child_at(repo, "fast-import")
    assert repo.head() == before
    assert git(repo.path, "rev-list", "--count", "main").strip() == "1"
    assert repo.recover() == []
    assert_consistent(repo.path)
    [sha] = repo.commit([PlannedCommit("after the crash", (FileChange(item(0), b"new\n"),))], when=WHEN)
    assert repo.head() == sha and (repo.path / item(0)).read_bytes() == b"new\n"
    assert_consistent(repo.path)


def test_kill_after_fast_import_leaves_a_complete_ref_that_recover_catches_up_with(repo):
    before = repo.head()
    kill_child_at(repo, "worktree")
    assert git(repo.path, "rev-list", "--count", f"{before}..main").strip() == str(COMMITS)
    assert git(repo.path, "status", "--porcelain", "--", "items") != ""
    repaired = repo.recover()
    assert f"index: {item(0)}" in repaired and f"working tree: {item(0)}" in repaired
    assert_consistent(repo.path)
    last = COMMITS - 1
    assert (repo.path / item(last % ITEMS)).read_bytes() == b'{"version": %d}\n' % last
    assert repo.recover() == []


def test_recover_repairs_damaged_items_and_keeps_peoples_files(repo):
    base = repo.head()
    repo.commit([PlannedCommit("issue", (FileChange("issues/us-east-1/ec2/security_group/sg-00001.yaml",
                                                    b"- rule: open\n"),))], when=WHEN)
    (repo.path / "justifications").mkdir()
    (repo.path / "justifications/j.yaml").write_text("reason: person, uncommitted\n")
    (repo.path / item(1)).write_text("edited by hand\n")
    (repo.path / item(2)).unlink()
    (repo.path / item(3)).write_text("staged damage\n")
    git(repo.path, "add", item(3))
    git(repo.path, "rm", "-q", "--cached", item(4))
    (repo.path / "items/us-east-1/junk.json.tmp").write_text("half written")
    (repo.path / "issues/us-east-1/ec2/security_group/sg-00001.yaml").unlink()
    (repo.path / item(5)).unlink()
    (repo.path / item(5)).mkdir()
    (repo.path / item(5) / "inside").write_text("x")

    repaired = repo.recover()
    assert set(repaired) >= {
        f"working tree: {item(1)}", f"working tree: {item(2)}", f"index: {item(3)}", f"index: {item(4)}",
        "removed untracked: items/us-east-1/junk.json.tmp",
        "working tree: issues/us-east-1/ec2/security_group/sg-00001.yaml",
    }
    assert_consistent(repo.path)
    assert git(repo.path, "status", "--porcelain", "--untracked-files=all").splitlines() == [
        "?? justifications/j.yaml"
    ]
    assert (repo.path / "justifications/j.yaml").read_text() == "reason: person, uncommitted\n"
    for i in range(1, 6):
        assert (repo.path / item(i)).read_bytes() == repo.read_file(item(i), rev=base)
    assert repo.recover() == []


def test_recover_removes_bot_files_never_committed_before_the_first_commit(tmp_path):
    repo = AccountRepository.open(tmp_path / "fresh")
    (repo.path / "items/global").mkdir(parents=True)
    (repo.path / "items/global/left-over.json").write_text("{}")
    git(repo.path, "add", "items")
    (repo.path / "README.md").write_text("mine")
    assert repo.recover() == ["index: items/global/left-over.json",
                              "removed untracked: items/global/left-over.json"]
    assert git(repo.path, "status", "--porcelain").splitlines() == ["?? README.md"]


def test_commit_over_a_hand_edited_item_still_ends_equal_to_head(repo):
    (repo.path / item(7)).write_text("hand edit that conflicts with the bot\n")
    [sha] = repo.commit([PlannedCommit("bot", (FileChange(item(7), b"bot\n"),))], when=WHEN)
    assert repo.head() == sha
    assert (repo.path / item(7)).read_bytes() == b"bot\n"
    assert_consistent(repo.path)


def test_stale_git_lock_is_removed_but_a_fresh_one_is_respected(repo):
    lock = repo.git_dir / "index.lock"
    lock.write_text("")
    marks = repo.state_dir / "fast-import-marks.999.abcd"
    marks.write_text(":1 " + "0" * 40 + "\n")
    with pytest.raises(RepositoryError, match="another git command is running"):
        repo.recover()
    assert lock.exists()
    old = lock.stat().st_mtime - 3600
    os.utime(lock, (old, old))
    os.utime(marks, (old, old))
    assert repo.recover() == ["removed stale lock: .git/index.lock"]
    assert not lock.exists() and not marks.exists()
    assert_consistent(repo.path)
